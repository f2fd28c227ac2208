"""One order's life: its value, its statuses, the transition table and ``apply``.

Everything the exchange tells us about an order can be duplicated, late or out of order, and REST replies
race user-stream updates. The table below therefore has rows for those real-world edges; only an event
that cannot happen at all (a fill for an order never sent, a cancel of a finished order...) raises
``IllegalTransition``. Quantities are handled beside the table, the same way for every row: fills count
once per trade id, the cumulative filled quantity never decreases and never exceeds the order's quantity
(an exchange that says otherwise produces an ``Anomaly``, it is not hidden).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import msgspec

from actors.gateway.events import Fill, OrderReport, OrderStatus, Side
from actors.instrument import Instrument

ZERO = Decimal(0)


class Status(StrEnum):
    NEW = "NEW"  # created and in the book, not yet handed to the gateway
    PENDING_NEW = "PENDING_NEW"  # handed to the gateway, no answer yet
    UNKNOWN = "UNKNOWN"  # the send's outcome is unknown (timeout, 5xx, restart): must be looked up
    OPEN = "OPEN"  # acknowledged, nothing filled
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"  # cancel handed to the gateway, not yet confirmed
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"  # never placed (exchange reject, not sent, or not found after the send settled)
    EXPIRED = "EXPIRED"  # ended by the exchange (GTX, self-trade prevention, reduce-only, gone)


TERMINAL = frozenset({Status.FILLED, Status.CANCELED, Status.REJECTED, Status.EXPIRED})
# Every status in which the order may still fill (or may exist and fill): these count in the exposure.
# NEW counts too: it is about to be sent, so a pre-trade check must already see it.
MAY_FILL = frozenset({Status.NEW, Status.PENDING_NEW, Status.UNKNOWN, Status.OPEN, Status.PARTIALLY_FILLED,
                      Status.PENDING_CANCEL})
RESTING = frozenset({Status.OPEN, Status.PARTIALLY_FILLED})  # acknowledged and cancellable
PENDING = frozenset({Status.NEW, Status.PENDING_NEW, Status.UNKNOWN})  # placement not settled


class Ev(StrEnum):
    """What happened to an order. Local events are our own actions and the gateway's verdicts on them."""

    SEND = "SEND"  # local: the placement is handed to the gateway
    SEND_UNKNOWN = "SEND_UNKNOWN"  # gateway: the placement's outcome is unknown
    REJECT = "REJECT"  # gateway/exchange: not placed (business reject, or not sent: rate limit, ban...)
    CANCEL = "CANCEL"  # local: a cancel is handed to the gateway
    CANCEL_FAILED = "CANCEL_FAILED"  # gateway: the cancel did not happen (not sent, rate-limited...)
    CANCEL_UNKNOWN = "CANCEL_UNKNOWN"  # gateway: the cancel's outcome is unknown (timeout, -2011)
    ACK = "ACK"  # exchange: status NEW
    PARTIAL = "PARTIAL"  # exchange: PARTIALLY_FILLED, or a fill that leaves a remainder
    FILL = "FILL"  # exchange: FILLED (or a cumulative quantity that reaches the order's quantity)
    CANCELED = "CANCELED"  # exchange: CANCELED
    EXPIRED = "EXPIRED"  # exchange: EXPIRED / EXPIRED_IN_MATCH
    NOT_FOUND = "NOT_FOUND"  # exchange: -2013, the order does not exist


SAME = "SAME"  # stay: a duplicate, late or out-of-order event (quantities still advance)
LIVE = "LIVE"  # back to live: OPEN or PARTIALLY_FILLED by quantity, UNKNOWN if never acknowledged

S, E = Status, Ev
# (status, event) -> (target, anomaly). A non-empty anomaly is reported (an alert), the row still applies.
# A missing pair is an impossible event: ``apply`` raises IllegalTransition.
TRANSITIONS: dict[tuple[Status, Ev], tuple[str, str]] = {
    (S.NEW, E.SEND): (S.PENDING_NEW, ""),
    (S.NEW, E.CANCEL): (S.CANCELED, ""),  # withdrawn before it was sent: nothing to tell the exchange

    (S.PENDING_NEW, E.SEND_UNKNOWN): (S.UNKNOWN, ""),
    (S.PENDING_NEW, E.REJECT): (S.REJECTED, ""),
    (S.PENDING_NEW, E.ACK): (S.OPEN, ""),
    (S.PENDING_NEW, E.PARTIAL): (S.PARTIALLY_FILLED, ""),  # the fill outran the ack (WS vs REST race)
    (S.PENDING_NEW, E.FILL): (S.FILLED, ""),  # FILLED before the NEW ack
    (S.PENDING_NEW, E.CANCELED): (S.CANCELED, ""),  # cancelled on the exchange (cancel-all, UI) before the ack
    (S.PENDING_NEW, E.EXPIRED): (S.EXPIRED, ""),  # GTX would take, STP, reduce-only: before the ack
    (S.PENDING_NEW, E.NOT_FOUND): (S.REJECTED, ""),  # looked up after the send settled: it never arrived

    (S.UNKNOWN, E.SEND_UNKNOWN): (SAME, ""),  # a repeated lookup is still inconclusive
    (S.UNKNOWN, E.REJECT): (S.REJECTED, ""),  # a reject after an unknown-state send (the re-send settled it)
    (S.UNKNOWN, E.ACK): (S.OPEN, ""),
    (S.UNKNOWN, E.PARTIAL): (S.PARTIALLY_FILLED, ""),
    (S.UNKNOWN, E.FILL): (S.FILLED, ""),
    (S.UNKNOWN, E.CANCELED): (S.CANCELED, ""),
    (S.UNKNOWN, E.EXPIRED): (S.EXPIRED, ""),
    (S.UNKNOWN, E.NOT_FOUND): (S.REJECTED, ""),  # the lookup found nothing after the send settled
    # A cancel repeated, the first answer "not sent" (back to live), then the second answer arrives:
    (S.UNKNOWN, E.CANCEL_FAILED): (SAME, ""),
    (S.UNKNOWN, E.CANCEL_UNKNOWN): (SAME, ""),  # it is looked up anyway

    (S.OPEN, E.SEND_UNKNOWN): (SAME, ""),  # the WS ack outran a REST reply that timed out
    (S.OPEN, E.ACK): (SAME, ""),  # duplicate NEW (REST reply and WS update, or a duplicated event)
    (S.OPEN, E.PARTIAL): (S.PARTIALLY_FILLED, ""),
    (S.OPEN, E.FILL): (S.FILLED, ""),
    (S.OPEN, E.CANCELED): (S.CANCELED, ""),  # cancelled without our asking (cancel-all, UI, exchange)
    (S.OPEN, E.EXPIRED): (S.EXPIRED, ""),
    (S.OPEN, E.CANCEL): (S.PENDING_CANCEL, ""),
    (S.OPEN, E.NOT_FOUND): (S.EXPIRED, "the exchange does not know an order we thought open (-2013)"),
    (S.OPEN, E.CANCEL_FAILED): (SAME, ""),  # the answer to an earlier cancel, after a later one failed
    (S.OPEN, E.CANCEL_UNKNOWN): (S.PENDING_CANCEL, ""),  # an earlier cancel may yet take effect: confirm it

    (S.PARTIALLY_FILLED, E.SEND_UNKNOWN): (SAME, ""),
    (S.PARTIALLY_FILLED, E.ACK): (SAME, ""),  # a late NEW after the first fill
    (S.PARTIALLY_FILLED, E.PARTIAL): (SAME, ""),
    (S.PARTIALLY_FILLED, E.FILL): (S.FILLED, ""),
    (S.PARTIALLY_FILLED, E.CANCELED): (S.CANCELED, ""),
    (S.PARTIALLY_FILLED, E.EXPIRED): (S.EXPIRED, ""),
    (S.PARTIALLY_FILLED, E.CANCEL): (S.PENDING_CANCEL, ""),
    (S.PARTIALLY_FILLED, E.NOT_FOUND): (S.EXPIRED, "the exchange does not know a partially filled order"),
    (S.PARTIALLY_FILLED, E.CANCEL_FAILED): (SAME, ""),
    (S.PARTIALLY_FILLED, E.CANCEL_UNKNOWN): (S.PENDING_CANCEL, ""),

    (S.PENDING_CANCEL, E.SEND_UNKNOWN): (SAME, ""),  # a late REST verdict on the placement
    (S.PENDING_CANCEL, E.ACK): (SAME, ""),  # a late ack, or a lookup showing the cancel not yet done
    (S.PENDING_CANCEL, E.PARTIAL): (SAME, ""),  # fill after the cancel request: still cancelling
    (S.PENDING_CANCEL, E.FILL): (S.FILLED, ""),  # filled before the cancel arrived
    (S.PENDING_CANCEL, E.CANCELED): (S.CANCELED, ""),  # the cancel is confirmed
    (S.PENDING_CANCEL, E.EXPIRED): (S.EXPIRED, ""),
    (S.PENDING_CANCEL, E.CANCEL): (SAME, ""),  # a repeated cancel (unconfirmed, or panicstop)
    (S.PENDING_CANCEL, E.CANCEL_FAILED): (LIVE, ""),  # the cancel never went out: the order rests on
    (S.PENDING_CANCEL, E.CANCEL_UNKNOWN): (SAME, ""),  # to be confirmed by a lookup / repeated cancel
    (S.PENDING_CANCEL, E.NOT_FOUND): (S.CANCELED, ""),  # gone: nothing more can fill

    (S.FILLED, E.SEND_UNKNOWN): (SAME, ""),
    (S.FILLED, E.ACK): (SAME, ""),  # late NEW
    (S.FILLED, E.PARTIAL): (SAME, ""),  # late partial (its trade still counts once)
    (S.FILLED, E.FILL): (SAME, ""),  # duplicate FILLED
    (S.FILLED, E.CANCEL_FAILED): (SAME, ""),  # our cancel raced the fill
    (S.FILLED, E.CANCEL_UNKNOWN): (SAME, ""),  # -2011 on a cancel of an order that had filled
    (S.FILLED, E.NOT_FOUND): (SAME, "the exchange does not know an order that filled"),

    (S.CANCELED, E.SEND_UNKNOWN): (SAME, ""),
    (S.CANCELED, E.ACK): (SAME, ""),  # late NEW after the cancel
    (S.CANCELED, E.PARTIAL): (SAME, ""),  # fill reported after CANCELED arrived out of order
    (S.CANCELED, E.FILL): (S.FILLED, "FILLED after CANCELED: the fill wins"),  # late-fill row
    (S.CANCELED, E.CANCELED): (SAME, ""),  # duplicate
    (S.CANCELED, E.EXPIRED): (SAME, ""),
    (S.CANCELED, E.CANCEL_FAILED): (SAME, ""),  # the cancel's REST reply lost the race to the WS update
    (S.CANCELED, E.CANCEL_UNKNOWN): (SAME, ""),
    (S.CANCELED, E.NOT_FOUND): (SAME, ""),  # old cancelled orders age out of the exchange's history

    (S.EXPIRED, E.SEND_UNKNOWN): (SAME, ""),
    (S.EXPIRED, E.ACK): (SAME, ""),
    (S.EXPIRED, E.PARTIAL): (SAME, ""),  # fill reported after EXPIRED arrived out of order
    (S.EXPIRED, E.FILL): (S.FILLED, "FILLED after EXPIRED: the fill wins"),  # late-fill row
    (S.EXPIRED, E.CANCELED): (SAME, ""),
    (S.EXPIRED, E.EXPIRED): (SAME, ""),
    (S.EXPIRED, E.CANCEL_FAILED): (SAME, ""),
    (S.EXPIRED, E.CANCEL_UNKNOWN): (SAME, ""),
    (S.EXPIRED, E.NOT_FOUND): (SAME, ""),

    (S.REJECTED, E.SEND_UNKNOWN): (SAME, ""),
    (S.REJECTED, E.REJECT): (SAME, ""),  # duplicate
    (S.REJECTED, E.NOT_FOUND): (SAME, ""),
    # A "rejected" we inferred (not found after the send settled) proves wrong: the order exists. It is
    # brought back rather than left resting unseen on the exchange (an orphan, lesson 4).
    (S.REJECTED, E.ACK): (S.OPEN, "an order taken for rejected exists"),
    (S.REJECTED, E.PARTIAL): (S.PARTIALLY_FILLED, "an order taken for rejected exists and fills"),
    (S.REJECTED, E.FILL): (S.FILLED, "an order taken for rejected filled"),
    (S.REJECTED, E.CANCELED): (S.CANCELED, ""),
    (S.REJECTED, E.EXPIRED): (S.EXPIRED, ""),
}
del S, E
_STATUS = {s.value: s for s in Status}  # a row's target as a Status (the Enum call is slow on the hot path)

class IllegalTransition(Exception):
    """An event that cannot happen to an order in this status: our view of the order is wrong."""

    def __init__(self, client_order_id: str, status: Status, event: Ev) -> None:
        super().__init__(f"{client_order_id}: {event.value} is impossible in {status.value}")
        self.client_order_id = client_order_id
        self.status = status
        self.event = event


class Order(msgspec.Struct, frozen=True):
    """One of our orders. Persisted by the shell (upsert by client id) before any command about it is sent."""

    client_order_id: str
    side: Side
    price_ticks: int
    qty_lots: int
    status: Status
    created_ns: int
    reduce_only: bool = False
    time_in_force: str = "GTX"
    exchange_id: int = 0  # 0 until the exchange names it
    filled_lots: int = 0  # cumulative; never decreases, never exceeds qty_lots
    avg_price: Decimal = ZERO  # average fill price (the exchange's, else from the fills seen)
    trade_ids: tuple[int, ...] = ()  # fills counted, by trade id
    fill_lots_seen: int = 0  # the sum of those fills
    sent_ns: int = 0  # placement handed to the gateway
    cancel_sent_ns: int = 0  # last cancel handed to the gateway
    checked_ns: int = 0  # last follow-up (lookup or repeated cancel)
    updated_ns: int = 0  # last change
    exchange_ms: int = 0  # latest exchange timestamp seen
    reason: str = ""  # why it was rejected / cancelled / expired
    adopted: bool = False  # found on the exchange, not placed by this book

    @property
    def remaining_lots(self) -> int:
        return self.qty_lots - self.filled_lots

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def may_fill(self) -> bool:
        return self.status in MAY_FILL

    @property
    def exposure_lots(self) -> int:
        """What could still fill: the remaining quantity while it may fill, else 0."""
        return self.qty_lots - self.filled_lots if self.status in MAY_FILL else 0


class OrderEvent(msgspec.Struct, frozen=True):
    """An event for ``apply``. Exchange quantities are already in lots (see ``from_report``)."""

    kind: Ev
    at_ns: int  # local time the event is handled
    exchange_id: int = 0
    cum_filled_lots: int = -1  # the exchange's cumulative executed quantity; -1 when not carried
    avg_price: Decimal = ZERO
    fill: Fill | None = None
    fill_lots: int = 0
    exchange_ms: int = 0
    reason: str = ""


class NewFill(msgspec.Struct, frozen=True):
    """Effect: a fill counted for the first time on this order (record it in the position, publish it)."""

    fill: Fill
    lots: int


class Anomaly(msgspec.Struct, frozen=True):
    """Effect: the exchange said something that should not happen; reported, never hidden."""

    client_order_id: str
    what: str


Effect = NewFill | Anomaly

_STATUS_EVENT = {
    OrderStatus.NEW: Ev.ACK,
    OrderStatus.PARTIALLY_FILLED: Ev.PARTIAL,
    OrderStatus.FILLED: Ev.FILL,
    OrderStatus.CANCELED: Ev.CANCELED,
    OrderStatus.EXPIRED: Ev.EXPIRED,
    OrderStatus.EXPIRED_IN_MATCH: Ev.EXPIRED,
    OrderStatus.REJECTED: Ev.REJECT,
}


def from_report(report: OrderReport, instrument: Instrument, at_ns: int, fill: Fill | None = None) -> OrderEvent:
    """An exchange report (REST reply, lookup, or the order part of a user-stream update) → OrderEvent."""
    return OrderEvent(
        kind=_STATUS_EVENT[report.status],
        at_ns=at_ns,
        exchange_id=report.order_id,
        cum_filled_lots=instrument.qty_to_lots(report.executed_qty),
        avg_price=report.avg_price,
        fill=fill,
        fill_lots=instrument.qty_to_lots(fill.qty) if fill is not None else 0,
        exchange_ms=report.update_ms,
        reason=report.status.value if report.status is not OrderStatus.NEW else "",
    )


def from_fill(fill: Fill, instrument: Instrument, at_ns: int) -> OrderEvent:
    """A fill known without a report (REST userTrades during reconciliation) → OrderEvent."""
    return OrderEvent(kind=Ev.PARTIAL, at_ns=at_ns, exchange_id=fill.order_id, fill=fill,
                      fill_lots=instrument.qty_to_lots(fill.qty), exchange_ms=fill.trade_ms)


def local(kind: Ev, at_ns: int, reason: str = "") -> OrderEvent:
    """A local event or a gateway verdict without exchange quantities."""
    return OrderEvent(kind=kind, at_ns=at_ns, reason=reason)


def apply(order: Order, event: OrderEvent) -> tuple[Order, tuple[Effect, ...]]:
    """The order after ``event``, and what the caller must act on. Raises IllegalTransition."""
    kind = event.kind
    cid = order.client_order_id
    row = TRANSITIONS.get((order.status, kind))
    if row is None:
        raise IllegalTransition(cid, order.status, kind)
    if (kind is Ev.SEND or kind is Ev.CANCEL) and row[0] != LIVE and event.fill is None and not event.exchange_id \
            and event.cum_filled_lots < 0 and not event.exchange_ms \
            and order.fill_lots_seen <= order.filled_lots <= order.qty_lots:
        return _own_action(order, event, row)
    effects: list[Effect] = []
    changes: dict[str, object] = {"updated_ns": event.at_ns}

    # ---- quantities: the same for every row
    filled = order.filled_lots
    trade_ids, seen = order.trade_ids, order.fill_lots_seen
    avg = order.avg_price
    if event.fill is not None and event.fill.trade_id not in trade_ids:
        trade_ids = (*trade_ids, event.fill.trade_id)
        prev_seen, seen = seen, seen + event.fill_lots
        effects.append(NewFill(event.fill, event.fill_lots))
        if event.cum_filled_lots < 0 and seen > 0:  # no exchange average: the fills' own VWAP
            avg = (avg * prev_seen + event.fill.price * event.fill_lots) / seen if prev_seen else event.fill.price
    reported = max(event.cum_filled_lots, seen)
    if reported > order.qty_lots:
        effects.append(Anomaly(cid, f"executed {reported} lots of an order of {order.qty_lots}"))
        reported = order.qty_lots
    if kind is Ev.FILL and event.cum_filled_lots >= 0 and event.cum_filled_lots < order.qty_lots:
        effects.append(Anomaly(cid, f"FILLED with {event.cum_filled_lots} of {order.qty_lots} lots executed"))
        reported = order.qty_lots
    if reported > filled:
        filled = reported
        if event.cum_filled_lots >= filled and event.avg_price > 0:
            avg = event.avg_price
    if (kind is Ev.PARTIAL or kind is Ev.ACK) and filled >= order.qty_lots:
        kind = Ev.FILL  # the quantities say filled, whatever the status said (seen in real fixtures)
    target, note = TRANSITIONS.get((order.status, kind), (SAME, ""))
    if note:
        effects.append(Anomaly(cid, note))

    # ---- identity and time
    if event.exchange_id:
        if not order.exchange_id:
            changes["exchange_id"] = event.exchange_id
        elif event.exchange_id != order.exchange_id:
            effects.append(Anomaly(cid, f"exchange id {event.exchange_id} differs from {order.exchange_id}"))
    if event.exchange_ms > order.exchange_ms:
        changes["exchange_ms"] = event.exchange_ms
    if kind is Ev.SEND:
        changes["sent_ns"] = event.at_ns
    elif kind is Ev.CANCEL:
        changes["cancel_sent_ns"] = event.at_ns

    # ---- status
    acked = bool(order.exchange_id or event.exchange_id)
    if target == SAME:
        status = order.status
    elif target == LIVE:
        status = _live(filled, acked)
    else:
        status = _STATUS[target]
    if status is Status.OPEN and filled > 0:
        status = Status.PARTIALLY_FILLED
    if status is not order.status and status in TERMINAL and event.reason:
        changes["reason"] = event.reason
    new = msgspec.structs.replace(order, status=status, filled_lots=filled, trade_ids=trade_ids,
                                  fill_lots_seen=seen, avg_price=avg, **changes)
    return new, tuple(effects)


def _own_action(order: Order, event: OrderEvent, row: tuple[str, str]) -> tuple[Order, tuple[Effect, ...]]:
    """``apply`` for our own send or cancel (no fill, no exchange data, consistent quantities): the general
    path below reduces to this (the quantities and identity stay as they are); it runs for every order of every
    requote, so it is spelt out."""
    target, note = row
    status = order.status if target == SAME else _STATUS[target]
    if status is Status.OPEN and order.filled_lots > 0:
        status = Status.PARTIALLY_FILLED
    at = event.at_ns
    reason = event.reason if status is not order.status and status in TERMINAL and event.reason else order.reason
    if event.kind is Ev.SEND:
        new = msgspec.structs.replace(order, status=status, updated_ns=at, sent_ns=at, reason=reason)
    else:
        new = msgspec.structs.replace(order, status=status, updated_ns=at, cancel_sent_ns=at, reason=reason)
    return new, ((Anomaly(order.client_order_id, note),) if note else ())


def _live(filled: int, acked: bool) -> Status:
    if not acked:
        return Status.UNKNOWN  # we cannot tell whether it exists: a lookup settles it
    return Status.PARTIALLY_FILLED if filled > 0 else Status.OPEN


def recovered(order: Order, at_ns: int) -> Order:
    """After a restart: an order we may have sent (NEW or PENDING_NEW in the store) is UNKNOWN until looked up.

    The shell persists an order before sending it, so a stored NEW may have been sent just before a crash.
    """
    if order.status in (Status.NEW, Status.PENDING_NEW):
        return msgspec.structs.replace(order, status=Status.UNKNOWN, updated_ns=at_ns,
                                       sent_ns=order.sent_ns or order.created_ns)
    return order


def touched(order: Order, at_ns: int) -> Order:
    """The order after a follow-up (a lookup or a repeated cancel) was sent for it."""
    return msgspec.structs.replace(order, checked_ns=at_ns)
