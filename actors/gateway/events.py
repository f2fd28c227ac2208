"""What a gateway tells the rest of the engine: typed, frozen, venue-neutral events.

Market data keeps the exchange's price/qty strings (the hot path must not pay for Decimal; the book turns
them into integers) and its events are frozen ``msgspec.Struct``s: as immutable as frozen dataclasses,
about fifteen times cheaper to build (which matters at tens of thousands of frames a second, see
docs/benchmarks.md), and encodable as they are, so a feed can be recorded and replayed.
Account data is rare and exact, so it is Decimal in frozen dataclasses. Every event carries ``recv_ns``
(local receive time) so latency can be measured and a replay can reproduce the order of arrival.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import msgspec

Level = tuple[str, str]  # (price, qty) exactly as the exchange wrote them; qty "0" deletes the level


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderStatus(StrEnum):
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    EXPIRED_IN_MATCH = "EXPIRED_IN_MATCH"  # self-trade prevention expired it


# ---------------------------------------------------------------- market data


class DepthDiff(msgspec.Struct, frozen=True, gc=False):
    """One incremental depth update. ``prev_id`` is -1 where the venue has no previous-id field (spot)."""

    venue: str
    symbol: str
    first_id: int
    last_id: int
    prev_id: int
    event_ms: int
    recv_ns: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


class DepthSnapshot(msgspec.Struct, frozen=True, gc=False):
    venue: str
    symbol: str
    last_id: int
    event_ms: int
    recv_ns: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


class Trade(msgspec.Struct, frozen=True, gc=False):
    """A public trade. ``buyer_is_maker`` true means the aggressor sold."""

    venue: str
    symbol: str
    trade_id: int
    price: str
    qty: str
    buyer_is_maker: bool
    trade_ms: int
    event_ms: int
    recv_ns: int
    first_trade_id: int = -1  # aggregate trades: the range of raw trades they cover
    last_trade_id: int = -1


class BookTicker(msgspec.Struct, frozen=True, gc=False):
    venue: str
    symbol: str
    update_id: int
    bid_price: str
    bid_qty: str
    ask_price: str
    ask_qty: str
    event_ms: int
    recv_ns: int


# ---------------------------------------------------------------- account data


@dataclass(frozen=True, slots=True)
class OrderReport:
    """The exchange's view of one order: a REST place/query/cancel reply or the order part of a WS update."""

    venue: str
    symbol: str
    client_order_id: str
    order_id: int
    side: Side
    order_type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    executed_qty: Decimal
    avg_price: Decimal
    status: OrderStatus
    reduce_only: bool
    update_ms: int


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of one of our orders, keyed by the exchange's trade id (unique per symbol)."""

    venue: str
    symbol: str
    trade_id: int
    order_id: int
    client_order_id: str  # "" where the source does not carry it (REST userTrades)
    side: Side
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    is_maker: bool
    realized_pnl: Decimal
    trade_ms: int


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """A user-stream order event; ``fill`` is set whenever a quantity was executed: ``exec_type`` TRADE, or
    CALCULATED (liquidation, ADL, settlement), which changes the position just the same."""

    report: OrderReport
    exec_type: str
    fill: Fill | None
    event_ms: int
    recv_ns: int


@dataclass(frozen=True, slots=True)
class PositionReport:
    venue: str
    symbol: str
    qty: Decimal  # signed: long > 0, short < 0
    entry_price: Decimal
    unrealized_pnl: Decimal
    update_ms: int


@dataclass(frozen=True, slots=True)
class BalanceReport:
    venue: str
    asset: str
    wallet_balance: Decimal
    cross_wallet_balance: Decimal
    available_balance: Decimal | None  # not carried by the user stream
    update_ms: int


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    venue: str
    reason: str
    balances: tuple[BalanceReport, ...]
    positions: tuple[PositionReport, ...]
    event_ms: int
    recv_ns: int


@dataclass(frozen=True, slots=True)
class ListenKeyExpired:
    venue: str
    event_ms: int
    recv_ns: int


# ---------------------------------------------------------------- connection state


@dataclass(frozen=True, slots=True)
class StreamConnected:
    stream: str  # a name the owner chose, e.g. "market" or "user"
    url: str
    at_ns: int


@dataclass(frozen=True, slots=True)
class StreamDisconnected:
    stream: str
    reason: str
    at_ns: int


@dataclass(frozen=True, slots=True)
class StreamStalled:
    """The socket stayed open but nothing arrived for ``silent_ms``: treated as dead and reconnected."""

    stream: str
    silent_ms: int
    at_ns: int


MarketEvent = DepthDiff | DepthSnapshot | Trade | BookTicker
UserEvent = OrderUpdate | AccountUpdate | ListenKeyExpired
StreamEvent = StreamConnected | StreamDisconnected | StreamStalled
