"""Timers as messages: backoff, polling and heartbeats are a message told to an actor later, never a
``sleep`` inside one.

One scheduler thread per process holds a heap of due times (on the injected clock's monotonic reading) and,
when one is due, calls its callback, which for actors is a ``tell``. A dead target is simply skipped.
``run_due`` lets a test (or a replay on a ``SimClock``) fire timers without the thread.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pykka
from loguru import logger

from actors.clock import Clock


@dataclass(order=True)
class _Entry:
    due_ns: int
    seq: int
    fn: Callable[[], None] = field(compare=False)
    every_ns: int = field(default=0, compare=False)
    cancelled: bool = field(default=False, compare=False)


class TimerHandle:
    __slots__ = ("_entry",)

    def __init__(self, entry: _Entry) -> None:
        self._entry = entry

    def cancel(self) -> None:
        self._entry.cancelled = True


class Timers:
    def __init__(self, clock: Clock, *, threaded: bool = True) -> None:
        self._clock = clock
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._run, name="timers", daemon=True)
            self._thread.start()

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> TimerHandle:
        return self._add(int(delay_s * 1e9), fn, 0)

    def call_every(self, interval_s: float, fn: Callable[[], None]) -> TimerHandle:
        every = max(1, int(interval_s * 1e9))
        return self._add(every, fn, every)

    def tell_later(self, delay_s: float, ref: pykka.ActorRef, msg: object) -> TimerHandle:
        return self.call_later(delay_s, lambda: _tell(ref, msg))

    def tell_every(self, interval_s: float, ref: pykka.ActorRef, msg: object) -> TimerHandle:
        return self.call_every(interval_s, lambda: _tell(ref, msg))

    def _add(self, delay_ns: int, fn: Callable[[], None], every_ns: int) -> TimerHandle:
        entry = _Entry(self._clock.monotonic_ns() + max(0, delay_ns), next(self._seq), fn, every_ns)
        with self._cv:
            heapq.heappush(self._heap, entry)
            self._cv.notify()
        return TimerHandle(entry)

    def run_due(self) -> int:
        """Fire everything due now (on the clock); returns how many fired."""
        fired = 0
        while True:
            with self._cv:
                if not self._heap or self._heap[0].due_ns > self._clock.monotonic_ns():
                    return fired
                entry = heapq.heappop(self._heap)
                if entry.every_ns and not entry.cancelled:
                    # after a stall, the next tick is one interval from now: no burst of catch-up ticks
                    now = self._clock.monotonic_ns()
                    nxt = entry.due_ns + entry.every_ns
                    entry.due_ns = nxt if nxt > now else now + entry.every_ns
                    entry.seq = next(self._seq)
                    heapq.heappush(self._heap, entry)
            if not entry.cancelled:
                fired += 1
                try:
                    entry.fn()
                except Exception as exc:  # a timer callback must never kill the scheduler
                    logger.exception("timer callback failed: {}", exc)

    def _run(self) -> None:
        while True:
            with self._cv:
                if self._stop:
                    return
                wait = 1.0
                if self._heap:
                    wait = max(0.0, (self._heap[0].due_ns - self._clock.monotonic_ns()) / 1e9)
                if wait > 0:
                    self._cv.wait(min(wait, 1.0))
                    continue
            self.run_due()

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        if self._thread is not None:
            self._thread.join(2)


def _tell(ref: pykka.ActorRef, msg: object) -> None:
    with contextlib.suppress(pykka.ActorDeadError):  # restarted or stopped: its successor sets its own timers
        ref.tell(msg)
