"""How often trades reach a distance δ from the mid: a fit of ``λ(δ) = A·e^(−kδ)`` (Avellaneda–Stoikov, GLFT).

Each trade in the last ``window_ns`` is kept as the number of grid distances ``d_j = j·step`` (j = 1..points)
it reached, with ``δ = |price − mid at the time|`` in price units. The grid starts one step out: at a one-tick
spread every trade at the touch is half a tick from the mid, and a point at δ = 0 that counts every trade
would dominate the fit. ``λ_j`` = trades per second reaching at least ``d_j``; ``ln λ_j = ln A − k·d_j`` is
fitted by least squares over the points with nonzero counts (counts fall with distance, so those are a prefix).

Per trade: an append and a histogram increment (the oldest trades leave the same way). The fit is O(points)
and runs when asked (``fit``), which the engine does at most once per ``intensity_refit_ms``.
"""

from __future__ import annotations

import math
from collections import deque

_BIN_TOL = 1e-9  # in steps: a δ computed a hair under a grid distance (float) still reaches it
_NEVER = -(1 << 62)


class TradeIntensity:
    """``on_trade(t, price, mid)`` per trade, ``fit(now)`` to refresh ``a``, ``k``, ``fitted``, ``trade_rate``.

    ``fitted`` needs a full window observed since the first input, at least ``min_trades`` trades in it, at
    least three grid points with trades, and k > 0."""

    __slots__ = ("_hist", "_min_trades", "_points", "_start_ns", "_step", "_trades", "_window_ns",
                 "_window_s", "a", "fitted", "k", "last_fit_ns", "trade_rate")

    def __init__(self, window_ns: int, step: float, points: int, min_trades: int) -> None:
        if window_ns <= 0 or not 0.0 < step < math.inf or points < 3 or min_trades < 1:
            raise ValueError("window_ns > 0, 0 < step < inf, points >= 3 and min_trades >= 1")
        self._window_ns = window_ns
        self._window_s = window_ns / 1e9
        self._step = step
        self._points = points
        self._min_trades = min_trades
        self._trades: deque[tuple[int, int]] = deque()  # (t_ns, grid points reached 0..points)
        self._hist = [0] * (points + 1)  # trades in the window by grid points reached
        self.reset()

    def reset(self) -> None:
        self._trades.clear()
        self._hist[:] = [0] * (self._points + 1)
        self._start_ns: int | None = None
        self.a = 0.0  # trades/s at δ = 0 (the fit's intercept); 0.0 while not fitted
        self.k = 0.0  # per price unit; 0.0 while not fitted
        self.fitted = False
        self.trade_rate = 0.0  # trades/s in the window as of the last fit
        self.last_fit_ns = _NEVER

    @property
    def distances(self) -> list[float]:
        """The grid ``d_j = j·step``, j = 1..points (price units)."""
        return [j * self._step for j in range(1, self._points + 1)]

    def counts(self) -> list[int]:
        """Trades in the window reaching at least each grid distance (as of the last eviction)."""
        out, c = [0] * self._points, 0
        for j in range(self._points, 0, -1):
            c += self._hist[j]
            out[j - 1] = c
        return out

    def on_trade(self, t_ns: int, price: float, mid: float) -> bool:
        """Record one trade; False (ignored) unless price and mid are positive finite numbers. An earlier
        ``t_ns`` than the last trade's counts as the last trade's (the window stays in time order)."""
        if not (0.0 < price < math.inf and 0.0 < mid < math.inf):
            return False
        if self._start_ns is None:
            self._start_ns = t_ns
        elif self._trades and t_ns < self._trades[-1][0]:
            t_ns = self._trades[-1][0]
        reached = int(abs(price - mid) / self._step + _BIN_TOL)
        if reached > self._points:
            reached = self._points
        self._trades.append((t_ns, reached))
        self._hist[reached] += 1
        self._evict(t_ns)
        return True

    def _evict(self, now_ns: int) -> None:
        """Drop trades at or before ``now − window`` (the window is (now − W, now])."""
        q, hist, cut = self._trades, self._hist, now_ns - self._window_ns
        while q and q[0][0] <= cut:
            hist[q.popleft()[1]] -= 1

    def fit(self, now_ns: int) -> bool:
        """Refresh the estimate as of ``now_ns``; returns ``fitted``."""
        self.last_fit_ns = now_ns
        if self._start_ns is None:
            self._start_ns = now_ns
        self._evict(now_ns)
        n = len(self._trades)
        elapsed_s = min(now_ns - self._start_ns, self._window_ns) / 1e9
        self.trade_rate = n / elapsed_s if elapsed_s > 0.0 else 0.0
        self.a = self.k = 0.0
        self.fitted = False
        if n < self._min_trades or now_ns - self._start_ns < self._window_ns:
            return False
        hist, points = self._hist, self._points
        counts = [0] * (points + 1)  # counts[j]: trades reaching d_j, j = 1..points (cumulated from the far end)
        c = 0
        for j in range(points, 0, -1):
            c += hist[j]
            counts[j] = c
        m = 0  # points with trades: a prefix, counts fall with distance
        while m < points and counts[m + 1]:
            m += 1
        if m < 3:
            return False
        # least squares of y_j = ln(counts_j) against j (centred: Σ(j − jc) = 0), then scaled to price units;
        # ln(1/window) only moves the intercept.
        jc = (m + 1) / 2
        sy = sjy = 0.0
        log = math.log
        for j in range(1, m + 1):
            y = log(counts[j])
            sy += y
            sjy += (j - jc) * y
        k = -sjy / (m * (m * m - 1) / 12 * self._step)
        if not k > 0.0:
            return False
        self.k = k
        self.a = math.exp(sy / m - math.log(self._window_s) + k * jc * self._step)
        self.fitted = True
        return True
