"""Desired quotes vs live orders → what to cancel and what to place, cancels first.

Rules, per side:

* a live order that matches a desired quote within the refresh tolerance (price within ``price_ticks``,
  remaining quantity within ``qty_fraction`` of the quote, same reduce-only flag) is kept: no requote;
* orders still being placed (NEW, PENDING_NEW, UNKNOWN) are matched like the others but never cancelled
  (a cancel could overtake the placement and leave the order resting unseen); a pending order that
  matches nothing keeps its slot until it is acknowledged, so nothing is duplicated meanwhile;
* orders being cancelled (PENDING_CANCEL) are never re-cancelled, never matched, and still count in the
  exposure until the exchange confirms them;
* a resting order that matches nothing is cancelled: for a requote only when it has lived
  ``min_lifetime_ns`` and the cancel budget allows; as a safety cancel (always, at once) when its side was
  withdrawn, when it is not reduce-only on a reduce-only side, or when the worst case breaches the limit;
* the number of resting-or-pending orders on a side never exceeds the number of desired quotes: an order
  that cannot be cancelled yet keeps its slot, so a held-back requote does not pile orders up;
* a placement is made only if the worst case (position + every order that could still fill on that side,
  including the ones this plan cancels, until confirmed + the new order) stays within the limit. So a side
  never gets a new order while a cancel on it is needed to stay within the limit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from itertools import zip_longest
from typing import NamedTuple, TypeVar

import msgspec

from actors.gateway.events import Side
from actors.instrument import Instrument
from actors.oms.book import Book
from actors.oms.order import MAY_FILL, PENDING, RESTING, Order, Status
from actors.strategy.messages import Quote, QuoteTarget

UNLIMITED = 1 << 62
T = TypeVar("T")


class Tolerance(msgspec.Struct, frozen=True):
    """The refresh tolerance: how far a live order may be from the desired quote and still be kept."""

    price_ticks: int = 1
    qty_fraction: Decimal = Decimal("0.25")

    def matches(self, order: Order, quote: Quote) -> bool:
        return (abs(order.price_ticks - quote.price_ticks) <= self.price_ticks
                and abs(order.remaining_lots - quote.qty_lots) <= quote.qty_lots * self.qty_fraction)


class Limits(msgspec.Struct, frozen=True):
    """The worst-case position must stay within [-max_short_lots, +max_long_lots] (risk's effective limit)."""

    max_long_lots: int
    max_short_lots: int


class Placement(msgspec.Struct, frozen=True):
    side: Side
    price_ticks: int
    qty_lots: int
    reduce_only: bool = False


class Cancel(msgspec.Struct, frozen=True):
    client_order_id: str
    side: Side
    safety: bool  # never refused by the budget nor delayed by the minimum lifetime
    why: str


class Plan(msgspec.Struct, frozen=True):
    cancels: tuple[Cancel, ...] = ()  # safety cancels first; send all cancels before any placement
    places: tuple[Placement, ...] = ()  # best price first, sides interleaved
    held_by_limit: int = 0  # desired quotes not placed: the worst case would pass the limit
    held_by_budget: int = 0  # requotes deferred by the budget, the minimum lifetime or a pending order
    invalid: int = 0  # desired quotes the exchange would refuse (size, notional, price)

    @property
    def empty(self) -> bool:
        return not self.cancels and not self.places


class _Grid(NamedTuple):
    """The instrument's order limits in integers, computed once per instrument (the Decimal arithmetic of
    ``Instrument.notional``, ``min_lots`` and ``max_lots`` was a third of a plan's cost)."""

    min_lots: int  # at least 1
    max_lots: int
    min_ticks_x_lots: int  # notional >= MIN_NOTIONAL  <=>  price_ticks * qty_lots >= this (exact)


_GRIDS: dict[int, tuple[Instrument, _Grid]] = {}


def _grid(instrument: Instrument) -> _Grid:
    got = _GRIDS.get(id(instrument))
    if got is not None and got[0] is instrument:
        return got[1]
    unit = Fraction(instrument.tick_size) * Fraction(instrument.step_size)  # the notional of 1 tick x 1 lot
    g = _Grid(max(1, instrument.min_lots), instrument.max_lots, math.ceil(Fraction(instrument.min_notional) / unit))
    if len(_GRIDS) > 256:
        _GRIDS.clear()
    _GRIDS[id(instrument)] = (instrument, g)
    return g


def _valid(q: Quote, reduce_only: bool, grid: _Grid) -> bool:
    if q.price_ticks <= 0 or not grid.min_lots <= q.qty_lots <= grid.max_lots:
        return False
    return reduce_only or q.price_ticks * q.qty_lots >= grid.min_ticks_x_lots


def _match(quotes: Sequence[Quote], candidates: list[Order], reduce_only: bool, tol: Tolerance
           ) -> tuple[list[Order], list[Quote], list[Order]]:
    """Greedy, best quote first: each takes the closest unmatched candidate within tolerance."""
    free = [o for o in candidates if o.reduce_only == reduce_only]
    others = [o for o in candidates if o.reduce_only != reduce_only]
    kept: list[Order] = []
    missing: list[Quote] = []
    ticks, frac = tol.price_ticks, tol.qty_fraction
    for q in quotes:
        price, qty = q.price_ticks, q.qty_lots
        room = qty * frac  # Tolerance.matches, inlined
        fits = [o for o in free if abs(o.price_ticks - price) <= ticks
                and abs(o.qty_lots - o.filled_lots - qty) <= room]
        if not fits:
            missing.append(q)
            continue
        best = fits[0] if len(fits) == 1 else min(fits, key=lambda o: (
            abs(o.price_ticks - price), abs(o.remaining_lots - qty), o.created_ns))
        free.remove(best)
        kept.append(best)
    return kept, missing, free + others


class _Side:
    """The first pass over one side: what must go for safety, what could go for a requote."""

    def __init__(self, side: Side, quotes: Sequence[Quote], reduce_only: bool, book: Book,
                 grid: _Grid, tol: Tolerance, now_ns: int, min_lifetime_ns: int) -> None:
        self.side = side
        self.reduce_only = reduce_only
        self.quotes = [q for q in quotes if _valid(q, reduce_only, grid)]
        self.invalid = len(quotes) - len(self.quotes)
        self.safety: list[tuple[Order, str]] = []
        exposure = 0  # everything that could fill, cancels unconfirmed
        candidates: list[Order] = []
        for o in book.open.values():  # one pass over the live orders (the book's open dict)
            if o.side is not side:
                continue
            st = o.status
            if st in MAY_FILL:
                exposure += o.qty_lots - o.filled_lots
            if st in RESTING:
                if reduce_only and not o.reduce_only:
                    self.safety.append((o, "not reduce-only on a reduce-only side"))
                else:
                    candidates.append(o)
            elif st in PENDING:
                candidates.append(o)
        self.exposure = exposure
        self.kept, self.missing, unmatched = _match(self.quotes, candidates, reduce_only, tol)
        self.pending_unmatched = [o for o in unmatched if o.status in PENDING]
        resting_unmatched = [o for o in unmatched if o.status in RESTING]
        self.requote: list[Order] = []  # may be cancelled, oldest first
        self.young: list[Order] = []  # too young to be replaced yet
        if not self.quotes and not self.invalid:
            self.safety += [(o, "side withdrawn") for o in resting_unmatched]
        else:
            for o in resting_unmatched:
                (self.requote if now_ns - o.sent_ns >= min_lifetime_ns else self.young).append(o)

    def finish(self, requote_ok: list[Order], position_lots: int, limits: Limits
               ) -> tuple[list[tuple[Order, str]], list[Placement], int, int]:
        """Second pass, once the budget chose the requote cancels: limit cancels, then placements."""
        cancels = self.safety + [(o, "requote") for o in requote_ok]
        staying = self.kept + self.young + self.requote + self.pending_unmatched
        if cancels:
            gone = {o.client_order_id for o, _ in cancels}
            staying = [o for o in staying if o.client_order_id not in gone]
        sign = 1 if self.side is Side.BUY else -1
        limit = limits.max_long_lots if self.side is Side.BUY else limits.max_short_lots
        base = sign * position_lots

        # Within the limit once every cancel is confirmed? Else cancel more, the worst-priced first.
        after = sum(o.exposure_lots for o in staying)
        left = len(staying)
        if base + after > limit:
            for o in sorted((o for o in staying if o.status in RESTING), key=lambda o: sign * o.price_ticks):
                if base + after <= limit:
                    break
                cancels.append((o, "worst case beyond the limit"))
                after -= o.exposure_lots
                left -= 1
        slots = len(self.quotes) - left
        exposure = self.exposure  # cancels are not confirmed yet: their orders may still fill
        places: list[Placement] = []
        held_limit = held_budget = 0
        for q in self.missing:
            if slots <= 0:
                held_budget += 1
            elif base + exposure + q.qty_lots > limit:
                held_limit += 1
            else:
                places.append(Placement(self.side, q.price_ticks, q.qty_lots, self.reduce_only))
                exposure += q.qty_lots
                slots -= 1
        return cancels, places, held_limit, held_budget


def _interleave(a: Sequence[T], b: Sequence[T]) -> list[T]:
    return [x for pair in zip_longest(a, b) for x in pair if x is not None]


def plan(target: QuoteTarget, book: Book, position_lots: int, limits: Limits, instrument: Instrument,
         tolerance: Tolerance, now_ns: int, *, min_lifetime_ns: int = 0, cancel_allowance: int = UNLIMITED,
         place_allowance: int = UNLIMITED) -> Plan:
    """The plan that moves the live orders towards ``target``; see the module docstring for the rules.

    ``cancel_allowance``/``place_allowance`` come from the budget (safety cancels ignore them).
    """
    if target.symbol != book.symbol:
        raise ValueError(f"target for {target.symbol} given to the book of {book.symbol}")
    grid = _grid(instrument)
    bids = _Side(Side.BUY, target.bids, target.reduce_only_bids, book, grid, tolerance, now_ns, min_lifetime_ns)
    asks = _Side(Side.SELL, target.asks, target.reduce_only_asks, book, grid, tolerance, now_ns, min_lifetime_ns)
    if bids.requote or asks.requote:
        requotes = _interleave(bids.requote, asks.requote)
        chosen = {o.client_order_id for o in requotes[:max(0, cancel_allowance)]}
        deferred = len(requotes) - len(chosen)
        bid_ok = [o for o in bids.requote if o.client_order_id in chosen]
        ask_ok = [o for o in asks.requote if o.client_order_id in chosen]
    else:
        deferred, bid_ok, ask_ok = 0, [], []
    cb, pb, lb, hb = bids.finish(bid_ok, position_lots, limits)
    ca, pa, la, ha = asks.finish(ask_ok, position_lots, limits)
    cancels = [Cancel(o.client_order_id, o.side, why != "requote", why) for o, why in cb + ca]
    cancels.sort(key=lambda c: not c.safety)  # stable: safety first
    places = _interleave(pb, pa) if pb and pa else pb or pa
    n_places = max(0, min(place_allowance, len(places)))
    return Plan(tuple(cancels), tuple(places[:n_places]), held_by_limit=lb + la,
                held_by_budget=hb + ha + deferred + len(places) - n_places, invalid=bids.invalid + asks.invalid)


def cancel_everything(book: Book, why: str = "panicstop") -> Plan:
    """Panicstop as a plan: every order that can be cancelled now, as safety cancels (NEW ones are simply
    withdrawn; orders still being placed are cancelled as soon as they are acknowledged)."""
    return Plan(tuple(Cancel(o.client_order_id, o.side, True, why) for o in book.live()
                      if o.status in RESTING or o.status is Status.NEW))
