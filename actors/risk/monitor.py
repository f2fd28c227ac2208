"""The rules that move the trading state, as a deterministic core: inputs with the time passed in, events out.

Rules (each a row of ``state.CAUSES``):

* daily loss: the day's net PnL (realized + unrealized − fees − funding) at or below ``-max_daily_loss``
  → HALTED + panicstop; a warning first at ``daily_loss_warn_ratio`` of it.
* order errors: ``error_rate_reduce`` errors within ``error_window_s`` → REDUCING (lifts when the count is
  back to half of that); ``error_rate_halt`` → HALTED + panicstop.
* market data: no book update for ``stale_after_ms``, or any stream down → quotes must be cancelled. Not a
  trading state: it clears when data is fresh again. Call ``tick`` at ``next_deadline_ns()`` (or more
  often) and the decision is made exactly at the timeout, not a polling period later.
* price shock: the mid moves more than ``shock_pct`` within ``shock_window_s`` → HALTED for ``halt_seconds``.
* reconciliation: the exchange's position differs from ours by more than ``mismatch_tolerance`` →
  REDUCING (lifts on a matching reconciliation) or HALTED (sticky), per ``mismatch_action``.

Level-triggered where a condition persists: after an operator's ``resume`` a condition still present is
raised again at once (a resume cannot trade through a loss limit; raise the limit instead).
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from actors.book.view import MarketView
from actors.gateway.events import StreamConnected, StreamDisconnected, StreamEvent, StreamStalled
from actors.instrument import Instrument
from actors.risk.messages import (
    Panicstop,
    Resumed,
    RiskAction,
    RiskCleared,
    RiskState,
    RiskTriggered,
    TradingState,
    TradingStateChanged,
)
from actors.risk.params import RiskParams
from actors.risk.state import CAUSES, TRANSITIONS, Cause, TradingStateMachine, Transition

RiskOutput = RiskTriggered | RiskCleared | TradingStateChanged | Resumed | Panicstop

MARKET_STALE = "market_stale"
STREAM_DOWN = "stream_down"
DAILY_LOSS_WARNING = "daily_loss_warning"


class RiskMonitor:
    """One symbol's risk rules and trading state. Not thread-safe: one owner (the risk actor) calls it."""

    def __init__(self, symbol: str, params: RiskParams, instrument: Instrument) -> None:
        self.symbol = symbol
        self.params = params
        self.instrument = instrument
        self.machine = TradingStateMachine()
        self._out: list[RiskOutput] = []
        self._seq = 0
        # market data
        self._last_market_ns = 0
        self._stale = True  # no data yet: nothing to quote on (no event: it is the starting condition)
        self._streams_down: dict[str, str] = {}
        # price shock: monotonic deques of (time, mid) over the window
        self._win_min: deque[tuple[int, Decimal]] = deque()
        self._win_max: deque[tuple[int, Decimal]] = deque()
        # order errors
        self._errors: deque[int] = deque()
        # daily loss
        self._daily_pnl = Decimal(0)
        self._warned = False
        # reconciliation
        self._mismatch: str | None = None  # the last reconciliation's finding, None when it matched
        self._tolerance_lots = instrument.lots_floor(params.mismatch_tolerance)
        self.panic_active = False  # set by the owner of the panicstop procedure, shown in the report

    # ================================================================== inputs
    def on_market(self, view: MarketView, now_ns: int) -> list[RiskOutput]:
        """A book view (any rate). Its ``last_update_ns`` is the book's own time, however late it arrives."""
        if view.last_update_ns > self._last_market_ns:
            self._last_market_ns = view.last_update_ns
            if now_ns - view.last_update_ns < self.params.stale_after_ns:
                self._shock(view.mid, view.last_update_ns, now_ns)
        self._check_stale(now_ns)
        return self._flush()

    def on_stream(self, stream: str, up: bool, now_ns: int, detail: str = "") -> list[RiskOutput]:
        if up and stream in self._streams_down:
            del self._streams_down[stream]
            self._emit_cleared(STREAM_DOWN, f"{stream} connected", now_ns)
        elif not up and stream not in self._streams_down:
            self._streams_down[stream] = detail or "down"
            self._emit(STREAM_DOWN, RiskAction.CANCEL_QUOTES, f"{stream}: {detail or 'down'}", now_ns)
        return self._flush()

    def on_stream_event(self, ev: StreamEvent) -> list[RiskOutput]:
        """The gateway's ``StreamConnected`` / ``StreamDisconnected`` / ``StreamStalled``."""
        if isinstance(ev, StreamConnected):
            return self.on_stream(ev.stream, True, ev.at_ns)
        if isinstance(ev, StreamDisconnected):
            return self.on_stream(ev.stream, False, ev.at_ns, f"disconnected: {ev.reason}")
        if isinstance(ev, StreamStalled):
            return self.on_stream(ev.stream, False, ev.at_ns, f"stalled: nothing for {ev.silent_ms} ms")
        return []

    def on_order_error(self, code: int, now_ns: int, detail: str = "") -> list[RiskOutput]:
        """An order the exchange refused (or a place/cancel that failed). Counted in a sliding window."""
        self._errors.append(now_ns)
        n = self._error_count(now_ns)
        p = self.params
        what = f"{n} order errors within {p.error_window_s:g} s (last: {code} {detail})".rstrip()
        if n >= p.error_rate_halt:
            if not self.machine.has(Cause.ERROR_RATE_HALT):
                self._raise(Cause.ERROR_RATE_HALT, what, now_ns)
        elif n >= p.error_rate_reduce and not self.machine.has(Cause.ERROR_RATE):
            self._raise(Cause.ERROR_RATE, what, now_ns)
        return self._flush()

    def on_pnl(self, daily_pnl: Decimal, now_ns: int) -> list[RiskOutput]:
        """The day's net PnL (realized + unrealized − fees + funding; see ``actors.analyzer.pnl.DailyPnl``)."""
        self._daily_pnl = daily_pnl
        p = self.params
        warn_at = -p.max_daily_loss * Decimal(str(p.daily_loss_warn_ratio))
        if daily_pnl <= -p.max_daily_loss:
            if not self.machine.has(Cause.DAILY_LOSS):
                self._raise(Cause.DAILY_LOSS, f"daily PnL {daily_pnl} <= -{p.max_daily_loss}", now_ns)
        elif daily_pnl <= warn_at:
            if not self._warned:
                self._warned = True
                self._emit(DAILY_LOSS_WARNING, RiskAction.WARN, f"daily PnL {daily_pnl} <= {warn_at} "
                           f"({p.daily_loss_warn_ratio:.0%} of the limit {p.max_daily_loss})", now_ns)
        else:
            self._warned = False  # re-armed once back above the warning level
        return self._flush()

    def on_reconcile(self, local_lots: int, exchange_lots: int, now_ns: int) -> list[RiskOutput]:
        """The OMS compared its position with the exchange's."""
        diff = exchange_lots - local_lots
        halt = self.params.mismatch_action == "halted"
        cause = Cause.POSITION_MISMATCH_HALT if halt else Cause.POSITION_MISMATCH
        if abs(diff) > self._tolerance_lots:
            self._mismatch = f"exchange {exchange_lots} lots, ours {local_lots} lots (off by {diff})"
            if not self.machine.has(cause):
                self._raise(cause, self._mismatch, now_ns)
        else:
            self._mismatch = None
            if self.machine.has(Cause.POSITION_MISMATCH):
                self._lift(Cause.POSITION_MISMATCH, f"positions agree ({exchange_lots} lots)", now_ns)
        return self._flush()

    def tick(self, now_ns: int) -> list[RiskOutput]:
        """Time passing: staleness, the halt timer, the error window. Due at ``next_deadline_ns()``."""
        self._check_stale(now_ns)
        m, tr = self.machine.expire(now_ns)
        if tr is not None or m is not self.machine:
            expired = [c for c in self.machine.causes if c not in m.causes]
            self._apply(m, tr)
            for c in expired:
                self._emit_cleared(c.value, "halt timer expired", now_ns)
        if self.machine.has(Cause.ERROR_RATE):
            n = self._error_count(now_ns)
            if n <= self.params.error_rate_reduce // 2:
                self._lift(Cause.ERROR_RATE, f"{n} order errors within {self.params.error_window_s:g} s", now_ns)
        return self._flush()

    # ================================================================== commands
    def panicstop(self, source: str, reason: str, now_ns: int) -> list[RiskOutput]:
        """HALTED until an operator resumes (the procedure itself is ``actors.risk.panic``)."""
        if not self.machine.has(Cause.PANICSTOP):
            self._raise(Cause.PANICSTOP, f"by {source}: {reason}", now_ns, panic_command=False)
        return self._flush()

    def halt(self, operator: str, reason: str, now_ns: int) -> list[RiskOutput]:
        self._raise(Cause.OPERATOR_HALT, f"by {operator}: {reason}", now_ns)
        return self._flush()

    def reduce_only(self, operator: str, reason: str, now_ns: int) -> list[RiskOutput]:
        self._raise(Cause.OPERATOR_REDUCE, f"by {operator}: {reason}", now_ns)
        return self._flush()

    def resume(self, operator: str, now_ns: int) -> list[RiskOutput]:
        """Lift every hold, then raise again what is still true. One state change (if any), one ``Resumed``."""
        before = self.machine
        m, _ = before.resume(operator, now_ns)
        p = self.params
        again: list[tuple[Cause, str]] = []
        if self._daily_pnl <= -p.max_daily_loss:
            again.append((Cause.DAILY_LOSS, f"daily PnL {self._daily_pnl} still <= -{p.max_daily_loss}"))
        n = self._error_count(now_ns)
        if n >= p.error_rate_halt:
            again.append((Cause.ERROR_RATE_HALT, f"still {n} order errors in the window"))
        elif n >= p.error_rate_reduce:
            again.append((Cause.ERROR_RATE, f"still {n} order errors in the window"))
        if self._mismatch is not None:
            cause = Cause.POSITION_MISMATCH_HALT if p.mismatch_action == "halted" else Cause.POSITION_MISMATCH
            again.append((cause, f"still {self._mismatch}"))
        for cause, why in again:
            m, _ = m.raise_(cause, why, now_ns)
        self.machine = m
        if before.state is not m.state:
            why = TRANSITIONS[(before.state, m.state)]
            self._changed(Transition(before.state, m.state, f"resumed by {operator} ({why})", now_ns))
        lifted = tuple(c.value for c in before.causes)
        self._out.append(Resumed(self.symbol, operator, lifted, tuple(c.value for c in m.causes), now_ns))
        return self._flush()

    # ================================================================== reads
    @property
    def state(self) -> TradingState:
        return self.machine.state

    @property
    def market_stale(self) -> bool:
        return self._stale

    @property
    def quotes_allowed(self) -> bool:
        return self.state is not TradingState.HALTED and not self._stale and not self._streams_down

    def report(self, now_ns: int) -> RiskState:
        reasons = []
        if self.machine.holds:
            reasons.append(self.machine.reason())
        if self._stale:
            reasons.append("market data stale" if self._last_market_ns else "no market data yet")
        reasons += [f"{s} down ({why})" for s, why in sorted(self._streams_down.items())]
        return RiskState(
            symbol=self.symbol,
            trading_state=self.state,
            quotes_allowed=self.quotes_allowed,
            market_stale=self._stale,
            streams_down=tuple(sorted(self._streams_down)),
            causes=tuple(c.value for c in self.machine.causes),
            reason="; ".join(reasons) or "ok",
            daily_pnl=self._daily_pnl,
            halted_until_ns=self.machine.halted_until_ns,
            panic_active=self.panic_active,
            seq=self._seq,
            at_ns=now_ns,
        )

    def next_deadline_ns(self) -> int | None:
        """The earliest time ``tick`` could change something (schedule a timer for it); None: nothing pending."""
        t: list[int] = []
        if not self._stale and self._last_market_ns > 0:
            t.append(self._last_market_ns + self.params.stale_after_ns)
        exp = self.machine.next_expiry_ns()
        if exp is not None:
            t.append(exp)
        if self.machine.has(Cause.ERROR_RATE):
            keep = self.params.error_rate_reduce // 2
            drop = len(self._errors) - keep  # the count falls to ``keep`` when this many oldest have left
            if drop > 0:
                t.append(self._errors[drop - 1] + self.params.error_window_ns)
        return min(t) if t else None

    # ================================================================== rules' helpers
    def _check_stale(self, now_ns: int) -> None:
        last = self._last_market_ns
        stale = last <= 0 or now_ns - last >= self.params.stale_after_ns
        if stale and not self._stale:
            self._emit(MARKET_STALE, RiskAction.CANCEL_QUOTES,
                       f"no book update for {(now_ns - last) / 1e6:.0f} ms (limit {self.params.stale_after_ms})",
                       now_ns)
        elif not stale and self._stale:
            self._emit_cleared(MARKET_STALE, "book updates again", now_ns)
        self._stale = stale

    def _shock(self, mid: Decimal, t_ns: int, now_ns: int) -> None:
        p = self.params
        lo, hi = self._win_min, self._win_max
        horizon = t_ns - p.shock_window_ns
        while lo and lo[0][0] < horizon:
            lo.popleft()
        while hi and hi[0][0] < horizon:
            hi.popleft()
        while lo and lo[-1][1] >= mid:
            lo.pop()
        lo.append((t_ns, mid))
        while hi and hi[-1][1] <= mid:
            hi.pop()
        hi.append((t_ns, mid))
        wmin, wmax = lo[0][1], hi[0][1]
        ref = None
        if (mid - wmin) * 100 > wmin * p.shock_pct:
            ref = wmin
        elif (wmax - mid) * 100 > wmax * p.shock_pct:
            ref = wmax
        if ref is None:
            return
        move = (mid - ref) * 100 / ref
        why = (f"mid {ref} → {mid} ({move:+.2f}%) within {p.shock_window_s:g} s > {p.shock_pct}%; "
               f"halted {p.halt_seconds:g} s")
        m, tr = self.machine.raise_(Cause.PRICE_SHOCK, why, now_ns, until_ns=now_ns + p.halt_ns)
        self._emit(Cause.PRICE_SHOCK.value, RiskAction.HALT, why, now_ns)
        self._apply(m, tr)
        lo.clear()  # start afresh: the spike that halted us must not halt us again when the timer ends
        hi.clear()
        lo.append((t_ns, mid))
        hi.append((t_ns, mid))

    def _error_count(self, now_ns: int) -> int:
        errs, window = self._errors, self.params.error_window_ns
        while errs and now_ns - errs[0] >= window:
            errs.popleft()
        return len(errs)

    # ================================================================== state and output
    def _raise(self, cause: Cause, reason: str, now_ns: int, *, panic_command: bool = True) -> None:
        rule = CAUSES[cause]
        action = RiskAction.PANICSTOP if rule.panic else (
            RiskAction.HALT if rule.level is TradingState.HALTED else RiskAction.REDUCE)
        self._emit(cause.value, action, reason, now_ns)
        m, tr = self.machine.raise_(cause, reason, now_ns)
        self._apply(m, tr)
        if rule.panic and panic_command:
            self._out.append(Panicstop(self.symbol, "risk", f"{cause.value}: {reason}", None, now_ns))

    def _lift(self, cause: Cause, reason: str, now_ns: int) -> None:
        m, tr = self.machine.lift(cause, reason, now_ns)
        self._emit_cleared(cause.value, reason, now_ns)
        self._apply(m, tr)

    def _apply(self, m: TradingStateMachine, tr: Transition | None) -> None:
        if m is not self.machine:
            self._seq += 1
        self.machine = m
        if tr is not None:
            self._changed(tr)

    def _changed(self, tr: Transition) -> None:
        self._seq += 1
        self._out.append(TradingStateChanged(self.symbol, tr.previous, tr.current, tr.reason, tr.at_ns))

    def _emit(self, kind: str, action: RiskAction, detail: str, now_ns: int) -> None:
        self._seq += 1
        self._out.append(RiskTriggered(self.symbol, kind, action, detail, now_ns))

    def _emit_cleared(self, kind: str, detail: str, now_ns: int) -> None:
        self._seq += 1
        self._out.append(RiskCleared(self.symbol, kind, detail, now_ns))

    def _flush(self) -> list[RiskOutput]:
        out, self._out = self._out, []
        return out
