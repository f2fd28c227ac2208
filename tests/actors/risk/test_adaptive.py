"""The adaptive net limit: shrinks at once when the market turns, recovers linearly, never below the floor."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from actors.book.market_signals import MarketSignals, Regime
from actors.instrument import Instrument
from actors.risk.adaptive import AdaptiveLimit, target_factor
from actors.risk.core import RiskCore
from actors.risk.params import RiskParams

S = 1_000_000_000
P = RiskParams(max_inventory=Decimal("0.1"), max_order_qty=Decimal("0.05"))


def sig(regime: Regime = Regime.CALM, toxic: bool = False) -> MarketSignals:
    return MarketSignals(made_ns=0, mid=2000.0, microprice=2000.0, spread_bps=1.0, imbalance=0.0, sigma=0.5,
                         sigma_bps=2.5, vol_warm=True, drift_bps=0.0, regime=regime, vpin=0.7 if toxic else 0.2,
                         vpin_warm=True, toxic=toxic, intensity_a=1.0, intensity_k=1.0, intensity_fitted=True,
                         trade_rate=1.0, age_ms=0.0)


def test_target_factor_multiplies_the_causes_in_force_and_names_them() -> None:
    assert target_factor(P, Regime.CALM, False, 0.9, 100) == (0.6, ("adverse_selection",))
    assert target_factor(P, Regime.HIGH_VOL, False, 0.0, 0) == (0.5, ("high_vol",))
    assert target_factor(P, Regime.TREND_DOWN, False, 0.0, 0) == (0.75, ("trend",))
    # HighVol 0.5 x toxic 0.5 = 0.25, x adverse 0.6 = 0.15 → the floor 0.2
    assert target_factor(P, Regime.HIGH_VOL, True, 0.9, 100) == (0.2, ("high_vol", "toxic", "adverse_selection"))
    assert target_factor(P, Regime.CALM, False, 0.0, 0) == (1.0, ())


def test_adverse_selection_counts_only_once_enough_fills_back_it() -> None:
    assert target_factor(P, Regime.CALM, False, 0.9, P.adverse_min_fills - 1) == (1.0, ())
    assert target_factor(P, Regime.CALM, False, P.adverse_rate_limit, 1000) == (1.0, ())  # at the limit: not over


def test_disabled_means_always_the_full_limit() -> None:
    assert target_factor(dataclasses.replace(P, adaptive=False), Regime.HIGH_VOL, True, 1.0, 1000) == (1.0, ())


def test_shrinks_at_once_and_recovers_linearly_over_adapt_recover_s(eth: Instrument) -> None:
    a = AdaptiveLimit(P, eth)
    a.on_signals(sig(), 1 * S)
    assert a.factor == 1.0 and a.net_limit() == Decimal("0.1")
    a.on_signals(sig(Regime.HIGH_VOL, toxic=True), 2 * S)
    assert a.factor == 0.25 and a.net_limit() == Decimal("0.025") and a.causes == ("high_vol", "toxic")
    a.on_signals(sig(), 3 * S)  # calm again: 1 s of recovery at 1/120 per second
    assert a.factor == pytest.approx(0.25 + 1 / 120) and a.causes == ()
    a.step(3 * S + 60 * S)  # 60 s later: 0.25 + 61/120
    assert a.factor == pytest.approx(0.25 + 61 / 120)
    assert a.net_limit() == Decimal("0.075")  # 100 lots x 0.7583 → 75 lots, rounded down
    a.step(1000 * S)
    assert a.factor == 1.0 and a.net_limit() == Decimal("0.1")


def test_a_flickering_regime_does_not_pump_the_limit(eth: Instrument) -> None:
    a = AdaptiveLimit(P, eth)
    t = 0
    for i in range(200):  # HighVol every other second for 200 s
        t += S
        a.on_signals(sig(Regime.HIGH_VOL if i % 2 else Regime.CALM), t)
        if i > 0:
            assert a.factor <= 0.5 + 1 / 120 + 1e-12


def test_a_time_going_backwards_never_recovers(eth: Instrument) -> None:
    a = AdaptiveLimit(P, eth)
    a.on_signals(sig(Regime.HIGH_VOL), 10 * S)
    a.on_signals(sig(), 5 * S)  # an out-of-order input
    assert a.factor == 0.5


def test_the_risk_report_carries_the_adaptation(eth: Instrument) -> None:
    from actors.book.view import MarketView

    core = RiskCore("ETHUSDT", P, eth)
    v = MarketView("ETHUSDT", 200_000, 10, 200_001, 10, Decimal("2000.005"), 1, 0.0, 1 * S, False,
                   signals=sig(Regime.HIGH_VOL))
    core.on_market(v, 1 * S)
    r = core.report(1 * S)
    assert r.adaptation is not None and r.adaptation.net_limit == Decimal("0.05") and r.adaptation.factor == 0.5
    core.on_adverse_selection(0.9, 100, 2 * S)
    assert core.report(2 * S).adaptation.net_limit == Decimal("0.03")  # 0.5 x 0.6
