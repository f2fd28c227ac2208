"""Normalised market events from any source (synthetic generator or capture replay).

Sizes are absolute per level (0 deletes), already on the listed symbol's tick/step grid. One event is one
exchange step: everything in it is applied together and published under one depth update id range.
"""

from __future__ import annotations

from typing import NamedTuple


class DepthSet(NamedTuple):
    levels: tuple[tuple[int, int, int], ...]  # (side BID=0/ASK=1, price ticks, lots)


class TradePrint(NamedTuple):
    ticks: int
    lots: int
    taker_side: int  # BUY=0 (hit the asks) / SELL=1


class MarketEvent(NamedTuple):
    t_ms: int  # market time since the source started
    symbol: str
    items: tuple[DepthSet | TradePrint, ...]
