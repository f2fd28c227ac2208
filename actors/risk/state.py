"""The trading-state machine: ACTIVE / REDUCING / HALTED, after nautilus_trader's ``TradingState``.

Several conditions can be in force at once (a price-shock halt while the error rate keeps us reducing), so
the machine keeps one *hold* per cause and its state is the most restrictive level among them; when the
last halt-level hold goes, it falls back to REDUCING if a reduce-level hold remains, not straight to
ACTIVE. Two literal tables say everything: ``CAUSES`` (what each cause does and what lifts it) and
``TRANSITIONS`` (every state change that can happen, and why). A frozen value: every input returns a new
machine and the transition it made, if any.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType

from actors.risk.messages import TradingState

ACTIVE, REDUCING, HALTED = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED
_RANK = {ACTIVE: 0, REDUCING: 1, HALTED: 2}


class Cause(StrEnum):
    PANICSTOP = "panicstop"
    DAILY_LOSS = "daily_loss"
    ERROR_RATE_HALT = "error_rate_halt"
    POSITION_MISMATCH_HALT = "position_mismatch_halt"
    OPERATOR_HALT = "operator_halt"
    PRICE_SHOCK = "price_shock"
    ERROR_RATE = "error_rate"
    POSITION_MISMATCH = "position_mismatch"
    OPERATOR_REDUCE = "operator_reduce"


class Lift(StrEnum):
    """What takes a hold away."""

    OPERATOR = "operator"  # sticky: only an operator's Resume
    TIMER = "timer"  # its own deadline (or an operator)
    AUTO = "auto"  # the rule that raised it, when its condition clears (or an operator)


@dataclass(frozen=True, slots=True)
class CauseRule:
    level: TradingState
    lift: Lift
    panic: bool  # raising it also starts the panicstop procedure (cancel all, confirm, optional flatten)
    meaning: str


# One row per cause. Severe or unexplained conditions are sticky (a person must look before trading resumes);
# a price shock is a pause that ends by itself; reduce-level conditions lift when they clear.
CAUSES: Mapping[Cause, CauseRule] = MappingProxyType({
    Cause.PANICSTOP: CauseRule(HALTED, Lift.OPERATOR, True, "panicstop by a rule, the supervisor or an operator"),
    Cause.DAILY_LOSS: CauseRule(HALTED, Lift.OPERATOR, True, "the day's net PnL reached -max_daily_loss"),
    Cause.ERROR_RATE_HALT: CauseRule(HALTED, Lift.OPERATOR, True, "order errors in the window reached error_rate_halt"),
    Cause.POSITION_MISMATCH_HALT: CauseRule(HALTED, Lift.OPERATOR, False,
                                            "reconciliation found the exchange position differs from ours"),
    Cause.OPERATOR_HALT: CauseRule(HALTED, Lift.OPERATOR, False, "an operator paused trading"),
    Cause.PRICE_SHOCK: CauseRule(HALTED, Lift.TIMER, False, "mid moved more than shock_pct within shock_window"),
    Cause.ERROR_RATE: CauseRule(REDUCING, Lift.AUTO, False, "order errors in the window reached error_rate_reduce"),
    Cause.POSITION_MISMATCH: CauseRule(REDUCING, Lift.AUTO, False,
                                       "reconciliation found the exchange position differs from ours"),
    Cause.OPERATOR_REDUCE: CauseRule(REDUCING, Lift.OPERATOR, False, "an operator allowed only reducing orders"),
})

# Every state change the machine can make, and what makes it. Anything else is a bug (asserted).
TRANSITIONS: Mapping[tuple[TradingState, TradingState], str] = MappingProxyType({
    (ACTIVE, REDUCING): "a reduce-level cause was raised",
    (ACTIVE, HALTED): "a halt-level cause was raised",
    (REDUCING, HALTED): "a halt-level cause was raised",
    (REDUCING, ACTIVE): "the last reduce-level cause was lifted (condition cleared, or an operator resumed)",
    (HALTED, REDUCING): "the last halt-level cause was lifted while a reduce-level cause is still in force",
    (HALTED, ACTIVE): "the last cause was lifted (halt timer expired, condition cleared, or an operator resumed)",
})


class LiftRefused(ValueError):
    """A rule tried to lift a hold that only an operator (or its timer) may lift: a programming error."""


@dataclass(frozen=True, slots=True)
class Hold:
    cause: Cause
    reason: str
    since_ns: int
    until_ns: int = 0  # TIMER holds: when it lifts itself


@dataclass(frozen=True, slots=True)
class Transition:
    previous: TradingState
    current: TradingState
    reason: str  # the cause's own reason, then the table's why
    at_ns: int


@dataclass(frozen=True, slots=True)
class TradingStateMachine:
    holds: tuple[Hold, ...] = ()  # at most one per cause, in the order they were raised

    # ------------------------------------------------------------------ reads
    @property
    def state(self) -> TradingState:
        level = ACTIVE
        for h in self.holds:
            lv = CAUSES[h.cause].level
            if _RANK[lv] > _RANK[level]:
                level = lv
        return level

    @property
    def causes(self) -> tuple[Cause, ...]:
        return tuple(h.cause for h in self.holds)

    def hold(self, cause: Cause) -> Hold | None:
        for h in self.holds:
            if h.cause is cause:
                return h
        return None

    def has(self, cause: Cause) -> bool:
        return self.hold(cause) is not None

    @property
    def halted_until_ns(self) -> int:
        """When a timed halt ends (0 if none, or if a sticky halt outlasts it)."""
        if any(CAUSES[h.cause].level is HALTED and CAUSES[h.cause].lift is not Lift.TIMER for h in self.holds):
            return 0
        return max((h.until_ns for h in self.holds if CAUSES[h.cause].lift is Lift.TIMER), default=0)

    def next_expiry_ns(self) -> int | None:
        t = [h.until_ns for h in self.holds if CAUSES[h.cause].lift is Lift.TIMER]
        return min(t) if t else None

    def reason(self) -> str:
        """The holds in force, most severe first, in plain words."""
        hs = sorted(self.holds, key=lambda h: -_RANK[CAUSES[h.cause].level])
        return "; ".join(f"{h.cause.value}: {h.reason}" for h in hs) or "no risk condition in force"

    # ------------------------------------------------------------------ inputs
    def raise_(self, cause: Cause, reason: str, now_ns: int, until_ns: int = 0) -> tuple[TradingStateMachine,
                                                                                          Transition | None]:
        """Put a hold in force (again). A timed hold raised again keeps the later deadline."""
        rule = CAUSES[cause]
        if rule.lift is Lift.TIMER and until_ns <= now_ns:
            raise ValueError(f"{cause.value}: a timed hold needs a deadline after now")
        old = self.hold(cause)
        if old is not None:
            if rule.lift is Lift.TIMER and until_ns > old.until_ns:
                new = replace(old, until_ns=until_ns, reason=reason)
                return TradingStateMachine(tuple(new if h is old else h for h in self.holds)), None
            return self, None
        nxt = TradingStateMachine((*self.holds, Hold(cause, reason, now_ns, until_ns if rule.lift is Lift.TIMER
                                                     else 0)))
        return nxt, self._transition(nxt, f"{cause.value}: {reason}", now_ns)

    def lift(self, cause: Cause, reason: str, now_ns: int) -> tuple[TradingStateMachine, Transition | None]:
        """A rule's condition cleared. Only AUTO holds may be lifted this way."""
        if CAUSES[cause].lift is not Lift.AUTO:
            raise LiftRefused(f"{cause.value} is lifted by {CAUSES[cause].lift.value}, not by its rule")
        return self._drop(lambda h: h.cause is cause, f"{cause.value} cleared: {reason}", now_ns)

    def expire(self, now_ns: int) -> tuple[TradingStateMachine, Transition | None]:
        """Timed holds whose deadline has come (``until_ns <= now``) lift themselves."""
        return self._drop(lambda h: CAUSES[h.cause].lift is Lift.TIMER and h.until_ns <= now_ns,
                          "halt timer expired", now_ns)

    def resume(self, operator: str, now_ns: int) -> tuple[TradingStateMachine, Transition | None]:
        """An operator lifts every hold (the monitor re-raises any condition still present)."""
        return self._drop(lambda h: True, f"resumed by {operator}", now_ns)

    # ------------------------------------------------------------------ helpers
    def _drop(self, gone: Callable[[Hold], bool], reason: str, now_ns: int) -> tuple[TradingStateMachine,
                                                                                    Transition | None]:
        kept = tuple(h for h in self.holds if not gone(h))
        if len(kept) == len(self.holds):
            return self, None
        nxt = TradingStateMachine(kept)
        return nxt, self._transition(nxt, reason, now_ns)

    def _transition(self, nxt: TradingStateMachine, reason: str, now_ns: int) -> Transition | None:
        a, b = self.state, nxt.state
        if a is b:
            return None
        why = TRANSITIONS[(a, b)]  # KeyError here would be a state the table does not allow
        return Transition(a, b, f"{reason} ({why})", now_ns)


def allows_new_orders(state: TradingState, *, reduce_only: bool, flatten: bool = False) -> bool:
    """ACTIVE: any order; REDUCING: reduce-only orders; HALTED: only a panicstop's reduce-only flatten orders."""
    if state is ACTIVE:
        return True
    if state is REDUCING:
        return reduce_only
    return reduce_only and flatten
