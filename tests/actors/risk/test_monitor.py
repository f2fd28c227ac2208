"""The risk rules with exact timing: daily loss, error rate, stale data / streams, price shock, mismatch."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.book.view import MarketView
from actors.gateway.events import StreamConnected, StreamDisconnected, StreamStalled
from actors.instrument import Instrument
from actors.risk.messages import (
    Panicstop,
    Resumed,
    RiskAction,
    RiskCleared,
    RiskTriggered,
    TradingState,
    TradingStateChanged,
)
from actors.risk.monitor import RiskMonitor
from actors.risk.params import RiskParams

A, R, H = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED
T0 = 1_700_000_000_000_000_000
S, MS = 1_000_000_000, 1_000_000


def view(mid_ticks: int, last_ns: int, half_spread: int = 1) -> MarketView:
    b, a = mid_ticks - half_spread, mid_ticks + half_spread
    return MarketView("ETHUSDT", b, 1000, a, 1000, Decimal(b + a) / 200, a - b, 0.0, last_ns, False)


def kinds(out: list, cls: type = RiskTriggered) -> list[str]:
    return [o.kind for o in out if isinstance(o, cls)]


def states(out: list) -> list[tuple[TradingState, TradingState]]:
    return [(o.previous, o.current) for o in out if isinstance(o, TradingStateChanged)]


@pytest.fixture
def mon(eth: Instrument) -> RiskMonitor:
    return RiskMonitor("ETHUSDT", RiskParams(), eth)


# ---------------------------------------------------------------------------------------------- stale / streams


def test_no_data_yet_means_no_quotes(mon: RiskMonitor) -> None:
    r = mon.report(T0)
    assert r.market_stale and not r.quotes_allowed and r.trading_state is A and "no market data yet" in r.reason
    assert mon.next_deadline_ns() is None


def test_stale_decided_exactly_at_the_timeout(mon: RiskMonitor) -> None:
    out = mon.on_market(view(250000, T0), T0)
    assert kinds(out, RiskCleared) == ["market_stale"] and mon.quotes_allowed
    assert mon.next_deadline_ns() == T0 + 1500 * MS
    assert mon.tick(T0 + 1500 * MS - 1) == [] and mon.quotes_allowed
    out = mon.tick(T0 + 1500 * MS)
    assert [(o.kind, o.action) for o in out] == [("market_stale", RiskAction.CANCEL_QUOTES)]
    r = mon.report(T0 + 1500 * MS)
    assert r.market_stale and not r.quotes_allowed and r.trading_state is A  # not a trading state
    assert mon.tick(T0 + 10 * S) == []  # said once
    out = mon.on_market(view(250000, T0 + 11 * S), T0 + 11 * S)
    assert kinds(out, RiskCleared) == ["market_stale"] and mon.quotes_allowed


def test_a_late_view_of_old_data_is_still_stale(mon: RiskMonitor) -> None:
    mon.on_market(view(250000, T0), T0)
    mon.tick(T0 + 2 * S)
    # the book actor was slow: the view arrives now but describes the book as of 1.6 s ago
    out = mon.on_market(view(250001, T0 + 2 * S - 1600 * MS), T0 + 2 * S)
    assert out == [] and not mon.quotes_allowed


def test_streams_down_pull_quotes_until_reconnected(mon: RiskMonitor) -> None:
    mon.on_market(view(250000, T0), T0)
    out = mon.on_stream_event(StreamDisconnected("user", "reset", T0 + 1))
    assert [(o.kind, o.action) for o in out] == [("stream_down", RiskAction.CANCEL_QUOTES)]
    assert mon.on_stream_event(StreamStalled("market", 3000, T0 + 2))[0].kind == "stream_down"
    r = mon.report(T0 + 3)
    assert r.streams_down == ("market", "user") and not r.quotes_allowed and r.trading_state is A
    assert kinds(mon.on_stream_event(StreamConnected("user", "ws://x", T0 + 4)), RiskCleared) == ["stream_down"]
    assert not mon.quotes_allowed
    mon.on_stream_event(StreamConnected("market", "ws://x", T0 + 5))
    assert mon.quotes_allowed


# ---------------------------------------------------------------------------------------------- daily loss


def test_daily_loss_warns_then_halts_and_panics(mon: RiskMonitor) -> None:
    assert mon.on_pnl(Decimal("-34.99"), T0) == []
    out = mon.on_pnl(Decimal("-35"), T0 + 1)  # 70 % of 50
    assert [(o.kind, o.action) for o in out] == [("daily_loss_warning", RiskAction.WARN)]
    assert mon.on_pnl(Decimal("-40"), T0 + 2) == []  # said once
    assert mon.on_pnl(Decimal("-10"), T0 + 3) == []  # re-armed
    assert kinds(mon.on_pnl(Decimal("-36"), T0 + 4)) == ["daily_loss_warning"]
    assert mon.on_pnl(Decimal("-49.99999999"), T0 + 5) == []
    out = mon.on_pnl(Decimal("-50"), T0 + 6)
    assert [(o.kind, o.action) for o in out if isinstance(o, RiskTriggered)] == [("daily_loss", RiskAction.PANICSTOP)]
    assert states(out) == [(A, H)]
    assert next(o for o in out if isinstance(o, Panicstop)).source == "risk"
    assert mon.on_pnl(Decimal("-60"), T0 + 7) == []  # once
    mon.on_pnl(Decimal("-20"), T0 + 8)
    assert mon.state is H  # sticky, even after the PnL recovers


def test_resume_cannot_trade_through_the_loss_limit(mon: RiskMonitor) -> None:
    mon.on_pnl(Decimal("-51"), T0)
    out = mon.resume("alice", T0 + S)
    assert mon.state is H and states(out) == []
    res = next(o for o in out if isinstance(o, Resumed))
    assert res.lifted == ("daily_loss",) and res.remaining == ("daily_loss",)
    mon.on_pnl(Decimal("0"), T0 + 2 * S)  # a new day (or a raised limit)
    out = mon.resume("alice", T0 + 3 * S)
    assert mon.state is A and states(out) == [(H, A)]


# ---------------------------------------------------------------------------------------------- error rate


def test_error_rate_reduces_and_lifts_on_time(mon: RiskMonitor) -> None:
    for i in range(9):
        assert mon.on_order_error(-2010, T0 + i * S) == []
    out = mon.on_order_error(-2010, T0 + 9 * S, "insufficient margin")
    assert [(o.kind, o.action) for o in out if isinstance(o, RiskTriggered)] == [("error_rate", RiskAction.REDUCE)]
    assert states(out) == [(A, R)]
    # lifts when the count is back to 5: the 5th-oldest error (t = 4 s) leaves the 60 s window at 64 s
    assert mon.next_deadline_ns() == T0 + 64 * S
    assert mon.tick(T0 + 64 * S - 1) == [] and mon.state is R
    out = mon.tick(T0 + 64 * S)
    assert kinds(out, RiskCleared) == ["error_rate"] and states(out) == [(R, A)]


def test_an_error_counts_for_exactly_the_window(mon: RiskMonitor) -> None:
    for i in range(9):
        mon.on_order_error(-1, T0 + i)
    # the first error (T0) is still in the window 60 s - 1 ns later, gone at 60 s
    assert states(mon.on_order_error(-1, T0 + 60 * S - 1)) == [(A, R)]
    m2 = RiskMonitor("ETHUSDT", RiskParams(), mon.instrument)
    for i in range(9):
        m2.on_order_error(-1, T0 + i)
    assert m2.on_order_error(-1, T0 + 60 * S) == []


def test_error_rate_halt_is_sticky_and_panics(mon: RiskMonitor) -> None:
    out = []
    for i in range(30):
        out += mon.on_order_error(-1021, T0 + i * MS)
    assert states(out) == [(A, R), (R, H)]
    assert kinds(out) == ["error_rate", "error_rate_halt"]
    assert sum(isinstance(o, Panicstop) for o in out) == 1
    mon.tick(T0 + 3600 * S)
    assert mon.state is H  # the window emptied; still halted until an operator looks
    mon.resume("bob", T0 + 3601 * S)
    assert mon.state is A


# ---------------------------------------------------------------------------------------------- price shock


def test_shock_inside_the_window_halts_for_halt_seconds(mon: RiskMonitor) -> None:
    mon.on_market(view(10000, T0), T0)  # mid 100.00
    assert mon.on_market(view(10199, T0 + 5 * S), T0 + 5 * S) == []  # +1.99 %
    assert mon.on_market(view(10200, T0 + 6 * S), T0 + 6 * S) == []  # +2.00 %: not more than shock_pct
    out = mon.on_market(view(10201, T0 + 10 * S), T0 + 10 * S)  # +2.01 % exactly 10 s after the low
    assert [(o.kind, o.action) for o in out if isinstance(o, RiskTriggered)] == [("price_shock", RiskAction.HALT)]
    assert states(out) == [(A, H)]
    assert mon.report(T0 + 10 * S).halted_until_ns == T0 + 70 * S == mon.machine.next_expiry_ns()
    mon.on_market(view(10201, T0 + 69 * S), T0 + 69 * S)  # keep the data fresh
    assert mon.tick(T0 + 70 * S - 1) == [] and mon.state is H
    out = mon.tick(T0 + 70 * S)
    assert kinds(out, RiskCleared) == ["price_shock"] and states(out) == [(H, A)]


def test_shock_window_edge(mon: RiskMonitor) -> None:
    mon.on_market(view(10000, T0), T0)
    mon.on_market(view(10199, T0 + 5 * S), T0 + 5 * S)
    # 10 s + 1 ns after the 100.00 low it has left the window: +2.01 % from 100.00 no longer counts
    assert mon.on_market(view(10201, T0 + 10 * S + 1), T0 + 10 * S + 1) == []
    assert mon.state is A


def test_downward_shock_and_no_retrigger_from_the_same_spike(mon: RiskMonitor) -> None:
    mon.on_market(view(10000, T0), T0)
    out = mon.on_market(view(9790, T0 + S), T0 + S)  # −2.1 %
    assert states(out) == [(A, H)]
    mon.on_market(view(9790, T0 + 61 * S), T0 + 61 * S)
    mon.tick(T0 + 61 * S)
    assert mon.state is A
    assert mon.on_market(view(9791, T0 + 62 * S), T0 + 62 * S) == []


def test_shock_over_an_error_rate_reduce_falls_back_to_reducing(mon: RiskMonitor) -> None:
    for i in range(10):
        mon.on_order_error(-1, T0 + i)
    assert mon.state is R
    mon.on_market(view(10000, T0 + 10 * S), T0 + 10 * S)
    mon.on_market(view(10300, T0 + 11 * S), T0 + 11 * S)
    assert mon.state is H
    mon.on_market(view(10300, T0 + 71 * S - 1), T0 + 71 * S - 1)
    out = mon.tick(T0 + 71 * S - 1)  # the errors (71 s old) have left the window but the halt holds
    assert states(out) == [] and kinds(out, RiskCleared) == ["error_rate"] and mon.state is H
    mon2 = RiskMonitor("ETHUSDT", RiskParams(), mon.instrument)
    mon2.on_market(view(10000, T0 + 30 * S), T0 + 30 * S)
    mon2.on_market(view(10300, T0 + 31 * S), T0 + 31 * S)
    for i in range(10):
        mon2.on_order_error(-1, T0 + 40 * S + i)
    mon2.on_market(view(10300, T0 + 91 * S), T0 + 91 * S)
    out = mon2.tick(T0 + 91 * S)  # the halt timer ends; the errors (51 s old) are still in the window
    assert states(out) == [(H, R)]


# ---------------------------------------------------------------------------------------------- reconciliation


def test_mismatch_reducing_lifts_when_positions_agree(eth: Instrument) -> None:
    mon = RiskMonitor("ETHUSDT", RiskParams(mismatch_action="reducing"), eth)
    assert mon.on_reconcile(100, 100, T0) == []
    out = mon.on_reconcile(100, 120, T0 + 1)
    assert states(out) == [(A, R)] and "off by 20" in out[0].detail
    out = mon.on_reconcile(120, 120, T0 + 2)
    assert states(out) == [(R, A)] and kinds(out, RiskCleared) == ["position_mismatch"]


def test_mismatch_halted_is_sticky_and_tolerance(eth: Instrument) -> None:
    mon = RiskMonitor("ETHUSDT", RiskParams(mismatch_tolerance=Decimal("0.002")), eth)
    assert mon.on_reconcile(100, 102, T0) == []  # within 2 lots
    assert states(mon.on_reconcile(100, 103, T0 + 1)) == [(A, H)]
    mon.resume("ops", T0 + 2)
    assert mon.state is H  # still mismatched: raised again
    mon.on_reconcile(103, 103, T0 + 3)
    assert mon.state is H
    mon.resume("ops", T0 + 4)
    assert mon.state is A


# ---------------------------------------------------------------------------------------------- commands, report


def test_operator_commands_and_report(mon: RiskMonitor) -> None:
    mon.on_market(view(250000, T0), T0)
    seq0 = mon.report(T0).seq
    assert states(mon.reduce_only("ops", "checking fills", T0 + 1)) == [(A, R)]
    assert states(mon.halt("ops", "maintenance", T0 + 2)) == [(R, H)]
    r = mon.report(T0 + 3)
    assert r.trading_state is H and not r.quotes_allowed and r.seq > seq0
    assert r.causes == ("operator_reduce", "operator_halt") and "maintenance" in r.reason
    assert states(mon.panicstop("supervisor", "5 restarts in 60 s", T0 + 4)) == []
    out = mon.resume("ops", T0 + 5)
    assert states(out) == [(H, A)] and mon.report(T0 + 5).causes == ()


def test_params_validation() -> None:
    with pytest.raises(ValueError, match="error_rate_halt"):
        RiskParams(error_rate_reduce=10, error_rate_halt=10)
    with pytest.raises(ValueError, match="mismatch_action"):
        RiskParams(mismatch_action="ignore")
    with pytest.raises(ValueError, match="max_order_qty"):
        RiskParams(max_inventory=Decimal("0.1"), max_order_qty=Decimal("0.2"))
