"""The rate budget, and the cancel storm it exists to prevent (lesson 3: 402 cancels a minute)."""

from __future__ import annotations

import random

import msgspec
import pytest

from actors.oms import core
from actors.oms.budget import MINUTE_NS, SECOND_NS, Budget, BudgetParams, Kind, Window, old_enough
from actors.oms.diff import Tolerance
from actors.oms.messages import CancelOrders, PlaceOrders
from tests.actors.oms.helpers import MS, T0, Sim

P = BudgetParams(places_per_s=5, places_per_min=60, cancels_per_s=4, cancels_per_min=40, min_order_lifetime_ms=1000)


def test_window_counts_exactly_the_last_window():
    w = Window(5, SECOND_NS)
    assert w.available(T0) == 5
    w = w.take(3, T0).take(2, T0 + 400 * MS)
    assert w.available(T0 + 400 * MS) == 0
    assert w.available(T0 + SECOND_NS - 1) == 0
    assert w.available(T0 + SECOND_NS) == 3  # the first three slid out
    assert w.available(T0 + 1400 * MS) == 5


def test_window_never_lets_more_than_the_limit_through_in_any_window():
    """Unlike a full token bucket, which lets twice its capacity through in its first window."""
    w, sent, now = Window(40, MINUTE_NS), [], T0
    for _ in range(6000):  # every 20 ms for two minutes, take whatever is allowed
        k = w.available(now)
        w = w.take(k, now)
        sent += [now] * k
        now += 20 * MS
    for i, t in enumerate(sent):
        assert sum(1 for u in sent[i:] if u < t + MINUTE_NS) <= 40


def test_forced_spend_blocks_until_it_slides_out():
    w = Window(5, SECOND_NS).take(12, T0)
    assert w.available(T0 + SECOND_NS - 1) == 0
    assert w.available(T0 + SECOND_NS) == 5


def test_window_ignores_time_going_backwards():
    w = Window(5, SECOND_NS).take(5, T0).take(0, T0 - SECOND_NS)
    assert w.sent[-1] == T0 and w.available(T0) == 0


def test_allow_takes_the_tighter_window():
    b = Budget.start(P, T0)
    assert b.allow(Kind.PLACE, 100, T0) == 5
    now = T0
    for _ in range(12):  # 12 s at the per-second rate would be 60 = the whole minute
        b = b.spend(Kind.PLACE, b.allow(Kind.PLACE, 100, now), now)
        now += SECOND_NS
    assert b.allow(Kind.PLACE, 100, now) < 5  # the minute bucket now binds


def test_allow_does_not_spend_and_take_does():
    b = Budget.start(P, T0)
    assert b.allow(Kind.CANCEL, 3, T0) == 3 and b.allow(Kind.CANCEL, 3, T0) == 3
    n, b2 = b.take(Kind.CANCEL, 10, T0)
    assert n == 4 and b2.allow(Kind.CANCEL, 1, T0) == 0
    assert b2.allow(Kind.PLACE, 1, T0) == 1  # separate buckets


def test_safety_cancels_are_never_refused_but_are_counted():
    b = Budget.start(P, T0)
    for _ in range(3):
        assert b.allow(Kind.SAFETY_CANCEL, 50, T0) == 50
        b = b.spend(Kind.SAFETY_CANCEL, 50, T0)
    assert b.allow(Kind.CANCEL, 1, T0) == 0
    assert b.allow(Kind.CANCEL, 1, T0 + SECOND_NS) == 0  # the minute window is full: requotes wait
    assert b.allow(Kind.CANCEL, 4, T0 + MINUTE_NS) == 4


def test_hold_blocks_places_only():
    b = Budget.start(P, T0).hold(T0 + 5 * SECOND_NS)
    assert b.allow(Kind.PLACE, 1, T0 + SECOND_NS) == 0
    assert b.allow(Kind.CANCEL, 1, T0 + SECOND_NS) == 1
    assert b.allow(Kind.PLACE, 1, T0 + 5 * SECOND_NS) == 1
    assert b.hold(T0).hold_until_ns == T0 + 5 * SECOND_NS  # a shorter hold never shortens it


def test_old_enough():
    assert not old_enough(T0, T0 + 999 * MS, 1000 * MS)
    assert old_enough(T0, T0 + 1000 * MS, 1000 * MS)


# ---------------------------------------------------------------- the storm that must not happen


def _jitter_minute(params: core.OmsParams, seed: int = 7, seconds: int = 60) -> tuple[int, int, int]:
    """A strategy requoting at 50 Hz on a mid that jitters +-3 ticks and drifts, for one simulated minute,
    against an exchange that acknowledges and confirms at once. Returns (cancels, places, max resting)."""
    rng = random.Random(seed)
    sim = Sim(params)
    sim.pump()  # start-up reconciliation
    assert sim.state.mode is core.Mode.QUOTING
    center = 300_000
    worst = 0
    for i in range(50 * seconds):
        sim.advance(20 * MS)
        if i % 50 == 0:
            center += rng.choice([-2, -1, 0, 1, 2])
        mid = center + rng.randint(-3, 3)
        sim.target(bids=[(mid - 5, 10), (mid - 10, 10)], asks=[(mid + 5, 10), (mid + 10, 10)])
        sim.pump()
        if i % 10 == 0:
            sim.tick()
            sim.pump()
        worst = max(worst, len(sim.state.book.live()))
    cancels = sum(len(c.client_order_ids) for c in sim.sent(CancelOrders))
    places = sum(len(c.orders) for c in sim.sent(PlaceOrders))
    return cancels, places, worst


def test_jittering_mid_at_50hz_stays_under_the_budget():
    params = core.OmsParams(tolerance=Tolerance(price_ticks=2), budget=P)
    cancels, places, worst = _jitter_minute(params)
    # Within the per-minute budgets, and far below the predecessor's 402.
    assert cancels <= P.cancels_per_min and places <= P.places_per_min
    assert cancels < 402 / 5
    assert worst <= 4  # never more resting/pending than desired: no pile-up while requotes wait
    assert cancels > 10  # it did requote (the quotes follow the drift)


def test_without_hysteresis_the_same_target_would_storm():
    """The control: no tolerance, no lifetime, unlimited budget: the storm the budget prevents, in 10 s."""
    big = BudgetParams(places_per_s=10_000, places_per_min=10**6, cancels_per_s=10_000, cancels_per_min=10**6,
                       min_order_lifetime_ms=0)
    cancels, _, _ = _jitter_minute(core.OmsParams(tolerance=Tolerance(price_ticks=0), budget=big), seconds=10)
    assert cancels > 402


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_budget_holds_for_other_seeds(seed):
    cancels, places, _ = _jitter_minute(core.OmsParams(tolerance=Tolerance(price_ticks=2), budget=P), seed)
    assert cancels <= P.cancels_per_min and places <= P.places_per_min


def test_new_limits_by_hot_reload_apply_over_the_same_history() -> None:
    """A reload that lowers the cancel budget mid-storm takes effect at once: what was already sent in the
    last second and minute still counts against the new limits, and an exchange-imposed hold stays."""
    b = Budget.start(P).spend(Kind.CANCEL, 4, T0).spend(Kind.PLACE, 2, T0)
    b = msgspec.structs.replace(b, hold_until_ns=T0 + 5 * SECOND_NS)
    lower = BudgetParams(places_per_s=5, places_per_min=60, cancels_per_s=2, cancels_per_min=6,
                         min_order_lifetime_ms=1000)
    r = b.with_params(lower)
    assert r.params == lower and r.hold_until_ns == b.hold_until_ns
    assert r.allow(Kind.CANCEL, 10, T0) == 0  # 4 sent this second against a new limit of 2
    assert r.allow(Kind.CANCEL, 10, T0 + SECOND_NS) == 2  # the second slid: 2 a second, 6 - 4 a minute
    assert r.spend(Kind.CANCEL, 2, T0 + SECOND_NS).allow(Kind.CANCEL, 10, T0 + 2 * SECOND_NS) == 0  # minute full
    assert r.allow(Kind.PLACE, 1, T0 + SECOND_NS) == 0  # still held
    raised = b.with_params(BudgetParams(places_per_s=50, places_per_min=600, cancels_per_s=40, cancels_per_min=400))
    assert raised.allow(Kind.CANCEL, 100, T0) == 36
