"""The panicstop procedure as a deterministic plan: replies and time in, commands out.

    HALT (the monitor's PANICSTOP hold)
      → CANCELLING   CancelAllOrders over REST
      → CONFIRMING   ListOpenOrders over REST until the exchange lists none; an order still listed → cancel
                     all again (queries at most every poll interval). Past ``panic_confirm_deadline_s``:
                     a P0 alert, and it keeps trying: an orphan order is the danger (lesson 4), giving up
                     would leave it there.
      → FLATTENING   (optional) FetchPosition; while not flat, one reduce-only LIMIT IOC at most
                     ``max_order_lots``, priced mid ∓ ``flatten_slippage_bps`` (rounded toward the mid:
                     never worse than the cap), then query the position again; bounded by
                     ``flatten_max_orders`` and ``flatten_deadline_s``. The position is the exchange's, never
                     ours (ours may be what went wrong), and no order is priced off a stale mid.
      → DONE         PanicstopFinished(ok, confirmed_no_orders, residual_lots)

A reply that does not come within ``panic_reply_timeout_ms`` counts as failed: the step is repeated (a lost
cancel reply leads to the query, which tells the truth). Replies to steps no longer awaited are ignored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum
from fractions import Fraction

from actors.book.view import MarketView
from actors.instrument import Instrument
from actors.risk.messages import (
    CancelAllOrders,
    FetchPosition,
    ListOpenOrders,
    Notify,
    Panicstop,
    PanicstopAdvanced,
    PanicstopFinished,
    PlaceFlattenOrder,
)
from actors.risk.params import Limits, RiskParams

PanicOutput = CancelAllOrders | ListOpenOrders | FetchPosition | PlaceFlattenOrder | Notify | PanicstopAdvanced \
    | PanicstopFinished


class PanicPhase(StrEnum):
    IDLE = "idle"
    CANCELLING = "cancelling"
    CONFIRMING = "confirming"
    FLATTENING = "flattening"
    DONE = "done"


class _Wait(StrEnum):
    CANCEL = "cancel"
    ORDERS = "orders"
    POSITION = "position"
    FLATTEN = "flatten"


def flatten_limit_ticks(position_lots: int, mid_x2_ticks: int, slippage_bps: float) -> int:
    """The IOC's limit: a sell (closing a long) no lower than mid × (1 − cap), rounded up; a buy no higher
    than mid × (1 + cap), rounded down. Exact in rationals."""
    slip = Fraction(slippage_bps) / 10_000
    mid = Fraction(mid_x2_ticks, 2)
    if position_lots > 0:
        return max(1, math.ceil(mid * (1 - slip)))
    return math.floor(mid * (1 + slip))


class PanicPlan:
    def __init__(self, symbol: str, params: RiskParams, instrument: Instrument, limits: Limits) -> None:
        self.symbol = symbol
        self.params = params
        self.instrument = instrument
        self.max_order_lots = limits.max_order_lots
        self.phase = PanicPhase.IDLE
        self._reset(0, "", False)

    def _reset(self, now_ns: int, reason: str, flatten: bool) -> None:
        self.reason = reason
        self.flatten = flatten
        self.started_ns = now_ns
        self.confirmed = False
        self.escalated = False
        self.cancel_attempts = 0
        self.query_attempts = 0
        self.position_queries = 0
        self.flatten_orders = 0
        self.flatten_started_ns = 0
        self.last_position: int | None = None
        self.last_open: tuple[str, ...] = ()
        self._wait: _Wait | None = None
        self._sent_ns = 0
        self._retry: _Wait | None = None  # a step to (re)do at ``_retry_ns``
        self._retry_ns = 0
        self._last_query_ns = -(1 << 62)
        self._waiting_for_mid = False
        self._mid_x2 = 0
        self._mid_ns = 0

    # ------------------------------------------------------------------ reads
    @property
    def active(self) -> bool:
        return self.phase not in (PanicPhase.IDLE, PanicPhase.DONE)

    @property
    def done(self) -> bool:
        return self.phase is PanicPhase.DONE

    def next_deadline_ns(self) -> int | None:
        if not self.active:
            return None
        p = self.params
        t = []
        if self._wait is not None:
            t.append(self._sent_ns + p.panic_reply_timeout_ms * 1_000_000)
        if self._retry is not None:
            t.append(self._retry_ns)
        if not self.confirmed and not self.escalated:
            t.append(self.started_ns + round(p.panic_confirm_deadline_s * 1e9))
        if self.phase is PanicPhase.FLATTENING:
            t.append(self.flatten_started_ns + round(p.flatten_deadline_s * 1e9))
        return min(t) if t else None

    # ------------------------------------------------------------------ inputs
    def start(self, cmd: Panicstop, now_ns: int) -> list[PanicOutput]:
        """Begin (or, if running, only widen: a later request to flatten is honoured)."""
        flatten = self.params.panic_flatten if cmd.flatten is None else cmd.flatten
        if self.active:
            if flatten and not self.flatten:
                self.flatten = True
                return [PanicstopAdvanced(self.symbol, self.phase.value, "flatten requested as well", now_ns)]
            return []
        mids = (self._mid_x2, self._mid_ns)
        self._reset(now_ns, f"by {cmd.source}: {cmd.reason}", flatten)
        self._mid_x2, self._mid_ns = mids
        out: list[PanicOutput] = [
            Notify("P0", f"{self.symbol} PANICSTOP", f"{self.reason}; cancelling all orders"
                   + ("; then flattening" if flatten else ""), now_ns)]
        self.phase = PanicPhase.CANCELLING
        out.append(PanicstopAdvanced(self.symbol, self.phase.value, self.reason, now_ns))
        out.append(self._send_cancel(now_ns))
        return out

    def on_market(self, view: MarketView) -> None:
        """The latest book (the flatten orders' reference price)."""
        if view.last_update_ns >= self._mid_ns:
            self._mid_x2, self._mid_ns = view.mid_x2_ticks, view.last_update_ns

    def on_cancel_all_reply(self, ok: bool, now_ns: int, detail: str = "") -> list[PanicOutput]:
        if self._wait is not _Wait.CANCEL:
            return []
        self._wait = None
        self.phase = PanicPhase.CONFIRMING
        out: list[PanicOutput] = [PanicstopAdvanced(
            self.symbol, self.phase.value,
            f"cancel-all #{self.cancel_attempts} {'done' if ok else 'failed: ' + detail}; asking what is open",
            now_ns)]
        out += self._query_orders_when_due(now_ns)
        return out

    def on_open_orders(self, open_client_ids: Sequence[str], now_ns: int) -> list[PanicOutput]:
        """The exchange's own list of this symbol's open orders, asked for after a cancel-all. It also
        answers a cancel-all directly (the OMS's ``CancelAll`` replies with such a list)."""
        if self._wait is _Wait.CANCEL:
            self.query_attempts += 1
            self._last_query_ns = now_ns
        elif self._wait is not _Wait.ORDERS:
            return []
        self._wait = None
        self.last_open = tuple(open_client_ids)
        if self.last_open:
            self.phase = PanicPhase.CANCELLING
            shown = ", ".join(self.last_open[:5]) + (" ..." if len(self.last_open) > 5 else "")
            return [PanicstopAdvanced(self.symbol, self.phase.value,
                                      f"{len(self.last_open)} still open ({shown}): cancelling again", now_ns),
                    self._send_cancel(now_ns)]
        self.confirmed = True
        out: list[PanicOutput] = [PanicstopAdvanced(
            self.symbol, "confirmed", f"the exchange lists no open order (after {self.cancel_attempts} "
            f"cancel-all, {self.query_attempts} queries)", now_ns)]
        if not self.flatten:
            return out + self._finish(True, 0, "no order left open; not flattening", now_ns)
        self.phase = PanicPhase.FLATTENING
        self.flatten_started_ns = now_ns
        out.append(PanicstopAdvanced(self.symbol, self.phase.value, "asking the exchange for the position", now_ns))
        out.append(self._send_position(now_ns))
        return out

    def on_query_failed(self, now_ns: int, detail: str = "") -> list[PanicOutput]:
        """A query (open orders or position) failed over REST: ask again after the poll interval."""
        if self._wait not in (_Wait.ORDERS, _Wait.POSITION):
            return []
        what, self._wait = self._wait, None
        self._schedule(what, now_ns + self.params.panic_poll_interval_ms * 1_000_000)
        return [PanicstopAdvanced(self.symbol, self.phase.value, f"{what.value} query failed: {detail}; retrying",
                                  now_ns)]

    def on_position(self, position_lots: int, now_ns: int) -> list[PanicOutput]:
        """The exchange's position (signed lots)."""
        if self._wait is not _Wait.POSITION:
            return []
        self._wait = None
        self.last_position = position_lots
        return self._flatten_step(now_ns)

    def on_flatten_result(self, filled_lots: int, now_ns: int, detail: str = "") -> list[PanicOutput]:
        """The IOC's final outcome (0 filled if it expired or was rejected). The position is then re-read."""
        if self._wait is not _Wait.FLATTEN:
            return []
        self._wait = None
        return [PanicstopAdvanced(self.symbol, self.phase.value,
                                  f"flatten order #{self.flatten_orders} filled {filled_lots} lots {detail}".rstrip(),
                                  now_ns),
                self._send_position(now_ns)]

    def tick(self, now_ns: int) -> list[PanicOutput]:
        if not self.active:
            return []
        p = self.params
        out: list[PanicOutput] = []
        if not self.confirmed and not self.escalated and now_ns >= self.started_ns + round(
                p.panic_confirm_deadline_s * 1e9):
            self.escalated = True
            body = (f"cannot confirm after {p.panic_confirm_deadline_s:g} s that no order is open "
                    f"({self.cancel_attempts} cancel-all, last seen open: {len(self.last_open)}); still retrying")
            out += [Notify("P0", f"{self.symbol} PANICSTOP NOT CONFIRMED", body, now_ns),
                    PanicstopAdvanced(self.symbol, "escalated", body, now_ns)]
        flatten_end = self.flatten_started_ns + round(p.flatten_deadline_s * 1e9)
        if self.phase is PanicPhase.FLATTENING and now_ns >= flatten_end:
            residual = self.last_position if self.last_position is not None else 0
            return out + self._finish(False, residual, f"flatten deadline ({p.flatten_deadline_s:g} s) passed", now_ns)
        if self._wait is not None and now_ns - self._sent_ns >= p.panic_reply_timeout_ms * 1_000_000:
            what, self._wait = self._wait, None
            out.append(PanicstopAdvanced(self.symbol, self.phase.value, f"no reply to {what.value} in "
                                         f"{p.panic_reply_timeout_ms} ms", now_ns))
            # a lost cancel or IOC reply: ask the exchange what is true; a lost query: ask again
            self._schedule(_Wait.ORDERS if what is _Wait.CANCEL else
                           _Wait.POSITION if what is _Wait.FLATTEN else what, now_ns)
        if self._retry is not None and now_ns >= self._retry_ns and self._wait is None:
            what, self._retry = self._retry, None
            if what is _Wait.ORDERS:
                out += self._query_orders_when_due(now_ns)
            elif what is _Wait.POSITION:
                out.append(self._send_position(now_ns))
            elif what is _Wait.CANCEL:
                out.append(self._send_cancel(now_ns))
        return out

    # ------------------------------------------------------------------ steps
    def _flatten_step(self, now_ns: int) -> list[PanicOutput]:
        pos = self.last_position or 0
        if pos == 0:
            return self._finish(True, 0, f"flat after {self.flatten_orders} flatten orders", now_ns)
        p = self.params
        if self.flatten_orders >= p.flatten_max_orders:
            return self._finish(False, pos, f"still {pos} lots after {self.flatten_orders} flatten orders", now_ns)
        if self._mid_x2 <= 0 or now_ns - self._mid_ns >= p.stale_after_ns:
            self._schedule(_Wait.POSITION, now_ns + p.panic_poll_interval_ms * 1_000_000)
            if self._waiting_for_mid:
                return []
            self._waiting_for_mid = True
            return [PanicstopAdvanced(self.symbol, self.phase.value,
                                      f"position {pos} lots; waiting for fresh market data to price the order",
                                      now_ns)]
        self._waiting_for_mid = False
        qty = min(abs(pos), self.max_order_lots)
        limit = flatten_limit_ticks(pos, self._mid_x2, p.flatten_slippage_bps)
        side = "SELL" if pos > 0 else "BUY"
        self.flatten_orders += 1
        self._expect(_Wait.FLATTEN, now_ns)
        return [PlaceFlattenOrder(self.symbol, side, qty, limit, self.flatten_orders, now_ns)]

    def _send_cancel(self, now_ns: int) -> CancelAllOrders:
        self.cancel_attempts += 1
        self._expect(_Wait.CANCEL, now_ns)
        return CancelAllOrders(self.symbol, self.cancel_attempts, now_ns)

    def _query_orders_when_due(self, now_ns: int) -> list[PanicOutput]:
        due = self._last_query_ns + self.params.panic_poll_interval_ms * 1_000_000
        if now_ns < due:
            self._schedule(_Wait.ORDERS, due)
            return []
        self.query_attempts += 1
        self._last_query_ns = now_ns
        self.phase = PanicPhase.CONFIRMING
        self._expect(_Wait.ORDERS, now_ns)
        return [ListOpenOrders(self.symbol, self.query_attempts, now_ns)]

    def _send_position(self, now_ns: int) -> FetchPosition:
        self.position_queries += 1
        self._expect(_Wait.POSITION, now_ns)
        return FetchPosition(self.symbol, self.position_queries, now_ns)

    def _expect(self, what: _Wait, now_ns: int) -> None:
        self._wait, self._sent_ns = what, now_ns

    def _schedule(self, what: _Wait, at_ns: int) -> None:
        self._retry, self._retry_ns = what, at_ns

    def _finish(self, ok: bool, residual: int, detail: str, now_ns: int) -> list[PanicOutput]:
        self.phase = PanicPhase.DONE
        self._wait = self._retry = None
        level = "P1" if ok else "P0"
        title = f"{self.symbol} panicstop {'complete' if ok else 'INCOMPLETE'}"
        return [PanicstopFinished(self.symbol, ok, self.confirmed, residual, detail, now_ns),
                Notify(level, title, f"{detail}; trading stays HALTED until an operator resumes", now_ns)]
