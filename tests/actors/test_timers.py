"""Timers on a simulated clock: periodic ticks keep their cadence, and a stall brings one tick, not a burst."""

from __future__ import annotations

from actors.clock import SimClock
from actors.timers import Timers

S = 1_000_000_000


def test_a_periodic_timer_keeps_its_cadence_and_a_stall_gives_one_tick_not_a_burst() -> None:
    clock = SimClock(0)
    timers = Timers(clock, threaded=False)
    fired: list[int] = []
    timers.call_every(1.0, lambda: fired.append(clock.monotonic_ns()))
    for _ in range(3):
        clock.advance(S)
        assert timers.run_due() == 1
    assert fired == [1 * S, 2 * S, 3 * S]
    clock.advance(int(5.5 * S))  # a stall: 5 intervals missed
    assert timers.run_due() == 1  # one tick now, no catch-up burst, and not twice
    assert timers.run_due() == 0
    clock.advance(S - 1)
    assert timers.run_due() == 0  # the next one is a whole interval after the late one
    clock.advance(1)
    assert timers.run_due() == 1


def test_a_cancelled_timer_never_fires() -> None:
    clock = SimClock(0)
    timers = Timers(clock, threaded=False)
    fired: list[int] = []
    h = timers.call_later(1.0, lambda: fired.append(1))
    h.cancel()
    clock.advance(2 * S)
    assert timers.run_due() == 0 and fired == []
