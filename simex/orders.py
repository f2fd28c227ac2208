"""Orders: the validated request (a frozen value) and the live order (an entity whose status moves only
along the transition table below, so an impossible move is a loud bug, not a silent wrong reply)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

BUY, SELL = 0, 1
SIDE_NAME = ("BUY", "SELL")
SIDE_OF = {"BUY": BUY, "SELL": SELL}

NEW = "NEW"
PARTIALLY_FILLED = "PARTIALLY_FILLED"
FILLED = "FILLED"
CANCELED = "CANCELED"
EXPIRED = "EXPIRED"
EXPIRED_IN_MATCH = "EXPIRED_IN_MATCH"

TRANSITIONS: dict[str, frozenset[str]] = {
    NEW: frozenset({PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED, EXPIRED_IN_MATCH}),
    PARTIALLY_FILLED: frozenset({PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED, EXPIRED_IN_MATCH}),
    FILLED: frozenset(),
    CANCELED: frozenset(),
    EXPIRED: frozenset(),
    EXPIRED_IN_MATCH: frozenset(),
}
OPEN_STATUSES = frozenset({NEW, PARTIALLY_FILLED})

STP_MODES = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH")


class TransitionError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class OrderRequest:
    symbol: str
    side: int
    type: str  # LIMIT | MARKET
    tif: str  # GTC | IOC | FOK | GTX (MARKET orders carry GTC like Binance reports)
    lots: int
    price: int  # ticks; 0 for MARKET
    reduce_only: bool
    client_id: str
    stp: str
    resp_type: str  # ACK | RESULT


@dataclass(slots=True)
class Order:
    order_id: int
    client_id: str
    account: str
    symbol: str
    side: int
    type: str
    tif: str
    price: int
    lots: int
    reduce_only: bool
    stp: str
    time: int
    update_time: int
    status: str = NEW
    filled: int = 0
    notional: int = 0  # sum of fill price_ticks * lots: cumQuote / avgPrice without rounding
    ahead: int = 0  # feed lots queued in front of this order at its price (resting orders only)
    resting: bool = False  # in the book (a taker's unfilled remainder that was rested)

    @property
    def remaining(self) -> int:
        return self.lots - self.filled

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def avg_ticks(self) -> Fraction:
        return Fraction(self.notional, self.filled) if self.filled else Fraction(0)

    def move(self, status: str, now: int) -> None:
        if status not in TRANSITIONS[self.status]:
            raise TransitionError(f"order {self.order_id}: {self.status} -> {status} is not allowed")
        self.status = status
        self.update_time = now

    def fill(self, ticks: int, lots: int, now: int) -> None:
        if lots <= 0 or lots > self.remaining:
            raise TransitionError(f"order {self.order_id}: bad fill {lots} of remaining {self.remaining}")
        self.filled += lots
        self.notional += ticks * lots
        self.move(FILLED if self.filled == self.lots else PARTIALLY_FILLED, now)
