"""What the exchange allows for one symbol, and exact conversions between its strings and integers.

Prices live in the engine as integer ticks and sizes as integer lots; Decimal and strings appear only at the
edges. Nothing the exchange sees is ever a binary float.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation


class InstrumentError(ValueError):
    """A value that cannot be represented on the instrument's grid."""


def to_decimal(value: str | int | Decimal) -> Decimal:
    """Exact Decimal from a string/int; rejects floats, NaN, infinities."""
    if isinstance(value, float):
        raise InstrumentError(f"binary float {value!r} is not accepted; pass a string or Decimal")
    try:
        d = value if isinstance(value, Decimal) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise InstrumentError(f"not a number: {value!r}") from exc
    if not d.is_finite():
        raise InstrumentError(f"not a finite number: {value!r}")
    return d


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str
    base_asset: str
    quote_asset: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    min_price: Decimal = Decimal(0)
    max_price: Decimal = Decimal(0)  # 0 means no upper bound, as in Binance's PRICE_FILTER
    market_step_size: Decimal | None = None
    market_max_qty: Decimal | None = None

    def __post_init__(self) -> None:
        if self.tick_size <= 0 or self.step_size <= 0:
            raise InstrumentError(f"{self.symbol}: tick and step must be positive")

    # ---- prices ----
    def price_to_ticks(self, price: str | Decimal) -> int:
        """Exact tick count; raises if the price is not on the tick grid."""
        d = to_decimal(price)
        n = d / self.tick_size
        if n != n.to_integral_value():
            raise InstrumentError(f"{self.symbol}: price {price} is not a multiple of tick {self.tick_size}")
        return int(n)

    def ticks_to_price(self, ticks: int) -> Decimal:
        return (self.tick_size * ticks).quantize(self.tick_size)

    def price_str(self, ticks: int) -> str:
        return format(self.ticks_to_price(ticks), "f")

    def ticks_floor(self, price: str | Decimal) -> int:
        """Largest tick count at or below the price (a bid never rounds up into the spread)."""
        return int((to_decimal(price) / self.tick_size).to_integral_value(rounding=ROUND_FLOOR))

    def ticks_ceil(self, price: str | Decimal) -> int:
        """Smallest tick count at or above the price (an ask never rounds down into the spread)."""
        return int((to_decimal(price) / self.tick_size).to_integral_value(rounding=ROUND_CEILING))

    # ---- sizes ----
    def qty_to_lots(self, qty: str | Decimal) -> int:
        d = to_decimal(qty)
        n = d / self.step_size
        if n != n.to_integral_value():
            raise InstrumentError(f"{self.symbol}: qty {qty} is not a multiple of step {self.step_size}")
        return int(n)

    def lots_to_qty(self, lots: int) -> Decimal:
        return (self.step_size * lots).quantize(self.step_size)

    def qty_str(self, lots: int) -> str:
        return format(self.lots_to_qty(lots), "f")

    def lots_floor(self, qty: str | Decimal) -> int:
        return int((to_decimal(qty) / self.step_size).to_integral_value(rounding=ROUND_FLOOR))

    @property
    def min_lots(self) -> int:
        return int((self.min_qty / self.step_size).to_integral_value(rounding=ROUND_CEILING))

    @property
    def max_lots(self) -> int:
        return int((self.max_qty / self.step_size).to_integral_value(rounding=ROUND_FLOOR))

    def notional(self, ticks: int, lots: int) -> Decimal:
        return self.ticks_to_price(ticks) * self.lots_to_qty(lots)

    def min_lots_for_notional(self, ticks: int) -> int:
        """Fewest lots whose notional at this price reaches MIN_NOTIONAL."""
        if ticks <= 0:
            raise InstrumentError(f"{self.symbol}: price must be positive")
        price = self.ticks_to_price(ticks)
        lots = (self.min_notional / (price * self.step_size)).to_integral_value(rounding=ROUND_CEILING)
        return max(int(lots), self.min_lots)
