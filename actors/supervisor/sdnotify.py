"""systemd's notify protocol (sd_notify(3)), spoken directly, and the watchdog that only a live engine feeds.

The protocol is one unix datagram of ``KEY=value`` lines to the socket named by ``$NOTIFY_SOCKET``: not worth a
C-extension dependency (python-systemd). Outside systemd there is no socket and every call is a no-op, so the
engine calls it unconditionally. The environment comes in as a mapping and the time as an argument, so tests
drive it with a fake environment and a ``SimClock``.

The watchdog is the last line of defence against a hung process (the actor supervisors handle hung actors):
``WATCHDOG=1`` is sent only while every symbol tree has proved alive recently (its supervisor completed a
heartbeat round with all its children). When proofs stop, so do the pings, and systemd stops and restarts
the service after ``WatchdogSec``.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from loguru import logger

from actors.fields import num

NOTIFY_SOCKET = "NOTIFY_SOCKET"
WATCHDOG_USEC = "WATCHDOG_USEC"
WATCHDOG_PID = "WATCHDOG_PID"


@dataclass(frozen=True)
class SystemdSettings:
    """systemd integration. ``WatchdogSec=`` in the unit sets how often WATCHDOG=1 goes out (half of it); these
    say how fresh each tree's proof of life must be for it to go out at all."""

    # A tree whose supervisor has not completed a heartbeat round for this long withholds the pings. It must
    # exceed [supervision] heartbeat_s + heartbeat_timeout_s (one full round), plus a child restart's stop/start.
    proof_max_age_s: float = num(15.0, 1.0, 600.0)
    send_timeout_s: float = num(1.0, 0.01, 10.0)  # a datagram systemd does not take within this is dropped


# ---------------------------------------------------------------------------------------------- environment


def notify_address(env: Mapping[str, str]) -> str | None:
    """The socket to notify: a filesystem path, or an abstract name (``@name`` → a leading NUL). ``None``: not
    started by systemd with ``Type=notify``, or an address kind this module does not speak (``vsock:``)."""
    raw = env.get(NOTIFY_SOCKET, "")
    if raw.startswith("/"):
        return raw
    if raw.startswith("@") and len(raw) > 1:
        return "\0" + raw[1:]
    return None


def watchdog_interval_ns(env: Mapping[str, str], pid: int) -> int | None:
    """How often to ping: half of ``WATCHDOG_USEC`` (sd_watchdog_enabled(3)), when the watchdog is armed for
    this process (``WATCHDOG_PID`` unset or ours; a child that inherited the variables must stay quiet)."""
    usec = env.get(WATCHDOG_USEC, "").strip()
    if not usec:
        return None
    owner = env.get(WATCHDOG_PID, "").strip()
    if owner:
        try:
            if int(owner) != pid:
                return None
        except ValueError:
            return None
    try:
        value = int(usec)
    except ValueError:
        return None
    if value <= 0:
        return None
    return value * 1000 // 2


def _one_line(text: str) -> str:
    """A newline inside a value would start a new assignment."""
    return " ".join(text.split("\n")).replace("\r", " ")


# ---------------------------------------------------------------------------------------------- the notifier


class Notifier:
    """Sends notify messages; never raises into the caller. A failure is counted and logged once per streak
    (a lost READY or WATCHDOG must not take trading down; systemd's timeouts are the backstop)."""

    def __init__(self, address: str | None, *, watchdog_interval_ns: int | None = None,
                 send_timeout_s: float = 1.0) -> None:
        self.address = address
        self.watchdog_interval_ns = watchdog_interval_ns if address is not None else None
        self._timeout_s = send_timeout_s
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._failing = False
        self.sent = 0
        self.failures = 0
        self.last_error = ""
        self.status_text = ""  # the last STATUS the engine set (the watchdog gate amends and restores it)

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, pid: int, send_timeout_s: float = 1.0) -> Notifier:
        raw = env.get(NOTIFY_SOCKET, "")
        address = notify_address(env)
        if raw and address is None:
            logger.warning("sd_notify: unsupported {}={!r}: systemd will not hear from this process", NOTIFY_SOCKET,
                           raw)
        interval = watchdog_interval_ns(env, pid)
        if address is not None:
            logger.info("sd_notify: notifying systemd{}", f"; watchdog ping every {interval / 1e9:g}s"
                        if interval else " (no watchdog)")
        return cls(address, watchdog_interval_ns=interval, send_timeout_s=send_timeout_s)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    # ------------------------------------------------------------------ the messages
    def ready(self, status: str = "") -> bool:
        """Start-up is complete: systemd's start job finishes and the watchdog is armed from here."""
        return self._send_status_with("READY=1", status)

    def status(self, text: str) -> bool:
        """One line shown by ``systemctl status``."""
        return self._send_status_with(None, text)

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self, status: str = "") -> bool:
        """The orderly shutdown began: systemd stops the watchdog and gives it ``TimeoutStopSec``."""
        return self._send_status_with("STOPPING=1", status)

    def _send_status_with(self, first: str | None, status: str) -> bool:
        lines = [first] if first else []
        if status:
            self.status_text = _one_line(status)
            lines.append(f"STATUS={self.status_text}")
        return self.send(*lines) if lines else False

    def send(self, *assignments: str) -> bool:
        """One datagram of ``KEY=value`` lines. True when it left; False when disabled or it failed."""
        if self.address is None or not assignments:
            return False
        payload = "\n".join(assignments).encode()
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                    self._sock.settimeout(self._timeout_s)
                self._sock.sendto(payload, self.address)
            except OSError as exc:  # ENOENT, ECONNREFUSED, EAGAIN/timeout, ENAMETOOLONG...
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                if not self._failing:
                    self._failing = True
                    logger.warning("sd_notify: could not notify systemd ({}); further failures are only counted",
                                   self.last_error)
                return False
            self.sent += 1
            if self._failing:
                self._failing = False
                logger.info("sd_notify: notifying systemd again after {} failures", self.failures)
            return True

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


# ---------------------------------------------------------------------------------------------- liveness


class Liveness:
    """When each symbol tree last proved alive. Proofs arrive on the supervisors' threads; the root loop asks
    ``silent(now)``. A tree being watched counts as proved when the watch starts, so a fresh tree has
    ``max_age`` to complete its first heartbeat round."""

    def __init__(self, max_age_ns: int) -> None:
        if max_age_ns <= 0:
            raise ValueError("max_age_ns must be > 0")
        self.max_age_ns = max_age_ns
        self._last: dict[str, int] = {}
        self._lock = threading.Lock()

    def watch(self, name: str, now_ns: int) -> None:
        with self._lock:
            self._last[name] = now_ns

    def forget(self, name: str) -> None:
        with self._lock:
            self._last.pop(name, None)

    def proved(self, name: str, now_ns: int) -> None:
        """A proof for a tree not watched (one being replaced) is ignored."""
        with self._lock:
            last = self._last.get(name)
            if last is not None and now_ns > last:
                self._last[name] = now_ns

    def silent(self, now_ns: int) -> list[str]:
        """The trees without a proof within ``max_age``: empty means alive (also when nothing is watched)."""
        with self._lock:
            return sorted(n for n, t in self._last.items() if now_ns - t > self.max_age_ns)


# ---------------------------------------------------------------------------------------------- the gate


class WatchdogGate:
    """Sends WATCHDOG=1 at the notifier's interval, but only while the caller says the engine is alive. The
    root loop calls ``beat`` every pass; it costs a comparison unless a ping is due."""

    def __init__(self, notifier: Notifier, interval_ns: int | None = None) -> None:
        self.notifier = notifier
        self.interval_ns = interval_ns if interval_ns is not None else notifier.watchdog_interval_ns
        self._next_ping_ns: int | None = None  # None: at the first beat that finds the engine alive
        self.withheld_since_ns: int | None = None
        self.pings = 0

    @property
    def enabled(self) -> bool:
        return self.interval_ns is not None and self.notifier.enabled

    def beat(self, now_ns: int, alive: bool, why: str = "", *, force: bool = False) -> bool:
        """True when a ping was sent. ``why``: what is not alive, for the log and ``systemctl status``.
        ``force``: ping now even if one is not due (if alive), so that a step that blocks the caller for a while
        (the root restarting a tree) starts with the whole of ``WatchdogSec`` ahead of it."""
        if not self.enabled:
            return False
        assert self.interval_ns is not None
        if not alive:
            if self.withheld_since_ns is None:
                self.withheld_since_ns = now_ns
                reason = _one_line(why or "not alive")
                logger.error("watchdog: withholding WATCHDOG=1 ({}); systemd restarts the service unless it "
                             "recovers", reason)
                base = self.notifier.status_text
                self.notifier.send(f"STATUS={base + ' | ' if base else ''}watchdog withheld: {reason}")
            return False
        if self.withheld_since_ns is not None:
            logger.warning("watchdog: alive again after {:.1f}s; pinging systemd again",
                           (now_ns - self.withheld_since_ns) / 1e9)
            self.withheld_since_ns = None
            if self.notifier.status_text:
                self.notifier.send(f"STATUS={self.notifier.status_text}")
        if not force and self._next_ping_ns is not None and now_ns < self._next_ping_ns:
            return False
        if self.notifier.watchdog():
            self.pings += 1
            self._next_ping_ns = now_ns + self.interval_ns
            return True
        # A lost ping is retried soon: waiting a whole interval would already be past systemd's deadline.
        self._next_ping_ns = now_ns + max(self.interval_ns // 8, 1)
        return False
