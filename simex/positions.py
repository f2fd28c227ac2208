"""One-way position arithmetic, exact: Binance's average-entry rules with rationals, no floats.

Adding to a position moves the entry to the size-weighted average; reducing keeps the entry and realizes
(exit - entry) x reduced size; a fill larger than the position closes it and opens the rest at the fill
price. Amounts are in tick x lot units; the account converts them to quote e8 units.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, slots=True)
class Position:
    lots: int = 0  # signed: > 0 long, < 0 short
    entry: Fraction = Fraction(0)  # average entry price in ticks (0 when flat)

    def apply(self, signed_lots: int, ticks: int) -> tuple[Position, Fraction]:
        """The position after a fill of ``signed_lots`` at ``ticks`` and the PnL it realizes (tick*lots)."""
        if signed_lots == 0:
            return self, Fraction(0)
        q0 = self.lots
        if q0 == 0 or (q0 > 0) == (signed_lots > 0):
            total = q0 + signed_lots
            entry = (self.entry * abs(q0) + ticks * abs(signed_lots)) / abs(total)
            return Position(total, entry), Fraction(0)
        closing = min(abs(q0), abs(signed_lots))
        direction = 1 if q0 > 0 else -1
        realized = (ticks - self.entry) * closing * direction
        total = q0 + signed_lots
        if total == 0:
            return Position(0, Fraction(0)), realized
        if (total > 0) == (q0 > 0):
            return Position(total, self.entry), realized
        return Position(total, Fraction(ticks)), realized

    def unrealized(self, mark_ticks: Fraction) -> Fraction:
        return (mark_ticks - self.entry) * self.lots if self.lots else Fraction(0)
