"""The core driven end to end as the actor shell will drive it, against a small fake exchange.

Every step is also checked for the shell contract (orders in the store before any command about them).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from actors.gateway.binance.account_parse import parse_user_event
from actors.gateway.events import OrderStatus, OrderUpdate, Side
from actors.instrument import Instrument
from actors.oms import core
from actors.oms.budget import BudgetParams
from actors.oms.diff import Limits
from actors.oms.ids import ClientIds, next_run_id
from actors.oms.messages import (
    CancelAll,
    CancelOrders,
    CancelRejected,
    FillsSnapshot,
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
    QueryFills,
    QueryOpenOrders,
    QueryOrder,
    QueryPosition,
)
from actors.oms.order import IllegalTransition, Status
from actors.oms.position import FillLedger, Position
from tests.actors.oms.helpers import MS, SYMBOL, T0, FakeExchange, S, Sim, fill, order, report, update

BIDS = [(300_000, 10), (299_990, 10)]
ASKS = [(300_010, 10), (300_020, 10)]


def ready(params: core.OmsParams | None = None, **kw) -> Sim:
    sim = Sim(params, **kw)
    sim.pump()
    assert sim.state.mode is core.Mode.QUOTING
    return sim


def live_cids(sim: Sim) -> list[str]:
    return [o.client_order_id for o in sim.state.book.live()]


# ---------------------------------------------------------------- start


def test_start_reconciles_before_quoting():
    sim = Sim()
    assert [type(c) for c in sim.commands] == [QueryOpenOrders, QueryFills, QueryPosition]
    assert sim.state.mode is core.Mode.RECONCILING
    assert sim.target(BIDS, ASKS).commands == ()  # no quoting yet
    sim.pump()
    assert sim.state.mode is core.Mode.QUOTING and sim.state.position_known


def test_quote_persist_send_ack():
    sim = ready()
    step = sim.target(BIDS, ASKS)
    (cmd,) = step.commands
    assert isinstance(cmd, PlaceOrders) and len(cmd.orders) == 4
    assert all(o.status is Status.PENDING_NEW for o in step.persist)
    assert {o.client_order_id for o in step.persist} == {n.client_order_id for n in cmd.orders}
    assert sim.state.exposure.buy_lots == 20 and sim.state.worst_short_lots == -20
    sim.pump()
    assert {o.status for o in sim.state.book.live()} == {Status.OPEN}
    view = sim.published(OpenOrdersView)[-1]
    assert len(view.orders) == 4 and view.exposure.sell_lots == 20
    assert sim.target(BIDS, ASKS).commands == ()  # nothing to change


def test_batches_of_five_places_and_ten_cancels_cancels_first():
    big = BudgetParams(places_per_s=100, places_per_min=1000, cancels_per_s=100, cancels_per_min=1000)
    sim = ready(core.OmsParams(budget=big))
    bids = [(300_000 - 10 * i, 10) for i in range(12)]
    step = sim.target(bids, [])
    assert [len(c.orders) for c in step.commands] == [5, 5, 2]
    sim.pump()
    sim.advance(2 * S)
    step = sim.target([(b - 1000, q) for b, q in bids], [])  # everything requoted
    assert [type(c) for c in step.commands] == [CancelOrders, CancelOrders, PlaceOrders, PlaceOrders, PlaceOrders]
    assert [len(c.client_order_ids) for c in step.commands[:2]] == [10, 2]


def test_places_beyond_the_budget_wait():
    sim = ready()  # 5 placements a second
    bids = [(300_000 - 10 * i, 10) for i in range(8)]
    assert sum(len(c.orders) for c in sim.target(bids, []).commands) == 5
    sim.pump()
    assert sim.target(bids, []).commands == ()
    sim.advance(S)
    assert sum(len(c.orders) for c in sim.target(bids, []).commands) == 3


def test_fill_counts_once_whatever_the_path_and_is_tagged():
    sim = ready()
    sim.target(BIDS, ASKS)
    sim.pump()
    cid = live_cids(sim)[0]
    up = sim.ex.fill(cid, 4, maker=True)
    sim.send(up)
    sim.send(up)  # duplicated on the stream
    (filled,) = sim.published(OrderFilled)
    assert filled.is_maker and filled.qty_lots == 4 and filled.ours and filled.position_lots == 4
    assert sim.published(PositionChanged)[-1].position_lots == 4
    assert sim.state.book.get(cid).status is Status.PARTIALLY_FILLED
    # The same trade again through reconciliation (REST userTrades, no client id): not counted again.
    sim.advance(2 * S)
    sim.take(core.begin_reconcile(sim.state, sim.now))
    sim.pump()
    assert len(sim.published(OrderFilled)) == 1 and sim.state.position.lots == 4
    assert not sim.published(PositionMismatch)
    assert sim.state.ledger.cursor == up.fill.trade_id


def test_fill_step_carries_what_to_store():
    sim = ready()
    sim.target(BIDS, [])
    sim.pump()
    step = sim.send(sim.ex.fill(live_cids(sim)[0], 10))
    assert step.fills and step.position.lots == 10 and step.ledger is not None
    assert step.persist[0].status is Status.FILLED


# ---------------------------------------------------------------- the gateway's verdicts


def test_post_only_reject_is_quiet_other_rejects_alert():
    sim = ready()
    sim.target(BIDS[:1], ASKS[:1])
    a, b = (n.client_order_id for n in sim.commands[-1].orders)
    sim.inbox.clear()
    sim.send(OrderRejected(a, -5022, "post only", "rejected"))
    sim.send(OrderRejected(b, -2019, "margin is insufficient", "rejected"))
    assert sim.state.book.get(a).status is Status.REJECTED and sim.state.book.get(b).status is Status.REJECTED
    assert [e.client_order_id for e in sim.published(OrderAnomaly)] == [b]
    assert sim.state.exposure.buy_lots == 0 and sim.state.exposure.sell_lots == 0


def test_rate_limited_placement_holds_new_placements():
    sim = ready()
    sim.target(BIDS[:1], [])
    (cid,) = (n.client_order_id for n in sim.commands[-1].orders)
    sim.inbox.clear()
    sim.send(OrderRejected(cid, -1015, "too many orders", "rate_limited", retry_after_ms=3000))
    sim.advance(1 * S)
    assert sim.target(BIDS[:1], []).commands == ()
    sim.advance(2 * S)
    assert isinstance(sim.target(BIDS[:1], []).commands[0], PlaceOrders)


def test_unknown_send_is_looked_up_and_not_found_only_counts_once_settled():
    sim = ready()
    sim.target(BIDS[:1], [])
    (cid,) = (n.client_order_id for n in sim.commands[-1].orders)
    sim.inbox.clear()
    sim.ex.orders.clear()  # it never reached the exchange
    sim.send(OrderRejected(cid, None, "timeout", "unknown_state"))
    assert sim.state.book.get(cid).status is Status.UNKNOWN
    assert sim.target(BIDS[:1], []).commands == ()  # its slot is held: no duplicate
    sim.send(OrderNotFound(cid))  # too early to conclude: the send may still be in flight
    assert sim.state.book.get(cid).status is Status.UNKNOWN
    sim.advance(7 * S)
    step = sim.tick()
    assert QueryOrder(SYMBOL, cid) in step.commands
    sim.pump()
    assert sim.state.book.get(cid).status is Status.REJECTED


def test_unknown_send_that_did_arrive_is_found():
    sim = ready()
    sim.target(BIDS[:1], [])
    (cid,) = (n.client_order_id for n in sim.commands[-1].orders)
    sim.inbox.clear()
    sim.send(OrderRejected(cid, None, "timeout", "UNKNOWN_STATE"))  # ErrorKind's own spelling works too
    assert sim.state.book.get(cid).status is Status.UNKNOWN
    sim.advance(7 * S)
    sim.tick()
    sim.pump()
    assert sim.state.book.get(cid).status is Status.OPEN


def test_unconfirmed_cancel_is_sent_again_until_confirmed():
    sim = ready()
    sim.target(BIDS[:1], [])
    sim.pump()
    (cid,) = live_cids(sim)
    sim.target([], [])
    sim.inbox.clear()  # the cancel's answer is lost
    assert sim.state.book.get(cid).status is Status.PENDING_CANCEL
    assert sim.state.exposure.buy_lots == 10  # unconfirmed: still exposure
    sim.advance(3 * S)
    assert sim.tick().commands == ()
    sim.advance(4 * S)
    step = sim.tick()
    assert CancelOrders(SYMBOL, (cid,)) in step.commands
    sim.pump()
    assert sim.state.book.get(cid).status is Status.CANCELED and sim.state.exposure.buy_lots == 0


def test_cancel_not_sent_puts_the_order_back_and_it_is_cancelled_later():
    sim = ready()
    sim.target(BIDS[:1], [])
    sim.pump()
    (cid,) = live_cids(sim)
    sim.target([], [])
    sim.inbox.clear()
    sim.send(CancelRejected(cid, -1003, "too many requests", "rate_limited"))
    assert sim.state.book.get(cid).status is Status.OPEN
    sim.target([], [])
    sim.pump()
    assert sim.state.book.get(cid).status is Status.CANCELED


def test_cancel_of_a_filled_order():
    sim = ready()
    sim.target(BIDS[:1], [])
    sim.pump()
    (cid,) = live_cids(sim)
    up = sim.ex.fill(cid, 10)
    sim.target([], [])  # we cancel; the exchange had filled it
    sim.inbox.clear()
    sim.send(CancelRejected(cid, -2011, "Unknown order sent.", "rejected"))
    assert sim.state.book.get(cid).status is Status.PENDING_CANCEL
    sim.send(up)
    assert sim.state.book.get(cid).status is Status.FILLED and sim.state.position.lots == 10


# ---------------------------------------------------------------- limits (lesson 1)


def test_worst_case_never_passes_the_limit_while_requoting_and_filling():
    sim = ready(core.OmsParams(budget=BudgetParams(min_order_lifetime_ms=0)))
    limits = Limits(25, 25)
    for i in range(60):
        sim.advance(100 * MS)
        shift = (i % 5) * 3
        sim.target([(300_000 + shift, 10), (299_990 + shift, 10)], [(300_010 + shift, 10)], limits=limits)
        # The pre-trade check: every order that could still fill counts, pending and cancelling included.
        assert sim.state.worst_long_lots <= 25 and sim.state.worst_short_lots >= -25
        sim.pump()
        if i % 7 == 0:
            resting = [o for o in sim.state.book.live() if o.status is Status.OPEN and o.side is Side.BUY]
            if resting:
                sim.send(sim.ex.fill(resting[0].client_order_id, 10))
        assert sim.state.worst_long_lots <= 25 and sim.state.worst_short_lots >= -25
    assert sim.state.position.lots > 0


# ---------------------------------------------------------------- panicstop


def test_panicstop_cancels_everything_and_every_late_ack():
    sim = ready()
    sim.target(BIDS, ASKS)
    sim.pump()
    sim.target([(300_005, 10), *BIDS], ASKS)  # one more, still pending
    pending = [o.client_order_id for o in sim.state.book.live() if o.status is Status.PENDING_NEW]
    late = list(sim.inbox)
    sim.inbox.clear()
    step = sim.take(core.panicstop(sim.state, "risk HALTED", sim.now))
    assert isinstance(step.commands[0], CancelAll)
    assert sim.state.mode is core.Mode.HALTED
    assert sim.target(BIDS, ASKS).commands == ()  # targets ignored while halted
    for msg in late:  # the pending order's ack arrives after the panicstop
        s = sim.send(msg)
        assert CancelOrders(SYMBOL, tuple(pending)) in s.commands
    sim.pump()
    sim.advance(7 * S)
    sim.tick()
    sim.pump()
    assert sim.state.book.live() == () and sim.state.exposure == sim.state.exposure.__class__(0, 0)


def test_panicstop_withdraws_unsent_orders():
    sim = ready()
    o = order("unsent", status=Status.NEW)
    state = msgspec.structs.replace(sim.state, book=sim.state.book.add(o))
    step = core.panicstop(state, "x", sim.now)
    assert step.state.book.get("unsent").status is Status.CANCELED
    assert all(not isinstance(c, CancelOrders) for c in step.commands)


def test_cancel_all_leftovers_are_looked_up():
    sim = ready()
    sim.target(BIDS[:1], [])
    sim.pump()
    (cid,) = live_cids(sim)
    sim.advance(S)
    sim.take(core.panicstop(sim.state, "x", sim.now))
    sim.inbox.clear()
    sim.ex.fill(cid, 10)  # it had filled before the cancel-all reached it; the stream is down
    step = sim.send(OpenOrdersSnapshot(SYMBOL, (), sim.now))
    assert QueryOrder(SYMBOL, cid) in step.commands
    sim.pump()
    assert sim.state.book.get(cid).status is Status.FILLED
    still = sim.send(OpenOrdersSnapshot(SYMBOL, (report(order("x9")),), sim.now))
    assert any(e.severe for e in still.events if isinstance(e, OrderAnomaly))


def test_resume_reconciles_first():
    sim = ready()
    sim.take(core.panicstop(sim.state, "x", sim.now))
    sim.pump()
    sim.take(core.resume(sim.state, sim.now))
    assert sim.state.mode is core.Mode.RECONCILING
    sim.pump()
    assert sim.state.mode is core.Mode.QUOTING


# ---------------------------------------------------------------- restart and reconciliation


def test_restart_recovers_orders_adopts_nothing_silently_and_applies_missed_fills():
    ex = FakeExchange()
    first = Sim(exchange=ex, now_ns=T0)
    first.pump()
    first.target(BIDS, [])
    first.pump()
    a, b = live_cids(first)
    first.advance(2 * S)
    first.target([(300_000, 10)], [])  # b is cancelled...
    first.inbox.clear()  # ...and its confirmation is lost
    first.target([*BIDS, (299_980, 10)], [])  # two new orders: sent, their acks lost with the crash
    sent_unacked = [o.client_order_id for o in first.state.book.live() if o.status is Status.PENDING_NEW]
    first.inbox.clear()
    stored = tuple(first.store.values())
    assert first.store[b].status is Status.PENDING_CANCEL and len(sent_unacked) == 2
    # While down: a fills (missed), someone's order rests on the exchange under a foreign id.
    ex.fill(a, 10)
    ex.orders["web_1"] = (order("web_1", Side.SELL, price=301_000, qty=3), OrderStatus.NEW, 0)
    second = Sim(exchange=ex, now_ns=T0 + 60 * S, stored=stored, position=first.state.position,
                 ledger=first.state.ledger, run=next_run_id(T0 + 60 * S, first.state.ids.run))
    assert all(o.status is not Status.PENDING_NEW for o in second.state.book.live())
    second.pump()
    st = second.state
    assert st.mode is core.Mode.QUOTING
    assert st.book.get(a).status is Status.FILLED and st.position.lots == 10
    assert st.book.get("web_1").status is Status.CANCELED  # orphan adopted and cancelled (default policy)
    assert st.book.get(b).status is Status.CANCELED  # not listed open: looked up, confirmed
    assert {st.book.get(c).status for c in sent_unacked} == {Status.OPEN}  # UNKNOWN, found listed
    assert not second.published(PositionMismatch)
    assert st.ids.run > first.state.ids.run


def test_orphan_policy_adopt_keeps_it_in_the_book():
    from actors.oms.reconcile import OrphanPolicy, ReconcilePolicy

    ex = FakeExchange()
    ex.orders["web_1"] = (order("web_1", Side.SELL, price=301_000, qty=3), OrderStatus.NEW, 0)
    sim = ready(core.OmsParams(reconcile=ReconcilePolicy(orphans=OrphanPolicy.ADOPT)), exchange=ex)
    assert sim.state.book.get("web_1").status is Status.OPEN and sim.state.exposure.sell_lots == 3
    assert any("adopted" in e.what for e in sim.published(OrderAnomaly))


def test_position_mismatch_is_reported_and_the_exchange_figure_adopted():
    ex = FakeExchange()
    ex.position = 7
    sim = Sim(exchange=ex, position=Position(4), ledger=FillLedger(cursor=1))
    sim.pump()
    (mm,) = sim.published(PositionMismatch)
    assert (mm.local_lots, mm.exchange_lots) == (4, 7)
    assert sim.state.position.lots == 7


def test_first_run_takes_the_exchange_position():
    ex = FakeExchange()
    ex.position = -5
    sim = ready(exchange=ex)
    assert sim.state.position.lots == -5 and not sim.published(PositionMismatch)


def test_fills_are_fetched_page_by_page():
    ex = FakeExchange()
    for t in (11, 12, 13):
        ex.fills.append(fill(trade_id=t, lots=1, cid=""))
    ex.position = 6
    sim = Sim(core.OmsParams(fills_page=2), exchange=ex, ledger=FillLedger(cursor=10), position=Position(3))
    sim.pump()
    queries = sim.sent(QueryFills)
    assert [q.from_trade_id for q in queries] == [11, 13]
    assert sim.state.position.lots == 6 and sim.state.ledger.cursor == 13 and not sim.published(PositionMismatch)
    assert [e.ours for e in sim.published(OrderFilled)] == [False, False, False]


def test_periodic_reconciliation_and_lost_answers():
    sim = ready()
    sim.advance(30 * S)
    assert not any(isinstance(c, QueryOpenOrders) for c in sim.tick().commands)
    sim.advance(31 * S)
    step = sim.tick()
    assert any(isinstance(c, QueryOpenOrders) for c in step.commands)
    sim.inbox.clear()  # the answers are lost
    sim.advance(25 * S)
    assert any(isinstance(c, QueryOpenOrders) for c in sim.tick().commands)
    sim.pump()
    assert sim.state.round is None


def test_a_failed_reconciliation_query_asks_the_round_again_within_a_second():
    sim = Sim()  # a fresh start: quoting waits for this round
    first = sim.state.round
    assert first is not None
    sim.inbox = [m for m in sim.inbox if not isinstance(m, OpenOrdersSnapshot)]  # open orders: HTTP 503
    sim.pump()
    sim.send(QueryFailed(SYMBOL, "open_orders", "503", first.asked_ns))
    sim.send(QueryFailed(SYMBOL, "open_orders", "503", T0 - S))  # an older round's: ignored
    assert sim.state.round.failed_ns == sim.now and sim.state.mode is core.Mode.RECONCILING
    sim.advance(S // 2)
    assert not any(isinstance(c, QueryOpenOrders) for c in sim.tick().commands)  # not at once: a pause first
    sim.advance(S // 2)
    again = sim.tick()
    assert [type(c) for c in again.commands if isinstance(c, QueryOpenOrders | QueryPosition)] == [
        QueryOpenOrders, QueryPosition]
    assert sim.state.round.asked_ns == sim.now and not sim.state.round.failed_ns
    sim.pump()
    assert sim.state.round is None and sim.state.mode is core.Mode.QUOTING


def test_stale_snapshot_answers_are_ignored():
    sim = ready()
    old = T0 - S
    assert sim.send(FillsSnapshot(SYMBOL, 0, (), 500, old)).state is sim.state
    assert sim.send(PositionSnapshot(SYMBOL, Decimal(1), Decimal(0), 0, old)).state is sim.state


# ---------------------------------------------------------------- the stream's surprises


def test_unknown_open_order_on_the_stream_is_adopted_and_cancelled():
    sim = ready()
    step = sim.send(update(report(cid="manual_1", order_id=4, side=Side.BUY, qty=2)))
    assert sim.state.book.get("manual_1").status is Status.PENDING_CANCEL
    assert CancelOrders(SYMBOL, ("manual_1",)) in step.commands


def test_illegal_exchange_event_is_reported_and_looked_up_not_crashed():
    sim = ready()
    sim.target(BIDS[:1], [])
    sim.pump()
    (cid,) = live_cids(sim)
    sim.send(sim.ex.fill(cid, 10))
    o = sim.state.book.get(cid)
    step = sim.send(report(o, status=OrderStatus.CANCELED, filled=0))  # CANCELED after FILLED
    assert sim.state.book.get(cid).status is Status.FILLED
    assert QueryOrder(SYMBOL, cid) in step.commands
    assert any(e.severe for e in step.events if isinstance(e, OrderAnomaly))


def test_an_illegal_local_action_is_a_bug_and_raises():
    sim = ready()
    state = msgspec.structs.replace(sim.state, book=sim.state.book.add(order("f", status=Status.FILLED)))
    acc = core._Acc(state, sim.now)
    with pytest.raises(IllegalTransition):
        acc.apply("f", core.local(core.Ev.SEND, sim.now))


def test_terminal_orders_are_pruned_after_a_while():
    sim = ready()
    sim.target(BIDS[:1], [])
    sim.pump()
    sim.target([], [])
    sim.pump()
    assert len(sim.state.book) == 1
    sim.advance(601 * S)
    step = sim.tick()
    assert len(step.pruned) == 1 and len(sim.state.book) == 0


USER_DATA = Path("nautilus_trader/crates/adapters/binance/test_data/futures/user_data_json")
BTC = Instrument("BTCUSDT", "BTC", "USDT", Decimal("0.10"), Decimal("0.001"), Decimal("0.001"), Decimal("1000"),
                 Decimal("5"))


def test_real_liquidation_fill_moves_the_position_and_alerts(data_dir: Path):
    """order_update_calculated.json: an exchange 'autoclose' order filled: not ours, not adopted, counted."""
    ev = parse_user_event(json.loads((data_dir / USER_DATA / "order_update_calculated.json").read_text()), 0)
    assert isinstance(ev, OrderUpdate)
    st = core.start("BTCUSDT", BTC, core.OmsParams(), ClientIds("t", next_run_id(T0)), T0).state
    step = core.on_order_update(st, ev, T0)
    (filled,) = [e for e in step.events if isinstance(e, OrderFilled)]
    assert not filled.ours and filled.qty_lots == 14 and filled.side is Side.SELL and not filled.is_maker
    assert step.state.position.lots == -14 and step.state.position.realized_pnl == Decimal("-5.67")
    assert any(e.severe for e in step.events if isinstance(e, OrderAnomaly))
    assert step.state.book.get(ev.report.client_order_id) is None
    assert core.on_order_update(step.state, ev, T0).state.position.lots == -14  # once


def test_real_pending_liquidation_order_is_not_adopted(data_dir: Path):
    ev = parse_user_event(json.loads((data_dir / USER_DATA / "order_update_calculated_pending.json").read_text()), 0)
    st = core.start("BTCUSDT", BTC, core.OmsParams(), ClientIds("t", next_run_id(T0)), T0).state
    step = core.on_order_update(st, ev, T0)
    assert step.commands == () and len(step.state.book) == 0


def test_real_stream_sequence_for_our_order(data_dir: Path):
    """NEW then a partial TRADE (nautilus fixtures, client id 'TEST'), each delivered twice."""
    new = parse_user_event(json.loads((data_dir / USER_DATA / "order_update_new.json").read_text()), 0)
    trade = parse_user_event(json.loads((data_dir / USER_DATA / "order_update_trade_partial.json").read_text()), 0)
    st = core.start("BTCUSDT", BTC, core.OmsParams(), ClientIds("t", next_run_id(T0)), T0).state
    mine = order("TEST", price=BTC.price_to_ticks(trade.report.price), qty=2, status=Status.PENDING_NEW)
    st = msgspec.structs.replace(st, book=st.book.add(mine))
    for ev in (trade, new, trade, new):  # the trade outruns the ack, both duplicated
        st = core.on_order_update(st, ev, T0).state
    o = st.book.get("TEST")
    assert o.status is Status.PARTIALLY_FILLED and o.filled_lots == 1 and st.position.lots == 1


def test_a_wrong_inference_is_caught_by_reconciliation():
    sim = ready()
    sim.target(BIDS[:1], [])
    sim.pump()
    (cid,) = live_cids(sim)
    sim.advance(2 * S)
    sim.target([], [])
    sim.inbox.clear()
    sim.ex.orders[cid] = (sim.ex.orders[cid][0], OrderStatus.NEW, 0)  # the cancel never happened...
    sim.send(CancelRejected(cid, -2013, "Order does not exist.", "rejected"))  # ...yet we were told it is gone
    assert sim.state.book.get(cid).status is Status.CANCELED
    sim.advance(S)
    sim.take(core.begin_reconcile(sim.state, sim.now))
    sim.pump()
    assert any(e.severe and e.client_order_id == cid for e in sim.published(OrderAnomaly))
    assert sim.state.book.get(cid).status is Status.CANCELED and sim.ex.orders[cid][1] is OrderStatus.CANCELED


def test_fills_found_by_reconciliation_name_their_order():
    sim = ready()
    sim.target(BIDS[:1], [])
    sim.pump()
    (cid,) = live_cids(sim)
    sim.ex.fill(cid, 3)  # the stream missed it
    sim.advance(S)
    sim.take(core.begin_reconcile(sim.state, sim.now))
    sim.pump()
    (f,) = sim.published(OrderFilled)
    assert f.client_order_id == cid and f.ours and f.qty_lots == 3
    assert sim.state.book.get(cid).filled_lots == 3 and sim.state.position.lots == 3


def test_a_fill_on_an_impossible_event_still_counts():
    sim = ready()
    state = msgspec.structs.replace(sim.state, book=sim.state.book.add(order("n", status=Status.NEW)))
    o = state.book.get("n")
    step = core.on_order_update(state, update(report(o, status=OrderStatus.PARTIALLY_FILLED, filled=2),
                                              fill(o, trade_id=77, lots=2)), sim.now)
    assert step.state.position.lots == 2 and any(isinstance(e, OrderFilled) for e in step.events)
    assert QueryOrder(SYMBOL, "n") in step.commands


def test_orders_persist_as_json_and_come_back_equal():
    o = order("a", status=Status.PARTIALLY_FILLED, filled_lots=3, trade_ids=(1, 2), avg_price=Decimal("3000.5"))
    assert msgspec.json.decode(msgspec.json.encode(o), type=type(o)) == o
