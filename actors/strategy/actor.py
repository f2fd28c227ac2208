"""The strategy actor: turns what it hears (market views with their signals, position, risk's state and
adaptive limit) into a ``QuoteTarget`` for the OMS, through a pure ``quote``: phase 1's fixed spread or the
Avellaneda–Stoikov market maker (``asmm``), per ``[strategy] type`` (per symbol: ``[strategy_symbols.X]``).
It never sends an order itself.

A new target is told when its shape changes (a fill, an inventory threshold, risk's state: at once) or when
prices moved past the refresh tolerance and the quote interval has passed; a timer re-evaluates so that a
quiet market still gets its refresh.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import msgspec

from actors.base import EngineActor, handles
from actors.book.view import MarketView
from actors.config.messages import SettingsChanged
from actors.context import SymbolContext
from actors.oms.messages import OpenOrdersView, OrderFilled, PositionChanged
from actors.oms.position import stored_position
from actors.risk.messages import RiskState
from actors.store.store import Store
from actors.strategy import asmm, fixed_spread
from actors.strategy.asmm_params import AsmmParams
from actors.strategy.fixed_spread import should_publish
from actors.strategy.messages import QuoteTarget
from actors.strategy.params import Fees


class Requote(msgspec.Struct, frozen=True):
    """Timer message: evaluate the target again."""


class StrategyActor(EngineActor):
    name = "strategy"

    def __init__(self, ctx: SymbolContext, on_failed: Any = None) -> None:
        super().__init__(on_failed, ctx.peers)
        self.ctx = ctx
        self.params = ctx.settings.strategy_for(ctx.symbol)
        self.fees = Fees(ctx.settings.fees.maker, ctx.settings.fees.taker)
        self.market: MarketView | None = None
        self.position_lots = 0
        self.risk: RiskState | None = None
        self.last: QuoteTarget | None = None
        self.asmm_state = asmm.AsmmState()
        self.decision: asmm.AsmmDecision | None = None  # the last asmm decision (gauges, describe)
        self._timer: Any = None
        self._timer_ms = 0

    def on_start(self) -> None:
        # the position the OMS last journaled, until it tells us the current one (a restart mid-position
        # must not quote as if flat)
        with Store.open_readonly(self.ctx.settings.store.path) as st:
            pos = stored_position(st, self.ctx.venue, self.ctx.symbol)
        if pos is not None:
            self.position_lots = pos.lots
        if self.ctx.metrics is not None:
            self.ctx.metrics.set_inventory_net(self.ctx.instrument.lots_to_qty(self.position_lots))
        self._arm_timer()

    def _arm_timer(self) -> None:
        """The requote timer at ``quote_interval_ms``; re-armed when a reload changes it."""
        if self._timer is not None and self._timer_ms == self.params.quote_interval_ms:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_ms = self.params.quote_interval_ms
        self._timer = self.ctx.timers.tell_every(self._timer_ms / 1000, self.actor_ref, Requote())

    def on_stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def describe(self) -> dict[str, Any]:
        t, d = self.last, self.decision
        out: dict[str, Any] = {
            "name": self.name, "type": self.params.type, "position_lots": self.position_lots,
            "bids": [(q.price_ticks, q.qty_lots) for q in t.bids] if t else [],
            "asks": [(q.price_ticks, q.qty_lots) for q in t.asks] if t else [], "reason": t.reason if t else ""}
        if d is not None:
            out.update(reservation_price=d.reservation_price, skew_bps=d.skew_bps,
                       half_spread_bps=d.half_spread_bps, widen=d.widen, size_factor=d.size_factor)
        return out

    @handles(MarketView)
    def _market(self, v: MarketView) -> None:
        self.market = v
        self._evaluate(market_ns=v.last_update_ns)

    @handles(RiskState)
    def _risk(self, r: RiskState) -> None:
        prev, self.risk = self.risk, r
        if prev is None or (prev.trading_state, prev.quotes_allowed) != (r.trading_state, r.quotes_allowed):
            self._evaluate(force=True)

    @handles(PositionChanged)
    def _position(self, p: PositionChanged) -> None:
        self._set_position(p.position_lots)

    @handles(OrderFilled)
    def _filled(self, f: OrderFilled) -> None:
        self._set_position(f.position_lots)

    @handles(OpenOrdersView)
    def _view(self, v: OpenOrdersView) -> None:
        self._set_position(v.position_lots)

    def _set_position(self, lots: int) -> None:
        if lots != self.position_lots:
            self.position_lots = lots
            if self.ctx.metrics is not None:
                self.ctx.metrics.set_inventory_net(self.ctx.instrument.lots_to_qty(lots))
            self._evaluate(force=True)  # re-quote after fills

    @handles(SettingsChanged)
    def _settings(self, m: SettingsChanged) -> None:
        """A hot reload: the new spread, sizes and fees from this quote on (the timer keeps its interval:
        ``quote_interval_ms`` needs a restart, actors/config/diff.py)."""
        self.ctx = dataclasses.replace(self.ctx, settings=m.settings)
        self.params = m.settings.strategy_for(self.ctx.symbol)
        self.fees = Fees(m.settings.fees.maker, m.settings.fees.taker)
        self._arm_timer()
        self._evaluate(force=True)

    @handles(Requote)
    def _requote(self, _: Requote) -> None:
        self._evaluate()

    def _quote(self, now: int) -> QuoteTarget:
        p = self.params
        if isinstance(p, AsmmParams):
            v, r = self.market, self.risk
            d = asmm.quote(v, v.signals if v is not None else None, self.position_lots, p, self.ctx.instrument,
                           self.fees, r, r.adaptation if r is not None else None, self.asmm_state, now)
            self.asmm_state, self.decision = d.state, d
            return d.target
        self.decision = None
        return fixed_spread.quote(self.market, self.position_lots, p, self.ctx.instrument, self.fees, self.risk, now)

    def _evaluate(self, force: bool = False, market_ns: int = 0) -> None:
        target = self._quote(self.ctx.clock.time_ns())
        if force or should_publish(self.last, target, self.params):
            self.last = target
            if market_ns:
                target = msgspec.structs.replace(target, market_ns=market_ns)
            self.ctx.peers.tell("oms", target)
            m = self.ctx.metrics
            if m is not None and target.bids and target.asks and self.market is not None:
                m.set_quote_spread_bps(2e4 * (target.asks[0].price_ticks - target.bids[0].price_ticks)
                                       / self.market.mid_x2_ticks)
            d = self.decision
            if m is not None and d is not None and d.reservation_price == d.reservation_price:  # not NaN
                m.set_reservation_price(d.reservation_price)
                m.set_inventory_skew_bps(d.skew_bps)
