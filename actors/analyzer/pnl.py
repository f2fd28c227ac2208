"""Exact PnL from exchange fills, net of fees and funding (lesson 6: "order PnL" was positive while the account
lost money; the only PnL that counts is the one the account sees).

One-way mode, Binance's average-entry rules (the same as ``simex/positions.py``): adding moves the entry to
the size-weighted average; reducing keeps the entry and realizes ``(exit − entry) × closed`` (sign by
side); a fill larger than the position closes it and opens the rest at the fill price. The entry is kept
as a rational (a weighted average of decimals need not be a finite decimal), exact to far below the 8
decimals anything is reported in. Each fill's realized PnL is rounded to ``quantum`` (8 decimals, as
userTrades' ``realizedPnl``) before it is added, so the sum is what the wallet was credited. Commissions
are in the quote asset (negative: a rebate); a commission in another asset (BNB) is kept apart and
flagged, never mixed in. The exchange's own ``realizedPnl`` per fill is summed beside ours as a check.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

import msgspec

from actors.gateway.events import Fill, Side

_Q8 = Decimal("0.00000001")
_DAY_NS = 86_400 * 1_000_000_000
_DEN_MAX, _DEN_KEEP = 10**40, 10**30  # an entry's error stays below 1e-60: invisible at 8 decimals


def _dec(x: Fraction, quantum: Decimal) -> Decimal:
    """A rational as a Decimal rounded half-even to ``quantum`` (exact up to the rounding itself)."""
    q = Fraction(quantum)
    n = x / q
    fl = n.numerator // n.denominator
    rem = n - fl
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and fl % 2 == 1):
        fl += 1
    return (Decimal(fl) * quantum).quantize(quantum, rounding=ROUND_HALF_EVEN)


class PnlReport(msgspec.Struct, frozen=True):
    symbol: str
    position: Decimal  # signed base qty
    entry_price: Decimal  # 0 when flat
    mark: Decimal
    realized: Decimal  # gross of fees
    fees: Decimal  # paid in the quote asset (negative: rebates)
    funding: Decimal  # received (+) / paid (−)
    unrealized: Decimal
    net: Decimal  # realized − fees + funding + unrealized: the equity change
    daily: Decimal  # the net PnL since 00:00 UTC
    realized_vs_exchange: Decimal  # ours − the exchange's realizedPnl sum (should be ~0)
    other_fees: tuple[tuple[str, Decimal], ...]  # commissions in other assets: not in ``net``
    fills: int
    volume: Decimal  # base qty traded
    turnover: Decimal  # quote notional traded
    at_ns: int


@dataclass(frozen=True, slots=True)
class PnlBook:
    symbol: str
    quote_asset: str = "USDT"
    qty: Decimal = Decimal(0)  # signed: > 0 long
    entry: Fraction = Fraction(0)  # average entry price, exact (0 when flat)
    realized: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    funding: Decimal = Decimal(0)
    exchange_realized: Decimal = Decimal(0)
    other_fees: tuple[tuple[str, Decimal], ...] = ()
    fills: int = 0
    volume: Decimal = Decimal(0)
    turnover: Decimal = Decimal(0)
    quantum: Decimal = _Q8

    @classmethod
    def opened(cls, symbol: str, quote_asset: str, qty: Decimal, entry_price: Decimal) -> PnlBook:
        """Start from a position the exchange already holds (positionRisk after a restart)."""
        return cls(symbol, quote_asset, qty, Fraction(entry_price) if qty else Fraction(0))

    # ------------------------------------------------------------------ fills and funding
    def apply(self, side: Side, qty: Decimal, price: Decimal, commission: Decimal = Decimal(0),
              commission_asset: str | None = None, exchange_realized: Decimal | None = None) -> PnlBook:
        """One execution. ``qty`` > 0; ``commission`` as the exchange charged it (negative: a rebate)."""
        if qty <= 0 or price <= 0:
            raise ValueError(f"{self.symbol}: a fill needs qty > 0 and price > 0, got {qty} @ {price}")
        signed = qty if side is Side.BUY else -qty
        q0, px = self.qty, Fraction(price)
        realized = Fraction(0)
        if q0 == 0 or (q0 > 0) == (signed > 0):
            total = q0 + signed
            entry = (self.entry * Fraction(abs(q0)) + px * Fraction(qty)) / Fraction(abs(total))
            if entry.denominator > _DEN_MAX:  # reduce-then-add cycles grow it without bound: keep 1e-30 exact
                entry = entry.limit_denominator(_DEN_KEEP)
        else:
            closing = min(abs(q0), qty)
            direction = 1 if q0 > 0 else -1
            realized = (px - self.entry) * Fraction(closing) * direction
            total = q0 + signed
            if total == 0:
                entry = Fraction(0)
            elif (total > 0) == (q0 > 0):
                entry = self.entry
            else:  # through zero: the rest opens at the fill price
                entry = px
        fees, other = self.fees, self.other_fees
        if commission_asset is None or commission_asset == self.quote_asset:
            fees += commission
        else:
            d = dict(other)
            d[commission_asset] = d.get(commission_asset, Decimal(0)) + commission
            other = tuple(sorted(d.items()))
        return replace(
            self, qty=total, entry=entry, realized=self.realized + _dec(realized, self.quantum), fees=fees,
            other_fees=other, fills=self.fills + 1, volume=self.volume + qty, turnover=self.turnover + qty * price,
            exchange_realized=self.exchange_realized + (exchange_realized or Decimal(0)))

    def on_fill(self, fill: Fill) -> PnlBook:
        if fill.symbol != self.symbol:
            raise ValueError(f"a {fill.symbol} fill in the {self.symbol} book")
        return self.apply(fill.side, fill.qty, fill.price, fill.commission, fill.commission_asset or None,
                          fill.realized_pnl)

    def apply_funding(self, amount: Decimal) -> PnlBook:
        """A funding payment as the exchange's income record says it: positive received, negative paid."""
        return replace(self, funding=self.funding + amount)

    # ------------------------------------------------------------------ reads
    @property
    def entry_price(self) -> Decimal:
        return _dec(self.entry, self.quantum)

    @property
    def net_realized(self) -> Decimal:
        """Realized − fees + funding: what the wallet balance moved by."""
        return self.realized - self.fees + self.funding

    def unrealized(self, mark: Decimal) -> Decimal:
        """``(mark − entry) × position``, as positionRisk's unRealizedProfit at that mark price."""
        if not self.qty:
            return Decimal(0)
        return _dec((Fraction(mark) - self.entry) * Fraction(self.qty), self.quantum)

    def equity_change(self, mark: Decimal) -> Decimal:
        return self.net_realized + self.unrealized(mark)

    def report(self, mark: Decimal, daily: Decimal, now_ns: int) -> PnlReport:
        u = self.unrealized(mark)
        return PnlReport(self.symbol, self.qty, self.entry_price, mark, self.realized, self.fees, self.funding, u,
                         self.net_realized + u, daily, self.realized - self.exchange_realized, self.other_fees,
                         self.fills, self.volume, self.turnover, now_ns)


@dataclass(frozen=True, slots=True)
class DailyPnl:
    """The net PnL since 00:00 UTC, for the daily-loss rule.

    ``carried``: what the day had already made before this process started (seed it from the exchange's
    income history since midnight, or the database): a restart must not wipe the day's losses. At a day
    boundary the baseline is the first equity change observed in the new day.
    """

    day: int
    baseline: Decimal
    carried: Decimal = Decimal(0)

    @classmethod
    def start(cls, equity_change: Decimal, now_ns: int, carried: Decimal = Decimal(0)) -> DailyPnl:
        return cls(now_ns // _DAY_NS, equity_change, carried)

    def observe(self, equity_change: Decimal, now_ns: int) -> tuple[DailyPnl, Decimal]:
        day = now_ns // _DAY_NS
        if day != self.day:
            nxt = DailyPnl(day, equity_change)
            return nxt, Decimal(0)
        return self, self.carried + equity_change - self.baseline


def opened_book(position: Any, symbol: str, instrument: Any) -> PnlBook:
    """A PnL book starting from a stored OMS position (lots, average entry), or flat without one: its
    unrealized PnL counts from that entry."""
    if position is None or not position.lots:
        return PnlBook(symbol, instrument.quote_asset)
    return PnlBook.opened(symbol, instrument.quote_asset, instrument.lots_to_qty(position.lots), position.avg_entry)
