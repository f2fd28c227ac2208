"""Which regime the market is in (Calm / TrendUp / TrendDown / HighVol), without flicker.

Two measures, both on the volatility estimator's sampling grid:

* volatility: ``sigma_bps`` (per √s) against ``high_vol_enter_bps`` / ``high_vol_exit_bps``;
* trend: the drift ``D`` = mid now − mid one trend window ago, as a z-score ``z = D / (sigma·√T)`` (how many
  standard deviations of a T-second random walk it is), against ``trend_enter_z`` / ``trend_exit_z``.

Hysteresis (enter above one threshold, leave only below a lower one) stops a measure that sits on a threshold
from toggling; a minimum dwell stops quick back-and-forth between regimes. Entering HighVol is the one change
that does not wait for the dwell (safety first); HighVol takes precedence over a trend. Until the volatility
estimate is warm there is no scale for a z-score, so the regime stays Calm (``MarketSignals.vol_warm`` says so).
"""

from __future__ import annotations

import math
from collections import deque
from itertools import repeat

from actors.book.market_signals import Regime

_NEVER = -(1 << 62)  # "entered" long ago: the first change needs no dwell
# Members as module constants: an enum member looked up on its class costs ~10x a global read (3.11).
_CALM, _UP, _DOWN, _HIGH_VOL = Regime.CALM, Regime.TREND_UP, Regime.TREND_DOWN, Regime.HIGH_VOL


class RegimeDetector:
    """``update`` once per batch of new grid samples; read ``regime``, ``drift``, ``drift_bps``, ``z``."""

    __slots__ = ("_dwell_ns", "_hv_enter", "_hv_exit", "_maxlen", "_mids", "_sample_s", "_z_enter", "_z_exit",
                 "drift", "drift_bps", "regime", "since_ns", "z")

    def __init__(self, sample_ns: int, trend_window_ns: int, trend_enter_z: float, trend_exit_z: float,
                 high_vol_enter_bps: float, high_vol_exit_bps: float, min_dwell_ns: int) -> None:
        if sample_ns <= 0 or trend_window_ns < sample_ns or trend_window_ns % sample_ns:
            raise ValueError("trend_window_ns must be a whole multiple of sample_ns > 0")
        if not 0.0 <= trend_exit_z < trend_enter_z or not 0.0 <= high_vol_exit_bps < high_vol_enter_bps:
            raise ValueError("hysteresis needs 0 <= exit < enter")
        if min_dwell_ns < 0:
            raise ValueError("min_dwell_ns must be >= 0")
        self._sample_s = sample_ns / 1e9
        self._maxlen = trend_window_ns // sample_ns + 1
        self._mids: deque[float] = deque(maxlen=self._maxlen)  # the mid at each grid time, a trend window's worth
        self._z_enter, self._z_exit = trend_enter_z, trend_exit_z
        self._hv_enter, self._hv_exit = high_vol_enter_bps, high_vol_exit_bps
        self._dwell_ns = min_dwell_ns
        self.reset()

    def reset(self) -> None:
        """Forget the mid history and go back to Calm (with the volatility estimator's reset)."""
        self._mids.clear()
        self.regime: Regime = _CALM
        self.since_ns = _NEVER  # when the current regime was entered
        self.drift = 0.0  # price units over the trend window (or the history held, while shorter)
        self.drift_bps = 0.0
        self.z = 0.0

    def update(self, t_ns: int, mid: float, k: int, sigma: float, sigma_bps: float, warm: bool) -> Regime:
        """``k`` new grid samples, all equal to ``mid`` (the mid does not change between grid times of one
        batch), the latest at ``t_ns``; ``sigma``/``sigma_bps``/``warm`` as of that sample. No sample (k < 1)
        or a mid that is not a positive finite number changes nothing."""
        if k < 1 or not 0.0 < mid < math.inf:
            return self.regime
        mids = self._mids
        if k == 1:
            mids.append(mid)
        elif k > 1:
            mids.extend(repeat(mid, min(k, self._maxlen)))
        n = len(mids)
        self.drift = d = mid - mids[0]
        self.drift_bps = 1e4 * d / mid
        span_s = (n - 1) * self._sample_s
        self.z = z = d / (sigma * math.sqrt(span_s)) if warm and sigma > 0.0 and span_s > 0.0 else 0.0
        cur = self.regime
        if not warm:
            target = _CALM
        elif sigma_bps >= self._hv_enter or (cur is _HIGH_VOL and sigma_bps > self._hv_exit):
            target = _HIGH_VOL
        elif z >= self._z_enter or (cur is _UP and z > self._z_exit):
            target = _UP
        elif z <= -self._z_enter or (cur is _DOWN and z < -self._z_exit):
            target = _DOWN
        else:
            target = _CALM
        if target is not cur and (target is _HIGH_VOL or t_ns - self.since_ns >= self._dwell_ns):
            self.regime = target
            self.since_ns = t_ns
        return self.regime
