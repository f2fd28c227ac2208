"""What the store hands back: frozen rows with exact Decimals, and the order-status vocabulary.

Column names are the field names, so a reader selects exactly these fields and builds the row generically.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from actors.gateway.events import OrderStatus


class LocalStatus(StrEnum):
    """What only we know about an order; the exchange's own statuses are ``OrderStatus``."""

    INTENT = "INTENT"  # persisted, maybe sent: counts as open until the exchange or a reconcile says otherwise
    UNKNOWN = "UNKNOWN"  # sent, no answer (timeout, 5xx): open until reconciled
    SEND_FAILED = "SEND_FAILED"  # certainly never reached the exchange
    NOT_FOUND = "NOT_FOUND"  # the exchange does not know it (reconcile, -2013): closed
    CANCEL_REQUESTED = "CANCEL_REQUESTED"  # a cancel was sent: recorded, the order stays open until confirmed
    CANCEL_FAILED = "CANCEL_FAILED"  # a cancel was refused (e.g. -2011): recorded, reconcile decides


ALL_STATUSES = frozenset(OrderStatus) | frozenset(LocalStatus)
OPEN_STATUSES = (LocalStatus.INTENT, LocalStatus.UNKNOWN, OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)
EXCHANGE_FINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED,
                            OrderStatus.EXPIRED_IN_MATCH})
LOCAL_FINAL = frozenset({LocalStatus.SEND_FAILED, LocalStatus.NOT_FOUND})
NOTES = frozenset({LocalStatus.CANCEL_REQUESTED, LocalStatus.CANCEL_FAILED})  # never change an order's status


@dataclass(frozen=True, slots=True)
class RunRow:
    run_id: str
    started_ns: int
    started_at: str
    ended_ns: int | None
    ended_at: str | None
    end_reason: str | None
    symbols: str
    pid: int | None
    host: str
    code_version: str
    config_version: int | None


@dataclass(frozen=True, slots=True)
class OrderRow:
    """One order as we last know it: its intent plus the most advanced state any event reported."""

    client_order_id: str
    venue: str
    symbol: str
    side: str
    order_type: str
    price: Decimal | None
    qty: Decimal
    tif: str
    reduce_only: bool
    tag: str
    origin: str  # "intent": persisted before sending; "exchange": found on the exchange (an orphan)
    status: str
    executed_qty: Decimal
    avg_price: Decimal | None
    exchange_order_id: int | None
    cancel_requested_ns: int | None
    created_ns: int
    created_at: str
    updated_ns: int
    updated_at: str
    run_id: str | None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class OrderEventRow:
    client_order_id: str
    seq: int
    status: str
    applied: bool  # false: arrived after a more advanced state (REST and WS race) and changed nothing
    exchange_order_id: int | None
    executed_qty: Decimal | None
    avg_price: Decimal | None
    price: Decimal | None
    qty: Decimal | None
    reason: str
    code: int | None
    source: str
    exchange_ms: int | None
    event_key: str
    recorded_ns: int
    recorded_at: str
    run_id: str | None


@dataclass(frozen=True, slots=True)
class FillRow:
    venue: str
    symbol: str
    trade_id: int
    order_id: int
    client_order_id: str
    side: str
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    is_maker: bool
    realized_pnl: Decimal
    trade_ms: int
    trade_at: str
    recorded_ns: int
    run_id: str | None


@dataclass(frozen=True, slots=True)
class PnlSnapshotRow:
    venue: str
    symbol: str
    at_ns: int
    at: str
    position: Decimal
    entry_price: Decimal | None
    mark_price: Decimal | None
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal
    funding: Decimal
    net_pnl: Decimal
    equity: Decimal | None
    run_id: str | None


@dataclass(frozen=True, slots=True)
class InventoryRow:
    """Position and what is resting: ``worst_long``/``worst_short`` are what risk must keep inside the limit."""

    venue: str
    symbol: str
    at_ns: int
    at: str
    position: Decimal
    entry_price: Decimal | None
    open_buy_qty: Decimal
    open_sell_qty: Decimal
    worst_long: Decimal
    worst_short: Decimal
    source: str
    run_id: str | None


@dataclass(frozen=True, slots=True)
class RiskEventRow:
    venue: str
    symbol: str
    at_ns: int
    at: str
    kind: str
    severity: str
    state: str
    detail: str  # JSON
    run_id: str | None


@dataclass(frozen=True, slots=True)
class AuditRow:
    at_ns: int
    at: str
    who: str
    action: str
    detail: str  # JSON, secrets redacted
    run_id: str | None


@dataclass(frozen=True, slots=True)
class ConfigVersionRow:
    version: int
    at_ns: int
    at: str
    applied_by: str
    diff: str  # JSON: {"risk.max_inventory": ["0.1", "0.2"], ...}
    config: str | None  # JSON snapshot of the whole configuration, secrets redacted
    comment: str
    run_id: str | None


@dataclass(frozen=True, slots=True)
class IncomeRow:
    venue: str
    income_id: str
    symbol: str
    asset: str
    kind: str
    amount: Decimal
    at_ms: int
    at: str
    run_id: str | None


R = TypeVar("R")


@functools.cache
def _converters(cls: type) -> tuple[tuple[str, Any], ...]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if tp is bool:
            out.append((f.name, bool))
        elif Decimal in (tp, *typing.get_args(tp)):
            out.append((f.name, Decimal))
        else:
            out.append((f.name, None))
    return tuple(out)


def columns(cls: type) -> str:
    """The SELECT list for a row type."""
    return ", ".join(f.name for f in dataclasses.fields(cls))


def from_row(cls: type[R], row: Mapping[str, Any]) -> R:
    values = {}
    for name, conv in _converters(cls):
        v = row[name]
        values[name] = v if conv is None or v is None else conv(v)
    return cls(**values)
