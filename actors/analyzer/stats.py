"""Fill statistics: how often quotes get filled, maker vs taker, and the counts behind the order/cancel budget
(lesson 3's cancel storm shows up here first as cancels per fill).

Fill rate two ways: fills per quote-minute (one side quoted for one minute; so a strategy that quotes less
is not flattered) and the share of placed orders that got at least one fill. Time is passed in.
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal

import msgspec

_SEEN_MAX = 100_000  # client ids remembered for "this order already counted as filled"


class FillStatsReport(msgspec.Struct, frozen=True):
    orders: int
    cancels: int
    rejects: int
    fills: int
    maker_fills: int
    taker_fills: int
    orders_filled: int  # placed orders with at least one fill
    volume: Decimal
    maker_volume: Decimal
    turnover: Decimal
    quote_minutes: float  # side-minutes with quotes resting
    fills_per_quote_minute: float
    fill_ratio: float  # orders_filled / orders
    maker_ratio: float  # maker fills / fills
    maker_volume_ratio: float
    cancels_per_fill: float  # cancels / max(fills, 1)
    at_ns: int


class FillStats:
    def __init__(self, now_ns: int = 0) -> None:
        self.orders = self.cancels = self.rejects = 0
        self.fills = self.maker_fills = 0
        self.orders_filled = 0
        self.volume = self.maker_volume = self.turnover = Decimal(0)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._sides = 0  # sides quoted now (0, 1, 2)
        self._since_ns = now_ns
        self._side_ns = 0  # accumulated side-time quoted

    def on_order_placed(self, client_id: str, now_ns: int) -> None:
        self.orders += 1

    def on_order_cancelled(self, client_id: str, now_ns: int) -> None:
        self.cancels += 1

    def on_order_rejected(self, client_id: str, now_ns: int) -> None:
        self.rejects += 1

    def on_fill(self, client_id: str, qty: Decimal, price: Decimal, maker: bool, now_ns: int) -> None:
        self.fills += 1
        self.volume += qty
        self.turnover += qty * price
        if maker:
            self.maker_fills += 1
            self.maker_volume += qty
        if client_id and client_id not in self._seen:
            self._seen[client_id] = None
            self.orders_filled += 1
            if len(self._seen) > _SEEN_MAX:
                self._seen.popitem(last=False)

    def on_quoting(self, bids: bool, asks: bool, now_ns: int) -> None:
        """Which sides have resting quotes from ``now_ns`` on (the OMS knows; tell on every change)."""
        self._accrue(now_ns)
        self._sides = int(bids) + int(asks)

    def _accrue(self, now_ns: int) -> None:
        if now_ns > self._since_ns:
            self._side_ns += self._sides * (now_ns - self._since_ns)
            self._since_ns = now_ns

    def report(self, now_ns: int) -> FillStatsReport:
        self._accrue(now_ns)
        qm = self._side_ns / 60e9
        f = self.fills
        return FillStatsReport(
            orders=self.orders, cancels=self.cancels, rejects=self.rejects, fills=f, maker_fills=self.maker_fills,
            taker_fills=f - self.maker_fills, orders_filled=self.orders_filled, volume=self.volume,
            maker_volume=self.maker_volume, turnover=self.turnover, quote_minutes=qm,
            fills_per_quote_minute=f / qm if qm else 0.0,
            fill_ratio=self.orders_filled / self.orders if self.orders else 0.0,
            maker_ratio=self.maker_fills / f if f else 0.0,
            maker_volume_ratio=float(self.maker_volume / self.volume) if self.volume else 0.0,
            cancels_per_fill=self.cancels / max(f, 1), at_ns=now_ns)
