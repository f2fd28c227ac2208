"""API accounts: wallets per quote asset, one-way positions, open orders and fills, all in integers."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from simex.orders import BUY, Order
from simex.positions import Position


@dataclass(frozen=True, slots=True)
class UserTrade:
    id: int
    order_id: int
    symbol: str
    side: int
    ticks: int
    lots: int
    realized_e8: int
    fee_e8: int
    time: int
    maker: bool


@dataclass(slots=True)
class Account:
    key: str
    wallet: dict[str, int]  # quote asset -> e8 units
    leverage: dict[str, int]
    positions: dict[str, Position] = field(default_factory=dict)
    cum_realized: dict[str, int] = field(default_factory=dict)
    pos_time: dict[str, int] = field(default_factory=dict)
    open_orders: dict[int, Order] = field(default_factory=dict)
    trades: dict[str, list[UserTrade]] = field(default_factory=dict)
    fills: int = 0
    fees_e8: int = 0
    funding_e8: int = 0

    def position(self, symbol: str) -> Position:
        return self.positions.get(symbol, Position())

    def open_in(self, symbol: str) -> list[Order]:
        return [o for o in self.open_orders.values() if o.symbol == symbol]

    def reducible(self, symbol: str, side: int) -> int:
        """Lots an order on ``side`` may fill while only reducing the position."""
        lots = self.position(symbol).lots
        if side == BUY:
            return -lots if lots < 0 else 0
        return lots if lots > 0 else 0

    def side_notional(self, symbol: str) -> tuple[int, int]:
        """Open buy and sell notional (tick*lots) on a symbol: the ``b``/``a`` fields of order updates."""
        b = a = 0
        for o in self.open_in(symbol):
            if o.side == BUY:
                b += o.price * o.remaining
            else:
                a += o.price * o.remaining
        return b, a


def break_even(pos: Position, taker_fee: Fraction) -> Fraction:
    """Entry price adjusted for paying the taker fee to open and to close (an approximation)."""
    if not pos.lots:
        return Fraction(0)
    if pos.lots > 0:
        return pos.entry * (1 + taker_fee) / (1 - taker_fee)
    return pos.entry * (1 - taker_fee) / (1 + taker_fee)
