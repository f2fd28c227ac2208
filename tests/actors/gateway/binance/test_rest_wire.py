"""BinanceRest's order path over its own connections (``wire.py``), against a scripted server on real sockets:
the same signing, classification and idempotent placement as over requests (``test_rest.py``), and the split
placement (``send_orders`` writes, ``place_order(sent=)`` reads and finishes, possibly on another thread)."""

from __future__ import annotations

import hashlib
import hmac
import random
import threading
import time
from decimal import Decimal

import pytest

from actors.clock import SimClock
from actors.gateway.binance.errors import BannedError, RateLimitedError, RejectedError
from actors.gateway.binance.rest import BinanceRest, OrderRequest
from actors.gateway.events import OrderStatus, Side

from .conftest import FUT, load
from .httpscript import Act, HttpScript, Req

KEY, SECRET = "wire-key", "wire-secret"
T0_NS = 1_700_000_040_000 * 1_000_000
ORDER, BATCH = "/fapi/v1/order", "/fapi/v1/batchOrders"


def signed(r: Req) -> bool:
    total = r.query + r.body.decode()
    payload, _, sig = total.rpartition("&signature=")
    return hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest() == sig


def order_reply(cid: str = "c1", status: str = "NEW", **kw) -> dict:
    d = load(FUT / "http_json/order_response.json")
    d.update({"clientOrderId": cid, "status": status, "symbol": "BTCUSDT", "price": "50000", "origQty": "0.001",
              **kw})
    return d


def req(cid: str = "c1") -> OrderRequest:
    return OrderRequest("BTCUSDT", Side.BUY, Decimal("0.001"), cid, price=Decimal("50000"), time_in_force="GTX")


NOT_FOUND = Act(400, {"code": -2013, "msg": "Order does not exist."})


def wait_for(pred, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.005)
    return pred()


@pytest.fixture
def env():
    clock = SimClock(T0_NS)
    srv = HttpScript()
    srv.on("GET", "/fapi/v1/time", lambda r: Act(200, {"serverTime": clock.time_ns() // 1_000_000}))
    hooks: list[int] = []  # requests the server had seen when each hook ran
    rest = BinanceRest(srv.url, KEY, SECRET, clock=clock, sleep=lambda s: clock.advance(int(s * 1e9)),
                       rng=random.Random(1), lookup_delay_s=0.0, pre_send=lambda _: hooks.append(len(srv.seen)))
    yield rest, srv, clock, hooks
    rest.close()
    srv.stop()


def test_orders_go_signed_in_the_body_over_one_kept_alive_connection(env) -> None:
    rest, srv, _, hooks = env
    srv.on("POST", ORDER, Act(200, order_reply()))
    srv.on("GET", ORDER, Act(200, order_reply()))
    srv.on("DELETE", ORDER, Act(200, order_reply(status="CANCELED")))
    assert rest.place_order(req()).status is OrderStatus.NEW
    assert rest.get_order("BTCUSDT", client_order_id="c1").client_order_id == "c1"
    assert rest.cancel_order("BTCUSDT", client_order_id="c1").status is OrderStatus.CANCELED
    post, get, delete = srv.calls("POST", ORDER) + srv.calls("GET", ORDER) + srv.calls("DELETE", ORDER)
    assert all(signed(r) and r.headers["x-mbx-apikey"] == KEY for r in (post, get, delete))
    assert post.params["newClientOrderId"] == "c1" and post.body and not post.query
    assert post.headers["content-type"] == "application/x-www-form-urlencoded"
    assert get.query and not get.body and delete.body
    assert post.conn_no == get.conn_no == delete.conn_no  # the time sync went over requests, apart
    assert hooks == [0, 1, 2, 3]  # each hook ran before its request reached the server


def test_clock_skew_is_resynced_and_resigned(env) -> None:
    rest, srv, _, _ = env
    srv.on("POST", ORDER, Act(400, {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}),
           Act(200, order_reply()))
    rest.place_order(req())
    assert all(signed(r) for r in srv.calls("POST", ORDER)) and len(srv.calls("POST", ORDER)) == 2
    assert len(srv.calls("GET", "/fapi/v1/time")) == 2  # the first sync, and the resync after -1021


def test_an_answer_lost_after_the_send_is_looked_up_not_resent(env) -> None:
    rest, srv, _, _ = env
    srv.on("POST", ORDER, Act(drop=True))
    srv.on("GET", ORDER, Act(200, order_reply()))
    assert rest.place_order(req()).order_id == 12345678
    assert len(srv.calls("POST", ORDER)) == 1 and rest.counts["resolved_unknown"] == 1


def test_an_unreadable_answer_is_unknown_then_absent_then_resent_with_the_same_id(env) -> None:
    rest, srv, _, _ = env
    srv.on("POST", ORDER, Act(200, b"<html>oops"), Act(200, order_reply()))
    srv.on("GET", ORDER, NOT_FOUND)
    rest.place_order(req())
    a, b = srv.calls("POST", ORDER)
    assert a.params["newClientOrderId"] == b.params["newClientOrderId"] == "c1"


def test_rejections_429_and_418(env) -> None:
    rest, srv, clock, _ = env
    srv.on("POST", ORDER, Act(400, {"code": -2010, "msg": "NEW_ORDER_REJECTED"}),
           Act(429, {"code": -1015, "msg": "Too many new orders"}, {"Retry-After": "3"}), Act(200, order_reply()))
    with pytest.raises(RejectedError) as ei:
        rest.place_order(req())
    assert ei.value.code == -2010 and len(srv.calls("POST", ORDER)) == 1
    t = clock.time_ns()
    rest.place_order(req("c2"))
    assert clock.time_ns() - t >= 3 * 10**9 and len(srv.calls("POST", ORDER)) == 3
    ban_end = clock.time_ns() // 1_000_000 + 60_000
    srv.routes[("POST", ORDER)] = [Act(418, {"code": -1003, "msg": f"IP banned until {ban_end}."})]
    with pytest.raises(BannedError):
        rest.place_order(req("c3"))
    n = len(srv.seen)
    with pytest.raises(BannedError):
        rest.place_order(req("c4"))
    assert rest.send_orders([req("c5")]) is None and len(srv.seen) == n


def warm(rest: BinanceRest, srv: HttpScript) -> None:
    """One lookup: the time is synced and an idle connection is open."""
    srv.on("GET", ORDER, Act(200, order_reply("w")))
    rest.get_order("BTCUSDT", client_order_id="w")


def test_send_orders_writes_now_one_request_per_order_and_the_calls_finish_on_another_thread(env) -> None:
    rest, srv, _, hooks = env
    warm(rest, srv)
    srv.on("POST", ORDER, lambda r: Act(200, order_reply(r.params["newClientOrderId"])))
    n = len(srv.seen)
    (sent,) = rest.send_orders([req("a")]) or ()
    assert hooks[-1] == n  # the hook ran before the request was written
    out: list[object] = []
    t = threading.Thread(target=lambda: out.append(rest.place_order(req("a"), sent=sent)))
    t.start()
    t.join(10)
    assert out[0].client_order_id == "a" and len(srv.calls("POST", ORDER)) == 1
    assert rest.send_orders([req("b"), req("c")]) is None  # one open connection for two orders: not now
    rest.warm(3)
    assert rest.idle_order_connections() == 3 and wait_for(lambda: srv.connections == 4)  # + the time sync's
    n_hooks = len(hooks)
    pair = rest.send_orders([req("b"), req("c")])
    assert pair is not None and len(hooks) == n_hooks + 1  # one sample: when the last request is written
    got = [rest.place_order(r, sent=s).client_order_id for r, s in zip([req("b"), req("c")], pair, strict=True)]
    assert got == ["b", "c"] and not srv.calls("POST", BATCH)
    b, c = srv.calls("POST", ORDER)[1:]
    assert b.conn_no != c.conn_no and signed(b) and signed(c)


def test_warm_opens_connections_up_to_the_number_asked(env) -> None:
    rest, srv, _, _ = env
    rest.warm(2)
    assert rest.idle_order_connections() == 2 and wait_for(lambda: srv.connections == 2)
    rest.warm(2)
    assert srv.connections == 2
    srv.close_idle()
    assert rest.send_orders([req("x")]) is None  # both closed by the server: dropped as they are taken
    rest.warm(1)
    assert rest.idle_order_connections() == 1 and wait_for(lambda: srv.connections == 3)


def test_send_orders_declines_without_sending_or_counting(env) -> None:
    rest, srv, clock, _ = env
    assert rest.send_orders([req("x")]) is None  # no open connection yet: connecting is the placement thread's
    warm(rest, srv)

    def declined() -> bool:
        n, used = len(srv.seen), rest.budget_snapshot().usage
        return rest.send_orders([req("x")]) is None and len(srv.seen) == n and rest.budget_snapshot().usage == used

    srv.on("GET", "/fapi/v1/openOrders", Act(429, {"code": -1003, "msg": "slow down"}, {"Retry-After": "60"}))
    with pytest.raises(RateLimitedError):
        rest.open_orders("BTCUSDT")  # 60 s is past the call's deadline: it gives up, the back-off stays
    assert declined()
    clock.advance(61 * 10**9)
    srv.on("POST", ORDER, Act(200, order_reply("x")))
    (sent,) = rest.send_orders([req("x")]) or ()  # the back-off is over, and the connection was kept
    assert rest.place_order(req("x"), sent=sent).client_order_id == "x"
    clock.advance(300 * 10**9)
    assert declined()  # the server time is due for a resync: a request of its own, the placement thread's
    rest.close()
    assert declined()


def test_a_first_attempt_answered_with_clock_skew_is_finished_as_usual(env) -> None:
    rest, srv, _, _ = env
    warm(rest, srv)
    srv.on("POST", ORDER, Act(400, {"code": -1021, "msg": "ahead"}), Act(200, order_reply("s")))
    (sent,) = rest.send_orders([req("s")]) or ()
    assert rest.place_order(req("s"), sent=sent).client_order_id == "s"
    a, b = srv.calls("POST", ORDER)
    assert signed(a) and signed(b) and a.params["timestamp"] <= b.params["timestamp"]


@pytest.mark.parametrize("kw", [
    {}, {"reduce_only": True}, {"stp_mode": "EXPIRE_BOTH"}, {"time_in_force": "GTC", "price": Decimal("0.00012000")},
    {"client_order_id": "a:b/c.d_e-f"}, {"symbol": "1000PEPE USDT&x"},
    {"order_type": "MARKET", "price": None, "time_in_force": None, "qty": Decimal("1E+3")},
])
def test_the_order_paths_own_encoding_equals_the_generic_one(kw) -> None:
    from actors.gateway.binance.signing import encode_params

    base = dict(symbol="BTCUSDT", side=Side.SELL, qty=Decimal("0.0010"), client_order_id="c1",
                price=Decimal("50000.10"), time_in_force="GTX")
    r = OrderRequest(**{**base, **kw})
    assert r.query("EXPIRE_TAKER") == encode_params(r.params("EXPIRE_TAKER"))
