"""The market as the strategy and risk read it: one frozen ``MarketView`` built from an ``OrderBook``.

The book keeps integer units of its own decimals; the view is in the instrument's ticks and lots, which is
what quotes and orders are made of. ``last_update_ns`` is when the book last changed (local receive time),
so a reader can judge staleness itself with its own clock, however late the view reached it.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from actors.book.book import OrderBook
from actors.book.market_signals import MarketSignals
from actors.book.signals import imbalance as book_imbalance
from actors.instrument import Instrument


class MarketView(msgspec.Struct, frozen=True):
    symbol: str
    bid_ticks: int
    bid_lots: int
    ask_ticks: int
    ask_lots: int
    mid: Decimal  # exact: (bid + ask) / 2 in price
    spread_ticks: int
    imbalance: float  # (B − A) / (B + A) over the top levels
    last_update_ns: int
    stale: bool  # as judged when the view was built; readers re-judge with their own now
    signals: MarketSignals | None = None  # volatility, regime, toxicity… (actors/book/signal_engine.py)

    @property
    def mid_x2_ticks(self) -> int:
        """Best bid + best ask in ticks: twice the mid, exact in integers."""
        return self.bid_ticks + self.ask_ticks

    @property
    def spread_bps(self) -> float:
        return 2e4 * self.spread_ticks / (self.bid_ticks + self.ask_ticks)

    def is_stale(self, now_ns: int, stale_after_ns: int) -> bool:
        """Stale when the book has not changed for ``stale_after_ns`` (inclusive), or was stale when built."""
        return self.stale or self.last_update_ns <= 0 or now_ns - self.last_update_ns >= stale_after_ns


def market_view(book: OrderBook, instrument: Instrument, last_update_ns: int, now_ns: int, stale_after_ns: int,
                imbalance_levels: int = 5) -> MarketView | None:
    """The view of a book, or None when it has no two-sided top or is crossed (nothing safe to quote on)."""
    top = book.top()
    if top is None or top.bid_units >= top.ask_units:
        return None
    pd, qd = book.price_decimals, book.qty_decimals
    if instrument.tick_size == Decimal(1).scaleb(-pd):
        bid, ask = top.bid_units, top.ask_units
    else:  # a tick coarser than the printed decimals: book prices are on the grid, round safely anyway
        bid = instrument.ticks_floor(Decimal(top.bid_units).scaleb(-pd))
        ask = instrument.ticks_ceil(Decimal(top.ask_units).scaleb(-pd))
    if instrument.step_size == Decimal(1).scaleb(-qd):
        bid_lots, ask_lots = top.bid_qty_units, top.ask_qty_units
    else:
        bid_lots = instrument.lots_floor(Decimal(top.bid_qty_units).scaleb(-qd))
        ask_lots = instrument.lots_floor(Decimal(top.ask_qty_units).scaleb(-qd))
    return MarketView(
        symbol=book.symbol,
        bid_ticks=bid,
        bid_lots=bid_lots,
        ask_ticks=ask,
        ask_lots=ask_lots,
        mid=instrument.tick_size * (bid + ask) / 2,
        spread_ticks=ask - bid,
        imbalance=book_imbalance(book, imbalance_levels),
        last_update_ns=last_update_ns,
        stale=last_update_ns <= 0 or now_ns - last_update_ns >= stale_after_ns,
    )
