"""The position from our fills, and the ledger that counts every fill exactly once.

Realized PnL and fees are the exchange's own figures per fill (``rp`` and the commission), summed exactly in
Decimal: lesson 6 of the brief, PnL is net of fees and comes from exchange fills, not from our estimate.
The average entry price is the usual weighted average (a display figure, rounded to 1e-12).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from actors.gateway.events import Fill, Side

ZERO = Decimal(0)
_ENTRY_QUANTUM = Decimal("1e-12")
MAX_RECENT = 20_000  # a safety cap; the periodic reconciliation keeps the list short


class Position(msgspec.Struct, frozen=True):
    lots: int = 0  # signed: long > 0
    avg_entry: Decimal = ZERO
    realized_pnl: Decimal = ZERO  # quote currency, the exchange's figures
    fees: tuple[tuple[str, Decimal], ...] = ()  # per commission asset; a maker rebate is negative

    def apply(self, fill: Fill, lots: int) -> Position:
        """The position after one fill of ``lots`` (the caller guarantees each fill is applied once)."""
        delta = lots if fill.side is Side.BUY else -lots
        new = self.lots + delta
        if self.lots == 0 or (self.lots > 0) == (delta > 0):  # opening or adding
            total = abs(self.lots) + lots
            entry = ((self.avg_entry * abs(self.lots) + fill.price * lots) / total).quantize(_ENTRY_QUANTUM)
        elif new == 0:
            entry = ZERO
        elif (new > 0) != (self.lots > 0):  # flipped through zero: the remainder opened at this price
            entry = fill.price
        else:  # reducing: the entry of what is left does not change
            entry = self.avg_entry
        return Position(new, entry, self.realized_pnl + fill.realized_pnl,
                        _add_fee(self.fees, fill.commission_asset, fill.commission))

    def with_lots(self, lots: int, avg_entry: Decimal | None = None) -> Position:
        """The exchange's figure adopted after a mismatch (realized PnL and fees are kept)."""
        entry = self.avg_entry if avg_entry is None else avg_entry
        return msgspec.structs.replace(self, lots=lots, avg_entry=entry if lots else ZERO)

    def fee(self, asset: str) -> Decimal:
        return next((v for a, v in self.fees if a == asset), ZERO)


def _add_fee(fees: tuple[tuple[str, Decimal], ...], asset: str, amount: Decimal) -> tuple[tuple[str, Decimal], ...]:
    if not amount:
        return fees
    out = dict(fees)
    out[asset] = out.get(asset, ZERO) + amount
    return tuple(sorted(out.items()))


class RecentFill(msgspec.Struct, frozen=True, array_like=True):
    trade_id: int
    trade_ms: int
    signed_lots: int


class FillLedger(msgspec.Struct, frozen=True):
    """Which fills are already counted, so a fill moves the position exactly once whatever its path
    (WS update, REST reply, reconciliation, duplicate, late).

    ``cursor``: every fill with a trade id <= cursor is counted, as confirmed by a userTrades fetch (trade
    ids are per symbol and increase, but arrive out of order on the stream, so the highest id seen proves
    nothing about the ones below it). ``recent``: the fills counted above the cursor. Persist both (the
    recent ones as the stored fills with id > cursor); after a crash fetch from ``cursor + 1``.
    ``since_ms``: before any fill gave a cursor, every fill at or after this exchange time is to be counted
    (the exchange position covered everything before: it is its last update time + 1).
    """

    cursor: int = 0
    recent: tuple[RecentFill, ...] = ()
    since_ms: int = 0

    def seen(self, trade_id: int) -> bool:
        return trade_id <= self.cursor or any(r.trade_id == trade_id for r in self.recent)

    def add(self, fill: Fill, lots: int) -> FillLedger:
        signed = lots if fill.side is Side.BUY else -lots
        recent = (*self.recent, RecentFill(fill.trade_id, fill.trade_ms, signed))
        if len(recent) > MAX_RECENT:
            recent = recent[-MAX_RECENT:]
        return FillLedger(self.cursor, recent, self.since_ms)

    def advance(self, cursor: int, since_ms: int = 0) -> FillLedger:
        """Everything up to ``cursor`` is confirmed counted; forget the recent fills at or below it."""
        since = self.since_ms or since_ms
        if cursor <= self.cursor:
            return self if since == self.since_ms else FillLedger(self.cursor, self.recent, since)
        return FillLedger(cursor, tuple(r for r in self.recent if r.trade_id > cursor), since)

    @property
    def fetch_from(self) -> int:
        """The first trade id to fetch in a reconciliation (0: no cursor yet, see ``fetch_since_ms``)."""
        return self.cursor + 1 if self.cursor else 0

    @property
    def fetch_since_ms(self) -> int:
        """Without a cursor: the exchange time to fetch from (0 as well: the latest page, a first run)."""
        return 0 if self.cursor else self.since_ms

    def lots_after(self, ms: int) -> int:
        """Signed lots of the counted fills newer than ``ms`` (to compare with a position as of ``ms``)."""
        return sum(r.signed_lots for r in self.recent if r.trade_ms > ms)


def stored_position(store: Any, venue: str, symbol: str) -> Position | None:
    """The position the OMS last journaled (``Store.load_journal``), for the actors that must not start as
    if flat after a restart: risk (daily loss), strategy (inventory), analyzer (PnL)."""
    _, pos_json, _ = store.load_journal(venue, symbol)
    return msgspec.json.decode(pos_json, type=Position) if pos_json else None
