"""The order/cancel rate budget: no cancel storms (lesson 3: the predecessor sent 402 cancels a minute).

Sliding windows per second and per minute (at most N in any window), one pair for placements and one for
cancels, on integer ns. Three kinds of spending:

* ``PLACE`` and ``CANCEL`` (a requote) get only what the buckets hold;
* ``SAFETY_CANCEL`` (panicstop, risk, a side withdrawn, a limit breached, an orphan, an unconfirmed cancel)
  is never refused: pulling quotes must not wait for a budget. It is still counted, and may fill the
  cancel windows beyond their limit, so the requotes after it wait until the windows slide past.

The exchange's own limits (weight, order count) are the gateway's budget; this one is about our behaviour.
Together with the refresh tolerance and the minimum order lifetime (``min_order_lifetime_ms``: a resting
order is not replaced for a requote before it is that old) a jittering mid cannot produce a storm.
"""

from __future__ import annotations

from bisect import bisect_right
from enum import StrEnum

import msgspec

SECOND_NS = 1_000_000_000
MINUTE_NS = 60 * SECOND_NS


class Kind(StrEnum):
    PLACE = "PLACE"
    CANCEL = "CANCEL"  # a requote: limited by the budget
    SAFETY_CANCEL = "SAFETY_CANCEL"  # never refused, always counted


class Window(msgspec.Struct, frozen=True):
    """At most ``limit`` sends in any ``window_ns``: the send times of the last window, kept exactly.

    A sliding window, not a token bucket: a bucket that starts full lets twice its capacity through in the
    first window, and "at most N a minute" should mean that in every minute.
    """

    limit: int
    window_ns: int
    sent: tuple[int, ...] = ()  # send times still inside the window, ascending

    def _inside(self, now_ns: int) -> tuple[int, ...]:
        i = bisect_right(self.sent, now_ns - self.window_ns)  # ``sent`` is ascending
        return self.sent[i:] if i else self.sent

    def used(self, now_ns: int) -> int:
        return len(self._inside(now_ns))

    def available(self, now_ns: int) -> int:
        return max(0, self.limit - len(self._inside(now_ns)))

    def take(self, n: int, now_ns: int) -> Window:
        """Count ``n`` sends now. A forced spend (safety) may exceed the limit: the excess blocks the window
        until it slides past. Time never runs backwards here (a late ``now_ns`` counts as the latest time)."""
        t = max(now_ns, self.sent[-1]) if self.sent else now_ns
        inside = self._inside(t)
        cap = max(4 * self.limit, 64)  # bounded memory; a huge safety burst is forgotten sooner
        return Window(self.limit, self.window_ns, (inside + (t,) * n)[-cap:])


class BudgetParams(msgspec.Struct, frozen=True):
    places_per_s: int = 5
    places_per_min: int = 120
    cancels_per_s: int = 5
    cancels_per_min: int = 100
    min_order_lifetime_ms: int = 1000  # a resting order is not replaced for a requote before this age

    @property
    def min_lifetime_ns(self) -> int:
        return self.min_order_lifetime_ms * 1_000_000


class Budget(msgspec.Struct, frozen=True):
    params: BudgetParams
    place_s: Window
    place_m: Window
    cancel_s: Window
    cancel_m: Window
    hold_until_ns: int = 0  # no placements before this (the exchange said 429 / -1015 / 418)

    @classmethod
    def start(cls, params: BudgetParams, now_ns: int = 0) -> Budget:
        if min(params.places_per_s, params.places_per_min, params.cancels_per_s, params.cancels_per_min) < 1:
            raise ValueError("every rate limit must be at least 1")
        return cls(params, Window(params.places_per_s, SECOND_NS), Window(params.places_per_min, MINUTE_NS),
                   Window(params.cancels_per_s, SECOND_NS), Window(params.cancels_per_min, MINUTE_NS))

    def with_params(self, params: BudgetParams) -> Budget:
        """New limits (a hot reload) over the same history: what was sent in the last second and minute still
        counts, and a hold the exchange imposed stays."""
        fresh = Budget.start(params)
        return Budget(params, *(msgspec.structs.replace(w, sent=old.sent) for w, old in (
            (fresh.place_s, self.place_s), (fresh.place_m, self.place_m), (fresh.cancel_s, self.cancel_s),
            (fresh.cancel_m, self.cancel_m))), hold_until_ns=self.hold_until_ns)

    def allow(self, kind: Kind, n: int, now_ns: int) -> int:
        """How many of ``n`` may go now (all of them for a safety cancel). Changes nothing."""
        if n <= 0:
            return 0
        if kind is Kind.SAFETY_CANCEL:
            return n
        if kind is Kind.PLACE:
            if now_ns < self.hold_until_ns:
                return 0
            return min(n, self.place_s.available(now_ns), self.place_m.available(now_ns))
        return min(n, self.cancel_s.available(now_ns), self.cancel_m.available(now_ns))

    def spend(self, kind: Kind, n: int, now_ns: int) -> Budget:
        """Count ``n`` sent. Spending more than ``allow`` gave is only legitimate for safety cancels."""
        if n <= 0:
            return self
        if kind is Kind.PLACE:
            return msgspec.structs.replace(self, place_s=self.place_s.take(n, now_ns),
                                           place_m=self.place_m.take(n, now_ns))
        return msgspec.structs.replace(self, cancel_s=self.cancel_s.take(n, now_ns),
                                       cancel_m=self.cancel_m.take(n, now_ns))

    def take(self, kind: Kind, n: int, now_ns: int) -> tuple[int, Budget]:
        """``allow`` and ``spend`` in one step: how many may go, and the budget after sending them."""
        k = self.allow(kind, n, now_ns)
        return k, self.spend(kind, k, now_ns)

    def hold(self, until_ns: int) -> Budget:
        """No placements before ``until_ns`` (a rate limit or ban reported by the gateway)."""
        return msgspec.structs.replace(self, hold_until_ns=max(self.hold_until_ns, until_ns))


def old_enough(sent_ns: int, now_ns: int, min_lifetime_ns: int) -> bool:
    """May a resting order sent at ``sent_ns`` be replaced for a requote now (the requote hysteresis)?"""
    return now_ns - sent_ns >= min_lifetime_ns
