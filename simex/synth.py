"""Seeded synthetic market per symbol: a tick-level random walk of the fair price with regime drift and
volatility, a dense multi-level book refilled around it, and Poisson aggressive orders with lognormal
sizes that walk the book. Steps happen every ``step_ms`` of market time and every random draw depends only
on the seed, the step index and the regime, so the same seed gives the same events however the caller
slices time. Floats live only in the random walk; prices and sizes leave here as integer ticks and lots.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from simex.market import DepthSet, MarketEvent, TradePrint
from simex.orders import BUY, SELL
from simex.symbols import SymbolSpec

BID, ASK = 0, 1


@dataclass(frozen=True, slots=True)
class Regime:
    name: str
    drift_bps_s: float = 0.0  # fair-price drift, basis points per second
    vol_bps_sqrt_s: float = 1.0  # diffusion, basis points per sqrt(second)
    trade_rate_hz: float = 3.0  # aggressive orders per second
    buy_prob: float = 0.5
    size_mult: float = 1.0  # scales aggressive order sizes
    depth_mult: float = 1.0  # scales resting level sizes
    spread_ticks: int = 1
    impact_bps: float = 0.0  # fair-price move per aggressive order, in its direction
    churn_hz: float = 20.0  # random level resizes per side per second


REGIMES: dict[str, Regime] = {
    "calm": Regime("calm"),
    "trend_up": Regime("trend_up", drift_bps_s=3.0, vol_bps_sqrt_s=1.3, trade_rate_hz=5.0, buy_prob=0.62),
    "trend_down": Regime("trend_down", drift_bps_s=-3.0, vol_bps_sqrt_s=1.3, trade_rate_hz=5.0, buy_prob=0.38),
    "high_vol": Regime(
        "high_vol",
        vol_bps_sqrt_s=4.0,
        trade_rate_hz=9.0,
        size_mult=1.5,
        depth_mult=0.6,
        spread_ticks=3,
        churn_hz=40.0,
    ),
    "toxic_buy": Regime(
        "toxic_buy",
        drift_bps_s=1.0,
        vol_bps_sqrt_s=1.2,
        trade_rate_hz=8.0,
        buy_prob=0.93,
        size_mult=6.0,
        depth_mult=0.8,
        impact_bps=0.6,
    ),
    "toxic_sell": Regime(
        "toxic_sell",
        drift_bps_s=-1.0,
        vol_bps_sqrt_s=1.2,
        trade_rate_hz=8.0,
        buy_prob=0.07,
        size_mult=6.0,
        depth_mult=0.8,
        impact_bps=0.6,
    ),
    "flash_crash": Regime("flash_crash"),  # phases below
}
FLASH_DROP = 0.06  # fall 6% ...
FLASH_FALL_S = 3.0  # ... over 3 s,
FLASH_RECOVER = 0.5  # then win back half of it ...
FLASH_RECOVER_S = 5.0  # ... over 5 s, with a thin, wide book throughout
FLASH_DEFAULT_S = 20.0


def flash_phase(t_s: float) -> Regime:
    """The flash-crash regime ``t_s`` seconds after it started."""
    if t_s < FLASH_FALL_S:
        drift = math.log(1 - FLASH_DROP) / FLASH_FALL_S * 1e4
        return Regime(
            "flash_crash",
            drift_bps_s=drift,
            vol_bps_sqrt_s=6.0,
            trade_rate_hz=25.0,
            buy_prob=0.1,
            size_mult=3.0,
            depth_mult=0.15,
            spread_ticks=6,
            churn_hz=60.0,
        )
    if t_s < FLASH_FALL_S + FLASH_RECOVER_S:
        bottom = 1 - FLASH_DROP
        target = bottom + FLASH_DROP * FLASH_RECOVER
        drift = math.log(target / bottom) / FLASH_RECOVER_S * 1e4
        return Regime(
            "flash_crash",
            drift_bps_s=drift,
            vol_bps_sqrt_s=3.0,
            trade_rate_hz=12.0,
            buy_prob=0.7,
            size_mult=2.0,
            depth_mult=0.4,
            spread_ticks=3,
            churn_hz=40.0,
        )
    return Regime("flash_crash", vol_bps_sqrt_s=1.5, trade_rate_hz=5.0, depth_mult=0.7, spread_ticks=2)


@dataclass(frozen=True, slots=True)
class Profile:
    """Per-instrument scale of the synthetic market."""

    mid: float  # starting mid price (quote units)
    levels: int  # resting levels per side (dense, one per tick)
    touch_lots: float  # mean size at the touch
    trade_lots: float  # median aggressive order size


PROFILES = {"ETH": Profile(3000.0, 200, 4000.0, 150.0), "BTC": Profile(80000.0, 400, 400.0, 15.0)}


class SyntheticMarket:
    """One symbol's generator. ``advance(t)`` returns every step with market time <= t."""

    def __init__(self, spec: SymbolSpec, seed: int, index: int, step_ms: int = 100) -> None:
        self.spec = spec
        self.symbol = spec.symbol
        self.step_ms = step_ms
        self.rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, index, 0x5EED])))
        prof = PROFILES.get(spec.base, PROFILES["ETH"])
        self.profile = prof
        tick = float(spec.tick)
        start = prof.mid * (1.0 + 0.05 * (self.rng.random() - 0.5))
        self.fair = start / tick  # in ticks
        self.book: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self.k = 0  # next step index
        self.base = REGIMES["calm"]
        self.regime = self.base
        self.regime_start = 0
        self.regime_end: int | None = None
        self.schedule: list[tuple[int, str, float | None]] = []
        self.tops: list[int | None] = [None, None]
        self.holes: tuple[set[int], set[int]] = (set(), set())
        self._old: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self._z: list[float] = []
        self._zi = 0

    # ---- regimes ----
    def set_regime(self, name: str, at_ms: int, seconds: float | None = None) -> None:
        if name not in REGIMES:
            raise ValueError(f"unknown regime {name!r}; known: {sorted(REGIMES)}")
        if seconds is None and name == "flash_crash":
            seconds = FLASH_DEFAULT_S
        if seconds is None:
            self.base = REGIMES[name]
        self.regime = REGIMES[name]
        self.regime_start = at_ms
        self.regime_end = at_ms + int(seconds * 1000) if seconds is not None else None

    def schedule_regime(self, at_ms: int, name: str, seconds: float | None) -> None:
        if name not in REGIMES:
            raise ValueError(f"unknown regime {name!r}")
        self.schedule.append((at_ms, name, seconds))
        self.schedule.sort(key=lambda s: s[0])

    def _params(self, t: int) -> Regime:
        while self.schedule and self.schedule[0][0] <= t:
            at, name, secs = self.schedule.pop(0)
            self.set_regime(name, at, secs)
        if self.regime_end is not None and t >= self.regime_end:
            self.regime, self.regime_end = self.base, None
        if self.regime.name == "flash_crash":
            return flash_phase((t - self.regime_start) / 1000.0)
        return self.regime

    @property
    def regime_name(self) -> str:
        return self.regime.name

    # ---- stepping ----
    def advance(self, to_ms: int, limit: int = 1 << 30) -> list[MarketEvent]:
        out = []
        while self.k * self.step_ms <= to_ms and len(out) < limit:
            out.append(self._step(self.k * self.step_ms))
            self.k += 1
        return out

    def next_time(self) -> int:
        return self.k * self.step_ms

    def _size(self, distance: int, depth_mult: float) -> int:
        """A lognormal level size growing away from the touch (normals drawn in blocks: cheaper, same law)."""
        if self._zi >= len(self._z):
            self._z = self.rng.standard_normal(4096).tolist()
            self._zi = 0
        z = self._z[self._zi]
        self._zi += 1
        mean = self.profile.touch_lots * (1.0 + 0.04 * distance) * depth_mult
        return max(1, int(mean * math.exp(0.6 * z - 0.18)))

    def _set(self, side: int, price: int, lots: int) -> None:
        """Change one level, remembering its size before this step (for the step's diff)."""
        levels = self.book[side]
        self._old[side].setdefault(price, levels.get(price, 0))
        if lots:
            levels[price] = lots
            self.holes[side].discard(price)
        else:
            levels.pop(price, None)
            self.holes[side].add(price)

    def _step(self, t: int) -> MarketEvent:
        rng = self.rng
        p = self._params(t)
        dt = self.step_ms / 1000.0
        self._old = ({}, {})
        items: list[DepthSet | TradePrint] = []
        if self.k:
            n = rng.poisson(p.trade_rate_hz * dt)
            for _ in range(n):
                side = BUY if rng.random() < p.buy_prob else SELL
                lots = max(1, int(rng.lognormal(math.log(self.profile.trade_lots), 1.0) * p.size_mult))
                items.extend(self._aggress(side, lots))
                if p.impact_bps:
                    self.fair *= math.exp((1 if side == BUY else -1) * p.impact_bps * 1e-4)
            z = rng.standard_normal()
            self.fair *= math.exp(p.drift_bps_s * 1e-4 * dt + p.vol_bps_sqrt_s * 1e-4 * math.sqrt(dt) * z)
        self._recenter(p)
        for side in (BID, ASK):
            levels = self.book[side]
            top = self.tops[side]
            for _ in range(rng.poisson(p.churn_hz * dt)):
                d = int(rng.integers(0, self.profile.levels))
                price = top - d if side == BID else top + d
                if price in levels:
                    self._set(side, price, self._size(d, p.depth_mult) if rng.random() < 0.85 else 0)
        changes = []
        for side in (BID, ASK):
            levels = self.book[side]
            for price, old in self._old[side].items():
                new = levels.get(price, 0)
                if new != old:
                    changes.append((side, price, new))
        if changes:
            items.append(DepthSet(tuple(changes)))
        return MarketEvent(t, self.symbol, tuple(items))

    def _recenter(self, p: Regime) -> None:
        """Move the dense window of ``levels`` prices per side to the fair price; refill holes."""
        n = self.profile.levels
        bid_top = math.floor(self.fair - p.spread_ticks / 2.0)
        for side, top in ((BID, bid_top), (ASK, bid_top + p.spread_ticks)):
            lo, hi = (top - n + 1, top) if side == BID else (top, top + n - 1)
            old = self.tops[side]
            if old is None:
                keep_lo, keep_hi = 1, 0
            else:
                olo, ohi = (old - n + 1, old) if side == BID else (old, old + n - 1)
                for price in itertools.chain(range(olo, min(ohi, lo - 1) + 1), range(max(olo, hi + 1), ohi + 1)):
                    if price in self.book[side]:
                        self._set(side, price, 0)
                keep_lo, keep_hi = max(lo, olo), min(hi, ohi)
            self.tops[side] = top
            for price in itertools.chain(range(lo, min(hi, keep_lo - 1) + 1), range(max(lo, keep_hi + 1), hi + 1)):
                self._set(side, price, self._size(abs(price - top), p.depth_mult))
            for price in sorted(self.holes[side]):
                if lo <= price <= hi:
                    self._set(side, price, self._size(abs(price - top), p.depth_mult))
            self.holes[side].clear()

    def _aggress(self, side: int, lots: int) -> list[TradePrint]:
        """An aggressive order walking the opposite side; one print per price level it takes."""
        book_side = ASK if side == BUY else BID
        levels = self.book[book_side]
        top = self.tops[book_side]
        prints = []
        if top is None:
            return prints
        for d in range(self.profile.levels):
            if lots <= 0:
                break
            price = top + d if book_side == ASK else top - d
            have = levels.get(price, 0)
            if not have:
                continue
            take = min(lots, have)
            prints.append(TradePrint(price, take, side))
            lots -= take
            self._set(book_side, price, have - take)
        return prints
