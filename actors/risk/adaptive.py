"""The adaptive net limit: ``max_inventory`` shrunk while the market is dangerous, recovered slowly after.

Why: the fixed limit is sized for a normal market. In a fast or one-sided market the same inventory is
riskier (it moves further before it can be worked off) and more of our fills are against informed flow, so
the limit shrinks *at once* when a cause appears and grows back *linearly* over ``adapt_recover_s`` once the
causes clear (hysteresis by time: a regime flickering at a boundary does not pump the limit up and down).

Causes (each multiplies the factor): HighVol, a trend, toxic flow (VPIN), and high adverse selection (the
share of our fills whose markout is negative, from the analyzer, once enough fills back it). The factor never
goes below ``adapt_min_factor``. Pure and deterministic: inputs and time in, an ``Adaptation`` out.
"""

from __future__ import annotations

from decimal import Decimal

from actors.book.market_signals import MarketSignals, Regime
from actors.instrument import Instrument
from actors.risk.adaptation import Adaptation
from actors.risk.params import RiskParams


def target_factor(p: RiskParams, regime: Regime, toxic: bool, adverse_rate: float,
                  adverse_fills: int) -> tuple[float, tuple[str, ...]]:
    """Where the factor is heading for these conditions, and which causes say so."""
    if not p.adaptive:
        return 1.0, ()
    f, causes = 1.0, []
    if regime is Regime.HIGH_VOL:
        f *= p.adapt_high_vol
        causes.append("high_vol")
    elif regime in (Regime.TREND_UP, Regime.TREND_DOWN):
        f *= p.adapt_trend
        causes.append("trend")
    if toxic:
        f *= p.adapt_toxic
        causes.append("toxic")
    if adverse_fills >= p.adverse_min_fills and adverse_rate > p.adverse_rate_limit:
        f *= p.adapt_adverse
        causes.append("adverse_selection")
    return max(f, p.adapt_min_factor), tuple(causes)


class AdaptiveLimit:
    def __init__(self, params: RiskParams, instrument: Instrument) -> None:
        self.params = params
        self.instrument = instrument
        self.factor = 1.0
        self.causes: tuple[str, ...] = ()
        self._regime = Regime.CALM
        self._toxic = False
        self._adverse_rate = 0.0
        self._adverse_fills = 0
        self._at_ns = 0

    # ------------------------------------------------------------------ inputs
    def on_signals(self, s: MarketSignals, now_ns: int) -> None:
        self._regime, self._toxic = s.regime, s.toxic
        self.step(now_ns)

    def on_adverse_selection(self, rate: float, fills: int, now_ns: int) -> None:
        self._adverse_rate, self._adverse_fills = rate, fills
        self.step(now_ns)

    def set_params(self, params: RiskParams) -> None:
        self.params = params

    def step(self, now_ns: int) -> None:
        """Shrink at once to the target; grow toward it at 1 / ``adapt_recover_s`` per second."""
        target, self.causes = target_factor(self.params, self._regime, self._toxic, self._adverse_rate,
                                            self._adverse_fills)
        dt = max(0, now_ns - self._at_ns) / 1e9 if self._at_ns else 0.0
        self._at_ns = max(self._at_ns, now_ns)
        if target <= self.factor:
            self.factor = target
        else:
            self.factor = min(target, self.factor + dt / self.params.adapt_recover_s)

    # ------------------------------------------------------------------ reads
    def net_limit(self) -> Decimal:
        """``max_inventory × factor`` rounded down to the step: a shrunk limit never rounds up."""
        ins = self.instrument
        lots = int(ins.lots_floor(self.params.max_inventory) * self.factor + 1e-9)
        return ins.lots_to_qty(lots)

    def report(self, now_ns: int) -> Adaptation:
        return Adaptation(self.net_limit(), self.factor, self.causes, now_ns)
