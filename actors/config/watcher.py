"""When to reload: the settings file's content changed, or the operator sent SIGHUP.

``ConfigWatcher.changed()`` is polled by the engine's loop (about once a second). A ``stat`` decides whether
the file needs reading at all (device, inode, size, mtime and ctime: an editor that saves by writing a new
file and renaming it over the old one changes the inode); the content hash decides whether it changed. So a
``touch``, or a save that writes the same bytes, is not a change; a missing file (the instant between an
editor's unlink and rename, or a deleted file) is not one either, and the baseline is kept until it returns.

A write within the filesystem's timestamp granularity can leave size and mtime as they were ("racy git"):
while the file's mtime is recent (``racy_ns``) it is hashed on every poll, not only when its stat moved.

SIGHUP: Python runs a signal handler on the main thread between two bytecodes, possibly while that thread
holds a lock; a handler that takes a lock itself (``threading.Event.set`` does) can deadlock the process, as
the ``signal`` module's documentation warns. The handler here only assigns a flag (``ReloadRequest``),
which the loop consumes.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
from pathlib import Path

from actors.clock import Clock, WallClock

RACY_NS = 2_000_000_000


class ConfigWatcher:
    """Polls one file for a change of content. Create it before the settings are loaded: an edit between
    the load and the watcher's first look is then seen (at worst as a reload that finds nothing changed)."""

    def __init__(self, path: str | Path, *, clock: Clock | None = None, racy_ns: int = RACY_NS) -> None:
        self.path = Path(path)
        self._clock = clock or WallClock()  # compared with the file's mtime: the wall clock
        self._racy_ns = racy_ns
        self._stat: tuple[int, ...] | None = None
        self._digest: bytes | None = None
        self._racy = True
        self._digest = self._read()

    @property
    def digest(self) -> str | None:
        """The hash of the content last seen (hex), ``None`` if the file was never readable."""
        return None if self._digest is None else self._digest.hex()

    def changed(self) -> bool:
        """True once per change of content since the last call (or since the watcher was made)."""
        digest = self._read()
        if digest is None or digest == self._digest:
            return False
        self._digest = digest
        return True

    def _read(self) -> bytes | None:
        """The content's hash if the file may have changed since the last read, else (or unreadable) None."""
        try:
            if _signature(os.stat(self.path)) == self._stat and not self._racy:
                return None
            with open(self.path, "rb") as f:
                sig = _signature(os.fstat(f.fileno()))  # of what is read, should it be replaced meanwhile
                data = f.read()
        except OSError:
            return None
        self._stat = sig
        self._racy = self._clock.time_ns() - sig[3] < self._racy_ns
        return hashlib.sha256(data).digest()


def _signature(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class ReloadRequest:
    """A flag a signal handler may set: ``set`` is one assignment, no lock. The loop calls ``consume``."""

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set

    def consume(self) -> bool:
        """True if a reload was asked for since the last call. A signal landing inside this call is folded
        into the reload it triggers, which reads the file afterwards anyway."""
        if not self._set:
            return False
        self._set = False
        return True


def install_reload_signal(request: ReloadRequest, signum: int | None = None) -> bool:
    """SIGHUP (or ``signum``) sets ``request``. Only the main thread may install a signal handler: elsewhere,
    or where the platform has no SIGHUP, nothing is installed and the result is False."""
    sig = signum if signum is not None else getattr(signal, "SIGHUP", None)
    if sig is None or threading.current_thread() is not threading.main_thread():
        return False
    signal.signal(sig, lambda _signum, _frame: request.set())
    return True
