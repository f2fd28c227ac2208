"""Engine events → P1 alerts: the conditions that are not an emergency yet but need a person soon.

Pure: every input carries or is given the time (wall clock, ns since the epoch: the ``at_ns`` the engine's
events carry), and each call returns the alerts it raises (usually none). Titles are stable per symbol and
condition, so the folder (``actors.notifier.fold``) folds repeats; the details are in the body.

* WS down: a stream down (disconnected or stalled) for ``ws_down_alert_s`` without coming back → one P1
  (found by ``tick``); when it reconnects after that, one P1 saying so. A deliberate stop is not "down".
* Reject spike: more than ``reject_spike_count`` order rejects within ``reject_window_s`` → one P1; armed
  again once the window holds half the threshold or fewer.
* Daily loss warning: the day's PnL at or below ``-daily_loss_warn_ratio × max_daily_loss`` → one P1 per
  symbol and UTC day.
* Repeated restarts: more than ``restart_alert_count`` child restarts of one tree within ``restart_window_s``
  → one P1; armed again once the window holds the threshold or fewer.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from actors.gateway.events import StreamConnected, StreamDisconnected, StreamEvent
from actors.notifier.settings import AlertSettings
from actors.oms.messages import OrderRejected
from actors.risk.messages import Notify, RiskState
from actors.supervisor.messages import ChildRestarted

DAY_NS = 86_400 * 1_000_000_000  # UTC days, as the daily PnL counts them
_DELIBERATE = ("stopped",)  # disconnect reasons that are an orderly stop, not an outage


@dataclass(slots=True)
class _Down:
    since_ns: int
    reason: str
    alerted: bool = False


class AlertRules:
    def __init__(self, s: AlertSettings) -> None:
        self.s = s
        self._down: dict[tuple[str, str], _Down] = {}
        self._rejects: dict[str, deque[int]] = {}
        self._reject_alerted: set[str] = set()
        self._restarts: dict[str, deque[int]] = {}
        self._restart_alerted: set[str] = set()
        self._loss_warned_day: dict[str, int] = {}

    # ------------------------------------------------------------------ inputs
    def on_stream(self, symbol: str, ev: StreamEvent) -> list[Notify]:
        """A stream of ``symbol``'s gateway connected, disconnected or stalled."""
        key = (symbol, ev.stream)
        if isinstance(ev, StreamConnected):
            d = self._down.pop(key, None)
            if d is not None and d.alerted:
                return [Notify("P1", f"{symbol}: {ev.stream} stream back",
                               f"reconnected after {_secs(ev.at_ns - d.since_ns)} down", ev.at_ns)]
            return []
        if isinstance(ev, StreamDisconnected) and ev.reason in _DELIBERATE:
            self._down.pop(key, None)
            return []
        if key not in self._down:  # the outage started at the first down event; later ones are retries
            why = ev.reason if isinstance(ev, StreamDisconnected) else f"stalled: nothing for {ev.silent_ms} ms"
            self._down[key] = _Down(ev.at_ns, why)
        return self.tick(ev.at_ns)

    def on_reject(self, symbol: str, r: OrderRejected, now_ns: int) -> list[Notify]:
        """A placement of ``symbol`` the exchange (or the gateway) refused."""
        q = self._window(self._rejects, symbol, now_ns, self.s.reject_window_ns)
        self._rearm()
        q.append(now_ns)
        n = len(q)
        if n <= self.s.reject_spike_count or symbol in self._reject_alerted:
            return []
        self._reject_alerted.add(symbol)
        return [Notify("P1", f"{symbol}: order reject spike",
                       f"{n} orders rejected within {self.s.reject_window_s:g} s (alert above "
                       f"{self.s.reject_spike_count}); last: {r.kind} {r.code if r.code is not None else '-'} "
                       f"{r.reason}", now_ns)]

    def on_risk_state(self, r: RiskState, max_daily_loss: Decimal) -> list[Notify]:
        """Risk's report (``daily_pnl``: net, realized + unrealized); ``max_daily_loss``: the symbol's
        ``[risk] max_daily_loss`` in force (passed in, so a reloaded limit applies at once)."""
        if max_daily_loss <= 0:
            return []
        warn_at = -max_daily_loss * Decimal(str(self.s.daily_loss_warn_ratio))
        day = r.at_ns // DAY_NS
        if r.daily_pnl > warn_at or self._loss_warned_day.get(r.symbol) == day:
            return []
        self._loss_warned_day[r.symbol] = day
        return [Notify("P1", f"{r.symbol}: daily loss warning",
                       f"daily PnL {r.daily_pnl} is past the warning level {warn_at} "
                       f"({self.s.daily_loss_warn_ratio:.0%} of the max daily loss {max_daily_loss}); at "
                       f"-{max_daily_loss} trading halts. Trading state: {r.trading_state}", r.at_ns)]

    def on_restart(self, ev: ChildRestarted) -> list[Notify]:
        """A tree's supervisor restarted a child (and, rest_for_one, those started after it)."""
        q = self._window(self._restarts, ev.tree, ev.at_ns, self.s.restart_window_ns)
        self._rearm()
        q.append(ev.at_ns)
        n = len(q)
        if n <= self.s.restart_alert_count or ev.tree in self._restart_alerted:
            return []
        self._restart_alerted.add(ev.tree)
        return [Notify("P1", f"{ev.tree}: repeated restarts",
                       f"{n} child restarts within {self.s.restart_window_s:g} s (alert above "
                       f"{self.s.restart_alert_count}); last restarted: {', '.join(ev.children)}", ev.at_ns)]

    def tick(self, now_ns: int) -> list[Notify]:
        """Time passing: streams down too long; windows that emptied re-arm their alert."""
        out: list[Notify] = []
        for (symbol, stream), d in self._down.items():
            if not d.alerted and now_ns - d.since_ns >= self.s.ws_down_alert_ns:
                d.alerted = True
                since = datetime.fromtimestamp(d.since_ns / 1e9, UTC).strftime("%H:%M:%S UTC")
                out.append(Notify("P1", f"{symbol}: {stream} stream down",
                                  f"down for {_secs(now_ns - d.since_ns)} (since {since}): {d.reason}; "
                                  "quotes stay pulled until it is back", now_ns))
        for q in self._rejects.values():
            self._expire(q, now_ns, self.s.reject_window_ns)
        for q in self._restarts.values():
            self._expire(q, now_ns, self.s.restart_window_ns)
        self._rearm()
        return out

    def forget(self, symbol: str) -> None:
        """The symbol's tree is gone for good (stopped, not restarted): drop what is pending for it."""
        for key in [k for k in self._down if k[0] == symbol]:
            del self._down[key]
        for table in (self._rejects, self._restarts, self._loss_warned_day):
            table.pop(symbol, None)
        self._reject_alerted.discard(symbol)
        self._restart_alerted.discard(symbol)

    # ------------------------------------------------------------------ helpers
    def _rearm(self) -> None:
        """A spike is over once its window has drained (rejects: to half the threshold, a hysteresis)."""
        self._reject_alerted = {k for k in self._reject_alerted
                                if len(self._rejects.get(k, ())) > self.s.reject_spike_count // 2}
        self._restart_alerted = {k for k in self._restart_alerted
                                 if len(self._restarts.get(k, ())) > self.s.restart_alert_count}

    @classmethod
    def _window(cls, table: dict[str, deque[int]], key: str, now_ns: int, window_ns: int) -> deque[int]:
        return cls._expire(table.setdefault(key, deque()), now_ns, window_ns)

    @staticmethod
    def _expire(q: deque[int], now_ns: int, window_ns: int) -> deque[int]:
        while q and q[0] <= now_ns - window_ns:
            q.popleft()
        return q


def _secs(ns: int) -> str:
    return f"{max(0, ns) / 1e9:.0f} s"

