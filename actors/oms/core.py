"""The OMS as one pure function per message: ``(state, message, now_ns) -> Step``.

The pykka actor is a thin shell around this module. For every message it calls one handler and then, in
this order:

1. persists ``step.persist`` (orders, upsert by client id), ``step.fills`` and, when set, ``step.position``
   and ``step.ledger`` — before anything is sent, so every order is in the store before the exchange
   can hear of it (lesson 4);
2. sends ``step.commands`` to the gateway, in order (cancels come before placements);
3. publishes ``step.events`` (fills with maker/taker, position, mismatch and anomalies for risk and alerts,
   the open-orders view);
4. keeps ``step.state`` for the next message.

Modes: RECONCILING at start and after a resume (no quoting until the first reconciliation is complete),
QUOTING, HALTED (panicstop: cancel everything; every order that is acknowledged later is cancelled at once).
A timer message calls ``on_tick`` (follow-ups on unanswered orders, pruning, periodic reconciliation).

``now_ns`` is the wall clock (``Clock.time_ns``): reconciliation turns it into exchange milliseconds.
An ``IllegalTransition`` from an exchange event is reported (a severe ``OrderAnomaly``) and the order is
looked up; one from our own action (a send or cancel on the wrong status) is a bug and propagates.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from actors.gateway.events import Fill, OrderReport, OrderStatus, OrderUpdate
from actors.instrument import Instrument
from actors.oms.book import Book, Exposure
from actors.oms.budget import Budget, BudgetParams, Kind
from actors.oms.diff import UNLIMITED, Cancel, Limits, Placement, Tolerance, cancel_everything, plan
from actors.oms.ids import ClientIds
from actors.oms.messages import (
    MAX_BATCH_CANCEL,
    MAX_BATCH_PLACE,
    CancelAll,
    CancelOrders,
    CancelRejected,
    Command,
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
    PositionSnapshot,
    Published,
    QueryFailed,
    QueryFills,
    QueryOpenOrders,
    QueryOrder,
    QueryPosition,
)
from actors.oms.order import (
    PENDING,
    RESTING,
    Anomaly,
    Ev,
    IllegalTransition,
    NewFill,
    Order,
    OrderEvent,
    Status,
    from_fill,
    from_report,
    local,
    recovered,
    touched,
)
from actors.oms.position import FillLedger, Position
from actors.oms.reconcile import OrphanPolicy, ReconcilePolicy, adopted_order, reconcile
from actors.strategy.messages import QuoteTarget

MS = 1_000_000
# Client ids of orders the exchange itself creates (liquidation, ADL, settlement, delivery): never adopted.
EXCHANGE_ORDER_PREFIXES = ("autoclose", "adl_autoclose", "settlement_autoclose", "delivery_autoclose")
POST_ONLY_WOULD_TAKE = -5022  # a normal outcome for a GTX order, not worth an alert


class Mode(StrEnum):
    RECONCILING = "RECONCILING"
    QUOTING = "QUOTING"
    HALTED = "HALTED"


class OmsParams(msgspec.Struct, frozen=True):
    tolerance: Tolerance = Tolerance()
    budget: BudgetParams = BudgetParams()
    reconcile: ReconcilePolicy = ReconcilePolicy()
    time_in_force: str = "GTX"
    # An order pending (or a cancel unconfirmed) this long is looked up (or cancelled again). It must exceed
    # the gateway's recvWindow: only then does "not found" prove the placement will never arrive.
    followup_after_ms: int = 6_000
    keep_terminal_ms: int = 600_000  # terminal orders stay in the book this long for late events
    reconcile_every_ms: int = 60_000
    fills_page: int = 500
    query_retry_ms: int = 1_000  # a reconciliation query the gateway reported failed: the round again after this


class Round(msgspec.Struct, frozen=True):
    """A reconciliation in progress: the answers collected so far."""

    asked_ns: int
    open_orders: tuple[OrderReport, ...] | None = None
    fills: tuple[Fill, ...] = ()
    fills_done: bool = False
    position: PositionSnapshot | None = None
    failed_ns: int = 0  # a query of this round failed (QueryFailed): asked again from on_tick


class OmsState(msgspec.Struct, frozen=True):
    symbol: str
    instrument: Instrument
    params: OmsParams
    book: Book
    position: Position
    ledger: FillLedger
    budget: Budget
    ids: ClientIds
    mode: Mode = Mode.RECONCILING
    position_known: bool = False  # False until stored or taken from the exchange
    round: Round | None = None
    last_reconcile_ns: int = 0
    halt_reason: str = ""

    @property
    def exposure(self) -> Exposure:
        """Per side, the remaining lots of every order that could still fill (the pre-trade check's input)."""
        return self.book.exposure()

    @property
    def worst_long_lots(self) -> int:
        return self.book.exposure().worst_long(self.position.lots)

    @property
    def worst_short_lots(self) -> int:
        return self.book.exposure().worst_short(self.position.lots)


class Step(msgspec.Struct, frozen=True):
    state: OmsState
    persist: tuple[Order, ...] = ()  # upsert these before sending any command
    fills: tuple[Fill, ...] = ()  # fills counted for the first time: store them
    position: Position | None = None  # store when set
    ledger: FillLedger | None = None  # store when set (its cursor; the recent fills are the stored fills)
    commands: tuple[Command, ...] = ()
    events: tuple[Published, ...] = ()
    pruned: tuple[str, ...] = ()  # terminal orders dropped from the book (the store may archive them)


class _Acc:
    """The working copy of one handler call (local, so the handler stays pure)."""

    def __init__(self, state: OmsState, now_ns: int) -> None:
        self.s = state
        self.now = now_ns
        self.book = state.book
        self.position = state.position
        self.ledger = state.ledger
        self.budget = state.budget
        self.ids = state.ids
        self.changes: dict[str, object] = {}
        self.persist: dict[str, Order] = {}
        self.fills: list[Fill] = []
        self.cancels: list[str] = []
        self.places: list[NewOrder] = []
        self.commands: list[Command] = []
        self.tail: list[Command] = []  # after the placements (queries)
        self.events: list[Published] = []
        self.pruned: tuple[str, ...] = ()
        self.position_changed = self.ledger_changed = False
        self.places_spent = self.cancels_spent = 0  # budget spending, counted into ``budget`` by ``step``

    @property
    def symbol(self) -> str:
        return self.s.symbol

    @property
    def mode(self) -> Mode:
        return self.changes.get("mode", self.s.mode)  # type: ignore[return-value]

    # ---- orders
    def put(self, order: Order) -> None:
        self.book = self.book.put(order)
        self.persist[order.client_order_id] = order

    def apply(self, cid: str, event: OrderEvent) -> Order | None:
        """Apply an event; an impossible exchange event is reported and the order looked up, not crashed on."""
        try:
            self.book, order, effects = self.book.apply(cid, event)
        except IllegalTransition as exc:
            if event.kind in (Ev.SEND, Ev.CANCEL):
                raise  # our own action on the wrong status: a bug, not the exchange
            self.events.append(OrderAnomaly(self.symbol, cid, str(exc), severe=True))
            if event.fill is not None:  # whatever our view of the order, the trade happened
                self.count_fill(event.fill, event.fill_lots, ours=True, client_order_id=cid)
            self.query(cid)
            return None
        self.persist[cid] = order
        for eff in effects:
            if isinstance(eff, NewFill):
                self.count_fill(eff.fill, eff.lots, ours=True, client_order_id=cid)
            elif isinstance(eff, Anomaly):
                self.events.append(OrderAnomaly(self.symbol, eff.client_order_id, eff.what))
        if self.mode is Mode.HALTED and order.status in RESTING:
            self.cancel(order.client_order_id, safety=True)
        return order

    def count_fill(self, fill: Fill, lots: int, *, ours: bool, client_order_id: str = "") -> None:
        """Count a fill in the position exactly once, whatever path it came by."""
        if self.ledger.seen(fill.trade_id):
            return
        self.ledger = self.ledger.add(fill, lots)
        self.position = self.position.apply(fill, lots)
        self.fills.append(fill)
        self.position_changed = self.ledger_changed = True
        cid = client_order_id or fill.client_order_id
        self.events.append(OrderFilled(self.symbol, cid, fill.trade_id, fill.side, fill.price, lots,
                                       fill.is_maker, fill.commission, fill.commission_asset, fill.realized_pnl,
                                       fill.trade_ms, ours, self.position.lots))
        self.events.append(PositionChanged(self.symbol, self.position.lots, self.position.avg_entry,
                                           self.position.realized_pnl, self.position.fees, self.now))

    def cancel(self, cid: str, *, safety: bool) -> None:
        """Cancel one order: NEW is withdrawn locally; RESTING/PENDING_CANCEL go to the exchange."""
        o = self.book.get(cid)
        if o is None or cid in self.cancels:
            return
        if o.status is Status.NEW:
            self.apply(cid, local(Ev.CANCEL, self.now, "withdrawn"))
            return
        if o.status not in RESTING and o.status is not Status.PENDING_CANCEL:
            return  # pending placement: cancelled once acknowledged (HALTED) or by a later plan
        self.apply(cid, local(Ev.CANCEL, self.now))
        self.cancels_spent += 1  # a requote cancel or a safety cancel: the same windows (budget.py)
        self.cancels.append(cid)

    def place(self, p: Placement, cid: str = "") -> None:
        """Place one order (``cid``: an id already taken from ``ids``, else the next one is taken)."""
        if not cid:
            (cid,), self.ids = self.ids.take(1)
        order = Order(cid, p.side, p.price_ticks, p.qty_lots, Status.NEW, self.now, reduce_only=p.reduce_only,
                      time_in_force=self.s.params.time_in_force, updated_ns=self.now)
        self.book = self.book.add(order)  # in the book before any send exists
        self.apply(cid, local(Ev.SEND, self.now))
        self.places_spent += 1
        self.places.append(NewOrder(cid, p.side, p.price_ticks, p.qty_lots, order.time_in_force, p.reduce_only))

    def query(self, cid: str) -> None:
        o = self.book.get(cid)
        if o is not None:
            self.put(touched(o, self.now))
        self.tail.append(QueryOrder(self.symbol, cid))

    def adopt(self, order: Order) -> None:
        self.put(order)
        self.events.append(OrderAnomaly(self.symbol, order.client_order_id,
                                        f"unknown open order found on the exchange: adopted ({order.side} "
                                        f"{order.qty_lots} lots @ {order.price_ticks} ticks)"))

    # ---- the result
    def step(self) -> Step:
        cmds = list(self.commands)
        for i in range(0, len(self.cancels), MAX_BATCH_CANCEL):
            cmds.append(CancelOrders(self.symbol, tuple(self.cancels[i:i + MAX_BATCH_CANCEL])))
        for i in range(0, len(self.places), MAX_BATCH_PLACE):
            cmds.append(PlaceOrders(self.symbol, tuple(self.places[i:i + MAX_BATCH_PLACE])))
        cmds += self.tail
        events = list(self.events)
        if self.persist or self.pruned or self.position_changed:
            events.append(OpenOrdersView(self.symbol, self.book.live(), self.book.exposure(), self.position.lots,
                                         self.now))
        budget = self.budget.spend(Kind.PLACE, self.places_spent, self.now).spend(
            Kind.CANCEL, self.cancels_spent, self.now)  # one window update per kind, not one per order
        state = msgspec.structs.replace(self.s, book=self.book, position=self.position, ledger=self.ledger,
                                        budget=budget, ids=self.ids, **self.changes)
        return Step(state, tuple(self.persist.values()), tuple(self.fills),
                    self.position if self.position_changed else None, self.ledger if self.ledger_changed else None,
                    tuple(cmds), tuple(events), self.pruned)


# ---------------------------------------------------------------- start, stop, resume


def start(symbol: str, instrument: Instrument, params: OmsParams, ids: ClientIds, now_ns: int, *,
          stored_orders: tuple[Order, ...] = (), position: Position | None = None,
          ledger: FillLedger | None = None) -> Step:
    """A fresh start or a restart from the store. ``ids`` carries a new run id (``ids.next_run_id``).

    Stored orders that may have been sent become UNKNOWN (they are looked up); ``position`` None means
    nothing stored: the exchange's position is taken. Quoting waits for the first reconciliation.
    """
    book = Book.of(symbol, (recovered(o, now_ns) for o in stored_orders))
    state = OmsState(symbol, instrument, params, book, position or Position(), ledger or FillLedger(),
                     Budget.start(params.budget, now_ns), ids, Mode.RECONCILING, position is not None)
    acc = _Acc(state, now_ns)
    for o in stored_orders:
        if book.get(o.client_order_id) != o:
            acc.persist[o.client_order_id] = book.get(o.client_order_id)  # type: ignore[assignment]
    _begin_round(acc)
    return acc.step()


def panicstop(state: OmsState, reason: str, now_ns: int) -> Step:
    """Cancel everything now (risk HALTED, supervisor escalation). Confirmation: the CancelAll reply (an
    OpenOrdersSnapshot), each order's own CANCELED, lookups of those still unconfirmed after the follow-up
    delay; orders acknowledged later are cancelled as they appear."""
    acc = _Acc(state, now_ns)
    acc.changes.update(mode=Mode.HALTED, halt_reason=reason)
    acc.commands.append(CancelAll(state.symbol, reason, now_ns))
    for c in cancel_everything(state.book, reason).cancels:
        o = acc.book.get(c.client_order_id)
        if o is not None and o.status is Status.NEW:
            acc.apply(o.client_order_id, local(Ev.CANCEL, now_ns, "withdrawn"))
        elif o is not None:  # covered by CancelAll: marked, counted, not sent twice
            acc.apply(o.client_order_id, local(Ev.CANCEL, now_ns))
            acc.cancels_spent += 1
    return acc.step()


def resume(state: OmsState, now_ns: int) -> Step:
    """Leave HALTED: reconcile first, quote after."""
    acc = _Acc(state, now_ns)
    acc.changes.update(mode=Mode.RECONCILING, halt_reason="")
    _begin_round(acc)
    return acc.step()


# ---------------------------------------------------------------- quoting


def on_target(state: OmsState, target: QuoteTarget, limits: Limits, now_ns: int) -> Step:
    """A new desired set of quotes. ``limits`` is risk's current effective limit (the pre-trade check)."""
    if state.mode is not Mode.QUOTING:
        return Step(state)
    acc = _Acc(state, now_ns)
    b = state.budget
    p = plan(target, state.book, state.position.lots, limits, state.instrument, state.params.tolerance, now_ns,
             min_lifetime_ns=state.params.budget.min_lifetime_ns,
             cancel_allowance=b.allow(Kind.CANCEL, UNLIMITED, now_ns),
             place_allowance=b.allow(Kind.PLACE, UNLIMITED, now_ns))
    if p.empty:
        return Step(state)
    _cancel_all(acc, p.cancels)
    cids, acc.ids = acc.ids.take(len(p.places))
    for placement, cid in zip(p.places, cids, strict=True):
        acc.place(placement, cid)
    return acc.step()


def _cancel_all(acc: _Acc, cancels: tuple[Cancel, ...]) -> None:
    for c in cancels:
        acc.cancel(c.client_order_id, safety=c.safety)


# ---------------------------------------------------------------- what the exchange says


def on_order_report(state: OmsState, report: OrderReport, now_ns: int) -> Step:
    """A REST reply (placement, cancel, lookup) about one order."""
    acc = _Acc(state, now_ns)
    _exchange(acc, report, None)
    return acc.step()


def on_order_update(state: OmsState, update: OrderUpdate, now_ns: int) -> Step:
    """A user-stream ORDER_TRADE_UPDATE (with its fill, if any)."""
    acc = _Acc(state, now_ns)
    _exchange(acc, update.report, update.fill)
    return acc.step()


def _exchange(acc: _Acc, report: OrderReport, fill: Fill | None) -> None:
    if report.symbol != acc.symbol:
        return
    o = acc.book.find(report.client_order_id, report.order_id)
    if o is not None:
        acc.apply(o.client_order_id, from_report(report, acc.s.instrument, acc.now, fill))
        return
    inst = acc.s.instrument
    exchange_order = report.client_order_id.startswith(EXCHANGE_ORDER_PREFIXES)
    if fill is not None:
        acc.count_fill(fill, inst.qty_to_lots(fill.qty), ours=False)
        what = "liquidation/ADL/settlement fill" if exchange_order else "fill of an order not in the book"
        acc.events.append(OrderAnomaly(acc.symbol, report.client_order_id, what, severe=exchange_order))
    if report.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED) and not exchange_order:
        _orphan(acc, adopted_order(report, inst, acc.now))


def _orphan(acc: _Acc, order: Order) -> None:
    acc.adopt(order)
    if acc.s.params.reconcile.orphans is OrphanPolicy.CANCEL or acc.mode is Mode.HALTED:
        acc.cancel(order.client_order_id, safety=True)


def on_order_rejected(state: OmsState, msg: OrderRejected, now_ns: int) -> Step:
    """The gateway's verdict on a placement that produced no report."""
    if state.book.get(msg.client_order_id) is None:
        return Step(state)
    acc = _Acc(state, now_ns)
    kind = msg.kind.lower()  # the gateway's ErrorKind values, in either case
    if kind in ("rate_limited", "banned"):
        acc.budget = acc.budget.hold(now_ns + max(msg.retry_after_ms, 1000) * MS)
    if kind == "unknown_state":
        acc.apply(msg.client_order_id, local(Ev.SEND_UNKNOWN, now_ns, msg.reason))
    else:
        acc.apply(msg.client_order_id, local(Ev.REJECT, now_ns, f"{msg.kind} {msg.code}: {msg.reason}"))
        if msg.code != POST_ONLY_WOULD_TAKE:
            acc.events.append(OrderAnomaly(state.symbol, msg.client_order_id,
                                           f"rejected ({msg.kind} {msg.code}): {msg.reason}"))
    return acc.step()


def on_cancel_rejected(state: OmsState, msg: CancelRejected, now_ns: int) -> Step:
    """The gateway's verdict on a cancel that produced no report."""
    if state.book.get(msg.client_order_id) is None:
        return Step(state)
    acc = _Acc(state, now_ns)
    if msg.code == -2013:
        kind = Ev.NOT_FOUND
    elif msg.kind.lower() == "unknown_state" or msg.code == -2011:
        kind = Ev.CANCEL_UNKNOWN  # the follow-up cancels again, which confirms
    else:
        kind = Ev.CANCEL_FAILED
    acc.apply(msg.client_order_id, local(kind, now_ns, f"cancel {msg.kind} {msg.code}: {msg.reason}"))
    return acc.step()


def on_order_not_found(state: OmsState, msg: OrderNotFound, now_ns: int) -> Step:
    """A lookup said -2013. For a placement that may still be in flight it proves nothing yet."""
    o = state.book.get(msg.client_order_id)
    if o is None:
        return Step(state)
    if o.status in PENDING and now_ns - o.sent_ns < state.params.followup_after_ms * MS:
        return Step(state)  # the next follow-up asks again, once the send has settled
    acc = _Acc(state, now_ns)
    acc.apply(msg.client_order_id, local(Ev.NOT_FOUND, now_ns, "not found (-2013)"))
    return acc.step()


# ---------------------------------------------------------------- reconciliation


def _begin_round(acc: _Acc) -> None:
    s = acc.s
    acc.changes["round"] = Round(acc.now)
    acc.tail += [QueryOpenOrders(s.symbol, acc.now),
                 QueryFills(s.symbol, acc.ledger.fetch_from, s.params.fills_page, acc.now,
                            acc.ledger.fetch_since_ms),
                 QueryPosition(s.symbol, acc.now)]


def begin_reconcile(state: OmsState, now_ns: int) -> Step:
    """Start a reconciliation now (the periodic one starts from ``on_tick``)."""
    acc = _Acc(state, now_ns)
    _begin_round(acc)
    return acc.step()


def _round(state: OmsState, asked_ns: int) -> Round | None:
    r = state.round
    return r if r is not None and r.asked_ns == asked_ns else None


def on_open_orders(state: OmsState, snap: OpenOrdersSnapshot, now_ns: int) -> Step:
    """Open orders: part of a reconciliation, or the confirmation of a CancelAll."""
    r = _round(state, snap.asked_ns)
    if r is not None:
        return _maybe_finish(state, msgspec.structs.replace(r, open_orders=snap.orders), now_ns)
    acc = _Acc(state, now_ns)
    listed = {o.client_order_id for o in snap.orders if o.symbol == state.symbol}
    for report in snap.orders:
        _exchange(acc, report, None)
    for o in acc.book.live():
        if o.client_order_id not in listed and o.status is not Status.NEW and o.sent_ns < snap.asked_ns:
            acc.query(o.client_order_id)
    if acc.mode is Mode.HALTED and listed:
        acc.events.append(OrderAnomaly(state.symbol, "", f"{len(listed)} orders still open after cancel-all",
                                       severe=True))
    return acc.step()


def on_fills(state: OmsState, snap: FillsSnapshot, now_ns: int) -> Step:
    """One page of fills of a reconciliation; a full page asks for the next one."""
    r = _round(state, snap.asked_ns)
    if r is None:
        return Step(state)
    fills = r.fills + snap.fills
    if snap.fills and len(snap.fills) >= snap.limit:
        nxt = max(f.trade_id for f in snap.fills) + 1
        r = msgspec.structs.replace(r, fills=fills)
        return Step(msgspec.structs.replace(state, round=r),
                    commands=(QueryFills(state.symbol, nxt, snap.limit, snap.asked_ns),))
    return _maybe_finish(state, msgspec.structs.replace(r, fills=fills, fills_done=True), now_ns)


def on_position(state: OmsState, snap: PositionSnapshot, now_ns: int) -> Step:
    r = _round(state, snap.asked_ns)
    if r is None:
        return Step(state)
    return _maybe_finish(state, msgspec.structs.replace(r, position=snap), now_ns)


def on_query_failed(state: OmsState, msg: QueryFailed, now_ns: int) -> Step:
    """A query of the current round failed: the whole round is asked again ``query_retry_ms`` later (its other
    answers may be stale by then; the round is cheap)."""
    r = _round(state, msg.asked_ns)
    if r is None or r.failed_ns:
        return Step(state)
    return Step(msgspec.structs.replace(state, round=msgspec.structs.replace(r, failed_ns=now_ns)))


def _maybe_finish(state: OmsState, r: Round, now_ns: int) -> Step:
    state = msgspec.structs.replace(state, round=r)
    if r.open_orders is None or not r.fills_done or r.position is None:
        return Step(state)
    acc = _Acc(state, now_ns)
    inst = state.instrument
    exchange_lots = inst.qty_to_lots(r.position.qty)
    rp = reconcile(state.book, r.open_orders, r.fills, exchange_lots,
                   state.position.lots if state.position_known else None, state.params.reconcile,
                   instrument=inst, ledger=state.ledger, asked_ns=r.asked_ns, now_ns=now_ns,
                   position_ms=r.position.update_ms)
    for order in rp.adopt:
        acc.adopt(order)
    for order in rp.revive:
        acc.put(order)
        acc.events.append(OrderAnomaly(state.symbol, order.client_order_id,
                                       "an order we took for done is open on the exchange: cancelling", severe=True))
        acc.cancel(order.client_order_id, safety=True)
    for cid in rp.cancel:
        acc.cancel(cid, safety=True)
    if acc.mode is Mode.HALTED:
        for order in rp.adopt:
            acc.cancel(order.client_order_id, safety=True)
    for report in rp.reports:
        _exchange(acc, report, None)
    for cid in rp.query:
        acc.query(cid)
    for f in rp.fills:
        o = acc.book.find(f.client_order_id, f.order_id)
        if o is not None:
            acc.apply(o.client_order_id, from_fill(f, inst, now_ns))
        if not acc.ledger.seen(f.trade_id):  # no order, or the order had it: count it for the position
            acc.count_fill(f, inst.qty_to_lots(f.qty), ours=o is not None,
                           client_order_id=o.client_order_id if o is not None else "")
    ledger = acc.ledger.advance(rp.cursor, rp.since_ms)
    if ledger != acc.ledger:
        acc.ledger, acc.ledger_changed = ledger, True
    if rp.mismatch is not None:
        acc.events.append(rp.mismatch)
    if rp.position_lots is not None:  # first run, or a mismatch: the exchange's figure (+ newer fills)
        entry = r.position.entry_price if not state.position_known else None
        acc.position = acc.position.with_lots(rp.position_lots, entry)
        acc.position_changed = True
    acc.changes.update(round=None, last_reconcile_ns=now_ns, position_known=True)
    if acc.mode is Mode.RECONCILING:
        acc.changes["mode"] = Mode.QUOTING
    return acc.step()


# ---------------------------------------------------------------- time


def on_tick(state: OmsState, now_ns: int) -> Step:
    """The timer: follow-ups on unanswered orders, cancels in HALTED, pruning, periodic reconciliation."""
    p = state.params
    after = p.followup_after_ms * MS
    acc = _Acc(state, now_ns)
    for o in state.book.live():
        if o.status in (Status.PENDING_NEW, Status.UNKNOWN):
            if now_ns - max(o.sent_ns, o.checked_ns) >= after:
                acc.query(o.client_order_id)
        elif o.status is Status.PENDING_CANCEL:
            if now_ns - max(o.cancel_sent_ns, o.checked_ns) >= after:
                acc.cancel(o.client_order_id, safety=True)  # a repeated cancel is confirmed by the gateway
        elif state.mode is Mode.HALTED and o.status in RESTING:
            acc.cancel(o.client_order_id, safety=True)
    acc.book, acc.pruned = acc.book.prune(now_ns, p.keep_terminal_ms * MS)
    r = state.round
    due = now_ns - state.last_reconcile_ns >= p.reconcile_every_ms * MS
    lost = r is not None and now_ns - r.asked_ns >= 4 * after  # answers lost (gateway restart): ask again
    failed = r is not None and r.failed_ns > 0 and now_ns - r.failed_ns >= p.query_retry_ms * MS
    if (r is None and due) or lost or failed:
        _begin_round(acc)
    if not (acc.persist or acc.cancels or acc.tail or acc.pruned or acc.commands):
        return Step(state)
    return acc.step()
