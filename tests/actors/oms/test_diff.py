"""Desired vs live: tolerance keeps orders, cancels first, nothing duplicated while pending, limits, reduce-only."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.gateway.events import Side
from actors.oms.book import Book
from actors.oms.diff import Limits, Placement, Tolerance, cancel_everything, plan
from actors.oms.order import Status
from actors.strategy.messages import Quote, QuoteTarget
from tests.actors.oms.helpers import INST, SYMBOL, T0, S, order

WIDE = Limits(1000, 1000)
TOL = Tolerance(price_ticks=2, qty_fraction=Decimal("0.2"))
NOW = T0 + 10 * S


def target(bids=(), asks=(), **kw) -> QuoteTarget:
    return QuoteTarget(SYMBOL, tuple(Quote(p, q) for p, q in bids), tuple(Quote(p, q) for p, q in asks), T0, **kw)


def book(*orders) -> Book:
    return Book.of(SYMBOL, orders)


def run(t, b, position=0, limits=WIDE, **kw):
    return plan(t, b, position, limits, INST, TOL, NOW, **kw)


def test_empty_book_places_everything_best_first_sides_interleaved():
    p = run(target(bids=[(300_000, 10), (299_990, 10)], asks=[(300_010, 10)]), book())
    assert p.cancels == ()
    assert p.places == (Placement(Side.BUY, 300_000, 10), Placement(Side.SELL, 300_010, 10),
                        Placement(Side.BUY, 299_990, 10))


def test_orders_within_tolerance_are_kept():
    b = book(order("b", price=300_000, qty=10), order("a", Side.SELL, price=300_010, qty=10))
    p = run(target(bids=[(300_002, 11)], asks=[(300_008, 9)]), b)  # 2 ticks, 10 % size: inside
    assert p.empty


def test_tolerance_uses_the_remaining_quantity():
    b = book(order("b", price=300_000, qty=10, filled_lots=5, status=Status.PARTIALLY_FILLED))
    p = run(target(bids=[(300_000, 10)]), b)
    assert [c.client_order_id for c in p.cancels] == ["b"] and not p.cancels[0].safety
    assert p.places == (Placement(Side.BUY, 300_000, 10),)


def test_out_of_tolerance_is_requoted_cancel_first():
    b = book(order("b", price=300_000, qty=10))
    p = run(target(bids=[(300_003, 10)]), b)
    assert [(c.client_order_id, c.why) for c in p.cancels] == [("b", "requote")]
    assert p.places == (Placement(Side.BUY, 300_003, 10),)


def test_closest_live_order_is_the_one_kept():
    b = book(order("far", price=299_998), order("near", price=300_000))
    p = run(target(bids=[(300_001, 10)]), b)
    assert [c.client_order_id for c in p.cancels] == ["far"] and p.places == ()


def test_young_orders_are_not_requoted_and_their_slot_is_kept():
    b = book(order("b", price=300_000, sent_ns=NOW - S // 2))
    p = run(target(bids=[(300_005, 10)]), b, min_lifetime_ns=S)
    assert p.empty and p.held_by_budget == 1
    p2 = run(target(bids=[(300_005, 10)]), b, min_lifetime_ns=S // 4)
    assert len(p2.cancels) == 1 and len(p2.places) == 1


def test_cancel_allowance_limits_requotes_and_the_replacements_with_them():
    b = book(order("b1", price=300_000), order("b2", price=299_990), order("a1", Side.SELL, price=300_010))
    t = target(bids=[(300_005, 10), (299_995, 10)], asks=[(300_015, 10)])
    p = run(t, b, cancel_allowance=1)
    assert len(p.cancels) == 1 and len(p.places) == 1  # one slot freed, one order placed
    assert p.places[0].side is p.cancels[0].side
    assert p.held_by_budget >= 2


def test_pending_orders_are_not_duplicated_nor_cancelled():
    b = book(order("pn", price=300_000, status=Status.PENDING_NEW), order("u", Side.SELL, price=300_010,
                                                                          status=Status.UNKNOWN))
    assert run(target(bids=[(300_000, 10)], asks=[(300_010, 10)]), b).empty
    # Out of tolerance: still not cancelled (a cancel could overtake the placement), and its slot is kept.
    p = run(target(bids=[(300_050, 10)], asks=[(300_060, 10)]), b)
    assert p.cancels == () and p.places == () and p.held_by_budget == 2


def test_new_orders_count_as_pending():
    b = book(order("n", price=300_000, status=Status.NEW))
    assert run(target(bids=[(300_000, 10)]), b).empty


def test_pending_cancel_is_not_recancelled_nor_matched_but_counts_in_the_worst_case():
    b = book(order("pc", price=300_000, qty=10, status=Status.PENDING_CANCEL))
    p = run(target(bids=[(300_000, 10)]), b)
    assert p.cancels == () and p.places == (Placement(Side.BUY, 300_000, 10),)
    # With a limit of 15 lots long, the unconfirmed 10 + a new 10 would pass it: the place waits.
    p = run(target(bids=[(300_000, 10)]), b, limits=Limits(15, 15))
    assert p.places == () and p.held_by_limit == 1


def test_requote_near_the_limit_waits_for_the_cancel_confirmation():
    b = book(order("b", price=300_000, qty=10))
    p = run(target(bids=[(300_010, 10)]), b, position=5, limits=Limits(20, 20))
    assert [c.client_order_id for c in p.cancels] == ["b"]
    assert p.places == () and p.held_by_limit == 1  # 5 + 10 (unconfirmed) + 10 > 20


def test_places_only_what_fits_the_limit():
    p = run(target(bids=[(300_000, 10), (299_990, 10)], asks=[(300_010, 10)]), book(), position=8,
            limits=Limits(20, 5))
    # long: 8 + 10 = 18 fits, + 10 more does not; short: 8 - 10 = -2 >= -5 fits.
    assert p.places == (Placement(Side.BUY, 300_000, 10), Placement(Side.SELL, 300_010, 10))
    assert p.held_by_limit == 1


def test_over_the_limit_cancels_worst_priced_first_as_safety():
    b = book(order("b1", price=300_000, qty=10), order("b2", price=299_990, qty=10),
             order("b3", price=299_980, qty=10))
    t = target(bids=[(300_000, 10), (299_990, 10), (299_980, 10)])
    p = run(t, b, position=10, limits=Limits(25, 25))  # 10 + 30 = 40 > 25: cancel two
    assert [(c.client_order_id, c.safety) for c in p.cancels] == [("b3", True), ("b2", True)]
    assert p.places == ()


def test_limit_cancels_ignore_the_minimum_lifetime_and_the_allowance():
    b = book(order("b", price=300_000, qty=10, sent_ns=NOW))
    p = run(target(bids=[(300_000, 10)]), b, position=0, limits=Limits(5, 5), min_lifetime_ns=S,
            cancel_allowance=0)
    assert [(c.client_order_id, c.safety) for c in p.cancels] == [("b", True)]


def test_withdrawn_side_is_cancelled_at_once():
    b = book(order("b", price=300_000, sent_ns=NOW), order("a", Side.SELL, price=300_010, sent_ns=NOW))
    p = run(target(asks=[(300_010, 10)]), b, min_lifetime_ns=S, cancel_allowance=0)
    assert [(c.client_order_id, c.safety, c.why) for c in p.cancels] == [("b", True, "side withdrawn")]


def test_reduce_only_side_places_reduce_only_and_cancels_the_others():
    b = book(order("a", Side.SELL, price=300_010, qty=10, sent_ns=NOW))
    t = target(asks=[(300_010, 10)], reduce_only_asks=True)
    p = run(t, b, position=10, min_lifetime_ns=S, cancel_allowance=0)
    assert [(c.client_order_id, c.safety) for c in p.cancels] == [("a", True)]
    assert p.places == (Placement(Side.SELL, 300_010, 10, reduce_only=True),)


def test_reduce_only_order_is_kept_on_a_reduce_only_side():
    b = book(order("a", Side.SELL, price=300_010, qty=10, reduce_only=True))
    assert run(target(asks=[(300_010, 10)], reduce_only_asks=True), b, position=10).empty


def test_reduce_only_is_exempt_from_min_notional():
    small = target(asks=[(300_010, 1)])  # 30 USDC x 0.001 = 3 USDC < 20
    assert run(small, book()).invalid == 1 and run(small, book()).places == ()
    p = run(target(asks=[(300_010, 1)], reduce_only_asks=True), book(), position=1)
    assert p.places == (Placement(Side.SELL, 300_010, 1, reduce_only=True),)


def test_place_allowance_interleaves_sides():
    p = run(target(bids=[(300_000, 10), (299_990, 10)], asks=[(300_010, 10), (300_020, 10)]), book(),
            place_allowance=2)
    assert [pl.side for pl in p.places] == [Side.BUY, Side.SELL] and p.held_by_budget == 2


def test_cancels_are_listed_safety_first():
    b = book(order("b", price=300_000), order("a", Side.SELL, price=300_010))
    p = run(target(asks=[(300_020, 10)]), b)  # asks requoted, bids withdrawn
    assert [c.safety for c in p.cancels] == [True, False]


def test_wrong_symbol_is_refused():
    with pytest.raises(ValueError):
        plan(QuoteTarget("BTCUSDT", (), (), 0), book(), 0, WIDE, INST, TOL, NOW)


def test_cancel_everything():
    b = book(order("o", status=Status.OPEN), order("pf", status=Status.PARTIALLY_FILLED, filled_lots=2),
             order("n", status=Status.NEW), order("pn", status=Status.PENDING_NEW),
             order("pc", status=Status.PENDING_CANCEL), order("f", status=Status.FILLED, filled_lots=10))
    p = cancel_everything(b)
    assert sorted(c.client_order_id for c in p.cancels) == ["n", "o", "pf"]
    assert all(c.safety for c in p.cancels)
