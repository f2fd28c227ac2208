"""Rate limits: fixed windows, headers, 429 with Retry-After, 418 for clients that keep going, bans doubling."""

from __future__ import annotations

from simex import SimConfig, SimExchange
from simex.ratelimit import RateLimiter

from .conftest import Client

M0 = 1_700_000_020_000  # 40 s into a minute


def test_weight_window_is_aligned_to_the_minute() -> None:
    rl = RateLimiter(weight_limit=10, ban_after=2, ban_ms=1000)
    assert rl.admit("ip", 6, M0).status == 200
    v = rl.admit("ip", 6, M0 + 1)
    assert (v.status, v.code, v.retry_after) == (429, -1003, 20)          # frees at the next minute
    assert rl.admit("ip", 1, M0 + 19_999).status == 429                    # strike 1
    assert rl.admit("ip", 1, M0 + 20_000).status == 200                    # new window, back-off over
    assert rl.used_weight("ip", M0 + 20_000) == 1


def test_ignoring_429_bans_and_bans_double() -> None:
    rl = RateLimiter(weight_limit=1, ban_after=2, ban_ms=1000)
    t = M0
    assert rl.admit("ip", 1, t).status == 200
    assert rl.admit("ip", 1, t).status == 429
    assert [rl.admit("ip", 1, t + i).status for i in range(1, 4)] == [429, 429, 418]
    v = rl.admit("ip", 1, t + 10)
    assert v.status == 418 and v.retry_after == 1 and "banned until" in v.msg
    t2 = M0 + 60_000                                                       # after the ban, a new minute
    assert rl.admit("ip", 1, t2).status == 200
    assert rl.admit("ip", 1, t2).status == 429
    for i in range(1, 3):
        rl.admit("ip", 1, t2 + i)
    v = rl.admit("ip", 1, t2 + 3)
    assert v.status == 418 and v.retry_after == 2                          # doubled
    assert (rl.count_429, rl.count_418) == (6, 3)


def test_order_counts_per_account_and_headers() -> None:
    with SimExchange(SimConfig(seed=4, orders_limit_10s=3, weight_limit_1m=60)) as sx:
        client = Client(sx.rest_url)
        bid, _ = client.top("ETHUSDC")
        seen = []
        for i in range(8):                   # 3 per 10 s window: a 4th inside one window must fail
            r = client.order(symbol="ETHUSDC", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.050",
                             price=str(bid - 40 - i))
            seen.append((r.status_code, int(r.headers["X-MBX-ORDER-COUNT-10S"]), r.json().get("code")))
            if r.status_code == 429:
                break
        assert seen[-1][0] == 429 and seen[-1][1] == 4 and seen[-1][2] == -1015
        assert "Retry-After" in r.headers and 1 <= int(r.headers["Retry-After"]) <= 10
        assert all(s[0] == 200 and s[1] <= 3 for s in seen[:-1])
        used = 0
        status = 200
        while status == 200 and used < 100:
            r = client.public("/fapi/v1/depth", symbol="ETHUSDC", limit=5)
            status, used = r.status_code, int(r.headers["X-MBX-USED-WEIGHT-1M"])
        assert status == 429 and r.json()["code"] == -1003 and "Retry-After" in r.headers
        assert sx.state()["rate_limits"]["count_429"] >= 1
