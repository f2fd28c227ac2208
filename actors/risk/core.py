"""Everything the risk actor does, as one deterministic core the shell (or a backtester) forwards to.

It owns the rules (``RiskMonitor``), the panicstop procedure (``PanicPlan``) and the limits, and does the
routing between them: a rule that panics, a supervisor or an operator → HALTED *and* the procedure
starts; an operator's ``Resume`` is refused while the procedure runs (the exchange is not yet known to be
clean). Every method returns the outputs in order: events to record and publish, commands to carry out.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import msgspec

from actors.book.view import MarketView
from actors.gateway.events import StreamEvent
from actors.instrument import Instrument
from actors.risk.adaptive import AdaptiveLimit
from actors.risk.checks import Decision, Exposure, OrderIntent, pre_trade
from actors.risk.messages import (
    CommandRefused,
    Halt,
    Panicstop,
    ReduceOnly,
    Resume,
    RiskCommand,
    RiskState,
)
from actors.risk.monitor import RiskMonitor, RiskOutput
from actors.risk.panic import PanicOutput, PanicPlan
from actors.risk.params import Limits, RiskParams

Output = RiskOutput | PanicOutput | CommandRefused


class RiskCore:
    def __init__(self, symbol: str, params: RiskParams, instrument: Instrument) -> None:
        self.symbol = symbol
        self.params = params
        self.instrument = instrument
        self.limits = Limits.from_params(params, instrument)
        self.monitor = RiskMonitor(symbol, params, instrument)
        self.plan = PanicPlan(symbol, params, instrument, self.limits)
        self.adaptive = AdaptiveLimit(params, instrument)

    def set_params(self, params: RiskParams) -> None:
        """A hot reload: new limits and thresholds from the next input on; the trading state, the windows and
        a panicstop in progress carry on (a lower limit below the position makes the OMS reduce only)."""
        self.params = params
        self.limits = Limits.from_params(params, self.instrument)
        self.monitor.params = params
        self.monitor._tolerance_lots = self.instrument.lots_floor(params.mismatch_tolerance)
        self.plan.params = params
        self.plan.max_order_lots = self.limits.max_order_lots
        self.adaptive.set_params(params)

    # ------------------------------------------------------------------ the pre-trade check (the OMS asks)
    def check(self, order: OrderIntent, exposure: Exposure, ref_mid_x2_ticks: int | None = None) -> Decision:
        return pre_trade(order, exposure, self.limits, self.monitor.state, instrument=self.instrument,
                         ref_mid_x2_ticks=ref_mid_x2_ticks)

    # ------------------------------------------------------------------ inputs
    def on_market(self, view: MarketView, now_ns: int) -> list[Output]:
        self.plan.on_market(view)
        if view.signals is not None:
            self.adaptive.on_signals(view.signals, now_ns)
        return self._route(self.monitor.on_market(view, now_ns), now_ns)

    def on_stream_event(self, ev: StreamEvent) -> list[Output]:
        return self._route(self.monitor.on_stream_event(ev), ev.at_ns)

    def on_order_error(self, code: int, now_ns: int, detail: str = "") -> list[Output]:
        return self._route(self.monitor.on_order_error(code, now_ns, detail), now_ns)

    def on_pnl(self, daily_pnl: Decimal, now_ns: int) -> list[Output]:
        return self._route(self.monitor.on_pnl(daily_pnl, now_ns), now_ns)

    def on_adverse_selection(self, rate: float, fills: int, now_ns: int) -> None:
        """The analyzer's share of fills marked out against us (it shrinks the adaptive net limit)."""
        self.adaptive.on_adverse_selection(rate, fills, now_ns)

    def on_reconcile(self, local_lots: int, exchange_lots: int, now_ns: int) -> list[Output]:
        return self._route(self.monitor.on_reconcile(local_lots, exchange_lots, now_ns), now_ns)

    def tick(self, now_ns: int) -> list[Output]:
        self.adaptive.step(now_ns)
        out = self._route(self.monitor.tick(now_ns), now_ns)
        return out + self._plan(self.plan.tick(now_ns))

    def command(self, cmd: RiskCommand, now_ns: int) -> list[Output]:
        if isinstance(cmd, Panicstop):
            return self._route([cmd], now_ns)
        if isinstance(cmd, Resume):
            if self.plan.active:
                return [CommandRefused(self.symbol, "Resume", f"panicstop still {self.plan.phase.value}: wait for "
                                       "it to finish", now_ns)]
            return self._route(self.monitor.resume(cmd.operator, now_ns), now_ns)
        if isinstance(cmd, Halt):
            return self._route(self.monitor.halt(cmd.operator, cmd.reason, now_ns), now_ns)
        if isinstance(cmd, ReduceOnly):
            return self._route(self.monitor.reduce_only(cmd.operator, cmd.reason, now_ns), now_ns)
        raise TypeError(f"not a risk command: {cmd!r}")

    # replies to the panicstop's commands
    def on_cancel_all_reply(self, ok: bool, now_ns: int, detail: str = "") -> list[Output]:
        return self._plan(self.plan.on_cancel_all_reply(ok, now_ns, detail))

    def on_open_orders(self, open_client_ids: Sequence[str], now_ns: int) -> list[Output]:
        return self._plan(self.plan.on_open_orders(open_client_ids, now_ns))

    def on_position(self, position_lots: int, now_ns: int) -> list[Output]:
        return self._plan(self.plan.on_position(position_lots, now_ns))

    def on_flatten_result(self, filled_lots: int, now_ns: int, detail: str = "") -> list[Output]:
        return self._plan(self.plan.on_flatten_result(filled_lots, now_ns, detail))

    def on_query_failed(self, now_ns: int, detail: str = "") -> list[Output]:
        return self._plan(self.plan.on_query_failed(now_ns, detail))

    # ------------------------------------------------------------------ reads
    def report(self, now_ns: int) -> RiskState:
        return msgspec.structs.replace(self.monitor.report(now_ns), adaptation=self.adaptive.report(now_ns))

    def next_deadline_ns(self) -> int | None:
        t = [x for x in (self.monitor.next_deadline_ns(), self.plan.next_deadline_ns()) if x is not None]
        return min(t) if t else None

    # ------------------------------------------------------------------ routing
    def _route(self, outs: Sequence[Output], now_ns: int) -> list[Output]:
        res: list[Output] = []
        for o in outs:
            if isinstance(o, Panicstop):
                res += self.monitor.panicstop(o.source, o.reason, now_ns)
                res += self._plan(self.plan.start(o, now_ns))
            else:
                res.append(o)
        return res

    def _plan(self, outs: list[PanicOutput]) -> list[Output]:
        self.monitor.panic_active = self.plan.active
        return list(outs)
