"""What the book knows about the market beyond its top: one frozen ``MarketSignals`` per book update.

Built by ``actors.book.signal_engine.SignalEngine`` (pure, incremental, time passed in) and carried to the
strategy, risk and analyzer beside the ``MarketView``. Signals are floats: they shape quotes and limits but
never reach the exchange themselves (prices and sizes are re-aligned to ticks and lots by the strategy).

Units (the Avellaneda–Stoikov formulas depend on them):

* ``sigma``: standard deviation of the mid's changes, in price units per √second;
* ``sigma_bps``: the same relative to the mid, in bps per √second;
* ``intensity_a``: trades per second reaching at least the mid (δ = 0) in the fitted ``A·e^(−kδ)``;
* ``intensity_k``: per price unit (δ in price units, e.g. USDC for ETHUSDC);
* ``vpin``: 0..1, the share of volume that is one-sided over the last n equal-volume buckets.
"""

from __future__ import annotations

from enum import IntEnum

import msgspec


class Regime(IntEnum):
    """The market's state as the strategy widens for it; the value is the ``mm_volatility_regime`` gauge."""

    CALM = 0
    TREND_UP = 1
    TREND_DOWN = 2
    HIGH_VOL = 3

    @property
    def label(self) -> str:
        """The name operators read (dashboards, the markouts table): Calm, TrendUp, TrendDown, HighVol."""
        return _LABELS[self]


_LABELS = {Regime.CALM: "Calm", Regime.TREND_UP: "TrendUp", Regime.TREND_DOWN: "TrendDown",
           Regime.HIGH_VOL: "HighVol"}


class MarketSignals(msgspec.Struct, frozen=True):
    made_ns: int  # clock time of the last input folded in
    mid: float  # price
    microprice: float  # price, size-weighted toward the side about to be depleted
    spread_bps: float
    imbalance: float  # (B − A) / (B + A) over the top levels, -1..1
    sigma: float  # price units per √s; 0.0 until warm
    sigma_bps: float  # bps of mid per √s; 0.0 until warm
    vol_warm: bool  # enough returns in the window for sigma to mean something
    drift_bps: float  # mid change over the trend window, bps (signed)
    regime: Regime
    vpin: float  # 0..1; 0.0 until the first n buckets are full
    vpin_warm: bool
    toxic: bool  # vpin over the threshold (with hysteresis), only once warm
    intensity_a: float  # trades/s at δ = 0; 0.0 while not fitted
    intensity_k: float  # 1/price; 0.0 while not fitted
    intensity_fitted: bool
    trade_rate: float  # trades per second over the intensity window
    age_ms: float  # since the book last changed, as of made_ns
