"""PnL from fills against hand-computed numbers, and against the simulated exchange's own arithmetic."""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction

import pytest

from actors.analyzer.pnl import DailyPnl, PnlBook
from actors.gateway.events import Fill, Side
from simex.positions import Position  # the exchange side's rules, used read-only as an oracle

BUY, SELL = Side.BUY, Side.SELL
D = Decimal
DAY = 86_400 * 1_000_000_000


def test_hand_computed_round_trip_with_a_flip() -> None:
    b = PnlBook("ETHUSDT", "USDT")
    b = b.apply(BUY, D("0.100"), D("2000.00"), D("0.04"))
    assert (b.qty, b.entry_price, b.realized) == (D("0.100"), D("2000.00000000"), 0)
    b = b.apply(BUY, D("0.050"), D("2010.00"), D("0.0201"))
    assert b.entry == Fraction(6010, 3)  # (200 + 100.5) / 0.15 = 2003.333...: kept exact
    assert b.entry_price == D("2003.33333333")
    b = b.apply(SELL, D("0.120"), D("2020.00"), D("0.04848"))
    assert b.qty == D("0.030") and b.realized == D("2.00000000")  # (2020 − 6010/3) x 0.12 = 50/3 x 0.12
    assert b.entry == Fraction(6010, 3)  # reducing keeps the entry
    b = b.apply(SELL, D("0.080"), D("2000.00"), D("0.032"))  # through zero: closes 0.03, opens 0.05 short
    assert b.qty == D("-0.050") and b.entry_price == D("2000.00000000")
    assert b.realized == D("1.90000000")  # + (2000 − 6010/3) x 0.03 = −0.1
    b = b.apply_funding(D("-0.0123"))
    assert b.fees == D("0.14058") and b.funding == D("-0.0123")
    assert b.net_realized == D("1.74712")  # 1.9 − 0.14058 − 0.0123
    assert b.unrealized(D("1990.00")) == D("0.50000000")  # short 0.05 from 2000, marked at 1990
    assert b.equity_change(D("1990.00")) == D("2.24712")
    assert (b.fills, b.volume, b.turnover) == (4, D("0.350"), D("702.9"))  # 200 + 100.5 + 242.4 + 160


def test_partial_fills_equal_one_fill() -> None:
    one = PnlBook("ETHUSDT").apply(BUY, D("0.010"), D("2500.00"), D("0.005"))
    parts = PnlBook("ETHUSDT")
    for q, fee in ((D("0.003"), D("0.0015")), (D("0.004"), D("0.002")), (D("0.003"), D("0.0015"))):
        parts = parts.apply(BUY, q, D("2500.00"), fee)
    assert (parts.qty, parts.entry, parts.fees) == (one.qty, one.entry, one.fees)
    closed = parts
    for q in (D("0.001"), D("0.002"), D("0.007")):
        closed = closed.apply(SELL, q, D("2501.50"))
    assert closed.qty == 0 and closed.entry == 0 and closed.realized == D("0.01500000")


def test_realized_rounds_per_fill_like_the_exchange() -> None:
    b = PnlBook("ETHUSDT")
    for px in ("100.00", "100.00", "100.01"):
        b = b.apply(BUY, D("0.001"), D(px))
    b = b.apply(SELL, D("0.001"), D("100.02"))  # (100.02 − 100.00333...) x 0.001 = 0.0000166666...
    assert b.realized == D("0.00001667")
    b = b.apply(SELL, D("0.002"), D("100.02"))  # 0.0000333333...
    assert b.realized == D("0.00001667") + D("0.00003333")


def test_short_to_long_flip_and_a_rebate() -> None:
    b = PnlBook("ETHUSDT").apply(SELL, D("0.2"), D("3000"), D("-0.012"))  # a maker rebate
    b = b.apply(BUY, D("0.5"), D("2900"), D("0.725"))
    assert b.qty == D("0.3") and b.entry_price == D("2900.00000000")
    assert b.realized == D("20.00000000")  # (3000 − 2900) x 0.2
    assert b.fees == D("0.713") and b.net_realized == D("19.287")
    assert b.unrealized(D("2950")) == D("15.00000000")


def test_commission_in_another_asset_is_kept_apart() -> None:
    b = PnlBook("ETHUSDT", "USDT").apply(BUY, D("0.1"), D("2000"), D("0.0001"), "BNB")
    b = b.apply(SELL, D("0.1"), D("2001"), D("0.0001"), "BNB")
    assert b.fees == 0 and b.other_fees == (("BNB", D("0.0002")),)
    assert b.net_realized == D("0.1")


def test_fill_events_and_the_exchange_cross_check() -> None:
    def fill(tid: int, side: Side, qty: str, px: str, fee: str, rp: str) -> Fill:
        return Fill("binance-usdm", "ETHUSDT", tid, 1, "c", side, D(px), D(qty), D(fee), "USDT", True, D(rp), 0)

    b = PnlBook("ETHUSDT", "USDT")
    b = b.on_fill(fill(1, BUY, "0.5", "2000.00", "0.2", "0"))
    b = b.on_fill(fill(2, SELL, "0.2", "2010.00", "0.0804", "2.00000000"))
    r = b.report(D("2005.00"), D("1.9"), 7)
    assert r.realized == D("2.00000000") and r.realized_vs_exchange == 0
    assert r.unrealized == D("1.50000000") and r.net == D("3.2196") and r.position == D("0.3")
    with pytest.raises(ValueError, match="BTCUSDT"):
        b.on_fill(Fill("binance-usdm", "BTCUSDT", 3, 1, "c", BUY, D(1), D(1), D(0), "USDT", True, D(0), 0))
    with pytest.raises(ValueError, match="qty > 0"):
        b.apply(BUY, D(0), D(1))


def test_opened_from_an_exchange_position() -> None:
    b = PnlBook.opened("ETHUSDT", "USDT", D("-0.25"), D("2512.34"))
    assert b.unrealized(D("2500.00")) == D("3.08500000")
    b = b.apply(BUY, D("0.25"), D("2500.00"))
    assert b.qty == 0 and b.realized == D("3.08500000")


@pytest.mark.parametrize("seed", range(5))
def test_same_numbers_as_the_simulated_exchange(seed: int) -> None:
    """Random fills through ours and through simex's Position: entry, position, per-fill realized (e8) agree."""
    rnd = random.Random(seed)
    tick, step = D("0.01"), D("0.001")
    sim, ours = Position(), PnlBook("ETHUSDT")
    cum_e8 = 0
    for _ in range(1500):
        lots = rnd.randint(1, 400)
        ticks = rnd.randint(240_000, 260_000)
        side = rnd.choice((BUY, SELL))
        sim, realized = sim.apply(lots if side is BUY else -lots, ticks)
        cum_e8 += round(realized * int(tick * step * 100_000_000))  # simex: realized_e8 per fill
        ours = ours.apply(side, step * lots, tick * ticks)
        assert ours.qty == step * sim.lots
        assert abs(ours.entry - sim.entry * Fraction(tick)) < Fraction(1, 10**50)  # exact, but bounded in size
        assert ours.realized == D(cum_e8) / 100_000_000
        mark = rnd.randint(240_000, 260_000)
        sim_u = round(sim.unrealized(Fraction(mark)) * int(tick * step * 100_000_000)) if sim.lots else 0
        assert ours.unrealized(tick * mark) == D(sim_u) / 100_000_000


def test_daily_pnl_rolls_at_utc_midnight_and_survives_a_restart() -> None:
    t0 = 20_000 * DAY + 3_600 * 10**9  # 01:00 UTC
    d = DailyPnl.start(D("0"), t0, carried=D("-12.5"))  # the day had lost 12.5 before this process started
    d, v = d.observe(D("-20"), t0 + 10**9)
    assert v == D("-32.5")
    d, v = d.observe(D("-30"), 20_001 * DAY - 1)
    assert v == D("-42.5")
    d, v = d.observe(D("-31"), 20_001 * DAY)  # a new day: its baseline is the first observation
    assert v == 0 and d.day == 20_001 and d.carried == 0
    d, v = d.observe(D("-29"), 20_001 * DAY + 5)
    assert v == D("2")
