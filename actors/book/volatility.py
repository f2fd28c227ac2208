"""Realized volatility of the mid over a short window, sampled on a fixed time grid.

Book updates arrive irregularly (bursts in fast markets, silence in quiet ones); summing squared changes per
update would weigh busy moments more. So the mid is sampled on a grid of ``sample_ns`` (the sample at grid
time t is the mid after every update stamped ≤ t) and the estimate is the realized variance of the last
``n`` grid returns: ``sigma² = Σ r² / (n · Δt)``, not demeaned (a steady drift is risk to an inventory too).
Returns are plain price differences, so ``sigma`` is in price units per √second, as Avellaneda–Stoikov wants.

Incremental: each grid return enters a deque with a running sum of squares (re-summed exactly once per
window length of evictions, so float drift never builds up). Time is passed in; nothing reads a clock.
"""

from __future__ import annotations

import math
from collections import deque

_INF = math.inf
_BEFORE_ALL = -(1 << 62)


class RealizedVol:
    """``update(t_ns, mid)`` per book change; read ``sigma``, ``sigma_bps``, ``warm`` (a full window)."""

    __slots__ = ("_dt_s", "_evicted", "_mid", "_n", "_next_ns", "_rets", "_sumsq", "last_sample",
                 "last_sample_ns", "sample_ns", "sigma", "sigma_bps", "warm")

    def __init__(self, window_ns: int, sample_ns: int) -> None:
        if sample_ns <= 0 or window_ns < 2 * sample_ns or window_ns % sample_ns:
            raise ValueError("window_ns must be a whole multiple (>= 2) of sample_ns > 0")
        self.sample_ns = sample_ns
        self._n = window_ns // sample_ns  # returns in a full window
        self._dt_s = sample_ns / 1e9
        self._rets: deque[float] = deque()
        self.reset()

    def reset(self) -> None:
        """Forget everything (after a resync or a stall): the next update starts a fresh warm-up."""
        self._rets.clear()
        self._sumsq = 0.0
        self._evicted = 0
        self._mid = math.nan  # the mid as of now (latest update)
        self._next_ns = _BEFORE_ALL  # the next grid time not yet sampled (set by the first update)
        self.last_sample = math.nan  # the mid at the latest grid time sampled
        self.last_sample_ns = 0
        self.sigma = 0.0  # price units per √s, over the returns held (read ``warm`` before trusting it)
        self.sigma_bps = 0.0
        self.warm = False

    @property
    def samples(self) -> int:
        """Grid returns held (at most a window's worth)."""
        return len(self._rets)

    def update(self, t_ns: int, mid: float) -> int:
        """Fold in the mid as of ``t_ns`` (not before the previous update's time). Every grid time before
        ``t_ns`` not yet sampled takes the mid before this update; returns how many grid times were sampled.
        A mid that is not a positive finite number is ignored (0 returned), so one bad value cannot poison the
        window; an earlier ``t_ns`` than the last one counts as the last one."""
        if not 0.0 < mid < _INF:
            return 0
        if t_ns <= self._next_ns:  # no grid time passed: the common case, a store and nothing else
            self._mid = mid
            return 0
        if self._mid != self._mid:  # nan: the first update since a reset; the grid starts at or after it
            self._mid = mid
            self._next_ns = -(-t_ns // self.sample_ns) * self.sample_ns
            return 0
        step = self.sample_ns
        k = (t_ns - self._next_ns + step - 1) // step
        self.last_sample_ns = self._next_ns + (k - 1) * step
        self._next_ns += k * step
        value = self._mid
        prev = self.last_sample
        self.last_sample = value
        if prev == prev:  # not nan: a previous sample to return from (the very first has none)
            self._push(value - prev)
        if k > 1:  # the mid did not change between the grid times after the first
            self._push_zeros(k - 1)
        n = len(self._rets)
        if n:
            var = self._sumsq / (n * self._dt_s)
            self.sigma = sigma = math.sqrt(var) if var > 0.0 else 0.0
            self.sigma_bps = 1e4 * sigma / value
            self.warm = n >= self._n
        self._mid = mid
        return k

    def _push(self, r: float) -> None:
        rets = self._rets
        rets.append(r)
        self._sumsq += r * r
        if len(rets) > self._n:
            old = rets.popleft()
            self._sumsq -= old * old
            self._evicted += 1
            if self._evicted >= self._n:  # re-sum exactly: no drift from add/subtract however long it runs
                self._evicted = 0
                self._sumsq = math.fsum(x * x for x in rets)

    def _push_zeros(self, k: int) -> None:
        """``k`` unchanged grid samples (zero returns)."""
        if k >= self._n:
            self._rets.clear()
            self._rets.extend([0.0] * self._n)
            self._sumsq = 0.0
            self._evicted = 0
            return
        for _ in range(k):
            self._push(0.0)
