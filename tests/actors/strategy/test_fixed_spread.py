"""Fixed-spread quoting on ETHUSDT's real filters: fee floor, safe rounding, no crossing, inventory, risk states."""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction

import pytest

from actors.book.view import MarketView
from actors.instrument import Instrument
from actors.risk.messages import RiskState, TradingState
from actors.strategy.fixed_spread import half_spread_bps, quote, should_publish
from actors.strategy.messages import Quote, QuoteTarget
from actors.strategy.params import Fees, FixedSpreadParams

T0 = 1_700_000_000_000_000_000
MS = 1_000_000
FEES = Fees(maker=Decimal("0.0002"), taker=Decimal("0.0005"))


def risk(state: TradingState = TradingState.ACTIVE, allowed: bool = True) -> RiskState:
    return RiskState("ETHUSDT", state, allowed and state is not TradingState.HALTED, not allowed, (), (), "test",
                     Decimal(0), 0, False, 1, T0)


def mv(bid: int, ask: int, last_ns: int = T0) -> MarketView:
    return MarketView("ETHUSDT", bid, 3000, ask, 3000, Decimal(bid + ask) / 200, ask - bid, 0.0, last_ns, False)


BOOK = mv(250000, 250001)  # 2500.00 / 2500.01, mid 2500.005


def q(market: MarketView | None = BOOK, pos: int = 0, params: FixedSpreadParams | None = None,
      fees: Fees = FEES, r: RiskState | None = None, now: int = T0, *, eth: Instrument) -> QuoteTarget:
    return quote(market, pos, params or FixedSpreadParams(), eth, fees, r if r is not None else risk(), now)


# ---------------------------------------------------------------------------------------------- prices


def test_one_level_rounded_outward(eth: Instrument) -> None:
    t = q(eth=eth)
    # half spread 5 bps: bid 500001/2 x 0.9995 = 249875.50005 → down, ask 250125.50025 → up
    assert t.bids == (Quote(249875, 10),) and t.asks == (Quote(250126, 10),)
    assert t.symbol == "ETHUSDT" and t.made_ns == T0 and not t.reduce_only_bids and not t.reduce_only_asks
    assert "half spread 5.00 bps" in t.reason and "min_spread_bps 10" in t.reason


def test_the_fee_floor_wins_when_the_spread_is_too_thin(eth: Instrument) -> None:
    fees = Fees(maker=Decimal("0.0004"))  # 4 bps a side: a round trip costs 8 bps
    half, bound = half_spread_bps(FixedSpreadParams(), fees)
    assert half == 9 and bound  # 2 x 4 + 1 buffer > 10 / 2
    t = q(fees=fees, eth=eth)
    assert t.bids[0].price_ticks == 249775  # floor(250000.5 x 0.9991 = 249775.4995)
    assert t.asks[0].price_ticks == 250226  # ceil(250225.5005)
    assert "fee floor" in t.reason
    rebate = Fees(maker=Decimal("-0.0001"))
    assert half_spread_bps(FixedSpreadParams(), rebate) == (5, False)


def test_never_inside_the_touch_on_a_wide_book(eth: Instrument) -> None:
    t = q(mv(249000, 251000), params=FixedSpreadParams(levels=3, level_spacing_bps=1.0), eth=eth)
    assert [x.price_ticks for x in t.bids] == [249000, 248999, 248998]  # joined at best, then a tick apart
    assert [x.price_ticks for x in t.asks] == [251000, 251001, 251002]


def test_levels_spaced_and_strictly_ordered(eth: Instrument) -> None:
    t = q(params=FixedSpreadParams(levels=3, level_spacing_bps=5.0, inventory_threshold=Decimal("1")), eth=eth)
    assert [x.price_ticks for x in t.bids] == [249875, 249750, 249625]
    assert [x.price_ticks for x in t.asks] == [250126, 250251, 250376]


def _check(t: QuoteTarget, market: MarketView, floor_bps: Fraction, eth: Instrument) -> None:
    mid = Fraction(market.mid_x2_ticks, 2)
    for i, b in enumerate(t.bids):
        assert b.price_ticks <= market.bid_ticks < market.ask_ticks
        assert (mid - b.price_ticks) / mid * 10_000 >= floor_bps  # never below fees + buffer
        assert i == 0 or b.price_ticks < t.bids[i - 1].price_ticks
        assert t.reduce_only_bids or eth.notional(b.price_ticks, b.qty_lots) >= eth.min_notional
        assert b.qty_lots >= eth.min_lots
    for i, a in enumerate(t.asks):
        assert a.price_ticks >= market.ask_ticks > market.bid_ticks
        assert (a.price_ticks - mid) / mid * 10_000 >= floor_bps
        assert i == 0 or a.price_ticks > t.asks[i - 1].price_ticks
        assert t.reduce_only_asks or eth.notional(a.price_ticks, a.qty_lots) >= eth.min_notional
        assert a.qty_lots >= eth.min_lots


@pytest.mark.parametrize("seed", range(5))
def test_random_books_fees_and_params(seed: int, eth: Instrument) -> None:
    rnd = random.Random(seed)
    for _ in range(400):
        bid = rnd.randint(2823, 14_400_000)  # ETHUSDT's PRICE_FILTER range in ticks
        ask = bid + rnd.choice((1, 1, 1, 2, 5, rnd.randint(1, 2000)))
        market = mv(bid, ask)
        fees = Fees(maker=Decimal(rnd.randint(-2, 5)) / 10_000)
        params = FixedSpreadParams(min_spread_bps=rnd.uniform(0.1, 50), fee_buffer_bps=rnd.uniform(0, 3),
                                   levels=rnd.randint(1, 5), level_spacing_bps=rnd.uniform(0.1, 10),
                                   base_size=Decimal(rnd.randint(1, 50)) / 1000,
                                   inventory_threshold=Decimal(rnd.randint(1, 200)) / 1000)
        pos = rnd.randint(-300, 300)
        state = rnd.choice((TradingState.ACTIVE, TradingState.ACTIVE, TradingState.REDUCING))
        t = quote(market, pos, params, eth, fees, risk(state), T0)
        floor = max(fees.min_half_spread_bps(params.fee_buffer_bps), Fraction(params.min_spread_bps) / 2)
        _check(t, market, floor, eth)
        threshold = eth.lots_floor(params.inventory_threshold)
        # all bids or all asks filling never takes the position past the threshold, or across zero if reducing
        buys, sells = sum(x.qty_lots for x in t.bids), sum(x.qty_lots for x in t.asks)
        if t.reduce_only_bids or t.reduce_only_asks or state is TradingState.REDUCING:
            assert pos + buys <= max(0, pos) and pos - sells >= min(0, pos)
        else:
            assert pos + buys <= threshold and pos - sells >= -threshold


# ---------------------------------------------------------------------------------------------- sizes


def test_sizes_meet_min_notional(eth: Instrument) -> None:
    # 0.001 ETH is 2.5 USDT: raised to the fewest lots worth 10 USDT at each level's own price
    t = q(params=FixedSpreadParams(base_size=Decimal("0.001")), eth=eth)
    assert t.bids[0].qty_lots == 5  # 4 x 2498.75 = 9.995 < 10
    assert t.asks[0].qty_lots == 4  # 4 x 2501.26 = 10.005
    assert eth.min_lots_for_notional(t.bids[0].price_ticks) == 5


def test_base_size_rounded_down_to_the_step(eth: Instrument) -> None:
    t = q(params=FixedSpreadParams(base_size=Decimal("0.0129")), eth=eth)
    assert t.bids[0].qty_lots == 12 and t.asks[0].qty_lots == 12


# ---------------------------------------------------------------------------------------------- inventory

P3 = FixedSpreadParams(levels=3, base_size=Decimal("0.01"), inventory_threshold=Decimal("0.05"))


def test_inventory_caps_the_adding_side(eth: Instrument) -> None:
    t = q(params=P3, eth=eth)
    assert [x.qty_lots for x in t.bids] == [10, 10, 10] and [x.qty_lots for x in t.asks] == [10, 10, 10]
    t = q(pos=30, params=P3, eth=eth)  # room for 20 more bought lots
    assert [x.qty_lots for x in t.bids] == [10, 10] and len(t.asks) == 3
    t = q(pos=44, params=P3, eth=eth)  # room for 6: one smaller level (6 x 2498.75 >= 10)
    assert [x.qty_lots for x in t.bids] == [6]
    t = q(pos=48, params=P3, eth=eth)  # room for 2 lots: below min notional, so no bid at all
    assert t.bids == () and len(t.asks) == 3 and not t.reduce_only_asks


def test_past_the_threshold_only_the_reducing_side_reduce_only(eth: Instrument) -> None:
    t = q(pos=50, params=P3, eth=eth)
    assert t.bids == () and t.reduce_only_asks and [x.qty_lots for x in t.asks] == [10, 10, 10]
    assert "reduce-only asks" in t.reason
    t = q(pos=-57, params=P3, eth=eth)
    assert t.asks == () and t.reduce_only_bids and [x.qty_lots for x in t.bids] == [10, 10, 10]


def test_reduce_only_never_more_than_the_position_and_exempt_from_min_notional(eth: Instrument) -> None:
    p = FixedSpreadParams(levels=3, base_size=Decimal("0.002"), inventory_threshold=Decimal("0.003"))
    t = q(pos=3, params=p, eth=eth)  # 2 lots x 2501 = 5 USDT < 10: fine, reduce-only is exempt
    assert t.reduce_only_asks and [x.qty_lots for x in t.asks] == [2, 1]
    t = q(pos=7, params=p, eth=eth)
    assert [x.qty_lots for x in t.asks] == [2, 2, 2]
    t = q(pos=5, params=p, eth=eth)
    assert [x.qty_lots for x in t.asks] == [2, 2, 1]
    # not reduce-only: 2 lots would be raised to 4-5 (10 USDT), more than the 3-lot threshold allows
    flat = q(params=p, eth=eth)
    assert flat.bids == () and flat.asks == () and "no bids: room 0.003 is below" in flat.reason


# ---------------------------------------------------------------------------------------------- risk and data


def test_reducing_quotes_only_the_reducing_side(eth: Instrument) -> None:
    r = risk(TradingState.REDUCING)
    t = q(pos=12, r=r, params=FixedSpreadParams(levels=2), eth=eth)  # inside the threshold, but risk says reduce
    assert t.bids == () and t.reduce_only_asks and [x.qty_lots for x in t.asks] == [10, 2]
    t = q(pos=-12, r=r, eth=eth)
    assert t.asks == () and t.reduce_only_bids and [x.qty_lots for x in t.bids] == [10]
    t = q(pos=0, r=r, eth=eth)
    assert t.bids == () and t.asks == () and "nothing to reduce" in t.reason


@pytest.mark.parametrize(("r", "market", "now", "why"), [
    (risk(TradingState.HALTED), BOOK, T0, "HALTED"),
    (risk(allowed=False), BOOK, T0, "not allowed"),
    (None, BOOK, T0, "no risk report"),
    (risk(), None, T0, "no two-sided book"),
    (risk(), BOOK, T0 + 1500 * MS, "stale"),  # the strategy judges staleness itself too
    (risk(), mv(250001, 250001), T0, "crossed"),
])
def test_nothing_is_quoted(r: RiskState | None, market: MarketView | None, now: int, why: str,
                           eth: Instrument) -> None:
    t = quote(market, 5, FixedSpreadParams(), eth, FEES, r, now)
    assert t.bids == () and t.asks == () and why in t.reason


def test_fresh_just_inside_the_timeout(eth: Instrument) -> None:
    assert q(now=T0 + 1500 * MS - 1, eth=eth).bids


# ---------------------------------------------------------------------------------------------- publishing


def test_should_publish(eth: Instrument) -> None:
    p = FixedSpreadParams(refresh_tolerance_bps=2.0, quote_interval_ms=1000)
    a = q(eth=eth)
    assert should_publish(None, a, p)
    assert not should_publish(a, q(mv(250000, 250001, T0 + 5000 * MS), now=T0 + 5000 * MS, eth=eth), p)  # same
    small = q(mv(250010, 250011, T0 + 2000 * MS), now=T0 + 2000 * MS, eth=eth)  # 0.4 bps move
    assert not should_publish(a, small, p)
    big = q(mv(250060, 250061, T0 + 500 * MS), now=T0 + 500 * MS, eth=eth)  # 2.4 bps, but too soon
    assert not should_publish(a, big, p)
    big_later = q(mv(250060, 250061, T0 + 1000 * MS), now=T0 + 1000 * MS, eth=eth)
    assert should_publish(a, big_later, p)
    # a change of shape is told at once: a fill moved the position, or risk emptied the target
    assert should_publish(a, q(pos=45, now=T0 + MS, eth=eth), p)
    assert should_publish(a, q(r=risk(TradingState.HALTED), now=T0 + MS, eth=eth), p)
    assert should_publish(a, q(pos=60, now=T0 + MS, eth=eth), p)


def test_params_validation() -> None:
    with pytest.raises(ValueError, match="level_spacing_bps"):
        FixedSpreadParams(levels=2, level_spacing_bps=0)


def test_integer_level_prices_equal_the_exact_fraction_formula() -> None:
    """The per-tick integer arithmetic is the exact formula: floor/ceil of mid x (1 -/+ h), h in bps."""
    import math
    import random
    from fractions import Fraction

    from actors.strategy.fixed_spread import _level_ratios

    rng = random.Random(5)
    for _ in range(2000):
        half = Fraction(rng.randint(1, 400), rng.randint(1, 40))
        spacing, levels = rng.choice([0.5, 1.0, 2.5, 7.0]), rng.randint(1, 5)
        m2 = rng.randint(2, 10**9)
        for i, (p, q) in enumerate(_level_ratios(half, spacing, levels)):
            h = (half + i * Fraction(spacing)) / 10_000
            assert (m2 * (q - p)) // (2 * q) == math.floor(m2 * (1 - h) / 2)
            assert -((-m2 * (q + p)) // (2 * q)) == math.ceil(m2 * (1 + h) / 2)
