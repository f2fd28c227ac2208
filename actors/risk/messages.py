"""What risk is told, what it tells, and the report everyone reads. Frozen ``msgspec.Struct``s, so every
message can be recorded and replayed: commands are imperative, events past tense, reports nouns.

Sizes are lots and prices ticks of the symbol's ``Instrument``; money is Decimal (exact, encodes as a string).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import msgspec

from actors.risk.adaptation import Adaptation


class TradingState(StrEnum):
    """After nautilus_trader's ``TradingState``: what new orders are allowed (cancels always are)."""

    ACTIVE = "ACTIVE"  # trading enabled
    REDUCING = "REDUCING"  # only orders that reduce the position
    HALTED = "HALTED"  # no new orders (except a panicstop's reduce-only flatten orders)


class RiskAction(StrEnum):
    """What a triggered rule asks for, least to most severe."""

    WARN = "warn"
    CANCEL_QUOTES = "cancel_quotes"  # market data stale or a stream down: not a trading state, lifts by itself
    REDUCE = "reduce"
    HALT = "halt"
    PANICSTOP = "panicstop"


# ---------------------------------------------------------------------------------------------- commands


class Panicstop(msgspec.Struct, frozen=True):
    """HALTED, cancel all, confirm over REST that nothing is left open, optionally flatten; only ``Resume`` undoes it.

    ``source``: "risk" (a rule), "supervisor" (repeated failures), "operator". ``flatten`` None: per settings.
    """

    symbol: str
    source: str
    reason: str
    flatten: bool | None = None
    at_ns: int = 0


class Resume(msgspec.Struct, frozen=True):
    """An operator lifts every hold; a condition still present (loss past the limit...) is raised again at once."""

    symbol: str
    operator: str
    reason: str = ""
    at_ns: int = 0


class Halt(msgspec.Struct, frozen=True):
    """An operator pauses trading (HALTED, quotes pulled) without cancelling by REST or flattening."""

    symbol: str
    operator: str
    reason: str = ""
    at_ns: int = 0


class ReduceOnly(msgspec.Struct, frozen=True):
    """An operator allows only orders that reduce the position (REDUCING) until ``Resume``."""

    symbol: str
    operator: str
    reason: str = ""
    at_ns: int = 0


# What a panicstop asks of the OMS / gateway / notifier. Each has a reply the risk core is told about.


class CancelAllOrders(msgspec.Struct, frozen=True):
    """REST ``DELETE /fapi/v1/allOpenOrders`` (the OMS marks all its orders pending-cancel).

    Reply: done/failed (``on_cancel_all_reply``), or straight away the list still open (``on_open_orders``)."""

    symbol: str
    attempt: int
    at_ns: int


class ListOpenOrders(msgspec.Struct, frozen=True):
    """REST ``GET /fapi/v1/openOrders``: the exchange's own list, not the OMS's. Reply: the client ids still open."""

    symbol: str
    attempt: int
    at_ns: int


class FetchPosition(msgspec.Struct, frozen=True):
    """REST ``GET /fapi/v2/positionRisk``: flatten what the exchange says we hold. Reply: signed lots."""

    symbol: str
    attempt: int
    at_ns: int


class PlaceFlattenOrder(msgspec.Struct, frozen=True):
    """A LIMIT IOC reduce-only order at ``limit_ticks`` (mid ± the slippage cap): never worse than that price.

    Reply: its final outcome (filled lots, 0 if it expired or was rejected). Exempt from MIN_NOTIONAL.
    """

    symbol: str
    side: str  # "BUY" | "SELL"
    qty_lots: int
    limit_ticks: int
    attempt: int
    at_ns: int
    reduce_only: bool = True
    time_in_force: str = "IOC"


class Notify(msgspec.Struct, frozen=True):
    """An operator alert (apprise). P0: someone must look now."""

    level: str  # "P0" | "P1" | "P2"
    title: str
    body: str
    at_ns: int


# ---------------------------------------------------------------------------------------------- events


class RiskTriggered(msgspec.Struct, frozen=True):
    """A rule fired (recorded as a risk event, counted as a metric)."""

    symbol: str
    kind: str  # a Cause value, "daily_loss_warning", "market_stale", "stream_down"
    action: RiskAction
    detail: str
    at_ns: int


class RiskCleared(msgspec.Struct, frozen=True):
    """A condition that lifts by itself went away (fresh data again, error rate back down, timer expired)."""

    symbol: str
    kind: str
    detail: str
    at_ns: int


class TradingStateChanged(msgspec.Struct, frozen=True):
    symbol: str
    previous: TradingState
    current: TradingState
    reason: str
    at_ns: int


class Resumed(msgspec.Struct, frozen=True):
    """An operator's ``Resume`` was applied: what it lifted and what is still (or again) in force."""

    symbol: str
    operator: str
    lifted: tuple[str, ...]
    remaining: tuple[str, ...]
    at_ns: int


class CommandRefused(msgspec.Struct, frozen=True):
    symbol: str
    command: str
    reason: str
    at_ns: int


class PanicstopAdvanced(msgspec.Struct, frozen=True):
    """The panicstop procedure moved to ``phase`` (see ``actors.risk.panic``)."""

    symbol: str
    phase: str
    detail: str
    at_ns: int


class PanicstopFinished(msgspec.Struct, frozen=True):
    """``ok``: no order left open and (if asked) flat. ``residual_lots``: the position left (signed)."""

    symbol: str
    ok: bool
    confirmed_no_orders: bool
    residual_lots: int
    detail: str
    at_ns: int


# ---------------------------------------------------------------------------------------------- reports


class RiskState(msgspec.Struct, frozen=True):
    """What the OMS and the strategy read before doing anything.

    ``quotes_allowed`` False: the OMS cancels every resting quote and places none (HALTED, stale data or a
    stream down). ``trading_state`` REDUCING: only reduce-only orders. ``causes`` are the holds in force.
    """

    symbol: str
    trading_state: TradingState
    quotes_allowed: bool
    market_stale: bool
    streams_down: tuple[str, ...]
    causes: tuple[str, ...]
    reason: str
    daily_pnl: Decimal
    halted_until_ns: int  # a timed halt's end (price shock), 0 when none
    panic_active: bool
    seq: int  # increases with every event and state change, so a reader can drop an out-of-order report
    at_ns: int
    adaptation: Adaptation | None = None  # the adaptive net limit now (actors/risk/adaptive.py); None: off


RiskCommand = Panicstop | Resume | Halt | ReduceOnly
PanicCommand = CancelAllOrders | ListOpenOrders | FetchPosition | PlaceFlattenOrder | Notify
RiskEvent = (RiskTriggered | RiskCleared | TradingStateChanged | Resumed | CommandRefused | PanicstopAdvanced
             | PanicstopFinished)
