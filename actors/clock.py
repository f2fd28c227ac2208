"""One injected clock for the whole engine.

Every piece of logic that needs the time takes it from a ``Clock`` (or as a plain argument), never from
``time`` directly, so that tests and replays can run on a simulated clock deterministically.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def time_ns(self) -> int:
        """Wall-clock time in ns since the epoch (what the exchange's timestamps are compared with)."""
        ...

    def monotonic_ns(self) -> int:
        """A clock that never goes backwards, for intervals, timeouts and staleness."""
        ...


class WallClock:
    """The real clock."""

    def time_ns(self) -> int:
        return time.time_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()


class SimClock:
    """A clock that only moves when told to; both readings advance together."""

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self._lock = threading.Lock()
        self._now = start_ns

    def time_ns(self) -> int:
        with self._lock:
            return self._now

    def monotonic_ns(self) -> int:
        return self.time_ns()

    def advance(self, ns: int) -> None:
        if ns < 0:
            raise ValueError("a simulated clock never goes backwards")
        with self._lock:
            self._now += ns

    def set(self, ns: int) -> None:
        with self._lock:
            if ns < self._now:
                raise ValueError("a simulated clock never goes backwards")
            self._now = ns
