"""Avellaneda–Stoikov quoting on ETHUSDT's real filters (tick 0.01, step 0.001, min notional 10): the formulas by
hand, skew direction, levels, clamps, fee floor, the touch, inventory limits, risk, regime, toxicity, fallbacks."""

from __future__ import annotations

import math
import random
from decimal import Decimal
from fractions import Fraction

import pytest

from actors.book.market_signals import MarketSignals, Regime
from actors.book.view import MarketView
from actors.instrument import Instrument
from actors.risk.adaptation import Adaptation
from actors.risk.messages import RiskState, TradingState
from actors.strategy import asmm
from actors.strategy.asmm import AsmmDecision, AsmmState, as_model, glft_model, quote
from actors.strategy.asmm_params import AsmmParams
from actors.strategy.fixed_spread import should_publish
from actors.strategy.messages import Quote, QuoteTarget
from actors.strategy.params import Fees

T0 = 1_700_000_000_000_000_000
MS = 1_000_000
S = 1_000_000_000
FEES = Fees(maker=Decimal("0.0002"), taker=Decimal("0.0005"))  # fee floor 2 x 2 + 1 buffer = 5 bps a side


def risk(state: TradingState = TradingState.ACTIVE, allowed: bool = True) -> RiskState:
    return RiskState("ETHUSDT", state, allowed and state is not TradingState.HALTED, not allowed, (), (), "test",
                     Decimal(0), 0, False, 1, T0)


def mv(bid: int, ask: int, last_ns: int = T0) -> MarketView:
    return MarketView("ETHUSDT", bid, 3000, ask, 3000, Decimal(bid + ask) / 200, ask - bid, 0.0, last_ns, False)


def sig(sigma_bps: float = 2.0, regime: Regime = Regime.CALM, toxic: bool = False, *, mid: float = 2500.0,
        warm: bool = True, a: float = 1.0, k: float = 2.0, fitted: bool = True, made: int = T0,
        vpin: float = 0.3) -> MarketSignals:
    """σ given in bps of mid per √s; ``sigma`` (price per √s) follows from the mid, as the signal engine does."""
    return MarketSignals(made, mid, mid, 0.04, 0.0, sigma_bps * mid / 1e4 if warm else 0.0, sigma_bps if warm else 0.0,
                         warm, 0.0, regime, vpin, True, toxic, a if fitted else 0.0, k if fitted else 0.0, fitted,
                         1.0, 0.0)


BOOK = mv(249999, 250001)  # 2499.99 / 2500.01: mid exactly 2500.00 (250000 ticks)
CALM = sig()
# the model visible: no fee (maker 0, buffer 0.5 → floor 0.5 bps a side), min spread 1 bps, no regime lean
FREE = Fees(maker=Decimal(0))
MODEL = AsmmParams(min_spread_bps=1.0, fee_buffer_bps=0.5, gamma=0.1, horizon_s=60.0, min_spacing_bps=3.0,
                   vol_k=2.0, inv_soft_limit=Decimal("0.06"), reduce_only_threshold=Decimal("0.08"),
                   inv_hard_limit=Decimal("0.1"), trend_lean=0.0)


def q(market: MarketView | None = BOOK, signals: MarketSignals | None = CALM, pos: int = 0,
      params: AsmmParams | None = None, fees: Fees = FEES, r: RiskState | None = None,
      adaptation: Adaptation | None = None, state: AsmmState | None = None, now: int = T0, *,
      eth: Instrument) -> AsmmDecision:
    return quote(market, signals, pos, params or AsmmParams(), eth, fees, r if r is not None else risk(),
                 adaptation, state or AsmmState(), now)


def px(quotes: tuple[Quote, ...]) -> list[int]:
    return [x.price_ticks for x in quotes]


def lots(quotes: tuple[Quote, ...]) -> list[int]:
    return [x.qty_lots for x in quotes]


# ---------------------------------------------------------------------------------------------- the formulas


def test_as_reservation_and_spread_by_hand() -> None:
    # s = 2000 USDC, σ = 0.5 USDC/√s, γ = 0.1 /USDC, τ = T − t = 60 s, q = +0.05 ETH, fills Δ = 0.01 ETH, k = 2 /USDC
    # r − s = −q·γ·σ²·τ = −0.05 x 0.1 x 0.25 x 60 = −0.075 USDC → r = 1999.925
    # spread = γΔ·σ²·τ + (2/(γΔ))·ln(1 + γΔ/k) = 0.001 x 15 + 2000 x ln(1.0005) = 0.015 + 0.99975 = 1.01475 USDC
    shift, half = as_model(sigma=0.5, gamma=0.1, tau_s=60.0, k=2.0, clip=0.01, q=0.05)
    assert 2000 + shift == pytest.approx(1999.925, abs=1e-12)
    assert 2 * half == pytest.approx(1.01475, rel=1e-5)
    assert as_model(0.5, 0.1, 60.0, 2.0, 0.01, -0.05)[0] == pytest.approx(0.075)  # short → above the mid
    assert as_model(0.5, 0.1, 60.0, 2.0, 0.01, 0.0)[0] == 0.0


@pytest.mark.parametrize(("gamma", "spread"), [(0.1, 1.49), (0.01, 1.35), (1.0, 3.02)])
def test_as_reproduces_the_papers_simulation_spreads(gamma: float, spread: float) -> None:
    # Avellaneda & Stoikov 2008, §4: s = 100, σ = 2, k = 1.5, T = 1, unit fills (Δ = 1): their average spreads.
    # The spread is linear in T − t, so its average over the session is the spread at T − t = 0.5.
    assert 2 * as_model(2.0, gamma, 0.5, 1.5, 1.0, 0.0)[1] == pytest.approx(spread, abs=0.005)


def test_glft_by_hand() -> None:
    # σ = 0.5 USDC/√s, γ = 0.1 /USDC, A = 1 fill/s, k = 2 /USDC, Δ = 0.01 ETH, q = +0.05 ETH; γΔ = 0.001, γΔ/k = 0.0005
    # c1 = ln(1.0005) / 0.001 = 0.499875 USDC
    # c2 = √(γ/(2AΔk) x 1.0005^(1 + 2000)) = √(2.5 x e^1.00025) = √6.7974 = 2.60718 √s/ETH (q·σ·c2 is a price)
    # δb = c1 + (Δ/2)σc2 + qσc2 = 0.499875 + 0.0065180 + 0.0651795 ; δa = 0.499875 + 0.0065180 − 0.0651795
    shift, half = glft_model(sigma=0.5, gamma=0.1, a=1.0, k=2.0, clip=0.01, q=0.05)
    assert half == pytest.approx(0.499875 + 0.0065180, rel=1e-5)
    assert shift == pytest.approx(-0.0651795, rel=1e-5)
    assert half - shift == pytest.approx(0.5715725, rel=1e-5)  # δb
    # risk aversion → 0: c1 → 1/k (the monopolist's half spread), the inventory terms vanish
    s0, h0 = glft_model(0.5, 1e-9, 1.0, 2.0, 0.01, 0.05)
    assert h0 == pytest.approx(0.5, rel=1e-5) and abs(s0) < 1e-3


@pytest.mark.parametrize("model", ["as", "glft"])
def test_both_models_finite_and_sane_over_a_range(model: str, eth: Instrument) -> None:
    p = AsmmParams(model=model)
    for sigma_bps in (0.1, 1.0, 2.0, 10.0, 50.0):
        for k in (0.01, 0.5, 2.0, 50.0, 5000.0):
            for pos in (-90, -30, 0, 30, 90):
                d = q(signals=sig(sigma_bps, k=k), pos=pos, params=p, eth=eth)
                assert math.isfinite(d.reservation_price) and math.isfinite(d.half_spread_bps)
                assert p.min_spread_bps / 2 <= d.half_spread_bps <= p.max_spread_bps / 2
                assert (d.skew_bps < 0) if pos > 0 else (d.skew_bps > 0) if pos < 0 else d.skew_bps == 0
                assert d.target.bids or d.target.asks


# ---------------------------------------------------------------------------------------------- a full quote by hand


def test_a_full_quote_by_hand(eth: Instrument) -> None:
    # mid 2500.00, σ = 2 bps/√s = 0.5 USDC/√s, fitted A = 1/s and k = 2 /USDC, γ = 0.1 /USDC, τ = 60 s, long 0.05 ETH
    # (50 lots, inside the 0.06 soft limit): r − s = −0.075 USDC = −0.3 bps, half = 1.01475 / 2 USDC = 2.0295 bps
    # δb = 2.0295 + 0.3 = 2.3295 bps → bid floor(250000 x (1 − 2.3295e-4)) = floor(249941.76) = 249941
    # δa = 2.0295 − 0.3 = 1.7295 bps → ask ceil(250000 x (1 + 1.7295e-4)) = ceil(250043.24) = 250044
    # spacing max(3, vol_k 2 x σ 2 bps) = 4 bps = 100 ticks: next bid floor(249841.76), next ask ceil(250143.24)
    d = q(pos=50, params=MODEL, fees=FREE, eth=eth)
    assert d.reservation_price == pytest.approx(2499.925)
    assert d.skew_bps == pytest.approx(-0.3) and d.half_spread_bps == pytest.approx(2.0295, rel=1e-5)
    assert d.bid_offset_bps == pytest.approx(2.3295, rel=1e-5) and d.ask_offset_bps == pytest.approx(1.7295, rel=1e-5)
    assert d.spacing_bps == 4.0 and d.inventory == pytest.approx(0.05) and d.defaults == ()
    assert px(d.target.bids) == [249941, 249841, 249741] and px(d.target.asks) == [250044, 250144, 250244]
    # sizes: base 10 lots, σ at the 2 bps reference (no shrink); bids add to a long: x (1 − (50/100)²) = 7.5 → 7
    assert lots(d.target.bids) == [7, 7, 7] and lots(d.target.asks) == [10, 10, 10]
    assert "AS r 2499.925 " in d.target.reason and "skew -0.30 bps" in d.target.reason
    assert "3 bid / 3 ask levels" in d.target.reason


def test_skew_moves_both_quotes_toward_reducing(eth: Instrument) -> None:
    def top(pos: int, p: AsmmParams) -> tuple[int, int]:
        t = q(pos=pos, params=p, eth=eth).target
        return t.bids[0].price_ticks, t.asks[0].price_ticks

    for model in ("as", "glft"):  # min spread 12: half 6 bps, 1 bps of room above the 5 bps fee floor to move
        p = AsmmParams(model=model)
        (fb, fa), (lb, la), (sb, sa) = top(0, p), top(30, p), top(-30, p)
        assert lb < fb and la < fa  # long: both lower (sell sooner, buy later)
        assert sb > fb and sa > fa  # short: both higher
    # more inventory never moves quotes back up (weakly: the fee floor and the caps may hold a side still)
    p = AsmmParams()
    prev = top(0, p)
    for pos in range(1, 80):  # up to the reduce-only threshold
        cur = top(pos, p)
        assert cur[0] <= prev[0] and cur[1] <= prev[1]
        prev = cur


def test_target_position_centres_the_skew(eth: Instrument) -> None:
    p = AsmmParams(target_position=Decimal("0.02"))
    at_target = q(pos=20, params=p, eth=eth)
    assert at_target.skew_bps == 0 and at_target.inventory == pytest.approx(0)
    assert q(pos=0, params=p, eth=eth).skew_bps > 0  # flat is "short" of the target: quotes lean up to buy


# ---------------------------------------------------------------------------------------------- clamps, floor, touch


def test_spread_clamped_between_min_and_max(eth: Instrument) -> None:
    narrow = q(params=AsmmParams(min_spread_bps=12.0), eth=eth)  # model half ~2.3 bps → min 6
    assert narrow.half_spread_bps == 6.0 and "(model 2.30 → min_spread)" in narrow.target.reason
    assert px(narrow.target.bids)[0] == 249850 and px(narrow.target.asks)[0] == 250150  # 6 bps = 150 ticks
    wide = q(signals=sig(k=0.001), params=AsmmParams(max_spread_bps=40.0), eth=eth)  # k tiny: the model says ~huge
    assert wide.half_spread_bps == 20.0 and "→ max_spread)" in wide.target.reason
    assert px(wide.target.bids)[0] == 249500 and px(wide.target.asks)[0] == 250500


def test_the_fee_floor_holds_each_side_and_wins_over_max_spread(eth: Instrument) -> None:
    fees = Fees(maker=Decimal("0.0005"))  # floor 2 x 5 + 1 = 11 bps a side
    p = AsmmParams(min_spread_bps=2.0, max_spread_bps=10.0)
    d = q(pos=60, params=p, fees=fees, eth=eth)
    assert d.ask_offset_bps == 11.0 and d.bid_offset_bps == 11.0  # skewed ask held at the floor; cap cannot win
    assert d.target.asks[0].price_ticks == 250275 and d.target.bids[0].price_ticks == 249725  # 11 bps = 275 ticks


def test_a_large_skew_keeps_the_near_side_at_the_floor_and_the_far_side_within_max(eth: Instrument) -> None:
    p = AsmmParams(gamma=50.0, max_spread_bps=30.0)
    d = q(pos=70, params=p, eth=eth)
    assert d.skew_bps < -30
    assert d.ask_offset_bps == 5.0 and d.bid_offset_bps == pytest.approx(25.0)  # 30 − 5
    s = q(pos=-70, params=p, eth=eth)
    assert s.bid_offset_bps == 5.0 and s.ask_offset_bps == pytest.approx(25.0)


def test_never_inside_the_touch_on_a_wide_book(eth: Instrument) -> None:
    wide = mv(249000, 251000)  # 80 bps wide: the model's quotes would sit inside
    t = q(wide, params=AsmmParams(min_spacing_bps=0.01, vol_k=0.0), eth=eth).target
    assert px(t.bids) == [249000, 248999, 248998] and px(t.asks) == [251000, 251001, 251002]
    t = q(wide, pos=60, params=AsmmParams(gamma=50.0), eth=eth).target  # a big skew still never crosses
    assert t.asks[0].price_ticks >= 251000 and t.bids[0].price_ticks <= 249000


def _check(d: AsmmDecision, market: MarketView, p: AsmmParams, fees: Fees, eth: Instrument) -> None:
    t = d.target
    mid = Fraction(market.mid_x2_ticks, 2)
    floor = fees.min_half_spread_bps(p.fee_buffer_bps)
    for i, b in enumerate(t.bids):
        assert b.price_ticks <= market.bid_ticks
        assert i > 0 or (mid - b.price_ticks) / mid * 10_000 >= floor
        assert i == 0 or b.price_ticks < t.bids[i - 1].price_ticks
        assert t.reduce_only_bids or eth.notional(b.price_ticks, b.qty_lots) >= eth.min_notional
        assert eth.min_lots <= b.qty_lots <= eth.max_lots
    for i, a in enumerate(t.asks):
        assert a.price_ticks >= market.ask_ticks
        assert i > 0 or (a.price_ticks - mid) / mid * 10_000 >= floor
        assert i == 0 or a.price_ticks > t.asks[i - 1].price_ticks
        assert t.reduce_only_asks or eth.notional(a.price_ticks, a.qty_lots) >= eth.min_notional
        assert eth.min_lots <= a.qty_lots <= eth.max_lots
    if d.target.bids or d.target.asks:
        assert d.bid_offset_bps >= float(floor) and d.ask_offset_bps >= float(floor)
        assert d.bid_offset_bps + d.ask_offset_bps >= p.min_spread_bps - 1e-9
        assert d.bid_offset_bps + d.ask_offset_bps <= max(p.max_spread_bps, 2 * float(floor)) + 1e-9


@pytest.mark.parametrize("seed", range(4))
def test_random_books_signals_params_and_positions(seed: int, eth: Instrument) -> None:
    """Property loop: whatever comes in, the worst case never passes the (effective) hard limit, reduce-only never
    crosses zero, and every price and size rule holds."""
    rnd = random.Random(seed)
    for _ in range(300):
        bid = rnd.randint(2823, 14_400_000)
        ask = bid + rnd.choice((1, 1, 1, 2, 5, rnd.randint(1, 2000)))
        market = mv(bid, ask)
        mid = (bid + ask) / 200
        fees = Fees(maker=Decimal(rnd.randint(-2, 5)) / 10_000)
        hard = Decimal(rnd.randint(5, 300)) / 1000
        soft = hard * Decimal(rnd.randint(1, 8)) / 10
        p = AsmmParams(model=rnd.choice(("as", "glft")), min_spread_bps=rnd.uniform(0.1, 30),
                       max_spread_bps=rnd.uniform(30, 300), fee_buffer_bps=rnd.uniform(0, 3),
                       max_levels=rnd.randint(1, 5), min_spacing_bps=rnd.uniform(0.1, 10),
                       vol_k=rnd.uniform(0, 5), base_size=min(hard, Decimal(rnd.randint(1, 50)) / 1000),
                       inv_soft_limit=soft, reduce_only_threshold=rnd.choice((hard, (soft + hard) / 2)),
                       inv_hard_limit=hard, gamma=10 ** rnd.uniform(-3, 2), inv_skew_k=rnd.uniform(0, 3),
                       toxic_action=rnd.choice(("widen", "reduce_only", "cooldown")))
        signals = rnd.choice((None, sig(rnd.uniform(0.1, 20), rnd.choice(list(Regime)), rnd.random() < 0.2,
                                        mid=mid, warm=rnd.random() < 0.9, k=10 ** rnd.uniform(-2, 2) / mid * 1e4,
                                        fitted=rnd.random() < 0.8)))
        adaptation = rnd.choice((None, Adaptation(hard * Decimal(rnd.randint(0, 100)) / 100, rnd.uniform(0.05, 1))))
        limit = eth.lots_floor(hard if adaptation is None else min(hard, adaptation.net_limit))
        hard_lots = eth.lots_floor(hard)
        pos = rnd.randint(-hard_lots - 20, hard_lots + 20)
        state = rnd.choice((TradingState.ACTIVE, TradingState.ACTIVE, TradingState.REDUCING))
        d = quote(market, signals, pos, p, eth, fees, risk(state), adaptation, AsmmState(), T0)
        _check(d, market, p, fees, eth)
        t = d.target
        assert d.hard_limit_lots == limit or "cooling down" in t.reason
        buys, sells = sum(lots(t.bids)), sum(lots(t.asks))
        if t.reduce_only_bids or t.reduce_only_asks or state is TradingState.REDUCING:
            assert pos + buys <= max(0, pos) and pos - sells >= min(0, pos)  # never more than the position
            assert not (t.bids and t.asks)
        elif t.bids or t.asks:  # (an empty target: cooling down, or no room left for the exchange minimum)
            assert pos + buys <= limit and pos - sells >= -limit  # lesson 1: the worst case, not the position
            assert abs(pos) < limit


# ---------------------------------------------------------------------------------------------- inventory limits


def test_soft_limit_skews_harder(eth: Instrument) -> None:
    p = AsmmParams(inv_skew_k=1.0)  # soft 50 lots, hard 100: at 75 lots half-way → half a half spread extra
    inside = q(pos=50, params=p, eth=eth)
    past = q(pos=75, params=p, eth=eth)
    model_only = q(pos=75, params=AsmmParams(inv_skew_k=0.0), eth=eth)
    assert past.skew_bps == pytest.approx(model_only.skew_bps - 0.5 * 6.0)  # half-way x 1 x half spread 6 bps
    assert inside.skew_bps == pytest.approx(q(pos=50, params=AsmmParams(inv_skew_k=0.0), eth=eth).skew_bps)
    short = q(pos=-75, params=p, eth=eth)
    assert short.skew_bps == pytest.approx(-past.skew_bps)


def test_adding_side_shrinks_and_the_worst_case_stays_within_the_hard_limit(eth: Instrument) -> None:
    p = AsmmParams()  # base 10 lots, hard 100, reduce-only from 80
    assert lots(q(pos=0, params=p, eth=eth).target.bids) == [10, 10, 10]
    assert lots(q(pos=40, params=p, eth=eth).target.bids) == [8, 8, 8]  # 10 x (1 − 0.4²) = 8.4
    t = q(pos=70, params=p, eth=eth).target  # 10 x (1 − 0.49) = 5.1 → 5 lots (5 x ~2498 USDT = 12.5 ≥ 10)
    assert lots(t.bids) == [5, 5, 5] and lots(t.asks) == [10, 10, 10]
    for pos in range(-100, 101):
        t = q(pos=pos, params=p, eth=eth).target
        if not (t.reduce_only_asks or t.reduce_only_bids):
            assert pos + sum(lots(t.bids)) <= 100 and pos - sum(lots(t.asks)) >= -100


def test_past_the_reduce_only_threshold_and_at_the_hard_limit(eth: Instrument) -> None:
    p = AsmmParams()
    t = q(pos=80, params=p, eth=eth).target
    assert t.bids == () and t.reduce_only_asks and lots(t.asks) == [10, 10, 10]
    assert "reduce-only threshold 0.080" in t.reason
    t = q(pos=-100, params=p, eth=eth).target
    assert t.asks == () and t.reduce_only_bids and "hard limit 0.100" in t.reason
    t = q(pos=-150, params=p, eth=eth).target
    assert t.asks == () and t.reduce_only_bids and sum(lots(t.bids)) <= 150


def test_reduce_only_never_more_than_the_position_and_exempt_from_min_notional(eth: Instrument) -> None:
    r = risk(TradingState.REDUCING)
    t = q(pos=13, r=r, eth=eth).target  # 10 + 3 lots: the 3-lot order is 7.5 USDT, fine when reduce-only
    assert t.bids == () and t.reduce_only_asks and lots(t.asks) == [10, 3]
    t = q(pos=-2, r=r, eth=eth).target
    assert t.asks == () and t.reduce_only_bids and lots(t.bids) == [2]
    t = q(pos=0, r=r, eth=eth).target
    assert t.bids == () and t.asks == () and "nothing to reduce" in t.reason


# ---------------------------------------------------------------------------------------------- risk adaptation


def test_adaptation_shrinks_sizes_limits_and_widens(eth: Instrument) -> None:
    base = q(params=MODEL, fees=FREE, eth=eth)
    ad = Adaptation(Decimal("0.05"), 0.5, ("high_vol",))
    d = q(params=MODEL, fees=FREE, adaptation=ad, eth=eth)
    assert d.half_spread_bps == pytest.approx(2 * base.half_spread_bps)  # spread / factor
    assert d.widen == 2.0 and "risk factor 0.50" in d.target.reason
    assert lots(d.target.bids) == [5, 5, 5] and d.hard_limit_lots == 50
    # the ladder of limits shrinks with it: soft 60 → 30, reduce-only 80 → 40, hard 50
    t = q(pos=40, params=MODEL, fees=FREE, adaptation=ad, eth=eth).target
    assert t.bids == () and t.reduce_only_asks
    t = q(pos=30, params=MODEL, fees=FREE, adaptation=ad, eth=eth).target  # room 20 lots, sizes 5 x (1 − 0.36)
    assert sum(lots(t.bids)) <= 20 and not t.reduce_only_asks
    # a factor that would widen past the max is clamped; a nonsense factor counts as the most careful
    assert q(adaptation=Adaptation(Decimal("0.1"), 0.001), eth=eth).half_spread_bps == 50.0
    assert q(adaptation=Adaptation(Decimal("0.1"), math.nan), eth=eth).widen == 100.0


def test_adaptation_net_limit_zero_quotes_nothing_that_adds(eth: Instrument) -> None:
    ad = Adaptation(Decimal(0), 0.05, ("toxic",))
    assert q(adaptation=ad, eth=eth).target.bids == ()
    t = q(pos=12, adaptation=ad, eth=eth).target  # reduce-only at full base size: shedding risk is not shrunk
    assert t.bids == () and t.reduce_only_asks and lots(t.asks) == [10, 2]


# ---------------------------------------------------------------------------------------------- regime and toxicity


def test_regime_multipliers(eth: Instrument) -> None:
    calm = q(params=MODEL, fees=FREE, eth=eth)
    for regime, mult in ((Regime.TREND_UP, 1.5), (Regime.TREND_DOWN, 1.5), (Regime.HIGH_VOL, 2.0)):
        d = q(signals=sig(regime=regime), params=MODEL, fees=FREE, eth=eth)
        assert d.half_spread_bps == pytest.approx(calm.half_spread_bps * mult)
        assert d.spacing_bps == pytest.approx(calm.spacing_bps * mult)  # levels spread out too
    d = q(signals=sig(regime=Regime.HIGH_VOL), params=MODEL, fees=FREE, eth=eth)
    assert "(model 2.03 x2.00 high vol)" in d.target.reason


def test_trend_lean_widens_only_the_side_against_the_trend(eth: Instrument) -> None:
    p = AsmmParams(min_spread_bps=1.0, trend_lean=0.5)
    up = q(signals=sig(regime=Regime.TREND_UP), params=p, fees=FREE, eth=eth)
    assert up.ask_offset_bps == pytest.approx(1.5 * up.bid_offset_bps)  # selling into a rise stands back
    down = q(signals=sig(regime=Regime.TREND_DOWN), params=p, fees=FREE, eth=eth)
    assert down.bid_offset_bps == pytest.approx(1.5 * down.ask_offset_bps)


def test_toxic_widen(eth: Instrument) -> None:
    calm = q(params=MODEL, fees=FREE, eth=eth)
    d = q(signals=sig(toxic=True), params=MODEL, fees=FREE, eth=eth)
    assert d.half_spread_bps == pytest.approx(2 * calm.half_spread_bps) and "toxic" in d.target.reason
    both = q(signals=sig(regime=Regime.HIGH_VOL, toxic=True), params=MODEL, fees=FREE, eth=eth)
    assert both.widen == 4.0
    # risk's factor for the same conditions (HighVol 0.5 x toxic 0.5) widens no further: the larger, not the product
    ad = Adaptation(Decimal("0.025"), 0.25, ("high_vol", "toxic"))
    assert q(signals=sig(regime=Regime.HIGH_VOL, toxic=True), adaptation=ad, params=MODEL, fees=FREE,
             eth=eth).widen == 4.0
    assert q(signals=sig(regime=Regime.HIGH_VOL), adaptation=Adaptation(Decimal("0.02"), 0.2), params=MODEL,
             fees=FREE, eth=eth).widen == 5.0  # a factor that is more careful than the regime wins


def test_toxic_reduce_only(eth: Instrument) -> None:
    p = AsmmParams(toxic_action="reduce_only")
    t = q(signals=sig(toxic=True), pos=20, params=p, eth=eth).target
    assert t.bids == () and t.reduce_only_asks and sum(lots(t.asks)) == 20 and "toxic" in t.reason
    t = q(signals=sig(toxic=True), params=p, eth=eth).target
    assert t.bids == () and t.asks == () and "nothing to reduce" in t.reason
    assert q(signals=sig(toxic=False), params=p, eth=eth).target.bids  # back to normal at once


def test_toxic_cooldown_starts_extends_and_expires(eth: Instrument) -> None:
    p = AsmmParams(toxic_action="cooldown", toxic_cooldown_s=30.0)

    def at(t_s: float, toxic: bool, state: AsmmState) -> AsmmDecision:
        now = T0 + round(t_s * S)
        return q(mv(249999, 250001, now), sig(toxic=toxic, made=now, vpin=0.9 if toxic else 0.2), params=p,
                 state=state, now=now, eth=eth)

    d = at(0, True, AsmmState())  # first seen: no quotes for 30 s
    assert d.state.cooldown_until_ns == T0 + 30 * S
    assert d.target.bids == () and d.target.asks == () and "cooling down" in d.target.reason
    assert "VPIN 0.90" in d.target.reason
    d = at(10, False, d.state)  # calm again, but the cooldown runs on
    assert d.target.bids == () and d.state.cooldown_until_ns == T0 + 30 * S and "20.0 s" in d.target.reason
    d = at(20, True, d.state)  # toxic again: extended
    assert d.state.cooldown_until_ns == T0 + 50 * S and d.target.asks == ()
    d = at(49.999, False, d.state)
    assert d.target.asks == ()
    d = at(50, False, d.state)  # expired
    assert d.target.bids and d.target.asks and d.state.cooldown_until_ns == T0 + 50 * S
    # the cooldown starts even while risk keeps us from quoting, so it still holds when risk lets go
    halted = q(signals=sig(toxic=True), params=p, r=risk(TradingState.HALTED), eth=eth)
    assert halted.state.cooldown_until_ns == T0 + 30 * S and "HALTED" in halted.target.reason
    # other actions never start a cooldown
    assert q(signals=sig(toxic=True), eth=eth).state == AsmmState()


# ---------------------------------------------------------------------------------------------- sizes and volatility


def test_sizes_shrink_with_volatility(eth: Instrument) -> None:
    p = AsmmParams(base_size=Decimal("0.02"), size_vol_k=1.0)  # reference σ = default_sigma_bps 2
    assert lots(q(signals=sig(1.0), params=p, eth=eth).target.bids)[0] == 20  # below the reference: full size
    assert lots(q(signals=sig(4.0), params=p, eth=eth).target.bids)[0] == 10  # 2x the reference: 1 / (1 + 1)
    assert lots(q(signals=sig(8.0), params=p, eth=eth).target.bids)[0] == 5
    assert lots(q(signals=sig(40.0), params=p, eth=eth).target.bids)[0] == 5  # raised to min notional (10 USDT)
    assert lots(q(signals=sig(8.0), params=AsmmParams(base_size=Decimal("0.02"), size_vol_k=0.0),
                  eth=eth).target.bids)[0] == 20


def test_spacing_follows_sigma(eth: Instrument) -> None:
    p = AsmmParams(min_spacing_bps=2.0, vol_k=2.0)
    assert q(signals=sig(0.5), params=p, eth=eth).spacing_bps == 2.0  # floor
    d = q(signals=sig(5.0), params=p, eth=eth)
    assert d.spacing_bps == pytest.approx(10.0)
    b = px(d.target.bids)
    assert b[0] - b[1] in (249, 250, 251) and b[1] - b[2] in (249, 250, 251)  # ~10 bps of 2500 = 250 ticks


def test_min_notional_in_integers_equals_the_instrument(eth: Instrument) -> None:
    c = asmm._consts(AsmmParams(), eth, FEES)
    rnd = random.Random(3)
    for ticks in [rnd.randint(2823, 14_400_000) for _ in range(2000)] + [100_000, 200_000, 250_000]:
        assert max(-(-c.mn_units // ticks), c.min_lots) == eth.min_lots_for_notional(ticks)


# ---------------------------------------------------------------------------------------------- fallbacks and gates


def test_missing_or_cold_signals_fall_back_to_defaults(eth: Instrument) -> None:
    p = AsmmParams(min_spread_bps=1.0, default_sigma_bps=3.0)
    none = q(signals=None, params=p, fees=FREE, eth=eth)
    assert none.target.bids and none.target.asks and none.sigma_bps == 3.0
    assert none.defaults == ("signals", "sigma", "intensity") and "defaults for signals" in none.target.reason
    cold = q(signals=sig(warm=False, fitted=False), params=p, fees=FREE, eth=eth)
    assert cold.defaults == ("sigma", "intensity") and cold.half_spread_bps == none.half_spread_bps
    unfit = q(signals=sig(fitted=False), params=p, fees=FREE, eth=eth)
    assert unfit.defaults == ("intensity",)
    # default k 0.5 /bps = 0.5 x 10⁴ / 2500 = 2 /USDC, default A 1/s: the same as the fitted CALM signals here
    assert unfit.half_spread_bps == pytest.approx(q(params=p, fees=FREE, eth=eth).half_spread_bps)
    stale = q(signals=sig(toxic=True, made=T0 - 2 * S), params=AsmmParams(toxic_action="reduce_only"), eth=eth)
    assert "signals" in stale.defaults and stale.target.bids  # an old toxic flag is not acted on


def test_a_wild_fit_quotes_at_the_max_spread(eth: Instrument) -> None:
    d = q(signals=sig(k=1e-300), params=AsmmParams(model="glft"), eth=eth)  # (1 + γΔ/k)^(1 + k/γΔ) overflows
    assert d.half_spread_bps == 50.0 and d.skew_bps == 0.0 and "model" in d.defaults
    assert d.target.bids and d.target.asks
    assert math.isfinite(q(signals=sig(sigma_bps=math.inf), eth=eth).half_spread_bps)


@pytest.mark.parametrize(("r", "market", "now", "why"), [
    (risk(TradingState.HALTED), BOOK, T0, "HALTED"),
    (risk(allowed=False), BOOK, T0, "not allowed"),
    (None, BOOK, T0, "no risk report"),
    (risk(), None, T0, "no two-sided book"),
    (risk(), BOOK, T0 + 1500 * MS, "stale"),
    (risk(), mv(250001, 250001), T0, "crossed"),
])
def test_nothing_is_quoted(r: RiskState | None, market: MarketView | None, now: int, why: str,
                           eth: Instrument) -> None:
    d = quote(market, CALM, 5, AsmmParams(), eth, FEES, r, None, AsmmState(), now)
    assert d.target.bids == () and d.target.asks == () and why in d.target.reason
    assert math.isnan(d.reservation_price) and d.state == AsmmState()


def test_deterministic(eth: Instrument) -> None:
    a = q(pos=37, signals=sig(3.3, Regime.TREND_UP), adaptation=Adaptation(Decimal("0.07"), 0.7), eth=eth)
    b = q(pos=37, signals=sig(3.3, Regime.TREND_UP), adaptation=Adaptation(Decimal("0.07"), 0.7), eth=eth)
    assert a == b


# ---------------------------------------------------------------------------------------------- publishing


def test_should_publish_works_with_asmm_params(eth: Instrument) -> None:
    p = AsmmParams(refresh_tolerance_bps=2.0, quote_interval_ms=1000)

    def at(bid: int, ms: int, pos: int = 0) -> QuoteTarget:
        now = T0 + ms * MS
        return q(mv(bid, bid + 2, now), sig(made=now), pos=pos, params=p, now=now, eth=eth).target

    a = at(249999, 0)
    assert should_publish(None, a, p)
    assert not should_publish(a, at(249999, 5000), p)  # same
    assert not should_publish(a, at(250009, 2000), p)  # 0.4 bps
    assert not should_publish(a, at(250059, 500), p)  # 2.4 bps, too soon
    assert should_publish(a, at(250059, 1000), p)
    assert should_publish(a, at(249999, 1, pos=45), p)  # sizes changed: at once
