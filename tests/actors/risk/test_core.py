"""The risk core end to end: a rule panics → HALTED, cancel, confirm, flatten, done; resume rules."""

from __future__ import annotations

from decimal import Decimal

from actors.book.view import MarketView
from actors.gateway.events import Side
from actors.instrument import Instrument
from actors.risk.checks import Check, Exposure, OrderIntent
from actors.risk.core import RiskCore
from actors.risk.messages import (
    CancelAllOrders,
    CommandRefused,
    FetchPosition,
    Halt,
    ListOpenOrders,
    Panicstop,
    PanicstopFinished,
    PlaceFlattenOrder,
    ReduceOnly,
    Resume,
    RiskTriggered,
    TradingState,
    TradingStateChanged,
)
from actors.risk.params import RiskParams

T0 = 1_700_000_000_000_000_000
S, MS = 1_000_000_000, 1_000_000


def mv(last_ns: int) -> MarketView:
    return MarketView("ETHUSDT", 250000, 5, 250002, 5, Decimal("2500.01"), 2, 0.0, last_ns, False)


def test_daily_loss_panicstop_to_flat(eth: Instrument) -> None:
    core = RiskCore("ETHUSDT", RiskParams(max_inventory=Decimal("1.5"), max_order_qty=Decimal("0.5"),
                                          panic_flatten=True), eth)
    core.on_market(mv(T0), T0)
    assert core.report(T0).quotes_allowed
    out = core.on_pnl(Decimal("-50.01"), T0 + MS)
    assert [o.kind for o in out if isinstance(o, RiskTriggered)] == ["daily_loss", "panicstop"]
    assert [(o.previous, o.current) for o in out if isinstance(o, TradingStateChanged)] == [
        (TradingState.ACTIVE, TradingState.HALTED)]
    assert [type(o) for o in out if isinstance(o, CancelAllOrders)] == [CancelAllOrders]
    r = core.report(T0 + MS)
    assert r.panic_active and not r.quotes_allowed and set(r.causes) == {"daily_loss", "panicstop"}

    # quotes are refused; the flatten order is not
    e = Exposure(700, 0, 0)
    assert core.check(OrderIntent(Side.SELL, 10, 250000), e).check is Check.HALTED
    assert core.check(OrderIntent(Side.SELL, 500, 249251, reduce_only=True, flatten=True), e,
                      ref_mid_x2_ticks=500002).ok

    refused = core.command(Resume("ETHUSDT", "alice"), T0 + 2 * MS)
    assert isinstance(refused[0], CommandRefused)
    assert core.report(T0 + 2 * MS).trading_state is TradingState.HALTED

    out = core.on_cancel_all_reply(True, T0 + 3 * MS)
    assert isinstance(out[-1], ListOpenOrders)
    out = core.on_open_orders([], T0 + 4 * MS)
    assert isinstance(out[-1], FetchPosition)
    core.on_market(mv(T0 + 5 * MS), T0 + 5 * MS)
    (order,) = [o for o in core.on_position(700, T0 + 5 * MS) if isinstance(o, PlaceFlattenOrder)]
    assert (order.side, order.qty_lots) == ("SELL", 500)
    core.on_flatten_result(500, T0 + 6 * MS)
    core.on_market(mv(T0 + 7 * MS), T0 + 7 * MS)
    (order,) = [o for o in core.on_position(200, T0 + 7 * MS) if isinstance(o, PlaceFlattenOrder)]
    assert order.qty_lots == 200
    core.on_flatten_result(200, T0 + 8 * MS)
    out = core.on_position(0, T0 + 9 * MS)
    (f,) = [o for o in out if isinstance(o, PanicstopFinished)]
    assert f.ok and not core.report(T0 + 9 * MS).panic_active

    # resume: the loss is still past the limit, so the daily-loss hold comes straight back
    core.command(Resume("ETHUSDT", "alice"), T0 + 10 * MS)
    assert core.report(T0 + 10 * MS).causes == ("daily_loss",)
    core.on_pnl(Decimal("0"), T0 + 11 * MS)
    core.on_market(mv(T0 + 11 * MS), T0 + 11 * MS)
    core.command(Resume("ETHUSDT", "alice"), T0 + 12 * MS)
    r = core.report(T0 + 12 * MS)
    assert r.trading_state is TradingState.ACTIVE and r.quotes_allowed and r.causes == ()


def test_operator_and_supervisor_commands(eth: Instrument) -> None:
    core = RiskCore("ETHUSDT", RiskParams(), eth)
    core.command(ReduceOnly("ETHUSDT", "ops"), T0)
    assert core.report(T0).trading_state is TradingState.REDUCING
    core.command(Halt("ETHUSDT", "ops", "lunch"), T0 + 1)
    assert core.report(T0).trading_state is TradingState.HALTED and not core.plan.active  # no REST cancel
    out = core.command(Panicstop("ETHUSDT", "supervisor", "6 restarts in 60 s"), T0 + 2)
    assert any(isinstance(o, CancelAllOrders) for o in out) and core.plan.active
    assert core.next_deadline_ns() == T0 + 2 + 5 * S  # the cancel reply timeout


def test_error_rate_halt_starts_the_procedure_once(eth: Instrument) -> None:
    core = RiskCore("ETHUSDT", RiskParams(), eth)
    out = []
    for i in range(40):
        out += core.on_order_error(-2019, T0 + i * MS, "margin is insufficient")
    assert sum(isinstance(o, CancelAllOrders) for o in out) == 1
