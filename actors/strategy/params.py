"""Phase-1 strategy parameters (the future ``[strategy]`` settings keys) and the account's fee rates.

Names follow the blueprint's strategy keys in snake_case where they apply to a fixed spread
(``quoteIntervalMs`` → ``quote_interval_ms``, ``minSpreadBps`` → ``min_spread_bps``, ``maxLevels`` →
``levels``, ``minSpacingBps`` → ``level_spacing_bps``, ``baseSize`` → ``base_size``, ``reduceOnlyThreshold`` →
``inventory_threshold``). Sizes are Decimal (the exchange sees them); bps and times are plain numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from actors.fields import num  # a dataclasses.field with bounds (RUF009 cannot know it is immutable)


@dataclass(frozen=True)
class FixedSpreadParams:
    type: str = "fixed_spread"  # [strategy] type: which strategy (actors/settings.py STRATEGY_TYPES)
    quote_interval_ms: int = num(1000, 50, 60_000)  # least time between targets that only move prices
    refresh_tolerance_bps: float = num(2.0, 0)  # a price that moved less than this is not re-quoted
    min_spread_bps: float = num(10.0, 0, lo_open=True)  # bid-to-ask width around mid (phase 1: the spread)
    fee_buffer_bps: float = num(1.0, 0)  # each half spread >= 2 x maker fee + this (lesson 6)
    levels: int = num(1, 1, 10)
    level_spacing_bps: float = num(5.0, 0)  # each further level this much further from mid
    base_size: Decimal = num(Decimal("0.01"), 0, lo_open=True)  # noqa: RUF009  base asset, per level
    inventory_threshold: Decimal = num(Decimal("0.05"), 0, lo_open=True)  # noqa: RUF009  past it: reduce only
    stale_after_ms: int = num(1500, 50, 60_000)  # a book older than this is not quoted on

    def __post_init__(self) -> None:
        if self.type != "fixed_spread":
            raise ValueError(f"[strategy] type: {self.type!r} is not the fixed spread's parameters")
        if self.levels > 1 and self.level_spacing_bps <= 0:
            raise ValueError("[strategy] level_spacing_bps: must be > 0 when levels > 1")

    @property
    def stale_after_ns(self) -> int:
        return self.stale_after_ms * 1_000_000

    @property
    def quote_interval_ns(self) -> int:
        return self.quote_interval_ms * 1_000_000


@dataclass(frozen=True, slots=True)
class Fees:
    """Commission rates as fractions (Binance ``/fapi/v1/commissionRate``); a negative maker rate is a rebate."""

    maker: Decimal = Decimal("0.0002")
    taker: Decimal = Decimal("0.0005")

    def min_half_spread_bps(self, buffer_bps: float) -> Fraction:
        """Each side's distance from mid that pays a maker round trip (2 x maker) plus the buffer."""
        return 2 * Fraction(self.maker) * 10_000 + Fraction(buffer_bps)
