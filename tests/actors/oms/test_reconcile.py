"""Reconciliation: orphans adopted or cancelled, missing orders looked up, missed fills applied once, mismatches."""

from __future__ import annotations

from actors.gateway.events import OrderStatus, Side
from actors.oms.book import Book
from actors.oms.messages import PositionMismatch
from actors.oms.order import NewFill, Status
from actors.oms.position import FillLedger
from actors.oms.reconcile import (
    OrphanPolicy,
    ReconcilePolicy,
    adopted_order,
    apply_query_results,
    reconcile,
)
from tests.actors.oms.helpers import INST, SYMBOL, T0, S, fill, order, report

ASKED = T0 + 5 * S
NOW = T0 + 6 * S


def rec(book, open_=(), fills=(), exch=0, local=0, policy=None, ledger=None, **kw):
    policy = policy or ReconcilePolicy()
    ledger = ledger if ledger is not None else FillLedger(cursor=100)
    return reconcile(book, list(open_), list(fills), exch, local, policy, instrument=INST, ledger=ledger,
                     asked_ns=ASKED, now_ns=NOW, **kw)


def test_in_step_nothing_to_do():
    o = order("a")
    p = rec(Book.of(SYMBOL, [o]), [report(o)])
    assert p.adopt == () and p.cancel == () and p.query == () and p.fills == () and p.mismatch is None
    assert p.reports == (report(o),)


def test_orphans_are_adopted_with_their_state():
    orphan = report(cid="someone", side=Side.SELL, price=300_100, qty=20, filled=5,
                    status=OrderStatus.PARTIALLY_FILLED, order_id=99)
    p = rec(Book(SYMBOL), [orphan], policy=ReconcilePolicy(orphans=OrphanPolicy.ADOPT))
    (o,) = p.adopt
    assert (o.client_order_id, o.side, o.price_ticks, o.qty_lots, o.filled_lots, o.status, o.exchange_id) == (
        "someone", Side.SELL, 300_100, 20, 5, Status.PARTIALLY_FILLED, 99)
    assert o.adopted and o.exposure_lots == 15
    assert p.cancel == ()


def test_orphans_are_cancelled_per_policy():
    orphan = report(cid="mm.0old00run.0000000042", order_id=5)
    p = rec(Book(SYMBOL), [orphan], policy=ReconcilePolicy(orphans=OrphanPolicy.CANCEL))
    assert [o.client_order_id for o in p.adopt] == ["mm.0old00run.0000000042"]  # tracked, so confirmed
    assert p.cancel == ("mm.0old00run.0000000042",)


def test_other_symbols_and_closed_reports_are_ignored():
    p = rec(Book(SYMBOL), [report(cid="x", symbol="BTCUSDT"), report(cid="y", status=OrderStatus.CANCELED)])
    assert p.adopt == () and p.reports == ()


def test_local_orders_missing_from_the_exchange_are_looked_up():
    b = Book.of(SYMBOL, [
        order("open_gone", status=Status.OPEN),
        order("pc_gone", status=Status.PENDING_CANCEL),
        order("unknown", status=Status.UNKNOWN),
        order("sent_after_ask", status=Status.PENDING_NEW, sent_ns=ASKED + 1),
        order("unsent", status=Status.NEW),
        order("done", status=Status.FILLED, filled_lots=10),
        order("listed", status=Status.OPEN),
    ])
    p = rec(b, [report(b.get("listed"))])
    assert set(p.query) == {"open_gone", "pc_gone", "unknown"}


def test_query_results_resolve_each_case():
    b = Book.of(SYMBOL, [order("f"), order("c"), order("x"), order("gone"), order("still")])
    results = {
        "f": report(b.get("f"), status=OrderStatus.FILLED, filled=10),
        "c": report(b.get("c"), status=OrderStatus.CANCELED, filled=2),
        "x": report(b.get("x"), status=OrderStatus.EXPIRED),
        "gone": None,
        "still": report(b.get("still"), status=OrderStatus.NEW),
        "not_ours": None,
    }
    b2, effects = apply_query_results(b, results, INST, NOW)
    assert {cid: b2.get(cid).status for cid in ["f", "c", "x", "gone", "still"]} == {
        "f": Status.FILLED, "c": Status.CANCELED, "x": Status.EXPIRED, "gone": Status.EXPIRED, "still": Status.OPEN}
    assert b2.get("c").filled_lots == 2
    assert any("-2013" in getattr(e, "what", "") for e in effects)  # an open order gone: reported


def test_missed_fills_are_applied_once():
    o = order("a", status=Status.OPEN)
    ledger = FillLedger(cursor=100).add(fill(o, trade_id=105, lots=1), 1)
    fills = [fill(o, trade_id=t, lots=1, cid="") for t in (101, 105, 103, 103, 99)]  # dup, seen, below cursor
    p = rec(Book.of(SYMBOL, [o]), [report(o)], fills, exch=3, local=1, ledger=ledger)
    assert [f.trade_id for f in p.fills] == [101, 103]
    assert p.cursor == 105 and p.mismatch is None  # 1 + 2 missed = 3


def test_position_mismatch_is_reported():
    p = rec(Book(SYMBOL), exch=7, local=4)
    assert p.mismatch == PositionMismatch(SYMBOL, 4, 7, NOW) and p.mismatch.diff_lots == 3
    assert rec(Book(SYMBOL), exch=7, local=4, policy=ReconcilePolicy(position_tolerance_lots=3)).mismatch is None


def test_a_fill_newer_than_the_exchange_position_is_not_a_mismatch():
    o = order("a")
    ledger = FillLedger(cursor=100).add(fill(o, trade_id=120, lots=2, ms=5_000), 2)  # counted locally
    p = rec(Book.of(SYMBOL, [o]), [report(o)], exch=0, local=2, ledger=ledger, position_ms=4_000)
    assert p.mismatch is None
    # Without the exchange's timestamp the same figures are a mismatch.
    assert rec(Book.of(SYMBOL, [o]), [report(o)], exch=0, local=2, ledger=ledger).mismatch is not None


def test_first_run_takes_the_exchange_position_and_starts_the_cursor():
    fills = [fill(trade_id=t, lots=1) for t in (500, 510)]
    p = rec(Book(SYMBOL), [], fills, exch=9, local=None, ledger=FillLedger())
    assert p.mismatch is None and p.fills == () and p.cursor == 510 and p.exchange_position_lots == 9


def test_adopted_order_from_a_real_shape():
    r = report(cid="web_abc", side=Side.BUY, price=299_000, qty=3, order_id=12, reduce_only=True)
    o = adopted_order(r, INST, NOW)
    assert o.reduce_only and o.status is Status.OPEN and o.created_ns == NOW and o.sent_ns == 0


def test_fill_effects_from_query_results_count_in_the_position():
    b = Book.of(SYMBOL, [order("a")])
    _, effects = apply_query_results(b, [("a", report(b.get("a"), status=OrderStatus.FILLED, filled=10))], INST,
                                     NOW)
    assert not any(isinstance(e, NewFill) for e in effects)  # a report alone carries no trade: fills come apart


def test_first_run_applies_only_the_fills_newer_than_the_exchange_position():
    fills = [fill(trade_id=500, lots=1, ms=1_000), fill(trade_id=510, lots=2, ms=3_000)]
    p = rec(Book(SYMBOL), [], fills, exch=9, local=None, ledger=FillLedger(), position_ms=2_000)
    assert [f.trade_id for f in p.fills] == [510]
    assert p.position_lots == 11 and p.mismatch is None and p.cursor == 510


def test_time_cursor_until_the_first_fill():
    # First run, never traded: fills are counted from shortly before this round.
    p = rec(Book(SYMBOL), [], [], exch=0, local=None, ledger=FillLedger())
    assert p.cursor == 0 and 0 < p.since_ms < ASKED // 1_000_000
    # First run after trading: from just after the position's last change.
    assert rec(Book(SYMBOL), exch=3, local=None, ledger=FillLedger(), position_ms=7_000).since_ms == 7_001
    # With a time cursor, every unseen fill from then on is missed and applied.
    ledger = FillLedger(since_ms=5_000)
    fills = [fill(trade_id=800, lots=1, ms=4_000), fill(trade_id=801, lots=2, ms=6_000)]
    p = rec(Book(SYMBOL), [], fills, exch=2, local=0, ledger=ledger)
    assert [f.trade_id for f in p.fills] == [801] and p.mismatch is None and p.cursor == 801


def test_mismatch_holds_the_exchange_figure_plus_newer_fills():
    o = order("a")
    ledger = FillLedger(cursor=100).add(fill(o, trade_id=120, lots=2, ms=5_000), 2)
    p = rec(Book.of(SYMBOL, [o]), [report(o)], exch=4, local=3, ledger=ledger, position_ms=4_000)
    assert p.mismatch == PositionMismatch(SYMBOL, 1, 4, NOW)
    assert p.position_lots == 6  # the exchange's 4 as of 4 000 ms, and our fill after it


def test_an_order_taken_for_done_but_listed_open_is_revived_to_be_cancelled():
    gone = order("gone", status=Status.CANCELED, updated_ns=ASKED - 1)  # e.g. inferred from a -2013
    late = order("late", status=Status.CANCELED, updated_ns=ASKED + 1)  # ended after we asked: stale listing
    filled = order("f", status=Status.FILLED, filled_lots=10, updated_ns=ASKED - 1)
    b = Book.of(SYMBOL, [gone, late, filled])
    p = rec(b, [report(gone), report(late), report(filled)])
    assert [o.client_order_id for o in p.revive] == ["gone"] and p.revive[0].status is Status.OPEN
    assert {r.client_order_id for r in p.reports} == {"late", "f"}
    assert p.adopt == ()
