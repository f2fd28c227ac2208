"""The gateway's network clients against the simulated exchange (``simex``), real sockets on loopback.

What these prove, each on the live code path (lesson 8: safety features tested end to end):
  * a place / query / cancel round trip signs, parses and confirms against a Binance-shaped server;
  * a 503 *after* the order was executed leaves exactly one order on the exchange (idempotent placement);
  * during a 429 storm the client waits out Retry-After and the exchange records zero 418 bans, even
    when a single request inside the back-off would be banned, and with concurrent callers;
  * a 12 s clock skew (-1021) is recovered automatically by resyncing and re-signing;
  * a silent WebSocket stall is detected within the stale timeout and the stream reconnects;
  * a dropped WebSocket reconnects with backoff and data flows again;
  * an expired listenKey is recreated and user events flow again on the new key.
"""

from __future__ import annotations

import contextlib
import threading
import time
from decimal import ROUND_FLOOR, Decimal

import orjson
import pytest

from actors.gateway.binance.account_parse import parse_user_event
from actors.gateway.binance.errors import BinanceError, DuplicateClientIdError
from actors.gateway.binance.listenkey import KeySchedule, UserStream
from actors.gateway.binance.rest import BinanceRest, OrderRequest
from actors.gateway.binance.ws import WsClient, combined_url
from actors.gateway.events import (
    ListenKeyExpired,
    OrderStatus,
    OrderUpdate,
    Side,
    StreamConnected,
    StreamDisconnected,
    StreamStalled,
)
from simex import SimConfig, SimExchange

SYMBOL = "ETHUSDC"
KEY, SECRET = "simkey", "simsecret"


def wait_for(pred, timeout: float = 5.0, step: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


@pytest.fixture
def sx():
    with SimExchange(SimConfig(seed=7, api_key=KEY, api_secret=SECRET)) as ex:
        yield ex


@pytest.fixture
def rest(sx):
    r = BinanceRest(sx.rest_url, KEY, SECRET, max_total_s=15.0, lookup_delay_s=0.05)
    yield r
    r.close()


def passive_bid(rest: BinanceRest, cid: str, below: str = "0.97") -> OrderRequest:
    """A post-only bid a few percent under the market: rests, never fills during the test."""
    info = rest.exchange_info()
    inst = info.instrument(SYMBOL)
    book = rest.depth(SYMBOL, 5)
    best_bid = Decimal(book.bids[0][0])
    price = (best_bid * Decimal(below) / inst.tick_size).to_integral_value(ROUND_FLOOR) * inst.tick_size
    lots = inst.min_lots_for_notional(inst.price_to_ticks(price)) + 1
    return OrderRequest(SYMBOL, Side.BUY, inst.lots_to_qty(lots), cid, price=price, time_in_force="GTX")


def open_with(sx, cid: str) -> list[dict]:
    return [o for o in sx.state()["accounts"][KEY]["open_orders"] if o["clientOrderId"] == cid]


def test_place_query_cancel_round_trip(sx, rest) -> None:
    req = passive_bid(rest, "rt-1")
    placed = rest.place_order(req)
    assert placed.status is OrderStatus.NEW and placed.client_order_id == "rt-1"
    assert placed.price == req.price and placed.orig_qty == req.qty
    got = rest.get_order(SYMBOL, client_order_id="rt-1")
    assert got.order_id == placed.order_id
    assert [o.client_order_id for o in rest.open_orders(SYMBOL)] == ["rt-1"]
    canceled = rest.cancel_order(SYMBOL, client_order_id="rt-1")
    assert canceled.status is OrderStatus.CANCELED
    assert rest.open_orders(SYMBOL) == [] and not open_with(sx, "rt-1")
    assert rest.budget_snapshot().usage[0].used > 0


def test_503_after_execute_leaves_exactly_one_order(sx, rest) -> None:
    req = passive_bid(rest, "idem-1")
    sx.fault("rest_5xx", count=1, after_execute=True)
    report = rest.place_order(req)
    assert report.client_order_id == "idem-1"
    assert len(open_with(sx, "idem-1")) == 1
    assert len([o for o in rest.open_orders(SYMBOL) if o.client_order_id == "idem-1"]) == 1
    assert rest.counts["resolved_unknown"] == 1


def test_429_storm_is_waited_out_without_a_single_418() -> None:
    # ban_after_requests=0: a single request sent during a 429 back-off earns a 418 at once
    with SimExchange(SimConfig(seed=7, api_key=KEY, api_secret=SECRET, ban_after_requests=0)) as strict:
        rest = BinanceRest(strict.rest_url, KEY, SECRET, max_total_s=15.0)
        try:
            rest.ping()
            strict.fault("rate_limit_storm", seconds=2)
            t0 = time.monotonic()
            for _ in range(5):
                rest.open_orders(SYMBOL)
            waited = time.monotonic() - t0
            limits = strict.state()["rate_limits"]
        finally:
            rest.close()
    assert limits["count_429"] >= 1 and rest.budget_snapshot().rate_limited_count >= 1
    assert limits["count_418"] == 0
    assert waited >= 1.5  # it sat the storm out


def test_429_storm_with_concurrent_callers(sx, rest) -> None:
    rest.ping()
    sx.fault("rate_limit_storm", seconds=2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(5):
                rest.open_orders(SYMBOL)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    limits = sx.state()["rate_limits"]
    assert not errors and limits["count_429"] >= 1 and limits["count_418"] == 0


def test_twelve_second_clock_skew_recovers(sx, rest) -> None:
    rest.ping()
    rest.sync_time()
    sx.fault("clock_skew", ms=12000)
    req = passive_bid(rest, "skew-1")
    report = rest.place_order(req)
    assert report.status is OrderStatus.NEW
    assert abs(abs(rest.time_offset_ms) - 12000) < 1000
    assert rest.counts["CLOCK_SKEW"] >= 1


def test_ws_stall_detected_within_the_stale_timeout_and_reconnected(sx) -> None:
    events: list[tuple[float, object]] = []
    msgs: list[float] = []
    ws = WsClient(combined_url(sx.ws_url, [f"{SYMBOL.lower()}@depth@0ms"]), name="market",
                  on_message=lambda raw, ns: msgs.append(time.monotonic()),
                  on_event=lambda ev: events.append((time.monotonic(), ev)), stale_after_s=1.0,
                  backoff_initial_s=0.1, backoff_max_s=0.5)
    ws.start()
    try:
        assert wait_for(lambda: len(msgs) >= 3)
        sx.fault("ws_stall", seconds=3)
        assert wait_for(lambda: any(isinstance(e, StreamStalled) for _, e in events), timeout=4)
        t_stall = next(t for t, e in events if isinstance(e, StreamStalled))
        last_before = max(t for t in msgs if t < t_stall)
        assert t_stall - last_before <= 1.0 + 0.5
        assert wait_for(lambda: sum(isinstance(e, StreamConnected) for _, e in events) >= 2, timeout=5)
        n = len(msgs)
        assert wait_for(lambda: len(msgs) > n + 3, timeout=8)
    finally:
        ws.stop()


@pytest.mark.parametrize("mode", ["close", "reset"])
def test_ws_drop_reconnects_with_backoff(sx, mode: str) -> None:
    events: list[tuple[float, object]] = []
    msgs: list[float] = []
    ws = WsClient(combined_url(sx.ws_url, [f"{SYMBOL.lower()}@depth@0ms"]), name="market",
                  on_message=lambda raw, ns: msgs.append(time.monotonic()),
                  on_event=lambda ev: events.append((time.monotonic(), ev)), stale_after_s=2.0,
                  backoff_initial_s=0.2, backoff_max_s=1.0)
    ws.start()
    try:
        assert wait_for(lambda: len(msgs) >= 3)
        sx.fault("ws_drop", mode=mode)
        assert wait_for(lambda: any(isinstance(e, StreamDisconnected) for _, e in events))
        assert wait_for(lambda: sum(isinstance(e, StreamConnected) for _, e in events) >= 2)
        t_drop = next(t for t, e in events if isinstance(e, StreamDisconnected))
        t_back = [t for t, e in events if isinstance(e, StreamConnected)][1]
        assert t_back - t_drop >= 0.1 * 0.5  # a jittered backoff, not a hot loop
        n = len(msgs)
        assert wait_for(lambda: len(msgs) > n + 3)
    finally:
        ws.stop()


def test_listen_key_expiry_recreates_and_events_flow_again(sx, rest) -> None:
    updates: list[OrderUpdate] = []
    expired: list[ListenKeyExpired] = []
    lock = threading.Lock()

    def on_message(raw: str, recv_ns: int) -> None:
        d = orjson.loads(raw)
        ev = parse_user_event(d, recv_ns) if isinstance(d, dict) and "e" in d else None
        with lock:
            if isinstance(ev, OrderUpdate):
                updates.append(ev)
            elif isinstance(ev, ListenKeyExpired):
                expired.append(ev)

    us = UserStream(rest, sx.ws_url, on_message=on_message, schedule=KeySchedule(keepalive_every_ms=60_000),
                    stale_after_s=5.0, backoff_initial_s=0.1, backoff_max_s=0.5)
    us.start()
    try:
        assert wait_for(lambda: us.ws.connected.is_set())
        first_key = us.keeper.key
        rest.place_order(passive_bid(rest, "lk-1"))
        assert wait_for(lambda: any(u.report.client_order_id == "lk-1" for u in updates))
        sx.fault("listenkey_expire")
        assert wait_for(lambda: expired, timeout=5)  # the stream said so ...
        assert wait_for(lambda: us.keeper.creates >= 2, timeout=5)  # ... a new key was made ...
        assert wait_for(lambda: us.ws.counts["connects"] >= 2 and us.ws.connected.is_set())  # ... and used
        rest.place_order(passive_bid(rest, "lk-2"))
        assert wait_for(lambda: any(u.report.client_order_id == "lk-2" for u in updates))
        assert us.keeper.key != first_key
    finally:
        us.stop()
        with contextlib.suppress(BinanceError):
            rest.cancel_all(SYMBOL)


def test_fill_account_and_batch_replies_parse(sx, rest) -> None:
    info = rest.exchange_info()
    inst = info.instrument(SYMBOL)
    book = rest.depth(SYMBOL, 5)
    ask = Decimal(book.asks[0][0])
    lots = inst.min_lots_for_notional(inst.price_to_ticks(ask)) + 1
    taker = OrderRequest(SYMBOL, Side.BUY, inst.lots_to_qty(lots), "take-1", price=ask, time_in_force="IOC")
    report = rest.place_order(taker)
    assert report.executed_qty > 0 and report.status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED,
                                                         OrderStatus.EXPIRED)
    fills = rest.user_trades(SYMBOL, limit=10)
    assert fills and sum(f.qty for f in fills) == report.executed_qty
    assert all(f.order_id == report.order_id and f.side is Side.BUY and not f.is_maker for f in fills)
    (pos,) = [p for p in rest.position_risk(SYMBOL) if p.qty != 0]
    assert pos.qty == report.executed_qty
    assert any(b.wallet_balance > 0 for b in rest.balance())
    acc = rest.account()
    assert any(p.symbol == SYMBOL and p.qty == report.executed_qty for p in acc.positions)
    b1 = passive_bid(rest, "b-1")
    lower = b1.price - inst.tick_size
    other = OrderRequest(SYMBOL, Side.BUY, b1.qty, "b-1", price=lower, time_in_force="GTX")
    batch = rest.place_batch([b1, b1, passive_bid(rest, "b-3"), other])
    assert batch[0].client_order_id == "b-1" and batch[2].client_order_id == "b-3"
    assert batch[1].order_id == batch[0].order_id  # the same order again: returned, not doubled
    assert isinstance(batch[3], DuplicateClientIdError)  # a different order reusing the id is refused
    assert len(open_with(sx, "b-1")) == 1
    assert rest.cancel_all(SYMBOL) == []
