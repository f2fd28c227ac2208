"""The order/cancel rate budget: no cancel storms (lesson 3: the predecessor sent 402 cancels a minute).

Token buckets per second and per minute, one pair for placements and one for cancels, in exact integer
arithmetic on ns. Three kinds of spending:

* ``PLACE`` and ``CANCEL`` (a requote) get only what the buckets hold;
* ``SAFETY_CANCEL`` (panicstop, risk, a side withdrawn, a limit breached, an orphan, an unconfirmed cancel)
  is never refused: pulling quotes must not wait for a budget. It is still counted, and may drive the
  cancel buckets into debt (at most one window's capacity), so the requotes after it wait longer.

The exchange's own limits (weight, order count) are the gateway's budget; this one is about our behaviour.
Together with the refresh tolerance and the minimum order lifetime (``min_order_lifetime_ms``: a resting
order is not replaced for a requote before it is that old) a jittering mid cannot produce a storm.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

SECOND_NS = 1_000_000_000
MINUTE_NS = 60 * SECOND_NS


class Kind(StrEnum):
    PLACE = "PLACE"
    CANCEL = "CANCEL"  # a requote: limited by the budget
    SAFETY_CANCEL = "SAFETY_CANCEL"  # never refused, always counted


class Bucket(msgspec.Struct, frozen=True):
    """``capacity`` tokens per ``window_ns``, refilled continuously. ``level`` is in token·ns (exact)."""

    capacity: int
    window_ns: int
    level: int
    at_ns: int

    @classmethod
    def full(cls, capacity: int, window_ns: int, now_ns: int) -> Bucket:
        if capacity < 0 or window_ns <= 0:
            raise ValueError("a bucket needs capacity >= 0 and a positive window")
        return cls(capacity, window_ns, capacity * window_ns, now_ns)

    def level_at(self, now_ns: int) -> int:
        elapsed = max(0, now_ns - self.at_ns)  # time never runs backwards here
        return min(self.capacity * self.window_ns, self.level + elapsed * self.capacity)

    def available(self, now_ns: int) -> int:
        return max(0, self.level_at(now_ns) // self.window_ns)

    def take(self, n: int, now_ns: int) -> Bucket:
        """Spend ``n`` tokens; a forced spend may go into debt, at most one window's capacity deep."""
        floor = -self.capacity * self.window_ns
        level = max(floor, self.level_at(now_ns) - n * self.window_ns)
        return Bucket(self.capacity, self.window_ns, level, max(now_ns, self.at_ns))


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
    place_s: Bucket
    place_m: Bucket
    cancel_s: Bucket
    cancel_m: Bucket
    hold_until_ns: int = 0  # no placements before this (the exchange said 429 / -1015 / 418)

    @classmethod
    def start(cls, params: BudgetParams, now_ns: int) -> Budget:
        return cls(params,
                   Bucket.full(params.places_per_s, SECOND_NS, now_ns),
                   Bucket.full(params.places_per_min, MINUTE_NS, now_ns),
                   Bucket.full(params.cancels_per_s, SECOND_NS, now_ns),
                   Bucket.full(params.cancels_per_min, MINUTE_NS, now_ns))

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
