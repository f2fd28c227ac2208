"""Property tests: random but real-looking exchange histories, delivered duplicated and out of order.

For each order a true history is drawn (rejected, lost in transit, filled, cancelled, expired, with fills on
the way); its messages (REST replies, user-stream updates, lookups, our own cancels and their replies) are
duplicated and shuffled within a window, as the simulated exchange's ``user_dup``/``user_reorder`` faults
and the REST/WS race do. Whatever the order of arrival: nothing raises, filled <= qty, filled never
decreases, a terminal status is left only by the documented rows, exposures are never negative, and once
everything has arrived the order ends where the exchange says it is.
"""

from __future__ import annotations

import random

import pytest

from actors.gateway.events import OrderStatus, Side
from actors.oms.book import Book
from actors.oms.order import RESTING, TERMINAL, Ev, OrderEvent, Status, from_report, local
from tests.actors.oms.helpers import INST, SYMBOL, T0, fill, order, report

LEAVES_TERMINAL = {
    Status.CANCELED: {Status.FILLED},
    Status.EXPIRED: {Status.FILLED},
    Status.REJECTED: {Status.OPEN, Status.PARTIALLY_FILLED, Status.FILLED, Status.CANCELED, Status.EXPIRED},
}
FINAL = {"rejected": Status.REJECTED, "lost": Status.REJECTED, "unknown_rejected": Status.REJECTED,
         "filled": Status.FILLED,
         "canceled": Status.CANCELED, "expired": Status.EXPIRED}


def _history(rng: random.Random, o, trade_ids):
    """The true history of one placed order → (messages in true order, final status, final filled lots)."""
    qty = o.qty_lots
    outcome = rng.choice(["rejected", "lost", "unknown_rejected", "filled", "filled", "canceled", "canceled",
                          "expired"])
    msgs: list[OrderEvent] = []
    if outcome == "rejected":
        return [local(Ev.REJECT, 0, "rejected -5022")], outcome, 0
    if outcome == "lost":  # the send timed out and never reached the exchange; the lookup says -2013
        return [local(Ev.SEND_UNKNOWN, 0), local(Ev.NOT_FOUND, 0)], outcome, 0
    if outcome == "unknown_rejected":  # unknown outcome, then the gateway's re-send was rejected
        return [local(Ev.SEND_UNKNOWN, 0), local(Ev.REJECT, 0, "rejected -2019")], outcome, 0
    target = qty if outcome == "filled" else rng.randint(0, qty - 1)
    rest_ack = report(o, status=OrderStatus.NEW)
    rest = from_report(rest_ack, INST, 0) if rng.random() < 0.8 else local(Ev.SEND_UNKNOWN, 0)
    msgs.append(from_report(report(o, status=OrderStatus.NEW), INST, 0))
    cum = 0
    while cum < target:
        lots = rng.randint(1, target - cum)
        cum += lots
        tid = next(trade_ids)
        st = OrderStatus.FILLED if cum == qty else OrderStatus.PARTIALLY_FILLED
        msgs.append(from_report(report(o, status=st, filled=cum), INST, 0, fill(o, trade_id=tid, lots=lots)))
    if outcome == "canceled":
        msgs.append(from_report(report(o, status=OrderStatus.CANCELED, filled=cum), INST, 0))
    elif outcome == "expired":
        msgs.append(from_report(report(o, status=OrderStatus.EXPIRED, filled=cum), INST, 0))
    final = from_report(report(o, status={"filled": OrderStatus.FILLED, "canceled": OrderStatus.CANCELED,
                                          "expired": OrderStatus.EXPIRED}[outcome], filled=cum), INST, 0)
    # The REST reply races the stream; a lookup may come at any time and shows some true moment.
    msgs.insert(rng.randint(0, len(msgs)), rest)
    for _ in range(rng.randint(0, 2)):
        msgs.insert(rng.randint(1, len(msgs)), msgs[rng.randint(1, len(msgs) - 1)] if len(msgs) > 1 else final)
    return msgs, outcome, cum


def _deliver(rng: random.Random, msgs: list, window: float, p_dup: float) -> list:
    """Duplicated with ``p_dup`` and each item moved up to ``window`` places."""
    out = []
    for i, m in enumerate(msgs):
        out.append((i + rng.random() * window, m))
        if rng.random() < p_dup:
            out.append((i + rng.random() * window, m))
    return [m for _, m in sorted(out, key=lambda x: x[0])]


def _check_book(book: Book) -> None:
    exp = book.exposure()
    assert exp.buy_lots >= 0 and exp.sell_lots >= 0
    want_buy = sum(o.remaining_lots for o in book.orders.values() if o.may_fill and o.side is Side.BUY)
    want_sell = sum(o.remaining_lots for o in book.orders.values() if o.may_fill and o.side is Side.SELL)
    assert (exp.buy_lots, exp.sell_lots) == (want_buy, want_sell)


@pytest.mark.parametrize("seed", range(40))
def test_random_histories_keep_the_invariants(seed):
    rng = random.Random(seed)
    trade_ids = iter(range(10_000 * (seed + 1), 10_000 * (seed + 2)))
    book = Book(SYMBOL)
    truth: dict[str, tuple[str, int]] = {}
    queues: dict[str, list] = {}
    for i in range(12):
        cid = f"s{seed}o{i}"
        o = order(cid=cid, side=rng.choice([Side.BUY, Side.SELL]), qty=rng.randint(1, 12), status=Status.NEW)
        book = book.add(o)
        book, _, _ = book.apply(cid, local(Ev.SEND, T0))
        msgs, outcome, cum = _history(rng, book.get(cid), trade_ids)
        truth[cid] = (outcome, cum)
        queues[cid] = _deliver(rng, msgs, window=rng.choice([1.5, 3.0, 6.0]), p_dup=0.25)

    counted: dict[str, int] = {}
    t = T0
    while any(queues.values()):
        cid = rng.choice([c for c, q in queues.items() if q])
        before = book.get(cid)
        # Sometimes we cancel an order we see resting (or cancel again one whose cancel is unconfirmed); the
        # answer comes later: confirmed, "unknown order" (it had ended), or not sent at all (rate limit).
        if (before.status in RESTING and rng.random() < 0.3) or (
                before.status is Status.PENDING_CANCEL and rng.random() < 0.3):
            book, before, _ = book.apply(cid, local(Ev.CANCEL, t))
            outcome, cum = truth[cid]
            if rng.random() < 0.3:
                reply = local(Ev.CANCEL_FAILED, 0, "rate_limited")
            elif outcome == "canceled":
                reply = from_report(report(before, status=OrderStatus.CANCELED, filled=cum), INST, 0)
            else:
                reply = local(Ev.CANCEL_UNKNOWN, 0)
            q = queues[cid]
            q.insert(rng.randint(0, len(q)), reply)
        ev = queues[cid].pop(0)
        t += 1000
        ev = OrderEvent(ev.kind, t, ev.exchange_id, ev.cum_filled_lots, ev.avg_price, ev.fill, ev.fill_lots,
                        ev.exchange_ms, ev.reason)
        book, after, effects = book.apply(cid, ev)  # never raises on real-looking histories
        assert after.filled_lots <= after.qty_lots
        assert after.filled_lots >= before.filled_lots
        if before.status in TERMINAL and after.status is not before.status:
            assert after.status in LEAVES_TERMINAL.get(before.status, set()), (before.status, after.status)
        for e in effects:
            if hasattr(e, "lots"):
                counted[cid] = counted.get(cid, 0) + e.lots
        _check_book(book)

    for cid, (outcome, cum) in truth.items():
        o = book.get(cid)
        assert o.status is FINAL[outcome], (cid, outcome, o)
        assert o.filled_lots == cum
        assert counted.get(cid, 0) == cum  # every fill counted exactly once
    assert book.exposure() == book.exposure().__class__(0, 0)


@pytest.mark.parametrize("seed", range(10))
def test_any_permutation_of_one_history_converges(seed):
    """Harsher: a fully random permutation (any order at all), with duplicates."""
    rng = random.Random(1000 + seed)
    trade_ids = iter(range(1, 10_000))
    for k in range(20):
        o = order(cid=f"p{k}", qty=rng.randint(2, 9), status=Status.NEW)
        book = Book(SYMBOL).add(o)
        book, o, _ = book.apply(o.client_order_id, local(Ev.SEND, T0))
        msgs, outcome, cum = _history(rng, o, trade_ids)
        msgs = msgs + [rng.choice(msgs) for _ in range(3)]
        rng.shuffle(msgs)
        for ev in msgs:
            book, o2, _ = book.apply(o.client_order_id, ev)
            assert o2.filled_lots <= o2.qty_lots
        assert book.get(o.client_order_id).status is FINAL[outcome]
        assert book.get(o.client_order_id).filled_lots == cum
