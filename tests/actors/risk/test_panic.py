"""The panicstop procedure: cancel all → confirm none open (retries, deadline) → flatten → done."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.book.view import MarketView
from actors.instrument import Instrument
from actors.risk.messages import (
    CancelAllOrders,
    FetchPosition,
    ListOpenOrders,
    Notify,
    Panicstop,
    PanicstopAdvanced,
    PanicstopFinished,
    PlaceFlattenOrder,
)
from actors.risk.panic import PanicPhase, PanicPlan, flatten_limit_ticks
from actors.risk.params import Limits, RiskParams

T0 = 1_700_000_000_000_000_000
S, MS = 1_000_000_000, 1_000_000


def cmds(out: list) -> list:
    """The commands only (events and notifications left out), for compact comparisons."""
    return [o for o in out if isinstance(o, CancelAllOrders | ListOpenOrders | FetchPosition | PlaceFlattenOrder)]


def finished(out: list) -> PanicstopFinished | None:
    return next((o for o in out if isinstance(o, PanicstopFinished)), None)


def make(eth: Instrument, **kw: object) -> PanicPlan:
    p = RiskParams(max_inventory=Decimal("1.5"), max_order_qty=Decimal("0.5"), **kw)  # type: ignore[arg-type]
    return PanicPlan("ETHUSDT", p, eth, Limits.from_params(p, eth))


def mv(bid: int, ask: int, last_ns: int) -> MarketView:
    return MarketView("ETHUSDT", bid, 1, ask, 1, Decimal(bid + ask) / 200, ask - bid, 0.0, last_ns, False)


def test_cancel_confirm_done_without_flatten(eth: Instrument) -> None:
    plan = make(eth)
    out = plan.start(Panicstop("ETHUSDT", "operator", "test"), T0)
    assert isinstance(out[0], Notify) and out[0].level == "P0"
    assert cmds(out) == [CancelAllOrders("ETHUSDT", 1, T0)] and plan.phase is PanicPhase.CANCELLING
    out = plan.on_cancel_all_reply(True, T0 + 10 * MS)
    assert cmds(out) == [ListOpenOrders("ETHUSDT", 1, T0 + 10 * MS)] and plan.phase is PanicPhase.CONFIRMING
    out = plan.on_open_orders([], T0 + 20 * MS)
    f = finished(out)
    assert f is not None and f.ok and f.confirmed_no_orders and plan.done and not plan.active
    assert [o.level for o in out if isinstance(o, Notify)] == ["P1"]
    assert plan.next_deadline_ns() is None


def test_an_order_still_listed_is_cancelled_again(eth: Instrument) -> None:
    plan = make(eth)
    plan.start(Panicstop("ETHUSDT", "risk", "daily loss"), T0)
    plan.on_cancel_all_reply(True, T0 + 10 * MS)
    out = plan.on_open_orders(["mm-q-17"], T0 + 20 * MS)
    assert cmds(out) == [CancelAllOrders("ETHUSDT", 2, T0 + 20 * MS)]
    assert "mm-q-17" in next(o for o in out if isinstance(o, PanicstopAdvanced)).detail
    # the query comes no sooner than one poll interval after the last one
    out = plan.on_cancel_all_reply(True, T0 + 30 * MS)
    assert cmds(out) == [] and plan.next_deadline_ns() == T0 + 10 * MS + S
    assert cmds(plan.tick(T0 + 10 * MS + S - 1)) == []
    assert cmds(plan.tick(T0 + 10 * MS + S)) == [ListOpenOrders("ETHUSDT", 2, T0 + 10 * MS + S)]
    f = finished(plan.on_open_orders([], T0 + 2 * S))
    assert f is not None and f.ok and plan.cancel_attempts == 2 and plan.query_attempts == 2


def test_a_failed_cancel_still_asks_what_is_open(eth: Instrument) -> None:
    plan = make(eth)
    plan.start(Panicstop("ETHUSDT", "operator", "x"), T0)
    out = plan.on_cancel_all_reply(False, T0 + MS, "HTTP 503")
    assert cmds(out) == [ListOpenOrders("ETHUSDT", 1, T0 + MS)]
    assert "503" in out[0].detail


def test_lost_replies_are_retried(eth: Instrument) -> None:
    plan = make(eth)
    plan.start(Panicstop("ETHUSDT", "operator", "x"), T0)
    assert plan.next_deadline_ns() == T0 + 5 * S  # the reply timeout
    assert cmds(plan.tick(T0 + 5 * S - 1)) == []
    # no reply to the cancel: ask the exchange what is open (it tells the truth)
    assert cmds(plan.tick(T0 + 5 * S)) == [ListOpenOrders("ETHUSDT", 1, T0 + 5 * S)]
    assert plan.on_cancel_all_reply(True, T0 + 6 * S) == []  # a late reply to a step no longer awaited
    # no reply to the query either: ask again
    assert cmds(plan.tick(T0 + 10 * S)) == [ListOpenOrders("ETHUSDT", 2, T0 + 10 * S)]
    out = plan.on_query_failed(T0 + 10 * S + MS, "timeout")
    assert cmds(out) == [] and plan.next_deadline_ns() == T0 + 11 * S + MS
    assert cmds(plan.tick(T0 + 11 * S + MS)) == [ListOpenOrders("ETHUSDT", 3, T0 + 11 * S + MS)]
    assert finished(plan.on_open_orders([], T0 + 12 * S)).ok


def test_confirm_deadline_alerts_and_keeps_trying(eth: Instrument) -> None:
    plan = make(eth)
    plan.start(Panicstop("ETHUSDT", "operator", "x"), T0)
    t = T0
    alerts = 0
    while t < T0 + 40 * S:  # the exchange keeps listing an order for 40 s
        t += 100 * MS
        out = plan.tick(t)
        alerts += sum(isinstance(o, Notify) and "NOT CONFIRMED" in o.title for o in out)
        if t >= T0 + 30 * S:
            assert plan.escalated
        for c in cmds(out):
            if isinstance(c, ListOpenOrders):
                out += plan.on_open_orders(["stuck"], t)
        if plan._wait is not None and plan._wait.value == "cancel":
            plan.on_cancel_all_reply(True, t)
    assert alerts == 1 and plan.active and not plan.confirmed and plan.cancel_attempts >= 30
    # the order finally goes: the procedure completes, confirmed
    while not plan.done:
        t += 100 * MS
        for c in cmds(plan.tick(t)):
            if isinstance(c, ListOpenOrders):
                f = finished(plan.on_open_orders([], t))
                assert f is not None and f.ok and f.confirmed_no_orders
        if plan._wait is not None and plan._wait.value == "cancel":
            plan.on_cancel_all_reply(True, t)


def _confirm(plan: PanicPlan, t: int) -> list:
    plan.on_cancel_all_reply(True, t)
    return plan.on_open_orders([], t)


def test_flatten_a_long_in_chunks_at_the_capped_price(eth: Instrument) -> None:
    plan = make(eth, panic_flatten=True)
    plan.on_market(mv(250000, 250001, T0))  # mid 2500.005
    plan.start(Panicstop("ETHUSDT", "supervisor", "5 restarts"), T0)
    out = _confirm(plan, T0 + MS)
    assert cmds(out) == [FetchPosition("ETHUSDT", 1, T0 + MS)] and plan.phase is PanicPhase.FLATTENING
    limit = 249251  # ceil(250000.5 x 0.997 = 249250.4985): never below mid − 30 bps
    assert flatten_limit_ticks(1234, 500001, 30.0) == limit
    pos, t, placed = 1234, T0 + 2 * MS, []
    while True:
        plan.on_market(mv(250000, 250001, t))
        out = plan.on_position(pos, t)
        if (f := finished(out)) is not None:
            break
        (order,) = cmds(out)
        assert isinstance(order, PlaceFlattenOrder) and order.reduce_only and order.time_in_force == "IOC"
        assert order.side == "SELL" and order.limit_ticks == limit
        placed.append(order.qty_lots)
        pos -= order.qty_lots
        t += MS
        (q,) = cmds(plan.on_flatten_result(order.qty_lots, t))
        assert isinstance(q, FetchPosition)
    assert placed == [500, 500, 234] and f.ok and f.residual_lots == 0


def test_flatten_a_short_buys_at_most_mid_plus_cap(eth: Instrument) -> None:
    plan = make(eth, panic_flatten=True)
    plan.on_market(mv(250000, 250002, T0))
    plan.start(Panicstop("ETHUSDT", "operator", "x"), T0)
    _confirm(plan, T0)
    (o,) = cmds(plan.on_position(-7, T0 + MS))
    assert (o.side, o.qty_lots, o.limit_ticks) == ("BUY", 7, 250751)  # floor(250001 x 1.003 = 250751.003)


def test_flatten_waits_for_a_fresh_mid(eth: Instrument) -> None:
    plan = make(eth, panic_flatten=True)
    plan.on_market(mv(250000, 250002, T0))
    plan.start(Panicstop("ETHUSDT", "operator", "x"), T0)
    _confirm(plan, T0 + 2 * S)
    out = plan.on_position(100, T0 + 2 * S)  # the mid is 2 s old: no order priced off it
    assert cmds(out) == [] and "fresh market data" in out[0].detail
    assert cmds(plan.tick(T0 + 3 * S - 1)) == []
    (q,) = cmds(plan.tick(T0 + 3 * S))
    assert isinstance(q, FetchPosition)
    plan.on_market(mv(260000, 260002, T0 + 3 * S))
    (o,) = cmds(plan.on_position(100, T0 + 3 * S + MS))
    assert o.side == "SELL" and o.limit_ticks == 259221  # ceil(260001 x 0.997 = 259220.997)


def test_flatten_gives_up_after_max_orders_with_a_p0(eth: Instrument) -> None:
    plan = make(eth, panic_flatten=True, flatten_max_orders=3)
    plan.start(Panicstop("ETHUSDT", "operator", "x"), T0)
    _confirm(plan, T0)
    t = T0
    for _ in range(3):
        t += MS
        plan.on_market(mv(250000, 250002, t))
        (o,) = cmds(plan.on_position(300, t))
        assert isinstance(o, PlaceFlattenOrder)
        plan.on_flatten_result(0, t + 1, "expired: the book moved away")
    out = plan.on_position(300, t + 2)
    f = finished(out)
    assert f is not None and not f.ok and f.residual_lots == 300 and f.confirmed_no_orders
    assert [o.level for o in out if isinstance(o, Notify)] == ["P0"]


def test_flatten_deadline(eth: Instrument) -> None:
    plan = make(eth, panic_flatten=True, flatten_deadline_s=10.0)
    plan.start(Panicstop("ETHUSDT", "operator", "x"), T0)
    _confirm(plan, T0)
    plan.on_position(50, T0 + MS)  # no market data at all: waits
    out = []
    t = T0
    while not plan.done:
        t += 500 * MS
        out = plan.tick(t)
        for c in cmds(out):
            if isinstance(c, FetchPosition):
                plan.on_position(50, t)
    f = finished(out)
    assert f is not None and not f.ok and f.residual_lots == 50 and t == T0 + 10 * S


def test_a_second_request_only_adds_flatten(eth: Instrument) -> None:
    plan = make(eth)
    plan.start(Panicstop("ETHUSDT", "risk", "error rate"), T0)
    assert plan.start(Panicstop("ETHUSDT", "risk", "again"), T0 + 1) == []
    out = plan.start(Panicstop("ETHUSDT", "operator", "flatten too", flatten=True), T0 + 2)
    assert plan.flatten and cmds(out) == [] and plan.cancel_attempts == 1
    out = _confirm(plan, T0 + 3)
    assert isinstance(cmds(out)[0], FetchPosition)


@pytest.mark.parametrize(("pos", "mid_x2", "bps", "limit"), [
    (1, 200, 50.0, 100),  # mid 100 ticks: 99.5 → 100 (a 1-tick grid cannot go lower without passing the cap)
    (-1, 200, 50.0, 100),  # 100.5 → 100
    (1, 20000, 50.0, 9950), (-1, 20000, 50.0, 10050),
])
def test_flatten_limit_rounds_toward_the_mid(pos: int, mid_x2: int, bps: float, limit: int) -> None:
    assert flatten_limit_ticks(pos, mid_x2, bps) == limit


def test_an_open_orders_list_can_answer_the_cancel_itself(eth: Instrument) -> None:
    """The OMS's CancelAll confirms with a snapshot of what is still open: no separate query is needed."""
    plan = make(eth)
    plan.start(Panicstop("ETHUSDT", "operator", "x"), T0)
    out = plan.on_open_orders(["late-1"], T0 + MS)
    assert cmds(out) == [CancelAllOrders("ETHUSDT", 2, T0 + MS)]
    f = finished(plan.on_open_orders([], T0 + 2 * MS))
    assert f is not None and f.ok and plan.query_attempts == 2
