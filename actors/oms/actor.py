"""The OMS actor: one pure core call per message, then persist → send → publish, in that order.

A new order is on disk before the exchange can hear of it (lesson 4): appended to the intent log
(``intents.py``, microseconds) before it is sent; the step's orders, fills and position are then journaled in
one SQLite transaction. Risk's current state sets the limits every plan is held to; as a last
gate, every placement is checked again with risk's own pure pre-trade check before it is sent. Quotes are
pulled (an empty target) the moment risk says quoting is not allowed, even if the strategy is down.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
from loguru import logger

from actors.base import EngineActor, handles
from actors.config.messages import SettingsChanged
from actors.context import SymbolContext
from actors.gateway.events import AccountUpdate, OrderReport, OrderUpdate, Side, StreamConnected
from actors.oms import core
from actors.oms.budget import BudgetParams
from actors.oms.diff import Limits, Tolerance
from actors.oms.ids import ClientIds, next_run_id, parse_client_id
from actors.oms.intents import IntentLog
from actors.oms.messages import (
    CancelRejected,
    FillsSnapshot,
    NewOrder,
    OpenOrdersSnapshot,
    OpenOrdersView,
    OrderAnomaly,
    OrderFilled,
    OrderNotFound,
    OrderRejected,
    PlaceOrders,
    PositionChanged,
    PositionMismatch,
    PositionSnapshot,
    QueryFailed,
    QueryOpenOrders,
    QueryPosition,
)
from actors.oms.order import TERMINAL, Order, Status
from actors.oms.position import FillLedger, Position
from actors.oms.reconcile import OrphanPolicy, ReconcilePolicy
from actors.risk.checks import Exposure, OrderIntent, pre_trade
from actors.risk.messages import (
    CancelAllOrders,
    FetchPosition,
    ListOpenOrders,
    PlaceFlattenOrder,
    Resumed,
    RiskState,
    TradingState,
)
from actors.risk.params import Limits as RiskLimits
from actors.store.store import JournalOrder, Store
from actors.strategy.messages import QuoteTarget

# How an OMS status reads in the human-facing orders table (actors/store/models.py).
_STORE_STATUS = {
    Status.NEW: "INTENT", Status.PENDING_NEW: "INTENT", Status.UNKNOWN: "UNKNOWN", Status.OPEN: "NEW",
    Status.PARTIALLY_FILLED: "PARTIALLY_FILLED", Status.PENDING_CANCEL: "CANCEL_REQUESTED",
    Status.FILLED: "FILLED", Status.CANCELED: "CANCELED", Status.REJECTED: "REJECTED", Status.EXPIRED: "EXPIRED",
}
_ORDER_ENC = msgspec.json.Encoder()
_ORDER_DEC = msgspec.json.Decoder(Order)
_POS_DEC = msgspec.json.Decoder(Position)
_LEDGER_DEC = msgspec.json.Decoder(FillLedger)


class OmsTick(msgspec.Struct, frozen=True):
    """Timer message: follow-ups, pruning, periodic reconciliation, WAL checkpoint."""


def oms_params(ctx: SymbolContext) -> core.OmsParams:
    o = ctx.settings.oms
    return core.OmsParams(
        tolerance=Tolerance(o.refresh_tolerance_ticks, Decimal(str(o.refresh_tolerance_qty))),
        budget=BudgetParams(o.places_per_s, o.places_per_min, o.cancels_per_s, o.cancels_per_min,
                            o.min_order_lifetime_ms),
        reconcile=ReconcilePolicy(OrphanPolicy.ADOPT if o.orphans == "adopt" else OrphanPolicy.CANCEL),
        followup_after_ms=o.followup_after_ms, reconcile_every_ms=int(o.reconcile_every_s * 1000))


class OmsActor(EngineActor):
    name = "oms"

    def __init__(self, ctx: SymbolContext, on_failed: Any = None) -> None:
        super().__init__(on_failed, ctx.peers)
        self.ctx = ctx
        self.venue = ctx.venue
        self.state: core.OmsState | None = None
        self.store: Store | None = None
        self.risk: RiskState | None = None
        self.risk_limits = RiskLimits.from_params(ctx.settings.risk, ctx.instrument)
        self.target: QuoteTarget | None = None
        self._market_ns = 0  # the tick behind the target being handled (stamped on its placements)
        self._forward_to_risk: set[int] = set()  # asked_ns of queries risk's panicstop is waiting for
        self._timer: Any = None
        self.intents: IntentLog | None = None
        self._started = False  # on_start done (see _retired)
        self._received_ns = 0  # when the message being handled arrived, and its type: the OMS latency metric
        self._trigger = ""

    def on_receive(self, message: Any) -> Any:
        self._received_ns = self.ctx.clock.monotonic_ns()
        self._trigger = type(message).__name__
        return super().on_receive(message)

    # ------------------------------------------------------------------ lifecycle
    def on_start(self) -> None:
        ctx = self.ctx
        self.store = Store.open(ctx.settings.store.path, clock=ctx.clock, autocheckpoint=False)
        self.intents = IntentLog(Path(ctx.settings.engine.state_dir) / f"intents-{self.venue}-{ctx.symbol}.log")
        self._recover_intents()
        orders_json, pos_json, ledger_json = self.store.load_journal(self.venue, ctx.symbol)
        stored = tuple(_ORDER_DEC.decode(j) for j in orders_json)
        tag = f"mm{ctx.symbol}"[:14]
        last = parse_client_id(self.store.last_client_id(self.venue, ctx.symbol, f"{tag}.") or "")
        now = ctx.clock.time_ns()
        ids = ClientIds(tag, next_run_id(now, last[1] if last else None))
        step = core.start(ctx.symbol, ctx.instrument, oms_params(ctx), ids, now, stored_orders=stored,
                          position=_POS_DEC.decode(pos_json) if pos_json else None,
                          ledger=_LEDGER_DEC.decode(ledger_json) if ledger_json else None)
        logger.info("{} OMS started: {} stored open orders, position {} lots, reconciling", ctx.symbol, len(stored),
                    step.state.position.lots)
        self._run(step)
        self._timer = ctx.timers.tell_every(ctx.settings.oms.tick_s, self.actor_ref, OmsTick())
        self._started = True
        if ctx.metrics is not None:
            ctx.metrics.set_position(ctx.instrument.lots_to_qty(self.state.position.lots))

    def on_stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self.intents is not None:
            self.intents.close()
        if self.store is not None:
            try:
                self.store.checkpoint()
            finally:
                self.store.close()
                self.store = None

    # ------------------------------------------------------------------ the step: persist → send → publish
    def _run(self, step: core.Step) -> None:
        """Persist what is about to be sent, send, then persist the rest and publish. Only a new order must be
        on disk before the exchange can hear of it (lesson 4); a cancel request, a fill or the position
        written a moment later loses nothing a crash could not recover (the order is looked up, the fill
        fetched again from the exchange), and keeps the tick-to-order path short."""
        if self._retired():
            return  # retired while inside a handler (it hung and was replaced): its successor owns the orders
        sending = {o.client_order_id for c in step.commands if isinstance(c, PlaceOrders) for o in c.orders}
        first = tuple(o for o in step.persist if o.client_order_id in sending)
        if first:
            assert self.intents is not None
            self.intents.append(self._journal_rows(first))  # on disk before it is sent (actors/oms/intents.py)
        self.state = step.state
        # Placements first: telling the gateway wakes its threads, which would compete for the GIL with the
        # placement being written (the lane writes on this thread). Cancels and placements were never ordered
        # on the wire (they run on different gateway threads); an unconfirmed cancel counts as still open.
        for cmd in step.commands:
            if isinstance(cmd, PlaceOrders):
                self._send_places(cmd)
        for cmd in step.commands:
            if not isinstance(cmd, PlaceOrders):
                self.ctx.peers.tell("gateway", cmd)
        m = self.ctx.metrics
        if m is not None and step.commands and self._received_ns:
            m.oms_latency(self._trigger, (self.ctx.clock.monotonic_ns() - self._received_ns) / 1e9)
        # each order as it is now: a placement the pre-trade check refused was journaled REJECTED meanwhile
        book = self.state.book
        self._persist(tuple(book.get(o.client_order_id) or o for o in step.persist), step.fills, step.position,
                      step.ledger)
        if first and not self._retired():
            assert self.intents is not None
            self.intents.clear()  # the journal has them now (a retired OMS never touches its successor's log)
        for ev in step.events:
            self._publish(ev)

    def _persist(self, orders: tuple[Order, ...], fills: tuple[Any, ...] = (), position: Position | None = None,
                 ledger: FillLedger | None = None) -> None:
        if not (orders or fills or position is not None or ledger is not None):
            return
        assert self.store is not None
        self.store.journal(venue=self.venue, symbol=self.ctx.symbol, run_id=self.ctx.run_id,
                           at_ns=self.ctx.clock.time_ns(), orders=self._journal_rows(orders), fills=fills,
                           position=_ORDER_ENC.encode(position).decode() if position is not None else None,
                           ledger=_ORDER_ENC.encode(ledger).decode() if ledger is not None else None)

    def _retired(self) -> bool:
        """Replaced by a successor (it hung). Not asked during ``on_start``: the supervisor registers a new
        actor only once it has started, so the registry may still name the predecessor (or nobody) then."""
        return self._started and self.ctx.peers.get(self.name) is not self.actor_ref

    def _journal_rows(self, orders: tuple[Order, ...]) -> list[JournalOrder]:
        ins = self.ctx.instrument
        return [JournalOrder(o.client_order_id, o.side.value, ins.ticks_to_price(o.price_ticks),
                             ins.lots_to_qty(o.qty_lots), o.time_in_force, o.reduce_only, o.created_ns,
                             _STORE_STATUS[o.status], o.exchange_id or None, ins.lots_to_qty(o.filled_lots),
                             o.status in TERMINAL, _ORDER_ENC.encode(o).decode(), o.reason,
                             "exchange" if o.adopted else "intent")
                for o in orders]

    def _recover_intents(self) -> None:
        """Intents logged whose journal entry never committed (the process died in between) join the journal
        as intents; reconciliation looks them up on the exchange. An order the journal already has keeps its
        (newer) journaled state."""
        assert self.store is not None and self.intents is not None
        lost = [o for o in self.intents.pending() if self.store.order(o.client_order_id) is None]
        if lost:
            logger.warning("{} recovering {} order intents from the intent log: {}", self.ctx.symbol, len(lost),
                           ", ".join(o.client_order_id for o in lost))
            self.store.journal(venue=self.venue, symbol=self.ctx.symbol, run_id=self.ctx.run_id,
                               at_ns=self.ctx.clock.time_ns(), orders=lost)
        self.intents.clear()

    def _send_places(self, cmd: PlaceOrders) -> None:
        """Risk's own pre-trade check on each placement, as the last thing before the wire. The plan already
        held to the limits; a refusal here is a bug, so the order is withdrawn and an alert raised."""
        assert self.state is not None
        exposure = self.state.exposure
        ok: list[NewOrder] = []
        for o in cmd.orders:
            buy = o.side is Side.BUY
            # the exposure already counts this order: check it as the order to add on top of the others
            others = Exposure(self.state.position.lots, exposure.buy_lots - (o.qty_lots if buy else 0),
                              exposure.sell_lots - (0 if buy else o.qty_lots))
            state = self.risk.trading_state if self.risk is not None else TradingState.ACTIVE
            decision = pre_trade(OrderIntent(o.side, o.qty_lots, o.price_ticks, o.reduce_only), others,
                                 self.risk_limits, state, instrument=self.ctx.instrument)
            if decision.ok:
                ok.append(o)
            else:
                logger.error("{} pre-trade check refused {}: {}", self.ctx.symbol, o.client_order_id, decision.reason)
                self._run(core.on_order_rejected(self.state, OrderRejected(
                    o.client_order_id, None, f"pre-trade: {decision.reason}", "rejected"), self.ctx.clock.time_ns()))
        if ok:
            out = PlaceOrders(cmd.symbol, tuple(ok), self._market_ns)
            if not self.ctx.lanes.submit("orders", out):  # straight to the placement worker (actors/lanes.py)
                self.ctx.peers.tell("gateway", out)

    def _publish(self, ev: Any) -> None:
        peers = self.ctx.peers
        m = self.ctx.metrics
        if isinstance(ev, OrderFilled):
            peers.tell("risk", ev)
            peers.tell("strategy", ev)
            peers.tell("analyzer", ev)
            if m is not None:
                ins = self.ctx.instrument
                m.fill(ev.side.value, ev.is_maker, ins.lots_to_qty(ev.qty_lots))
                m.set_position(ins.lots_to_qty(ev.position_lots))
        elif isinstance(ev, PositionChanged):
            peers.tell("strategy", ev)
            if m is not None:
                m.set_position(self.ctx.instrument.lots_to_qty(ev.position_lots))
        elif isinstance(ev, PositionMismatch):
            logger.error("{} position mismatch: ours {} lots, exchange {} lots", ev.symbol, ev.local_lots,
                         ev.exchange_lots)
            peers.tell("risk", ev)
        elif isinstance(ev, OpenOrdersView):
            peers.tell("strategy", ev)
        elif isinstance(ev, OrderAnomaly):
            (logger.error if ev.severe else logger.warning)("{} order {}: {}", ev.symbol, ev.client_order_id,
                                                            ev.what)
            peers.tell("risk", ev)

    # ------------------------------------------------------------------ inputs
    def _now(self) -> int:
        return self.ctx.clock.time_ns()

    @handles(QuoteTarget)
    def _target(self, t: QuoteTarget) -> None:
        self.target = t
        self._market_ns = t.market_ns
        self._requote()
        self._market_ns = 0

    def _requote(self) -> None:
        assert self.state is not None
        t = self.target
        if t is None:
            return
        r = self.risk
        if r is not None and not r.quotes_allowed:
            t = QuoteTarget(t.symbol, (), (), t.made_ns, reason="risk: quoting not allowed")
        self._run(core.on_target(self.state, t, self._limits(), self._now()))

    def _limits(self) -> Limits:
        assert self.state is not None
        lim = self.risk_limits.max_inventory_lots
        r = self.risk
        if r is not None and r.adaptation is not None:  # risk's adaptive net limit (actors/risk/adaptive.py)
            lim = min(lim, self.ctx.instrument.lots_floor(r.adaptation.net_limit))
        if r is None or r.trading_state is TradingState.ACTIVE:
            return Limits(lim, lim)
        pos = self.state.position.lots  # REDUCING (or HALTED): nothing may add to the position
        return Limits(max(pos, 0), max(-pos, 0))

    @handles(RiskState)
    def _risk(self, r: RiskState) -> None:
        assert self.state is not None
        prev, self.risk = self.risk, r
        if r.trading_state is TradingState.HALTED and self.state.mode is not core.Mode.HALTED:
            self._run(core.panicstop(self.state, r.reason or "risk HALTED", self._now()))
            return
        if (self.state.mode is core.Mode.HALTED and r.trading_state is not TradingState.HALTED
                and not r.panic_active):
            self._run(core.resume(self.state, self._now()))  # a timed halt ended (or an operator resumed)
            return
        if (prev is None or prev.quotes_allowed != r.quotes_allowed or prev.trading_state != r.trading_state
                or _net_limit(prev) != _net_limit(r)):  # a shrunk limit pulls what it no longer allows at once
            self._requote()

    @handles(SettingsChanged)
    def _settings(self, m: SettingsChanged) -> None:
        """A hot reload: risk's limits and the OMS's own parameters at once, then the target again under them
        (a limit now below the position leaves only reducing orders)."""
        assert self.state is not None
        self.ctx = dataclasses.replace(self.ctx, settings=m.settings)
        self.risk_limits = RiskLimits.from_params(m.settings.risk, self.ctx.instrument)
        params = oms_params(self.ctx)
        self.state = msgspec.structs.replace(self.state, params=params, budget=self.state.budget.with_params(
            params.budget))
        self._requote()

    @handles(Resumed)
    def _resumed(self, _: Resumed) -> None:
        assert self.state is not None
        if self.state.mode is core.Mode.HALTED:
            self._run(core.resume(self.state, self._now()))

    def _exchange_input(self, handler: Any, msg: Any) -> None:
        """What the exchange told us, through the pure core. Input the core cannot represent (a quantity off
        the instrument's grid after a filter change, a malformed value) is reported as a severe anomaly and
        dropped, never a crash loop: the state is unchanged, and reconciliation asks the exchange again."""
        assert self.state is not None
        try:
            step = handler(self.state, msg, self._now())
        except ValueError as exc:  # InstrumentError and parse errors are ValueErrors; bugs are not
            logger.error("{}: unusable exchange data ({}): {}", self.ctx.symbol, type(msg).__name__, exc)
            self._publish(OrderAnomaly(self.ctx.symbol, getattr(msg, "client_order_id", ""),
                                       f"unusable {type(msg).__name__}: {exc}", severe=True))
            return
        self._run(step)

    @handles(OrderReport)
    def _report(self, r: OrderReport) -> None:
        assert self.state is not None
        self._exchange_input(core.on_order_report, r)

    @handles(OrderUpdate)
    def _update(self, u: OrderUpdate) -> None:
        assert self.state is not None
        self._exchange_input(core.on_order_update, u)

    @handles(OrderRejected)
    def _rejected(self, m: OrderRejected) -> None:
        assert self.state is not None
        self._exchange_input(core.on_order_rejected, m)
        if m.kind.lower() == "unknown_state":
            return
        if self.ctx.metrics is not None:
            self.ctx.metrics.reject(m.code, m.kind)
        if m.code != core.POST_ONLY_WOULD_TAKE:
            self.ctx.peers.tell("risk", m)  # counts toward the order-error rate
            self.ctx.notice(m)  # and toward the P1 reject-spike alert

    @handles(CancelRejected)
    def _cancel_rejected(self, m: CancelRejected) -> None:
        assert self.state is not None
        self._exchange_input(core.on_cancel_rejected, m)

    @handles(OrderNotFound)
    def _not_found(self, m: OrderNotFound) -> None:
        assert self.state is not None
        self._exchange_input(core.on_order_not_found, m)

    @handles(OpenOrdersSnapshot)
    def _open_orders(self, m: OpenOrdersSnapshot) -> None:
        assert self.state is not None
        self._exchange_input(core.on_open_orders, m)
        if self.state.mode is core.Mode.HALTED or m.asked_ns in self._forward_to_risk:
            self._forward_to_risk.discard(m.asked_ns)
            self.ctx.peers.tell("risk", m)  # the panicstop's confirmation that nothing is left open

    @handles(FillsSnapshot)
    def _fills(self, m: FillsSnapshot) -> None:
        assert self.state is not None
        self._exchange_input(core.on_fills, m)

    @handles(PositionSnapshot)
    def _position(self, m: PositionSnapshot) -> None:
        assert self.state is not None
        was_reconciling = self.state.round is not None
        self._exchange_input(core.on_position, m)
        if m.asked_ns in self._forward_to_risk:
            self._forward_to_risk.discard(m.asked_ns)
            self.ctx.peers.tell("risk", m)
        if was_reconciling and self.state.round is None and self.state.mode is core.Mode.QUOTING:
            self._requote()  # reconciled: quote the latest target at once

    @handles(QueryFailed)
    def _query_failed(self, m: QueryFailed) -> None:
        assert self.state is not None
        logger.warning("{}: reconciliation query {} failed ({}): asking again", self.ctx.symbol, m.query, m.reason)
        self._exchange_input(core.on_query_failed, m)

    @handles(AccountUpdate)
    def _account(self, _: AccountUpdate) -> None:
        pass  # the position moves with fills; reconciliation compares it with positionRisk

    @handles(StreamConnected)
    def _user_stream_up(self, _: StreamConnected) -> None:
        assert self.state is not None
        if self.state.round is None:  # events may have been missed while it was down
            self._run(core.begin_reconcile(self.state, self._now()))

    @handles(OmsTick)
    def _tick(self, _: OmsTick) -> None:
        assert self.state is not None and self.store is not None
        self._run(core.on_tick(self.state, self._now()))

    # ------------------------------------------------------------------ risk's panicstop work orders
    @handles(CancelAllOrders)
    def _cancel_all(self, m: CancelAllOrders) -> None:
        assert self.state is not None
        self._run(core.panicstop(self.state, "panicstop", self._now()))

    @handles(ListOpenOrders)
    def _list_open(self, m: ListOpenOrders) -> None:
        asked = self._now()
        self._forward_to_risk.add(asked)
        self.ctx.peers.tell("gateway", QueryOpenOrders(self.ctx.symbol, asked))

    @handles(FetchPosition)
    def _fetch_position(self, m: FetchPosition) -> None:
        asked = self._now()
        self._forward_to_risk.add(asked)
        self.ctx.peers.tell("gateway", QueryPosition(self.ctx.symbol, asked))

    @handles(PlaceFlattenOrder)
    def _flatten(self, m: PlaceFlattenOrder) -> None:
        logger.error("{}: flattening after a panicstop is not supported yet ([risk] panic_flatten = false)",
                     self.ctx.symbol)

    # ------------------------------------------------------------------ reads (tests, shutdown)
    def describe(self) -> dict[str, Any]:
        s = self.state
        if s is None:
            return {"name": self.name, "mode": "starting"}
        return {"name": self.name, "mode": str(s.mode), "position_lots": s.position.lots,
                "live": [o.client_order_id for o in s.book.live()], "worst_long_lots": s.worst_long_lots,
                "worst_short_lots": s.worst_short_lots, "realized_pnl": str(s.position.realized_pnl),
                "fees": {a: str(v) for a, v in s.position.fees}}

    @property
    def open_orders(self) -> tuple[Order, ...]:
        return self.state.book.live() if self.state is not None else ()


def _net_limit(r: RiskState) -> Decimal | None:
    return r.adaptation.net_limit if r.adaptation is not None else None
