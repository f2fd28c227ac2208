"""The request-weight / order-count budget: slows down before a 429, stops after one, refuses when banned."""

from __future__ import annotations

import pytest

from actors.gateway.binance.errors import BannedError, RateLimitedError
from actors.gateway.binance.ratelimit import DEFAULT_LIMITS, RateBudget, parse_rate_limits

from .conftest import RES, load

T0 = 1_700_000_040_000  # exactly on a minute (and 10 s) boundary


def test_limits_from_the_real_exchange_info() -> None:
    raw = load(RES / "http_responses/http_futures_market_exchange_info.json")["rateLimits"]
    limits = parse_rate_limits(raw)
    by = {(x.kind, x.interval_ms): x for x in limits}
    assert by[("REQUEST_WEIGHT", 60_000)].limit == 6000
    assert by[("REQUEST_WEIGHT", 60_000)].header == "x-mbx-used-weight-1m"
    assert by[("ORDERS", 10_000)].limit == 300 and by[("ORDERS", 10_000)].header == "x-mbx-order-count-10s"
    assert by[("ORDERS", 60_000)].header == "x-mbx-order-count-1m"
    with pytest.raises(ValueError):
        parse_rate_limits([{"rateLimitType": "ORDERS", "interval": "WEEK", "intervalNum": 1, "limit": 1}])


def test_weight_budget_stops_at_the_safety_margin_and_resumes_next_window() -> None:
    b = RateBudget(DEFAULT_LIMITS, safety=0.5)  # 1200 of 2400 weight
    for _ in range(240):
        assert b.acquire(5, 0, T0 + 100) == 0
    wait = b.acquire(5, 0, T0 + 1000)
    assert wait == 59_000  # until the minute window ends
    assert b.acquire(5, 0, T0 + 60_000) == 0


def test_order_budget_ten_second_window() -> None:
    b = RateBudget(DEFAULT_LIMITS, safety=0.8)  # 240 orders / 10 s
    for _ in range(240):
        assert b.acquire(1, 1, T0 + 5) == 0
    assert b.acquire(1, 1, T0 + 2_000) == 8_000
    assert b.acquire(1, 0, T0 + 2_000) == 0  # a query carries no order count
    assert b.acquire(1, 1, T0 + 10_000) == 0


def test_server_count_wins_when_higher_same_window_only() -> None:
    b = RateBudget(DEFAULT_LIMITS, safety=0.9)  # cap 2160
    assert b.acquire(1, 0, T0) == 0
    b.on_response({"X-MBX-USED-WEIGHT-1M": "2159", "X-MBX-ORDER-COUNT-10S": "3"}, sent_ms=T0, now_ms=T0 + 5)
    assert b.acquire(1, 0, T0 + 10) == 0  # 2160: still within the cap
    assert b.acquire(1, 0, T0 + 10) > 0
    b.on_response({"x-mbx-used-weight-1m": "10"}, sent_ms=T0, now_ms=T0 + 20)  # lower: ours stands
    assert b.acquire(1, 0, T0 + 30) > 0
    # a reply to a request sent in the previous window does not count against the new one
    b.on_response({"x-mbx-used-weight-1m": "2400"}, sent_ms=T0 + 59_999, now_ms=T0 + 60_001)
    assert b.acquire(1, 0, T0 + 60_002) == 0
    snap = b.snapshot(T0 + 60_002)
    assert snap.usage[0].used == 1 and snap.usage[0].cap == 2160


def test_garbage_headers_are_ignored() -> None:
    b = RateBudget()
    b.on_response({"X-MBX-USED-WEIGHT-1M": "lots"}, sent_ms=T0, now_ms=T0)
    assert b.acquire(1, 0, T0) == 0


def test_a_single_request_above_the_cap_passes_in_an_empty_window() -> None:
    b = RateBudget(DEFAULT_LIMITS, safety=0.01)  # cap 24 weight
    assert b.acquire(50, 0, T0) == 0
    assert b.acquire(1, 0, T0 + 1) > 0


def test_429_backs_off_the_whole_budget_until_retry_after() -> None:
    b = RateBudget()
    end = b.on_rate_limited(7, T0)
    assert end > T0 + 7000 - 1
    assert b.acquire(1, 0, T0 + 10) == end - T0 - 10
    assert b.acquire(1, 1, T0 + 6_999) > 0
    with pytest.raises(RateLimitedError):
        b.check(T0 + 6_999)
    assert b.acquire(1, 0, end) == 0
    assert b.snapshot(end).rate_limited_count == 1


def test_429_without_retry_after_waits_a_whole_minute() -> None:
    b = RateBudget()
    b.on_rate_limited(None, T0)
    assert b.acquire(1, 0, T0 + 59_000) > 0


def test_418_refuses_every_call_until_the_ban_ends() -> None:
    b = RateBudget()
    b.on_banned(T0 + 120_000, None, T0)
    for t in (T0, T0 + 1, T0 + 119_999):
        with pytest.raises(BannedError) as ei:
            b.acquire(1, 0, t)
        assert ei.value.until_ms == T0 + 120_000
    assert b.acquire(1, 0, T0 + 120_000) == 0
    b.on_banned(None, 30, T0 + 200_000)  # no end named: Retry-After
    with pytest.raises(BannedError):
        b.acquire(1, 0, T0 + 229_999)
    assert b.snapshot(T0).banned_count == 2


def test_set_limits_keeps_counts() -> None:
    b = RateBudget()
    b.acquire(100, 0, T0)
    b.set_limits(DEFAULT_LIMITS)
    assert b.snapshot(T0).usage[0].used == 100
    with pytest.raises(ValueError):
        RateBudget(safety=0)


def test_order_count_429_holds_new_orders_only() -> None:
    b = RateBudget()
    end = b.on_rate_limited(2, T0, orders_only=True)
    assert b.acquire(1, 1, T0 + 10) == end - T0 - 10  # a new order waits
    assert b.acquire(1, 0, T0 + 10) == 0  # a cancel or a query does not
    assert b.acquire(1, 1, end) == 0
