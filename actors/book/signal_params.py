"""Market-signal parameters (the future ``[signals]`` settings table), tuned for ETH perpetuals.

Defaults are for ETHUSDC / ETHUSDT USDⓈ-M perps (tick 0.01, price 2,000–4,000) and the simulator's synthetic
ETH market. What they rest on:

* the real capture (``ethusdt_20240808``, a busy ETHUSDT evening): sigma 0.75–1.6 bps/√s on a 100 ms grid,
  ~41 trades and ~27 ETH a second, about half the trades 0.01 or more from the book's mid (k ≈ 2–8 per USDT);
* the simulator: calm 1 bps/√s, trends 1.3 bps/√s with ±3 bps/s of drift (z ≈ 10 over 30 s), high_vol
  4 bps/√s, ~0.75 ETH a second when calm and ~12 when toxic. An hour of simulated calm gave one 15 s false
  trend at z = 3.0 (none at 3.5); HighVol at 3 / 2 bps never fired outside high_vol (or the 30 s after it).
* VPIN only means something when a bucket holds many bars: with one bar a bucket, |2Φ(z) − 1| averages 0.5
  whatever the flow. 10 ETH is ~13 s of simulated calm (VPIN ≈ 0.14; 0.9 in the toxic regimes) and a few
  seconds of ETHUSDC. A symbol with far more volume needs a larger bucket (ETHUSDT: a few hundred ETH), or
  VPIN sits near 0.5–0.6 and the 0.6 / 0.5 toxic thresholds fire on ordinary flow.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.fields import num  # a dataclasses.field with bounds (RUF009 cannot know it is immutable)


@dataclass(frozen=True)
class SignalParams:
    # ---- volatility (actors.book.volatility)
    vol_window_s: float = num(30.0, 1.0, 3600.0)  # realized volatility of the mid over this window
    vol_sample_ms: int = num(100, 10, 60_000)  # the mid is sampled on this time grid (irregular updates ignored)
    max_gap_ms: int = num(5000, 100, 600_000)  # a book silent this long (stall, resync) restarts vol and regime
    # ---- regime (actors.book.regime)
    trend_window_s: float = num(30.0, 1.0, 3600.0)  # drift = mid change over this window
    trend_enter_z: float = num(3.0, 0.0, 100.0, lo_open=True)  # |drift| / (sigma·√window) to enter a trend
    trend_exit_z: float = num(1.5, 0.0, 100.0)  # ... and to leave it (below enter: hysteresis)
    high_vol_enter_bps: float = num(3.0, 0.0, 10_000.0, lo_open=True)  # sigma (bps per √s) to enter HighVol
    high_vol_exit_bps: float = num(2.0, 0.0, 10_000.0)  # ... and to leave it
    regime_min_dwell_s: float = num(5.0, 0.0, 3600.0)  # least time in a regime before leaving it (HighVol: none)
    # ---- VPIN (actors.book.vpin)
    vpin_bar_ms: int = num(1000, 10, 60_000)  # trades summed into time bars of this length
    vpin_bucket_volume: float = num(10.0, 0.0, 1e9, lo_open=True)  # base asset (ETH) per bucket: many bars' worth
    vpin_buckets: int = num(50, 2, 10_000)  # n: VPIN is over the last n full buckets
    vpin_sigma_bars: int = num(300, 2, 1_000_000)  # σ of bar price changes over this many bars (with trades)
    vpin_bulk: bool = True  # bulk volume classification (the paper); false: the exchange's aggressor flag
    vpin_toxic_enter: float = num(0.6, 0.0, 1.0, lo_open=True)  # toxic from this VPIN up ...
    vpin_toxic_exit: float = num(0.5, 0.0, 1.0)  # ... until it falls to this
    # ---- trade intensity A·e^(−kδ) (actors.book.intensity)
    intensity_window_s: float = num(60.0, 1.0, 3600.0)  # trades over this window
    intensity_step: float = num(0.01, 0.0, 1e9, lo_open=True)  # price units between grid distances d_j = j·step
    intensity_points: int = num(10, 3, 1000)  # grid distances fitted (j = 1..points)
    intensity_min_trades: int = num(50, 1, 10_000_000)  # fewer trades in the window: not fitted
    intensity_refit_ms: int = num(1000, 0, 600_000)  # refit at most this often (0: on every input)

    def __post_init__(self) -> None:
        for lo, hi, what in ((self.trend_exit_z, self.trend_enter_z, "trend_exit_z < trend_enter_z"),
                             (self.high_vol_exit_bps, self.high_vol_enter_bps,
                              "high_vol_exit_bps < high_vol_enter_bps"),
                             (self.vpin_toxic_exit, self.vpin_toxic_enter, "vpin_toxic_exit < vpin_toxic_enter")):
            if not lo < hi:
                raise ValueError(f"[signals] {what}: the exit threshold must be below the enter one (hysteresis)")
        sample = self.vol_sample_ns
        if sample <= 0:
            raise ValueError("[signals] vol_sample_ms: must be > 0")
        for key, window in (("vol_window_s", self.vol_window_ns), ("trend_window_s", self.trend_window_ns)):
            if window % sample or window < 10 * sample:
                raise ValueError(f"[signals] {key}: must be a whole number (>= 10) of vol_sample_ms")
        if self.max_gap_ms < 2 * self.vol_sample_ms:
            raise ValueError("[signals] max_gap_ms: must be at least twice vol_sample_ms")
        if self.intensity_refit_ns > self.intensity_window_ns:
            raise ValueError("[signals] intensity_refit_ms: must not exceed intensity_window_s")

    @property
    def vol_window_ns(self) -> int:
        return round(self.vol_window_s * 1e9)

    @property
    def vol_sample_ns(self) -> int:
        return self.vol_sample_ms * 1_000_000

    @property
    def max_gap_ns(self) -> int:
        return self.max_gap_ms * 1_000_000

    @property
    def trend_window_ns(self) -> int:
        return round(self.trend_window_s * 1e9)

    @property
    def regime_min_dwell_ns(self) -> int:
        return round(self.regime_min_dwell_s * 1e9)

    @property
    def vpin_bar_ns(self) -> int:
        return self.vpin_bar_ms * 1_000_000

    @property
    def intensity_window_ns(self) -> int:
        return round(self.intensity_window_s * 1e9)

    @property
    def intensity_refit_ns(self) -> int:
        return self.intensity_refit_ms * 1_000_000
