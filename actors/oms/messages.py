"""What the OMS says and hears, besides the gateway's events (``actors/gateway/events.py``).

Commands (imperative) go to the gateway; prices in ticks and sizes in lots of the symbol's ``Instrument``
(the gateway converts them to the exchange's strings). Outcome events (past tense) come back from the
gateway for REST results that are not ``OrderReport``s; snapshots (nouns) answer the reconciliation queries.
Published events go to risk, strategy, analyzer and the UI.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from actors.gateway.events import Fill, OrderReport, Side
from actors.oms.book import Exposure
from actors.oms.order import Order

MAX_BATCH_PLACE = 5  # Binance batchOrders
MAX_BATCH_CANCEL = 10  # Binance DELETE batchOrders (origClientOrderIdList)


# ---------------------------------------------------------------- commands to the gateway


class NewOrder(msgspec.Struct, frozen=True):
    """One limit order to place; GTX is post-only."""

    client_order_id: str
    side: Side
    price_ticks: int
    qty_lots: int
    time_in_force: str = "GTX"
    reduce_only: bool = False


class PlaceOrders(msgspec.Struct, frozen=True):
    """Place 1-5 orders (one batchOrders request); answered per order by OrderReport or OrderRejected."""

    symbol: str
    orders: tuple[NewOrder, ...]
    market_ns: int = 0  # receive time of the market data behind it (tick-to-order latency), 0: none


class CancelOrders(msgspec.Struct, frozen=True):
    """Cancel 1-10 orders by client id and confirm each: answered by OrderReport or CancelRejected."""

    symbol: str
    client_order_ids: tuple[str, ...]
    reason: str = ""


class CancelAll(msgspec.Struct, frozen=True):
    """Cancel every open order of the symbol (panicstop), confirm, answer with an OpenOrdersSnapshot."""

    symbol: str
    reason: str
    asked_ns: int


class QueryOrder(msgspec.Struct, frozen=True):
    """Look one order up: answered by OrderReport or OrderNotFound."""

    symbol: str
    client_order_id: str


class QueryOpenOrders(msgspec.Struct, frozen=True):
    """Fetch the open orders: answered by OpenOrdersSnapshot with the same ``asked_ns``."""

    symbol: str
    asked_ns: int


class QueryFills(msgspec.Struct, frozen=True):
    """Fetch our fills, ascending, with trade id >= ``from_trade_id``; if that is 0, from exchange time
    ``start_ms``; if both are 0, the most recent page. Answered by FillsSnapshot."""

    symbol: str
    from_trade_id: int
    limit: int
    asked_ns: int
    start_ms: int = 0


class QueryPosition(msgspec.Struct, frozen=True):
    """Fetch the position (positionRisk): answered by PositionSnapshot."""

    symbol: str
    asked_ns: int


Command = PlaceOrders | CancelOrders | CancelAll | QueryOrder | QueryOpenOrders | QueryFills | QueryPosition


# ---------------------------------------------------------------- from the gateway


class OrderRejected(msgspec.Struct, frozen=True):
    """A placement failed. ``kind`` is the gateway's error kind: "rejected", "unknown_state",
    "rate_limited", "banned", "retryable", "clock_skew", "auth". Only "unknown_state" may have placed it."""

    client_order_id: str
    code: int | None
    reason: str
    kind: str
    retry_after_ms: int = 0  # rate_limited / banned: no placements for this long


class CancelRejected(msgspec.Struct, frozen=True):
    """A cancel failed; code -2013 means the order does not exist, "unknown_state"/-2011 that it may be done."""

    client_order_id: str
    code: int | None
    reason: str
    kind: str


class OrderNotFound(msgspec.Struct, frozen=True):
    """A QueryOrder answered -2013: the exchange does not know the order."""

    client_order_id: str


class OpenOrdersSnapshot(msgspec.Struct, frozen=True):
    """The exchange's open orders, as of a query sent at ``asked_ns`` (also the reply to CancelAll)."""

    symbol: str
    orders: tuple[OrderReport, ...]
    asked_ns: int


class FillsSnapshot(msgspec.Struct, frozen=True):
    """Our fills from ``from_trade_id`` on, ascending (a full page means there are more)."""

    symbol: str
    from_trade_id: int
    fills: tuple[Fill, ...]
    limit: int
    asked_ns: int


class PositionSnapshot(msgspec.Struct, frozen=True):
    """The exchange's position (signed; one-way mode) and the time it last changed (0: unknown)."""

    symbol: str
    qty: Decimal
    entry_price: Decimal
    update_ms: int
    asked_ns: int


class QueryFailed(msgspec.Struct, frozen=True):
    """A reconciliation query the gateway could not answer (an error code, a timeout, an unreadable reply).
    Told so, the OMS asks again after a short pause: quoting waits for the round, and an answer that never
    comes would otherwise only be noticed when the round is overdue."""

    symbol: str
    query: str  # "open_orders", "fills" or "position"
    reason: str
    asked_ns: int


# ---------------------------------------------------------------- published by the OMS


class OrderFilled(msgspec.Struct, frozen=True):
    """One fill, counted once (by trade id), tagged maker or taker. ``ours``: False for an exchange order
    (liquidation, ADL) or an unknown one; the position moved all the same."""

    symbol: str
    client_order_id: str
    trade_id: int
    side: Side
    price: Decimal
    qty_lots: int
    is_maker: bool
    commission: Decimal
    commission_asset: str
    realized_pnl: Decimal
    trade_ms: int
    ours: bool
    position_lots: int  # after this fill


class PositionChanged(msgspec.Struct, frozen=True):
    """The position after fills: signed lots, average entry, realized PnL and fees (exchange figures)."""

    symbol: str
    position_lots: int
    avg_entry: Decimal
    realized_pnl: Decimal
    fees: tuple[tuple[str, Decimal], ...]
    at_ns: int


class PositionMismatch(msgspec.Struct, frozen=True):
    """Reconciliation found the exchange's position differs from ours: risk goes REDUCING or HALTED, alert.
    The OMS has already adopted the exchange's figure."""

    symbol: str
    local_lots: int
    exchange_lots: int
    at_ns: int

    @property
    def diff_lots(self) -> int:
        return self.exchange_lots - self.local_lots


class OrderAnomaly(msgspec.Struct, frozen=True):
    """Something about an order that should not happen (an alert, P1; P0 when ``severe``)."""

    symbol: str
    client_order_id: str
    what: str
    severe: bool = False


class OpenOrdersView(msgspec.Struct, frozen=True):
    """Every order that may still fill, and the exposure per side, after a change."""

    symbol: str
    orders: tuple[Order, ...]
    exposure: Exposure
    position_lots: int
    at_ns: int


Published = OrderFilled | PositionChanged | PositionMismatch | OrderAnomaly | OpenOrdersView
