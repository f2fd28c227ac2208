"""MarketView from an OrderBook: ticks and lots of the instrument, staleness, empty and crossed books."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from actors.book.book import OrderBook
from actors.book.view import MarketView, market_view
from actors.instrument import Instrument

T0 = 1_700_000_000_000_000_000
MS = 1_000_000


def book() -> OrderBook:
    b = OrderBook("ETHUSDT")
    b.load([("2500.00", "1.500"), ("2499.99", "2.000")], [("2500.01", "0.250"), ("2500.02", "3.250")])
    return b


def test_view_of_a_book(eth: Instrument) -> None:
    v = market_view(book(), eth, T0, T0 + 10 * MS, 1500 * MS, imbalance_levels=2)
    assert v is not None
    assert (v.bid_ticks, v.bid_lots, v.ask_ticks, v.ask_lots) == (250000, 1500, 250001, 250)
    assert v.mid == Decimal("2500.005") and v.mid_x2_ticks == 500001 and v.spread_ticks == 1
    assert abs(v.imbalance - (3.5 - 3.5) / 7.0) < 1e-12 and not v.stale
    assert abs(v.spread_bps - 0.04) < 1e-4
    assert not v.is_stale(T0 + 1500 * MS - 1, 1500 * MS) and v.is_stale(T0 + 1500 * MS, 1500 * MS)
    assert market_view(book(), eth, T0, T0 + 1500 * MS, 1500 * MS).stale


def test_coarser_tick_than_the_printed_decimals(eth: Instrument) -> None:
    coarse = dataclasses.replace(eth, tick_size=Decimal("0.05"), step_size=Decimal("0.01"))
    b = OrderBook("ETHUSDT")
    b.load([("2500.00", "1.509")], [("2500.05", "0.250")])
    v = market_view(b, coarse, T0, T0, 1500 * MS)
    assert isinstance(v, MarketView)
    assert (v.bid_ticks, v.ask_ticks, v.bid_lots, v.ask_lots) == (50000, 50001, 150, 25)
    assert v.mid == Decimal("2500.025")


def test_no_view_of_an_empty_or_crossed_book(eth: Instrument) -> None:
    b = OrderBook("ETHUSDT", 2, 3)
    assert market_view(b, eth, T0, T0, MS) is None
    b.load([("2500.02", "1.000")], [("2500.01", "1.000")])
    assert market_view(b, eth, T0, T0, MS) is None
