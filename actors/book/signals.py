"""Plain numbers a strategy reads off a book beyond its top (mid, spread and staleness are ``MarketView``'s).

Inputs are integer price/qty units from ``OrderBook``; ratios are floats (they never reach the exchange),
prices stay exact (Decimal).
"""

from __future__ import annotations

from decimal import Decimal

from actors.book.book import OrderBook, Top


def imbalance(book: OrderBook, levels: int) -> float:
    """(B − A) / (B + A) over the top ``levels`` of each side; 0 when the book is empty."""
    bids, asks = book.depth_units(levels)
    b = sum(q for _, q in bids)
    a = sum(q for _, q in asks)
    return 0.0 if a + b == 0 else (b - a) / (b + a)


def microprice(top: Top, price_decimals: int) -> Decimal:
    """Size-weighted mid: leans toward the side about to be depleted."""
    w = top.bid_qty_units + top.ask_qty_units
    if w == 0:
        return Decimal(top.bid_units + top.ask_units).scaleb(-price_decimals) / 2
    units = Decimal(top.bid_units * top.ask_qty_units + top.ask_units * top.bid_qty_units) / w
    return units.scaleb(-price_decimals)
