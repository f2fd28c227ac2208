"""BinanceRest on a scripted transport: signing, retries, the budget, and idempotent placement/cancel."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
import requests
import urllib3.exceptions as u3

from actors.clock import SimClock
from actors.gateway.binance.errors import (
    AuthError,
    BannedError,
    DuplicateClientIdError,
    OrderNotFoundError,
    RateLimitedError,
    RejectedError,
    RetryableError,
    UnknownStateError,
)
from actors.gateway.binance.ratelimit import DEFAULT_LIMITS, RateBudget
from actors.gateway.binance.rest import BinanceRest, OrderRequest, RequestStat
from actors.gateway.events import OrderStatus, Side

from .conftest import FUT, ISSUES, RES, load
from .fakehttp import KEY, SECRET, FakeAdapter

T0_NS = 1_700_000_040_000 * 1_000_000
SERVER = {"serverTime": 1_700_000_040_000}
ORDER = "/fapi/v1/order"


def order_reply(cid: str = "c1", status: str = "NEW", **kw) -> dict:
    d = load(FUT / "http_json/order_response.json")
    d.update({"clientOrderId": cid, "status": status, "symbol": "BTCUSDT", "price": "50000",
              "origQty": "0.001", **kw})
    return d


NOT_FOUND = (400, {"code": -2013, "msg": "Order does not exist."})


@pytest.fixture
def env():
    clock = SimClock(T0_NS)
    fake = FakeAdapter(clock=clock)
    fake.on("GET", "/fapi/v1/time", lambda s: (200, {"serverTime": clock.time_ns() // 1_000_000}))
    session = requests.Session()
    session.mount("http://", fake)
    stats: list[RequestStat] = []
    rest = BinanceRest("http://x", KEY, SECRET, clock=clock, session=session, on_request=stats.append,
                       sleep=lambda s: clock.advance(int(s * 1e9)), rng=random.Random(1), lookup_delay_s=0.0)
    return rest, fake, clock, stats


def req(cid: str = "c1", **kw) -> OrderRequest:
    base = dict(symbol="BTCUSDT", side=Side.BUY, qty=Decimal("0.001"), client_order_id=cid,
                price=Decimal("50000"), time_in_force="GTX")
    base.update(kw)
    return OrderRequest(**base)


def test_signed_request_on_the_wire(env) -> None:
    rest, fake, clock, stats = env
    fake.on("POST", ORDER, (200, order_reply()))
    r = rest.place_order(req(reduce_only=True))
    assert r.client_order_id == "c1" and r.status is OrderStatus.NEW
    (post,) = fake.calls("POST", ORDER)
    assert post.signature_ok and post.headers["X-MBX-APIKEY"] == KEY
    p = post.params
    assert p["newClientOrderId"] == "c1" and p["timeInForce"] == "GTX" and p["reduceOnly"] == "true"
    assert p["selfTradePreventionMode"] == "EXPIRE_TAKER" and p["newOrderRespType"] == "RESULT"
    assert p["quantity"] == "0.001" and p["price"] == "50000" and p["recvWindow"] == "5000"
    assert int(p["timestamp"]) == clock.time_ns() // 1_000_000
    assert post.query.endswith("&signature=" + post.params["signature"])
    assert post.in_body and post.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert [s.outcome for s in stats][-1] == "ok" and stats[-1].path == ORDER
    # the time was synced once before the first signed request
    assert len(fake.calls("GET", "/fapi/v1/time")) == 1


def test_order_request_validation() -> None:
    with pytest.raises(ValueError):
        req(cid="bad id with spaces")
    with pytest.raises(ValueError):
        req(cid="x" * 37)
    with pytest.raises(ValueError):
        req(qty=0.001)
    with pytest.raises(ValueError):
        req(price=None)
    with pytest.raises(ValueError):
        req(time_in_force="GTD")
    with pytest.raises(ValueError):
        OrderRequest("BTCUSDT", Side.SELL, Decimal("1"), "m1", order_type="MARKET", price=Decimal("1"))
    m = OrderRequest("BTCUSDT", Side.SELL, Decimal("1"), "m1", order_type="MARKET", time_in_force=None,
                     stp_mode="EXPIRE_BOTH")
    assert ("selfTradePreventionMode", "EXPIRE_BOTH") in m.params("NONE")
    assert "timeInForce" not in dict(m.params("NONE"))
    with pytest.raises(ValueError):
        BinanceRest("http://x", KEY, SECRET, stp_mode="SOMETIMES")


def test_503_after_send_is_looked_up_not_resent(env) -> None:
    rest, fake, _, _ = env
    fake.on("POST", ORDER, (503, b"<html>Service Unavailable</html>"))
    fake.on("GET", ORDER, (200, order_reply()))
    r = rest.place_order(req())
    assert r.order_id == 12345678
    assert len(fake.calls("POST", ORDER)) == 1
    (get,) = fake.calls("GET", ORDER)
    assert get.params["origClientOrderId"] == "c1"
    assert rest.counts["resolved_unknown"] == 1


def test_timeout_then_absent_is_resent_with_the_same_id_and_a_fresh_signature(env) -> None:
    rest, fake, clock, _ = env

    def timeout(_):
        clock.advance(10**9)
        return requests.ReadTimeout("read timed out")

    fake.on("POST", ORDER, timeout, (200, order_reply()))
    fake.on("GET", ORDER, NOT_FOUND)
    rest.place_order(req())
    a, b = fake.calls("POST", ORDER)
    assert a.params["newClientOrderId"] == b.params["newClientOrderId"] == "c1"
    assert a.params["timestamp"] != b.params["timestamp"] and a.params["signature"] != b.params["signature"]
    assert a.signature_ok and b.signature_ok


def test_duplicate_on_resend_means_it_exists(env) -> None:
    rest, fake, _, _ = env
    fake.on("POST", ORDER, (502, b""), (400, {"code": -4116, "msg": "ClientOrderId is duplicated."}))
    fake.on("GET", ORDER, NOT_FOUND, (200, order_reply()))
    assert rest.place_order(req()).client_order_id == "c1"
    assert len(fake.calls("POST", ORDER)) == 2


def test_duplicate_of_a_different_order_is_an_error(env) -> None:
    rest, fake, _, _ = env
    fake.on("POST", ORDER, (400, {"code": -4116, "msg": "ClientOrderId is duplicated."}))
    fake.on("GET", ORDER, (200, order_reply(origQty="5")))
    with pytest.raises(DuplicateClientIdError):
        rest.place_order(req())


def test_lookup_failure_leaves_the_state_unknown_and_sends_nothing_more(env) -> None:
    rest, fake, _, _ = env
    fake.on("POST", ORDER, requests.ReadTimeout("t"))
    fake.on("GET", ORDER, (500, {"code": -1000, "msg": "unknown"}))
    with pytest.raises(UnknownStateError):
        rest.place_order(req())
    assert len(fake.calls("POST", ORDER)) == 1


def test_connection_refused_is_retried_without_lookup(env) -> None:
    rest, fake, _, _ = env
    refused = requests.ConnectionError(u3.MaxRetryError(None, "/", u3.NewConnectionError(None, "refused")))
    fake.on("POST", ORDER, refused, (200, order_reply()))
    rest.place_order(req())
    assert len(fake.calls("POST", ORDER)) == 2 and not fake.calls("GET", ORDER)


def test_rejections_are_not_retried(env) -> None:
    rest, fake, _, _ = env
    fake.on("POST", ORDER, (400, {"code": -5022, "msg": "Post Only order will be rejected"}))
    with pytest.raises(RejectedError) as ei:
        rest.place_order(req())
    assert ei.value.code == -5022 and ei.value.http_status == 400 and ei.value.endpoint == ORDER
    assert len(fake.calls("POST", ORDER)) == 1
    fake.on("GET", "/fapi/v2/balance", (401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions."}))
    with pytest.raises(AuthError):
        rest.balance()
    assert len(fake.calls("GET", "/fapi/v2/balance")) == 1


def test_reads_retry_with_bounded_attempts(env) -> None:
    rest, fake, clock, _ = env
    fake.on("GET", "/fapi/v1/openOrders", (503, b""), (503, b""), (200, [order_reply()]))
    t0 = clock.monotonic_ns()
    assert len(rest.open_orders("BTCUSDT")) == 1
    assert clock.monotonic_ns() > t0  # backed off in between
    fake.routes[("GET", "/fapi/v2/account")] = [(500, b"")]
    with pytest.raises(RetryableError):
        rest.account()
    assert len(fake.calls("GET", "/fapi/v2/account")) == 5


def test_429_holds_every_request_until_retry_after(env) -> None:
    rest, fake, _clock, _ = env
    fake.on("GET", "/fapi/v1/openOrders",
            (429, {"code": -1003, "msg": "Too many requests."}, {"Retry-After": "3"}),
            (200, []))
    rest.open_orders("BTCUSDT")
    first, second = fake.calls("GET", "/fapi/v1/openOrders")
    assert second.at_ns - first.at_ns >= 3 * 10**9
    assert rest.budget_snapshot().rate_limited_count == 1


def test_429_longer_than_the_deadline_sends_nothing_more(env) -> None:
    rest, fake, _, _ = env
    fake.on("GET", "/fapi/v1/openOrders", (429, {"code": -1003, "msg": "x"}, {"Retry-After": "60"}))
    with pytest.raises(RateLimitedError) as ei:
        rest.open_orders("BTCUSDT")
    assert ei.value.local and len(fake.calls("GET", "/fapi/v1/openOrders")) == 1


def test_418_bans_every_call_without_sending(env) -> None:
    rest, fake, clock, _ = env
    ban_end = clock.time_ns() // 1_000_000 + 120_000
    msg = f"Way too much request weight used; IP banned until {ban_end}."
    fake.on("GET", "/fapi/v1/openOrders", (418, {"code": -1003, "msg": msg}))
    with pytest.raises(BannedError) as ei:
        rest.open_orders("BTCUSDT")
    assert ei.value.until_ms == ban_end
    n = len(fake.seen)
    for call in (lambda: rest.open_orders("BTCUSDT"), lambda: rest.place_order(req()), rest.ping):
        with pytest.raises(BannedError):
            call()
    assert len(fake.seen) == n
    clock.advance(121 * 10**9)
    fake.on("GET", "/fapi/v1/ping", (200, {}))
    rest.ping()


def test_clock_skew_is_resynced_and_resigned(env) -> None:
    rest, fake, clock, _ = env
    skew = 12_000  # the server is 12 s behind us (lesson 5)
    fake.routes[("GET", "/fapi/v1/time")] = [
        (200, {"serverTime": clock.time_ns() // 1_000_000}),  # first sync: no skew yet
        lambda s: (200, {"serverTime": clock.time_ns() // 1_000_000 - skew}),
    ]

    def place(s):
        server_now = clock.time_ns() // 1_000_000 - (skew if len(fake.calls("POST", ORDER)) > 1 else 0)
        if int(s.params["timestamp"]) >= server_now + 1000:
            return 400, {"code": -1021, "msg": "Timestamp for this request was 1000ms ahead of the server."}
        return 200, order_reply()

    fake.on("POST", ORDER, place)
    rest.place_order(req("a"))  # no skew yet
    clock.advance(10**9)
    rest.place_order(req("b"))  # skew appears: -1021, resync, re-sign, success
    posts = fake.calls("POST", ORDER)
    assert len(posts) == 3 and all(p.signature_ok for p in posts)
    assert int(posts[2].params["timestamp"]) <= clock.time_ns() // 1_000_000 - skew
    assert rest.time_offset_ms == -skew


def test_server_weight_header_slows_the_next_call(env) -> None:
    rest, fake, clock, _ = env
    fake.on("GET", "/fapi/v1/ping", (200, {}, {"X-MBX-USED-WEIGHT-1M": "2100"}), (200, {}))
    clock.advance(50 * 10**9)
    rest.ping()
    t = clock.time_ns()
    rest.ping()  # 2100 + 1 > 2040 (85 %): waits for the next minute window
    assert clock.time_ns() - t == 10 * 10**9


def test_cancel_confirmation(env) -> None:
    rest, fake, _, _ = env
    fake.on("DELETE", ORDER, (503, b""))
    fake.on("GET", ORDER, (200, order_reply(status="CANCELED")))
    assert rest.cancel_order("BTCUSDT", client_order_id="c1").status is OrderStatus.CANCELED
    fake.routes[("DELETE", ORDER)] = [(400, {"code": -2011, "msg": "Unknown order sent."})]
    fake.routes[("GET", ORDER)] = [(200, order_reply(status="FILLED"))]
    assert rest.cancel_order("BTCUSDT", order_id=12345678).status is OrderStatus.FILLED
    fake.routes[("GET", ORDER)] = [NOT_FOUND]
    with pytest.raises(OrderNotFoundError):
        rest.cancel_order("BTCUSDT", client_order_id="ghost")
    fake.routes[("GET", ORDER)] = [(200, order_reply(status="NEW"))]
    with pytest.raises(UnknownStateError):
        rest.cancel_order("BTCUSDT", client_order_id="c1")
    with pytest.raises(ValueError):
        rest.cancel_order("BTCUSDT")


def test_cancel_all_confirms_none_left(env) -> None:
    rest, fake, _, _ = env
    fake.on("DELETE", "/fapi/v1/allOpenOrders", (200, {"code": 200, "msg": "done"}))
    fake.on("GET", "/fapi/v1/openOrders", (200, [order_reply()]), (200, []))
    assert rest.cancel_all("BTCUSDT") == []
    assert len(fake.calls("DELETE", "/fapi/v1/allOpenOrders")) == 2


def test_batch_with_the_real_mixed_reply(env) -> None:
    rest, fake, _, _ = env
    import json

    row = next(json.loads(x) for x in ISSUES.read_text().splitlines() if "batchOrders" in x)
    fake.on("POST", "/fapi/v1/batchOrders", (200, row["payload"]))
    out = rest.place_batch([req("a"), req("b")])
    assert isinstance(out[0], RejectedError) and out[0].code == -5022
    assert out[1].order_id == 1405234856 and out[1].reduce_only
    sent = fake.calls("POST", "/fapi/v1/batchOrders")[0]
    items = json.loads(sent.params["batchOrders"])
    assert [i["newClientOrderId"] for i in items] == ["a", "b"] and sent.signature_ok
    assert all(isinstance(v, str) for i in items for v in i.values())
    with pytest.raises(ValueError):
        rest.place_batch([req(str(i)) for i in range(6)])


def test_batch_unknown_outcome_resolves_each_order(env) -> None:
    rest, fake, _, _ = env
    fake.on("POST", "/fapi/v1/batchOrders", requests.ReadTimeout("t"))
    fake.on("GET", ORDER,
            lambda s: (200, order_reply("a")) if s.params["origClientOrderId"] == "a" else NOT_FOUND)
    fake.on("POST", ORDER, (200, order_reply("b")))
    out = rest.place_batch([req("a"), req("b")])
    assert [o.client_order_id for o in out] == ["a", "b"]
    assert len(fake.calls("POST", "/fapi/v1/batchOrders")) == 1 and len(fake.calls("POST", ORDER)) == 1


def test_account_endpoints_parse(env) -> None:
    rest, fake, _, _ = env
    http = RES / "http_responses"
    fake.on("GET", "/fapi/v1/userTrades", (200, load(http / "http_futures_account_trades.json")))
    fake.on("GET", "/fapi/v2/positionRisk", (200, load(FUT / "http_json/position_risk.json")))
    fake.on("GET", "/fapi/v2/balance", (200, load(FUT / "http_json/balance.json")))
    fake.on("GET", "/fapi/v2/account", (200, load(FUT / "http_json/account_info_v2.json")))
    fake.on("GET", "/fapi/v1/exchangeInfo", (200, load(http / "http_futures_market_exchange_info.json")))
    fake.on("POST", "/fapi/v1/listenKey", (200, {"listenKey": "abc"}))
    fake.on("PUT", "/fapi/v1/listenKey", (200, {}))
    fills = rest.user_trades("ETHUSDT", from_id=82357626, limit=10)
    assert [f.trade_id for f in fills] == [82357626, 82357629]
    assert fake.calls("GET", "/fapi/v1/userTrades")[0].params["fromId"] == "82357626"
    assert rest.position_risk("BTCUSDT")[0].qty == Decimal("0.001")
    assert rest.balance()[0].asset == "USDT"
    assert rest.account().balances[0].wallet_balance == Decimal("23.72469206")
    info = rest.exchange_info()
    assert info.instrument("BTCUSDT").tick_size == Decimal("0.10")
    assert rest.budget_snapshot().usage[0].limit == 6000
    assert rest.listen_key_create() == "abc"
    rest.listen_key_keepalive()
    lk = fake.calls("POST", "/fapi/v1/listenKey")[0]
    assert "signature" not in lk.params and lk.headers["X-MBX-APIKEY"] == KEY


def test_no_secret_in_repr_errors_or_stats(env) -> None:
    rest, fake, _, stats = env
    url_err = requests.ConnectionError(f"Pool: /fapi/v1/order?symbol=X&signature=abcdef0123 {SECRET}")
    fake.on("GET", ORDER, url_err)
    with pytest.raises(RetryableError) as ei:
        rest.get_order("BTCUSDT", client_order_id="c1")
    for text in (repr(rest), str(ei.value), repr(ei.value), repr(stats), repr(rest.budget_snapshot())):
        assert KEY not in text and SECRET not in text and "abcdef0123" not in text
    sig = fake.calls("GET", ORDER)[0].params["signature"]
    assert sig not in str(ei.value)


def test_closed_client_refuses(env) -> None:
    rest, _fake, _, _ = env
    rest.close()
    with pytest.raises(RuntimeError):
        rest.ping()


def test_budget_is_shared_and_injected() -> None:
    clock = SimClock(T0_NS)
    budget = RateBudget(DEFAULT_LIMITS, safety=0.5)
    fake = FakeAdapter(clock=clock).on("GET", "/fapi/v1/ping", (200, {}))
    s = requests.Session()
    s.mount("http://", fake)
    rest = BinanceRest("http://x", KEY, SECRET, clock=clock, session=s, budget=budget, max_total_s=90,
                       sleep=lambda x: clock.advance(int(x * 1e9)))
    for _ in range(1200):
        rest.ping()
    t = clock.time_ns()
    rest.ping()
    assert clock.time_ns() - t >= 59 * 10**9  # waited for the next window, never over 50 %


def test_concurrent_callers_share_one_budget() -> None:
    import threading

    clock = SimClock(T0_NS)
    fake = FakeAdapter(clock=clock).on("GET", "/fapi/v1/ping", (200, {}))
    s = requests.Session()
    s.mount("http://", fake)
    rest = BinanceRest("http://x", KEY, SECRET, clock=clock, session=s)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(50):
                rest.ping()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(fake.seen) == 400
    assert rest.budget_snapshot().usage[0].used == 400 and rest.counts["ok"] == 400


def test_order_count_limit_still_lets_cancels_through(env) -> None:
    rest, fake, clock, _ = env
    fake.on("POST", ORDER, (429, {"code": -1015, "msg": "Too many new orders; current limit is 300 orders per"
                                  " 10 SECOND."}, {"Retry-After": "4"}), (200, order_reply()))
    fake.on("DELETE", ORDER, (200, order_reply("c0", status="CANCELED")))
    t_cancel: list[int] = []

    real_sleep = rest._sleep

    def sleep(s: float) -> None:  # while the placement waits, a cancel goes through at once
        if not t_cancel:
            rest.cancel_order("BTCUSDT", client_order_id="c0")
            t_cancel.append(clock.time_ns())
        real_sleep(s)

    rest._sleep = sleep
    rest.place_order(req())
    first, second = fake.calls("POST", ORDER)
    assert second.at_ns - first.at_ns >= 4 * 10**9
    assert fake.calls("DELETE", ORDER)[0].at_ns < second.at_ns
