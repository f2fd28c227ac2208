"""The analyzer actor: PnL net of fees from our fills, markouts per fill, fill statistics, and their
periodic record (pnl snapshots, inventory) in the store. It decides nothing; it is last in the tree, so a
crash of it never touches trading."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from loguru import logger

from actors.analyzer.markout import Markout, MarkoutTracker
from actors.analyzer.messages import AdverseSelection
from actors.analyzer.pnl import PnlBook, opened_book
from actors.analyzer.stats import FillStats
from actors.base import EngineActor, handles
from actors.book.market_signals import Regime
from actors.book.view import MarketView
from actors.context import SymbolContext
from actors.oms.messages import OpenOrdersView, OrderFilled
from actors.oms.position import stored_position
from actors.store.store import Store


class Snapshot(msgspec.Struct, frozen=True):
    """Timer message: record PnL and inventory."""


class AnalyzerActor(EngineActor):
    name = "analyzer"

    def __init__(self, ctx: SymbolContext, on_failed: Any = None, *, every_s: float = 10.0) -> None:
        super().__init__(on_failed, ctx.peers)
        self.ctx = ctx
        self.every_s = every_s
        self.pnl = PnlBook(ctx.symbol, ctx.instrument.quote_asset)
        self.markouts = MarkoutTracker()
        self.stats = FillStats(ctx.clock.time_ns())
        self.mark: Decimal | None = None
        self.regime = Regime.CALM
        self._resolved: list[Markout] = []  # markouts not yet in the store
        self.open_buy_lots = self.open_sell_lots = 0
        self.store: Store | None = None
        self._timer: Any = None

    def on_start(self) -> None:
        ctx = self.ctx
        self.store = Store.open(ctx.settings.store.path, clock=ctx.clock)
        self.pnl = opened_book(stored_position(self.store, ctx.venue, ctx.symbol), ctx.symbol, ctx.instrument)
        self._timer = ctx.timers.tell_every(self.every_s, self.actor_ref, Snapshot())

    def on_stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self.store is not None:
            self._snapshot(Snapshot())
            self.store.close()

    @handles(OrderFilled)
    def _filled(self, f: OrderFilled) -> None:
        ins = self.ctx.instrument
        qty = ins.lots_to_qty(f.qty_lots)
        now = self.ctx.clock.time_ns()
        self.pnl = self.pnl.apply(f.side, qty, f.price, f.commission, f.commission_asset or None, f.realized_pnl)
        self.markouts.on_fill(f.trade_id, f.side, f.price, qty, f.is_maker, now, self.regime.label)
        self.stats.on_fill(f.client_order_id, qty, f.price, f.is_maker, now)

    @handles(MarketView)
    def _market(self, v: MarketView) -> None:
        s, m = v.signals, self.ctx.metrics
        if s is not None:
            self.regime = s.regime
            if m is not None:
                m.set_vpin(s.vpin)
                m.set_volatility_regime(s.regime.label)
        if not v.stale:
            self.mark = v.mid
            self._resolved += self.markouts.on_mid(v.mid, v.last_update_ns)

    @handles(OpenOrdersView)
    def _open_orders(self, v: OpenOrdersView) -> None:
        self.open_buy_lots, self.open_sell_lots = v.exposure.buy_lots, v.exposure.sell_lots

    def _post_trade(self, now: int) -> None:
        """Markouts into the store; the adverse-selection rate to risk and the dashboard."""
        if self.store is not None and self._resolved:
            try:
                self.store.record_markouts(self.ctx.venue, self.ctx.symbol, self._resolved, run_id=self.ctx.run_id)
                self._resolved = []
            except Exception as exc:  # kept for the next snapshot (idempotent rows), never lost to a busy file
                logger.warning("{}: could not record {} markouts: {}", self.ctx.symbol, len(self._resolved), exc)
                del self._resolved[:-10_000]
        summ = self.markouts.summary(now)
        horizon = next(h for h in summ.horizons if h.horizon_ms == self.markouts.adverse_horizon_ms)
        if self.ctx.metrics is not None:
            self.ctx.metrics.set_adverse_selection_rate(summ.adverse_selection_rate)
        self.ctx.peers.tell("risk", AdverseSelection(self.ctx.symbol, summ.adverse_selection_rate, summ.adverse_fills,
                                                     horizon.horizon_ms, horizon.mean_bps, now))

    @handles(Snapshot)
    def _snapshot(self, _: Snapshot) -> None:
        now = self.ctx.clock.time_ns()
        self._post_trade(now)
        if self.store is None or self.mark is None:
            return
        ins, p = self.ctx.instrument, self.pnl
        if self.ctx.metrics is not None:
            self.ctx.metrics.set_pnl(realized=p.realized, unrealized=p.unrealized(self.mark), fees=p.fees)
        try:
            self.store.record_pnl_snapshot(self.ctx.venue, self.ctx.symbol, position=p.qty, realized_pnl=p.realized,
                                           unrealized_pnl=p.unrealized(self.mark), fees=p.fees, funding=p.funding,
                                           mark_price=self.mark, entry_price=p.entry_price, at_ns=now,
                                           run_id=self.ctx.run_id)
            self.store.record_inventory(self.ctx.venue, self.ctx.symbol, position=p.qty,
                                        open_buy_qty=ins.lots_to_qty(self.open_buy_lots),
                                        open_sell_qty=ins.lots_to_qty(self.open_sell_lots),
                                        entry_price=p.entry_price, source="analyzer", at_ns=now, run_id=self.ctx.run_id)
        except Exception as exc:  # analysis must never take anything down with it
            logger.warning("{}: could not record pnl: {}", self.ctx.symbol, exc)
