"""systemd's watchdog on the live code path: the engine pings WATCHDOG=1 over a real unix datagram socket
while every tree's supervisor completes its heartbeat rounds; a hung supervisor stops the pings (systemd
would then restart the process), and they resume when it recovers."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from actors.base import Hang
from actors.supervisor.sdnotify import Notifier

from .harness import Live, wait_until


def test_a_hung_tree_stops_the_watchdog_pings(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(str(path))
    rx.settimeout(0.2)
    got: list[tuple[float, str]] = []
    done = threading.Event()

    def listen() -> None:
        while not done.is_set():
            try:
                got.append((time.monotonic(), rx.recv(4096).decode()))
            except TimeoutError:
                continue

    threading.Thread(target=listen, daemon=True).start()
    notifier = Notifier.from_env({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "1000000"}, pid=0)  # ping 0.5 s
    try:
        with Live(tmp_path, systemd={"proof_max_age_s": 3.0}, engine_kw={"notifier": notifier}) as live:
            assert wait_until(live.quoting, 20)
            assert any("READY=1" in m for _, m in got)
            pings = lambda: [t for t, m in got if "WATCHDOG=1" in m]  # noqa: E731
            assert wait_until(lambda: len(pings()) >= 3, 5)
            eng = live.engine
            assert eng is not None and eng.trees["ETHUSDC"].sup is not None
            eng.trees["ETHUSDC"].sup.tell(Hang(7.0))  # the tree's supervisor stops its heartbeat rounds
            hung_at = time.monotonic()
            time.sleep(6.0)
            during = [t for t in pings() if t > hung_at + 3.5]  # the last proof ages out after 3 s
            assert not during, f"{len(during)} pings while the tree was hung"
            assert any("withheld" in m or "no heartbeat" in m for _, m in got if "STATUS=" in m)
            assert wait_until(lambda: [t for t in pings() if t > hung_at + 7.0], 8)  # back when it recovers
            live.stop_engine()
            assert wait_until(lambda: any("STOPPING=1" in m for _, m in got), 5)
    finally:
        done.set()
        rx.close()
