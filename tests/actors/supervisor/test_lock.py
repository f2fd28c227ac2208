"""One instance per account+symbol, across processes, and no stale lock after kill -9."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from actors.supervisor.lock import InstanceLock, InstanceLocked

REPO = Path(__file__).resolve().parents[3]


def holder(lock_dir: Path, symbol: str) -> subprocess.Popen[str]:
    code = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from actors.supervisor.lock import InstanceLock
        InstanceLock({str(lock_dir)!r}, "binance-usdm", "key-1", {symbol!r}).acquire()
        print("held", flush=True)
        time.sleep(60)
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "held"
    return p


def test_second_instance_refused_until_the_first_dies(tmp_path: Path) -> None:
    p = holder(tmp_path, "ETHUSDC")
    try:
        with pytest.raises(InstanceLocked, match=rf"already being traded by process {p.pid}"):
            InstanceLock(tmp_path, "binance-usdm", "key-1", "ETHUSDC").acquire()
        # another symbol, or another account, is a different lock
        with InstanceLock(tmp_path, "binance-usdm", "key-1", "BTCUSDC"):
            pass
        with InstanceLock(tmp_path, "binance-usdm", "key-2", "ETHUSDC"):
            pass
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    with InstanceLock(tmp_path, "binance-usdm", "key-1", "ETHUSDC") as lock:  # kill -9 left no stale lock
        assert "key-1" not in lock.path.name  # only a fingerprint of the key
