"""The trading-state machine, as tables: sequences of inputs → state, holds, transitions."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from actors.risk.messages import TradingState
from actors.risk.state import (
    CAUSES,
    TRANSITIONS,
    Cause,
    Lift,
    LiftRefused,
    TradingStateMachine,
    allows_new_orders,
)

A, R, H = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED
S = 1_000_000_000

Step = Callable[[TradingStateMachine], tuple[TradingStateMachine, object]]


def up(cause: Cause, at: int = 0, until: int = 0) -> Step:
    return lambda m: m.raise_(cause, "test", at * S, until * S)


def down(cause: Cause, at: int = 0) -> Step:
    return lambda m: m.lift(cause, "test", at * S)


def expire(at: int) -> Step:
    return lambda m: m.expire(at * S)


def resume(at: int = 0) -> Step:
    return lambda m: m.resume("ops", at * S)


TABLE: list[tuple[str, list[Step], TradingState, set[Cause], list[tuple[TradingState, TradingState]]]] = [
    ("starts active", [], A, set(), []),
    ("error rate reduces", [up(Cause.ERROR_RATE)], R, {Cause.ERROR_RATE}, [(A, R)]),
    ("error rate clears", [up(Cause.ERROR_RATE), down(Cause.ERROR_RATE)], A, set(), [(A, R), (R, A)]),
    ("panicstop halts", [up(Cause.PANICSTOP)], H, {Cause.PANICSTOP}, [(A, H)]),
    ("panicstop survives time", [up(Cause.PANICSTOP), expire(10**6)], H, {Cause.PANICSTOP}, [(A, H)]),
    ("panicstop lifts only by resume", [up(Cause.PANICSTOP), resume(5)], A, set(), [(A, H), (H, A)]),
    ("shock halts then expires", [up(Cause.PRICE_SHOCK, 0, 60), expire(59), expire(60)], A, set(), [(A, H), (H, A)]),
    ("shock re-raised keeps the later end", [up(Cause.PRICE_SHOCK, 0, 60), up(Cause.PRICE_SHOCK, 30, 90),
                                             expire(60)], H, {Cause.PRICE_SHOCK}, [(A, H)]),
    ("shock re-raised never shortens", [up(Cause.PRICE_SHOCK, 0, 60), up(Cause.PRICE_SHOCK, 10, 20), expire(20)],
     H, {Cause.PRICE_SHOCK}, [(A, H)]),
    ("halt over reduce falls back to reduce", [up(Cause.ERROR_RATE), up(Cause.PRICE_SHOCK, 0, 60), expire(60)],
     R, {Cause.ERROR_RATE}, [(A, R), (R, H), (H, R)]),
    ("reduce under halt changes nothing", [up(Cause.PANICSTOP), up(Cause.ERROR_RATE), down(Cause.ERROR_RATE)],
     H, {Cause.PANICSTOP}, [(A, H)]),
    ("shock ends but panicstop stays", [up(Cause.PRICE_SHOCK, 0, 60), up(Cause.PANICSTOP, 1), expire(61)],
     H, {Cause.PANICSTOP}, [(A, H)]),
    ("daily loss sticky", [up(Cause.DAILY_LOSS), expire(10**6)], H, {Cause.DAILY_LOSS}, [(A, H)]),
    ("mismatch reduces and clears", [up(Cause.POSITION_MISMATCH), down(Cause.POSITION_MISMATCH)], A, set(),
     [(A, R), (R, A)]),
    ("mismatch-halt is sticky", [up(Cause.POSITION_MISMATCH_HALT), expire(10**6)], H,
     {Cause.POSITION_MISMATCH_HALT}, [(A, H)]),
    ("operator reduce then halt then resume", [up(Cause.OPERATOR_REDUCE), up(Cause.OPERATOR_HALT), resume()],
     A, set(), [(A, R), (R, H), (H, A)]),
    ("raising twice is one hold", [up(Cause.ERROR_RATE), up(Cause.ERROR_RATE, 5)], R, {Cause.ERROR_RATE}, [(A, R)]),
    ("lifting what is not held does nothing", [down(Cause.ERROR_RATE)], A, set(), []),
]


@pytest.mark.parametrize(("name", "steps", "state", "causes", "transitions"), TABLE, ids=[t[0] for t in TABLE])
def test_table(name: str, steps: list[Step], state: TradingState, causes: set[Cause],
               transitions: list[tuple[TradingState, TradingState]]) -> None:
    m = TradingStateMachine()
    seen = []
    for step in steps:
        m, tr = step(m)
        if tr is not None:
            assert (tr.previous, tr.current) in TRANSITIONS
            assert tr.reason  # the cause's reason and the table's why
            seen.append((tr.previous, tr.current))
    assert m.state is state
    assert set(m.causes) == causes
    assert seen == transitions


def test_sticky_holds_refuse_a_rule_lift() -> None:
    for cause, rule in CAUSES.items():
        m, _ = TradingStateMachine().raise_(cause, "x", 0, S if rule.lift is Lift.TIMER else 0)
        if rule.lift is Lift.AUTO:
            assert m.lift(cause, "ok", 1)[0].state is TradingState.ACTIVE
        else:
            with pytest.raises(LiftRefused):
                m.lift(cause, "no", 1)


def test_a_timed_hold_needs_a_future_deadline() -> None:
    with pytest.raises(ValueError, match="deadline"):
        TradingStateMachine().raise_(Cause.PRICE_SHOCK, "x", 10, 10)


def test_halted_until_and_reason() -> None:
    m, _ = TradingStateMachine().raise_(Cause.PRICE_SHOCK, "spike", 0, 60 * S)
    assert m.halted_until_ns == 60 * S and m.next_expiry_ns() == 60 * S
    m2, tr = m.raise_(Cause.PANICSTOP, "operator", S)
    assert tr is None and m2.halted_until_ns == 0  # a sticky halt outlasts the timer
    assert m2.reason().startswith("price_shock: spike; panicstop: operator")


def test_every_cause_has_a_rule_and_the_table_is_complete() -> None:
    assert set(CAUSES) == set(Cause)
    states = list(TradingState)
    assert set(TRANSITIONS) == {(a, b) for a in states for b in states if a is not b}


@pytest.mark.parametrize(("state", "reduce_only", "flatten", "ok"), [
    (A, False, False, True), (A, True, False, True),
    (R, False, False, False), (R, True, False, True),
    (H, False, False, False), (H, True, False, False), (H, True, True, True), (H, False, True, False),
])
def test_gating(state: TradingState, reduce_only: bool, flatten: bool, ok: bool) -> None:
    assert allows_new_orders(state, reduce_only=reduce_only, flatten=flatten) is ok
