"""Reconciliation with the exchange, at start and periodically (lesson 4: orphan orders, lost mappings).

Three answers are compared with our book: the open orders, our fills since the ledger's cursor (all pages)
and the position. Out come values, nothing is done here: orphans to adopt (and cancel, per policy), our
live orders the exchange does not list (to look up one by one: filled, cancelled, expired or not found),
fills never counted (to apply, once), and a ``PositionMismatch`` when the positions differ.

The position comparison is "as of" the exchange's figure: fills newer than the position's last update are
backed out of ours first, so a fill racing the queries is not taken for a mismatch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum

import msgspec

from actors.gateway.events import Fill, OrderReport, OrderStatus, Side
from actors.instrument import Instrument
from actors.oms.book import Book
from actors.oms.messages import PositionMismatch
from actors.oms.order import Effect, Ev, Order, OrderEvent, Status, from_report, local
from actors.oms.position import FillLedger

SKEW_MARGIN_MS = 60_000


class OrphanPolicy(StrEnum):
    ADOPT = "adopt"  # keep it: it joins the book (and the exposure); the next plan keeps or requotes it
    CANCEL = "cancel"  # it joins the book (so the cancel is confirmed like any other) and is cancelled


class ReconcilePolicy(msgspec.Struct, frozen=True):
    orphans: OrphanPolicy = OrphanPolicy.CANCEL
    position_tolerance_lots: int = 0


class ReconcilePlan(msgspec.Struct, frozen=True):
    adopt: tuple[Order, ...] = ()  # orphans to add to the book
    revive: tuple[Order, ...] = ()  # ours, taken for done (cancelled/expired/rejected) but listed open: cancel
    cancel: tuple[str, ...] = ()  # client ids to cancel at once (safety): orphans under the CANCEL policy
    reports: tuple[OrderReport, ...] = ()  # open orders we know: apply them (their fills may have advanced)
    query: tuple[str, ...] = ()  # our live orders the exchange does not list: look each one up
    fills: tuple[Fill, ...] = ()  # fills never counted, ascending trade id: apply each once
    cursor: int = 0  # the ledger's cursor after this round
    since_ms: int = 0  # the ledger's time cursor, while it has no id cursor
    exchange_position_lots: int = 0
    position_lots: int | None = None  # after applying ``fills``, hold this position (None: ours is right)
    mismatch: PositionMismatch | None = None


_OPEN_STATUS = {OrderStatus.NEW: Status.OPEN, OrderStatus.PARTIALLY_FILLED: Status.PARTIALLY_FILLED}


def adopted_order(report: OrderReport, instrument: Instrument, now_ns: int) -> Order:
    """An order found open on the exchange that our book does not know, as one of ours."""
    return Order(
        client_order_id=report.client_order_id,
        side=report.side,
        price_ticks=instrument.price_to_ticks(report.price),
        qty_lots=instrument.qty_to_lots(report.orig_qty),
        status=_OPEN_STATUS.get(report.status, Status.OPEN),
        created_ns=now_ns,
        reduce_only=report.reduce_only,
        time_in_force=report.time_in_force,
        exchange_id=report.order_id,
        filled_lots=instrument.qty_to_lots(report.executed_qty),
        avg_price=report.avg_price,
        updated_ns=now_ns,
        exchange_ms=report.update_ms,
        adopted=True,
    )


def reconcile(local_orders: Book, exchange_open: Sequence[OrderReport], exchange_fills_since: Sequence[Fill],
              exchange_position_lots: int, local_position_lots: int | None, policy: ReconcilePolicy, *,
              instrument: Instrument, ledger: FillLedger, asked_ns: int, now_ns: int,
              position_ms: int = 0) -> ReconcilePlan:
    """Compare; see the module docstring. ``exchange_fills_since`` must be complete (every page).

    ``local_position_lots`` None: nothing stored (first run), the exchange's position is taken.
    ``asked_ns``: when the round's queries were sent (wall clock); orders sent later are not expected listed.
    ``position_ms``: the exchange position's last update (exchange time; 0 unknown). Without a ledger cursor
    the fetched fills are the latest page: those up to ``position_ms`` are in the exchange position already,
    the newer ones are applied; the time cursor starts after ``position_ms``.
    """
    symbol = local_orders.symbol
    listed = {r.client_order_id: r for r in exchange_open if r.symbol == symbol}
    adopt: list[Order] = []
    revive: list[Order] = []
    reports: list[OrderReport] = []
    for cid, r in listed.items():
        if r.status not in _OPEN_STATUS:
            continue
        mine = local_orders.get(cid)
        if mine is None:
            adopt.append(adopted_order(r, instrument, now_ns))
        elif mine.terminal and mine.status is not Status.FILLED and mine.updated_ns < asked_ns:
            # We learned it ended before asking, yet it is listed open: our view is wrong (an inferred end).
            revive.append(msgspec.structs.replace(adopted_order(r, instrument, now_ns), adopted=mine.adopted,
                                                  created_ns=mine.created_ns, sent_ns=mine.sent_ns))
        else:
            reports.append(r)  # a listed FILLED order, or one that ended after we asked: a stale listing
    cancel = tuple(o.client_order_id for o in adopt) if policy.orphans is OrphanPolicy.CANCEL else ()
    query = tuple(
        o.client_order_id for o in local_orders.live()
        if o.client_order_id not in listed and o.status is not Status.NEW and (o.sent_ns < asked_ns or o.adopted)
    )

    ours = sorted((f for f in exchange_fills_since if f.symbol == symbol), key=lambda f: f.trade_id)
    top = max((f.trade_id for f in ours), default=ledger.cursor)
    if ledger.cursor:
        new = ours
    elif ledger.since_ms:
        new = [f for f in ours if f.trade_ms >= ledger.since_ms]
    elif position_ms:  # the latest page: what is newer than the exchange's position is not in it
        new = [f for f in ours if f.trade_ms > position_ms]
    else:
        new = []
    fresh: list[Fill] = []
    seen: set[int] = set()
    for f in new:
        if not ledger.seen(f.trade_id) and f.trade_id not in seen:
            seen.add(f.trade_id)
            fresh.append(f)

    # Our position "as of" the exchange's figure: fills newer than its last update are backed out.
    after, fresh_lots = ledger, 0
    for f in fresh:
        lots = instrument.qty_to_lots(f.qty)
        fresh_lots += lots if f.side is Side.BUY else -lots
        after = after.add(f, lots)
    newer = after.lots_after(position_ms) if position_ms else 0
    mismatch = None
    hold = None
    if local_position_lots is None:
        hold = exchange_position_lots + newer
    else:
        as_of = local_position_lots + fresh_lots - newer
        if abs(exchange_position_lots - as_of) > policy.position_tolerance_lots:
            mismatch = PositionMismatch(symbol, as_of, exchange_position_lots, now_ns)
            hold = exchange_position_lots + newer
    # Without an id cursor, count fills from just after the position's last change; a position that never
    # changed has had no fills, so from shortly before this round (the margin covers a skewed clock).
    since = ledger.since_ms or (position_ms + 1 if position_ms else max(1, asked_ns // 1_000_000 - SKEW_MARGIN_MS))
    return ReconcilePlan(tuple(adopt), tuple(revive), cancel, tuple(reports), query, tuple(fresh),
                         max(top, ledger.cursor), since, exchange_position_lots, hold, mismatch)


def query_event(result: OrderReport | None, instrument: Instrument, now_ns: int) -> OrderEvent:
    """A lookup's answer as an event: the order's report, or None for -2013 (not found)."""
    if result is None:
        return local(Ev.NOT_FOUND, now_ns, "not found (-2013)")
    return from_report(result, instrument, now_ns)


def apply_query_results(book: Book, results: Mapping[str, OrderReport | None] | Iterable[tuple[str, OrderReport |
                        None]], instrument: Instrument, now_ns: int) -> tuple[Book, tuple[Effect, ...]]:
    """Apply lookups (filled / cancelled / expired / still open / not found) to the book."""
    items = results.items() if isinstance(results, Mapping) else results
    effects: list[Effect] = []
    for cid, result in items:
        if book.get(cid) is None:
            continue
        book, _, eff = book.apply(cid, query_event(result, instrument, now_ns))
        effects += eff
    return book, tuple(effects)
