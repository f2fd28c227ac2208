"""The notify protocol against real unix datagram sockets (a path, an abstract name), and the watchdog gate
on a simulated clock: it pings at half WATCHDOG_USEC only while the engine proves alive."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from actors.clock import SimClock
from actors.supervisor.sdnotify import (
    Liveness,
    Notifier,
    SystemdSettings,
    WatchdogGate,
    notify_address,
    watchdog_interval_ns,
)

S = 1_000_000_000
PID = os.getpid()


class Receiver:
    """What systemd's end of the socket would read."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)

    def recv(self, timeout: float = 2.0) -> str:
        self.sock.settimeout(timeout)
        return self.sock.recv(4096).decode()

    def drain(self) -> list[str]:
        """Everything queued now (a send on a unix datagram socket is queued before sendto returns)."""
        out = []
        self.sock.setblocking(False)
        try:
            while True:
                out.append(self.sock.recv(4096).decode())
        except BlockingIOError:
            return out

    def close(self) -> None:
        self.sock.close()
        if not self.address.startswith("\0"):
            Path(self.address).unlink(missing_ok=True)


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    # short: a unix socket path is limited to 107 bytes, and pytest's tmp_path can be long
    with tempfile.TemporaryDirectory(prefix="sdn-") as d:
        yield Path(d)


@pytest.fixture
def receiver(sock_dir: Path) -> Iterator[Receiver]:
    r = Receiver(str(sock_dir / "notify"))
    yield r
    r.close()


def captured_logs() -> tuple[list[str], int]:
    lines: list[str] = []
    return lines, logger.add(lambda m: lines.append(str(m)), level="DEBUG", format="{level} {message}")


# ---------------------------------------------------------------------------------------------- environment


def test_the_socket_address_is_a_path_or_an_abstract_name() -> None:
    assert notify_address({"NOTIFY_SOCKET": "/run/systemd/notify"}) == "/run/systemd/notify"
    assert notify_address({"NOTIFY_SOCKET": "@/org/freedesktop/systemd1/notify/42"}) == \
        "\0/org/freedesktop/systemd1/notify/42"
    assert notify_address({}) is None
    assert notify_address({"NOTIFY_SOCKET": ""}) is None
    assert notify_address({"NOTIFY_SOCKET": "@"}) is None
    assert notify_address({"NOTIFY_SOCKET": "relative/path"}) is None
    assert notify_address({"NOTIFY_SOCKET": "vsock:2:1234"}) is None


def test_the_watchdog_interval_is_half_of_watchdog_usec_and_only_for_the_named_process() -> None:
    assert watchdog_interval_ns({"WATCHDOG_USEC": "30000000"}, PID) == 15 * S
    assert watchdog_interval_ns({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(PID)}, PID) == 15 * S
    assert watchdog_interval_ns({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(PID + 1)}, PID) is None
    assert watchdog_interval_ns({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "x"}, PID) is None
    assert watchdog_interval_ns({"WATCHDOG_PID": str(PID)}, PID) is None
    assert watchdog_interval_ns({"WATCHDOG_USEC": "0"}, PID) is None
    assert watchdog_interval_ns({"WATCHDOG_USEC": "-5"}, PID) is None
    assert watchdog_interval_ns({"WATCHDOG_USEC": "soon"}, PID) is None
    assert watchdog_interval_ns({"WATCHDOG_USEC": "3"}, PID) == 1500  # µs → ns, halved


def test_settings_defaults_are_a_frozen_dataclass() -> None:
    s = SystemdSettings()
    assert s.proof_max_age_s > 4.0  # above one heartbeat round with the default supervision settings
    with pytest.raises(AttributeError):
        s.proof_max_age_s = 1.0  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------- messages


def test_ready_status_watchdog_stopping_reach_a_socket_bound_to_a_path(receiver: Receiver) -> None:
    n = Notifier.from_env({"NOTIFY_SOCKET": receiver.address, "WATCHDOG_USEC": "2000000"}, pid=PID)
    assert n.enabled and n.watchdog_interval_ns == S
    assert n.ready("trading ETHUSDC, BTCUSDC")
    assert receiver.recv() == "READY=1\nSTATUS=trading ETHUSDC, BTCUSDC"
    assert n.status("line one\nSTOPPING=1")  # a newline must not smuggle in a second assignment
    assert receiver.recv() == "STATUS=line one STOPPING=1"
    assert n.watchdog()
    assert receiver.recv() == "WATCHDOG=1"
    assert n.stopping("stopping: signal")
    assert receiver.recv() == "STOPPING=1\nSTATUS=stopping: signal"
    assert n.ready()
    assert receiver.recv() == "READY=1"
    assert (n.sent, n.failures) == (5, 0)
    n.close()


def test_an_abstract_socket_is_reached_by_its_at_name() -> None:
    name = f"mm-sdnotify-test-{uuid.uuid4().hex}"
    r = Receiver("\0" + name)
    try:
        n = Notifier.from_env({"NOTIFY_SOCKET": "@" + name}, pid=PID)
        assert n.enabled and n.watchdog_interval_ns is None
        assert n.ready("up") and n.watchdog() and n.stopping()
        assert [r.recv(), r.recv(), r.recv()] == ["READY=1\nSTATUS=up", "WATCHDOG=1", "STOPPING=1"]
        n.close()
    finally:
        r.close()


def test_without_notify_socket_everything_is_a_no_op(sock_dir: Path) -> None:
    n = Notifier.from_env({"WATCHDOG_USEC": "2000000"}, pid=PID)  # a watchdog without a socket: nothing to ping
    assert not n.enabled and n.watchdog_interval_ns is None
    assert not n.ready("x") and not n.status("x") and not n.watchdog() and not n.stopping("x")
    assert (n.sent, n.failures) == (0, 0)
    assert n._sock is None  # not even a socket was opened
    gate = WatchdogGate(n)
    assert not gate.enabled
    assert not gate.beat(0, True) and not gate.beat(10 * S, False, "x")
    assert os.listdir(sock_dir) == []


def test_a_watchdog_meant_for_another_process_is_never_pinged(receiver: Receiver) -> None:
    n = Notifier.from_env({"NOTIFY_SOCKET": receiver.address, "WATCHDOG_USEC": "2000000",
                           "WATCHDOG_PID": str(PID + 1)}, pid=PID)
    gate = WatchdogGate(n)
    assert n.enabled and not gate.enabled
    assert not gate.beat(0, True)
    assert n.ready()  # the rest of the protocol still works
    assert receiver.drain() == ["READY=1"]


def test_a_send_failure_never_raises_is_counted_and_logged_once(receiver: Receiver) -> None:
    lines, sink = captured_logs()
    try:
        n = Notifier.from_env({"NOTIFY_SOCKET": receiver.address}, pid=PID)
        assert n.ready()
        receiver.close()  # systemd's socket is gone (unlinked): ENOENT / ECONNREFUSED from here on
        assert n.watchdog() is False
        assert n.status("still here") is False
        assert n.stopping() is False
        assert (n.sent, n.failures) == (1, 3)
        assert n.last_error
        assert sum("could not notify systemd" in ln for ln in lines) == 1
        again = Receiver(receiver.address)  # the socket comes back: sending resumes, and says so once
        try:
            assert n.watchdog()
            assert again.recv() == "WATCHDOG=1"
            assert sum("notifying systemd again after 3 failures" in ln for ln in lines) == 1
        finally:
            again.close()
        n.close()
    finally:
        logger.remove(sink)


def test_a_full_socket_queue_fails_the_send_instead_of_blocking_the_caller(receiver: Receiver) -> None:
    n = Notifier(receiver.address, send_timeout_s=0.05)
    sent = 0
    while n.failures == 0 and sent < 100_000:  # nobody reads: the receiver's queue fills up
        sent += n.watchdog()
    assert n.failures == 1 and 0 < sent < 100_000
    assert receiver.drain()[0] == "WATCHDOG=1"
    n.close()


def test_a_path_too_long_for_a_unix_socket_is_a_counted_failure() -> None:
    n = Notifier("/" + "x" * 200)
    assert n.ready("x") is False and n.failures == 1


# ---------------------------------------------------------------------------------------------- liveness


def test_liveness_is_every_watched_tree_proved_within_max_age() -> None:
    live = Liveness(5 * S)
    assert live.silent(0) == []  # nothing watched: nothing silent
    live.watch("ETHUSDC", 0)
    live.watch("BTCUSDC", 0)
    assert live.silent(5 * S) == []  # watching counts as a proof: a fresh tree gets max_age to prove itself
    assert live.silent(5 * S + 1) == ["BTCUSDC", "ETHUSDC"]
    live.proved("ETHUSDC", 6 * S)
    assert live.silent(7 * S) == ["BTCUSDC"]
    live.proved("BTCUSDC", 7 * S)
    live.proved("ETHUSDC", 3 * S)  # a late, older proof does not move time back
    assert live.silent(11 * S) == []
    assert live.silent(11 * S + 1) == ["ETHUSDC"]
    live.proved("SOLUSDC", 11 * S)  # not watched (a tree being replaced): ignored
    live.forget("ETHUSDC")
    assert live.silent(12 * S) == []
    assert live.silent(12 * S + 1) == ["BTCUSDC"]
    with pytest.raises(ValueError):
        Liveness(0)


# ---------------------------------------------------------------------------------------------- the gate


def run_loop(clock: SimClock, gate: WatchdogGate, live: Liveness, receiver: Receiver, seconds: float,
             prove: set[str]) -> list[tuple[int, str]]:
    """The root loop in simulated time: every 100 ms the trees in ``prove`` prove alive, then the gate beats.
    Returns what systemd received, with the simulated time it was sent at."""
    got: list[tuple[int, str]] = []
    for _ in range(round(seconds * 10)):
        clock.advance(S // 10)
        now = clock.monotonic_ns()
        for name in prove:
            live.proved(name, now)
        silent = live.silent(now)
        gate.beat(now, not silent, "no proof of life from " + ", ".join(silent))
        got += [(now, m) for m in receiver.drain()]
    return got


def pings(got: list[tuple[int, str]]) -> list[int]:
    return [t for t, m in got if m == "WATCHDOG=1"]


def test_the_gate_pings_at_half_the_interval_while_alive_and_stops_when_a_tree_hangs(receiver: Receiver) -> None:
    clock = SimClock(0)
    n = Notifier.from_env({"NOTIFY_SOCKET": receiver.address, "WATCHDOG_USEC": "4000000"}, pid=PID)  # 4 s
    gate = WatchdogGate(n)
    assert gate.enabled and gate.interval_ns == 2 * S
    live = Liveness(3 * S)
    live.watch("ETHUSDC", 0)
    live.watch("BTCUSDC", 0)
    n.ready("trading ETHUSDC, BTCUSDC")
    assert receiver.drain() == ["READY=1\nSTATUS=trading ETHUSDC, BTCUSDC"]

    got = run_loop(clock, gate, live, receiver, 10, {"ETHUSDC", "BTCUSDC"})
    assert pings(got) == [t(0.1), t(2.1), t(4.1), t(6.1), t(8.1)]  # the first at once, then every 2 s
    assert [m for _, m in got if m != "WATCHDOG=1"] == []

    # BTCUSDC's tree hangs after its proof at 10.0 s: it counts as alive for max_age (3 s), then pings stop
    got = run_loop(clock, gate, live, receiver, 20, {"ETHUSDC"})
    assert pings(got) == [t(10.1), t(12.1)]
    assert [(ts, m) for ts, m in got if m != "WATCHDOG=1"] == [
        (t(13.1), "STATUS=trading ETHUSDC, BTCUSDC | watchdog withheld: no proof of life from BTCUSDC")]
    assert gate.withheld_since_ns == t(13.1)

    # the tree proves alive again (restarted): a ping at once, the status restored, then every 2 s
    got = run_loop(clock, gate, live, receiver, 5, {"ETHUSDC", "BTCUSDC"})
    assert got[:2] == [(t(30.1), "STATUS=trading ETHUSDC, BTCUSDC"), (t(30.1), "WATCHDOG=1")]
    assert pings(got) == [t(30.1), t(32.1), t(34.1)]
    assert gate.withheld_since_ns is None and gate.pings == 10
    assert n.failures == 0
    n.close()


def t(seconds: float) -> int:
    """A simulated time in ns, exact to the loop's 100 ms step."""
    return round(seconds * 10) * (S // 10)


def test_a_lost_ping_is_retried_soon_not_after_a_whole_interval(receiver: Receiver) -> None:
    clock = SimClock(0)
    n = Notifier(receiver.address, watchdog_interval_ns=8 * S)
    gate = WatchdogGate(n)
    live = Liveness(60 * S)
    live.watch("ETHUSDC", 0)
    got = run_loop(clock, gate, live, receiver, 1, {"ETHUSDC"})
    assert pings(got) == [t(0.1)]
    receiver.sock.close()
    Path(receiver.address).unlink()  # systemd's socket gone for a while: the ping due at 8.1 s fails
    clock.advance(8 * S)
    assert gate.beat(clock.monotonic_ns(), True) is False and n.failures == 1
    back = Receiver(receiver.address)
    try:
        got = run_loop(clock, gate, live, back, 1.1, {"ETHUSDC"})  # retried after interval / 8 = 1 s
        assert pings(got) == [t(10.0)]
    finally:
        back.close()
    n.close()


def test_an_explicit_interval_overrides_the_environment(receiver: Receiver) -> None:
    n = Notifier(receiver.address, watchdog_interval_ns=5 * S)
    gate = WatchdogGate(n, interval_ns=S)
    assert gate.beat(0, True) and not gate.beat(S - 1, True) and gate.beat(S, True)
    assert receiver.drain() == ["WATCHDOG=1", "WATCHDOG=1"]


def test_force_pings_before_a_blocking_step_but_never_for_a_silent_engine(receiver: Receiver) -> None:
    gate = WatchdogGate(Notifier(receiver.address, watchdog_interval_ns=10 * S))
    assert gate.beat(0, True)
    assert not gate.beat(S, True)
    assert gate.beat(S, True, force=True)  # not due, sent anyway
    assert not gate.beat(2 * S, False, "ETHUSDC silent", force=True)  # never while not alive
    assert not gate.beat(10 * S, True)  # the interval counts from the forced ping (due at 11 s)
    assert gate.beat(11 * S, True)
    assert [m for m in receiver.drain() if m == "WATCHDOG=1"] == ["WATCHDOG=1"] * 3
