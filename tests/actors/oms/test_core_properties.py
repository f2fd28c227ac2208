"""The whole core under random traffic: targets, fills, and answers delivered late, out of order, twice or never.

Invariants at every step: nothing raises, the worst case stays within the limits the plan was given,
exposures are never negative. At the end, once the follow-ups and a reconciliation have run: our book
agrees with the exchange order for order, every fill was counted exactly once (the position equals the
exchange's without any mismatch), and nothing rests on the exchange that the book does not know. Lost
answers are recovered by the follow-ups (lookups, repeated cancels) and the reconciliation (missed fills).
"""

from __future__ import annotations

import random

import pytest

from actors.gateway.events import OrderStatus, OrderUpdate
from actors.oms import core
from actors.oms.budget import BudgetParams
from actors.oms.diff import Limits
from actors.oms.messages import OrderFilled, PositionMismatch
from actors.oms.order import Status
from tests.actors.oms.helpers import MS, S, Sim, deliver

LIMITS = Limits(40, 40)
OPEN = (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


def _shuffled(rng: random.Random, msgs: list, p_dup: float, window: float, p_lost: float = 0.0) -> list:
    out = []
    for i, m in enumerate(msgs):
        if rng.random() < p_lost:
            continue
        out.append((i + rng.random() * window, m))
        if rng.random() < p_dup:
            out.append((i + rng.random() * window, m))
    return [m for _, m in sorted(out, key=lambda x: x[0])]


@pytest.mark.parametrize("seed", range(12))
def test_random_traffic(seed):
    rng = random.Random(seed)
    sim = Sim(core.OmsParams(budget=BudgetParams(places_per_s=20, places_per_min=600, cancels_per_s=20,
                                                 cancels_per_min=600, min_order_lifetime_ms=200)))
    sim.pump()
    center = 300_000
    for _ in range(400):
        sim.advance(rng.choice([5, 20, 50, 200]) * MS)
        r = rng.random()
        if r < 0.45:
            center += rng.randint(-4, 4)
            n = rng.randint(0, 3)
            sim.target([(center - 5 - 10 * i, rng.choice([5, 10, 15])) for i in range(n)],
                       [(center + 5 + 10 * i, rng.choice([5, 10, 15])) for i in range(rng.randint(0, 3))],
                       limits=LIMITS)
        elif r < 0.60:  # the exchange fills something resting
            resting = [(c, o) for c, (o, st, f) in sim.ex.orders.items() if st in OPEN]
            if resting:
                cid, o = rng.choice(resting)
                left = o.qty_lots - sim.ex.orders[cid][2]
                sim.inbox.append(sim.ex.fill(cid, rng.randint(1, left)))
        elif r < 0.85:  # some answers arrive, in any order, some twice, a few never
            k = rng.randint(0, len(sim.inbox))
            batch, sim.inbox = sim.inbox[:k], sim.inbox[k:]
            for msg in _shuffled(rng, batch, 0.2, 4.0, p_lost=0.15):
                sim.take(deliver(sim.state, msg, sim.now))
        else:
            sim.tick()
        exp = sim.state.exposure
        assert exp.buy_lots >= 0 and exp.sell_lots >= 0
        # Lesson 1: fills move exposure into the position one for one, so nothing but a plan could raise
        # the worst case, and the plan never takes it past the limit.
        assert -LIMITS.max_short_lots <= sim.state.worst_short_lots
        assert sim.state.worst_long_lots <= LIMITS.max_long_lots
        fills_seen = len(sim.ex.fills)

    # Let everything settle: remaining answers (shuffled), follow-ups, a reconciliation.
    for msg in _shuffled(rng, sim.inbox, 0.2, 4.0):
        sim.take(deliver(sim.state, msg, sim.now))
    sim.inbox = []
    for _ in range(3):
        sim.advance(7 * S)
        sim.tick()
        sim.pump()
    sim.take(core.begin_reconcile(sim.state, sim.now))
    sim.pump()

    ex_open = {c: st for c, (o, st, f) in sim.ex.orders.items() if st in OPEN}
    live = {o.client_order_id: o for o in sim.state.book.live()}
    assert set(ex_open) == set(live), "the book and the exchange disagree on what is open"
    for cid, (_, st, f) in sim.ex.orders.items():
        mine = sim.state.book.get(cid)
        if mine is not None:
            assert mine.filled_lots == f, cid
            if st is OrderStatus.FILLED:
                assert mine.status is Status.FILLED
    assert sim.state.position.lots == sim.ex.position
    assert not sim.published(PositionMismatch)
    trades = [e.trade_id for e in sim.published(OrderFilled)]
    assert len(trades) == len(set(trades)) == len(sim.ex.fills) == fills_seen > 0
    assert len(sim.state.book) > 20


def test_fill_updates_are_deliverable():
    """A guard for the harness: the fake exchange's fill updates are real OrderUpdates."""
    sim = Sim()
    sim.pump()
    sim.target([(300_000, 10)], [])
    sim.pump()
    (cid,) = [o.client_order_id for o in sim.state.book.live()]
    assert isinstance(sim.ex.fill(cid, 1), OrderUpdate)
