"""Plain numbers a strategy reads off a book: mid, spread, imbalance, staleness.

Inputs are integer price/qty units from ``OrderBook``; outputs that are ratios are floats (they never reach
the exchange), prices stay exact (Decimal).
"""

from __future__ import annotations

from decimal import Decimal

from actors.book.book import OrderBook, Top


def mid(top: Top, price_decimals: int) -> Decimal:
    return Decimal(top.bid_units + top.ask_units).scaleb(-price_decimals) / 2


def spread_units(top: Top) -> int:
    return top.ask_units - top.bid_units


def spread_bps(top: Top) -> float:
    return 2e4 * (top.ask_units - top.bid_units) / (top.ask_units + top.bid_units)


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
        return mid(top, price_decimals)
    units = Decimal(top.bid_units * top.ask_qty_units + top.ask_units * top.bid_qty_units) / w
    return units.scaleb(-price_decimals)


def age_ms(now_ns: int, last_recv_ns: int) -> float:
    return (now_ns - last_recv_ns) / 1e6


def is_stale(now_ns: int, last_recv_ns: int, stale_after_ms: int) -> bool:
    return last_recv_ns <= 0 or now_ns - last_recv_ns > stale_after_ms * 1_000_000
