"""One instance per account and symbol (lesson 7: a duplicate "shadow" process traded the same account).

An exclusive ``flock`` on a file per (venue, account, symbol). The kernel drops it when the process dies,
kill -9 included, so a crash never leaves a stale lock behind. The account appears only as a fingerprint of
its API key, never the key.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path


class InstanceLocked(RuntimeError):
    """Another live process holds this account+symbol."""


def account_fingerprint(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()[:12]


class InstanceLock:
    def __init__(self, lock_dir: str | Path, venue: str, api_key: str, symbol: str) -> None:
        self.path = Path(lock_dir) / f"{venue}-{account_fingerprint(api_key)}-{symbol}.lock"
        self.symbol = symbol
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise InstanceLocked(f"{self.symbol} on this account is already being traded by process {holder} "
                                 f"(lock {self.path}); refusing to start a second instance") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
