"""Server-time offset: midpoint of the round trip, best (shortest) sample wins, a 12 s skew is absorbed."""

from __future__ import annotations

import pytest

from actors.gateway.binance.timesync import TimeSync


def test_offset_is_taken_at_the_round_trip_midpoint() -> None:
    ts = TimeSync()
    s = ts.add_sample(1_000, 1_050, 1_100)  # server stamped at our midpoint 1050
    assert s.offset_ms == 0 and s.rtt_ms == 100
    assert ts.timestamp_ms(2_000) == 2_000


def test_twelve_second_skew_local_ahead() -> None:
    ts = TimeSync()
    local = 1_700_000_012_000
    ts.add_sample(local, local - 12_000 + 20, local + 40)  # our clock is 12 s ahead of the server
    assert ts.offset_ms == -12_000
    assert ts.timestamp_ms(local + 1_000) == local + 1_000 - 12_000


def test_twelve_second_skew_local_behind() -> None:
    ts = TimeSync()
    ts.add_sample(0, 12_005, 10)
    assert ts.server_ms(100) == 12_100


def test_shortest_round_trip_wins_and_invalidate_forgets() -> None:
    ts = TimeSync(keep=3)
    ts.add_sample(0, 500, 1_000)  # rtt 1000, offset 0
    ts.add_sample(2_000, 2_060, 2_020)  # rtt 20, offset 50
    ts.add_sample(3_000, 3_900, 3_800)  # rtt 800, offset 500
    assert ts.offset_ms == 50
    ts.invalidate()
    assert ts.offset_ms == 0 and ts.needs_sync(3_900)


def test_resync_schedule_and_guard() -> None:
    ts = TimeSync(resync_every_ms=1_000, guard_ms=50)
    assert ts.needs_sync(0)
    ts.add_sample(0, 0, 0)
    assert not ts.needs_sync(999)
    assert ts.needs_sync(1_000)
    assert ts.timestamp_ms(500) == 450
    with pytest.raises(ValueError):
        ts.add_sample(10, 0, 5)
