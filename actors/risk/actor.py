"""The risk actor: feeds the pure ``RiskCore`` and carries out what it decides.

Its report (``RiskState``) goes to the OMS and the strategy after every change and every second; the
panicstop's work orders go to the OMS; every trigger, state change and alert is recorded as a risk event.
The core's next deadline (a stale book, a timed halt ending, a panicstop retry) is armed as a one-shot timer,
so a stale feed is acted on at the stale timeout, not at the next periodic tick.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import msgspec
from loguru import logger

from actors.analyzer.messages import AdverseSelection
from actors.analyzer.pnl import DailyPnl, PnlBook, opened_book
from actors.base import EngineActor, handles
from actors.book.view import MarketView
from actors.config.messages import SettingsChanged
from actors.context import SymbolContext
from actors.gateway.events import StreamConnected, StreamDisconnected, StreamStalled
from actors.oms.messages import (
    OpenOrdersSnapshot,
    OrderAnomaly,
    OrderFilled,
    OrderRejected,
    PositionMismatch,
    PositionSnapshot,
)
from actors.oms.position import stored_position
from actors.risk.core import Output, RiskCore
from actors.risk.messages import (
    CancelAllOrders,
    CommandRefused,
    FetchPosition,
    Halt,
    ListOpenOrders,
    Notify,
    Panicstop,
    PanicstopAdvanced,
    PanicstopFinished,
    PlaceFlattenOrder,
    ReduceOnly,
    Resume,
    Resumed,
    RiskCleared,
    RiskState,
    RiskTriggered,
    TradingStateChanged,
)
from actors.risk.state import Cause
from actors.store.store import Store

_PNL_EVERY_NS = 250_000_000  # re-mark the daily PnL at most this often (Fraction arithmetic)


class RiskTick(msgspec.Struct, frozen=True):
    """Timer message: run the core's clock-driven rules; publish the report."""

    periodic: bool = False


class RiskActor(EngineActor):
    name = "risk"

    def __init__(self, ctx: SymbolContext, on_failed: Any = None,
                 on_alert: Any = None) -> None:
        super().__init__(on_failed, ctx.peers)
        self.ctx = ctx
        self.core = RiskCore(ctx.symbol, ctx.settings.risk, ctx.instrument)
        self.store: Store | None = None
        self._on_alert = on_alert  # Notify → the alerting service (apprise, operations stage)
        self.pnl = PnlBook(ctx.symbol, ctx.instrument.quote_asset)
        self.daily: DailyPnl | None = None
        self._last_mark: Decimal | None = None
        self._last_pnl_ns = 0
        self._deadline_ns: int | None = None
        self._periodic: Any = None
        self.last_report: RiskState | None = None
        self._event_ns = 0

    def on_start(self) -> None:
        ctx = self.ctx
        self.store = Store.open(ctx.settings.store.path, clock=ctx.clock)
        self.pnl = opened_book(stored_position(self.store, ctx.venue, ctx.symbol), ctx.symbol, ctx.instrument)
        now = ctx.clock.time_ns()
        self.daily = DailyPnl.start(Decimal(0), now, carried=self._realized_today(now))
        last = self.store.last_trading_state(ctx.venue, ctx.symbol)
        if last is not None and last[0] == "HALTED":
            # A halt (a panicstop, a tree that gave up, an operator, a loss limit) survives any restart: only an
            # operator's resume lifts it. A timed halt comes back as a plain halt: the safe side.
            logger.critical("{}: was HALTED before this start ({}): staying halted until an operator resumes",
                            ctx.symbol, last[1])
            self._handle(self.core.command(Halt(ctx.symbol, "restart", f"halted before the restart ({last[1]})"),
                                           now), now)
        self._periodic = ctx.timers.tell_every(1.0, self.actor_ref, RiskTick(periodic=True))
        self._publish_report(now)

    def on_stop(self) -> None:
        if self._periodic is not None:
            self._periodic.cancel()
        if self.store is not None:
            self.store.close()

    def _realized_today(self, now_ns: int) -> Decimal:
        """Net realized PnL of today's fills already in the store: a restart must not wipe the day's losses."""
        assert self.store is not None
        day_ms = now_ns // 86_400_000_000_000 * 86_400_000
        total = Decimal(0)
        for f in self.store.fills(symbol=self.ctx.symbol, since_ms=day_ms):
            total += f.realized_pnl - (f.commission if f.commission_asset == self.ctx.instrument.quote_asset else 0)
        return total

    # ------------------------------------------------------------------ inputs
    def _now(self) -> int:
        return self.ctx.clock.time_ns()

    @handles(SettingsChanged)
    def _settings(self, m: SettingsChanged) -> None:
        self.ctx = dataclasses.replace(self.ctx, settings=m.settings)
        self.core.set_params(m.settings.risk)
        now = self._now()
        self._handle(self.core.tick(now), now, force_report=True)

    @handles(MarketView)
    def _market(self, v: MarketView) -> None:
        now = self._now()
        limit = self.core.adaptive.net_limit()
        out = self.core.on_market(v, now)
        self._last_mark = v.mid
        if now - self._last_pnl_ns >= _PNL_EVERY_NS:
            out += self._mark(now)
        self._handle(out, now, force_report=self.core.adaptive.net_limit() != limit)

    @handles(AdverseSelection)
    def _adverse(self, a: AdverseSelection) -> None:
        now = self._now()
        limit = self.core.adaptive.net_limit()
        self.core.on_adverse_selection(a.rate, a.fills, now)
        if self.core.adaptive.net_limit() != limit:
            self._handle([], now, force_report=True)

    def _mark(self, now: int) -> list[Output]:
        if self._last_mark is None or self.daily is None:
            return []
        self._last_pnl_ns = now
        self.daily, today = self.daily.observe(self.pnl.equity_change(self._last_mark), now)
        return self.core.on_pnl(today, now)

    @handles(StreamConnected, StreamDisconnected, StreamStalled)
    def _stream(self, ev: Any) -> None:
        self._handle(self.core.on_stream_event(ev), self._now())

    @handles(OrderFilled)
    def _filled(self, f: OrderFilled) -> None:
        ins = self.ctx.instrument
        self.pnl = self.pnl.apply(f.side, ins.lots_to_qty(f.qty_lots), f.price, f.commission,
                                  f.commission_asset or None, f.realized_pnl)
        now = self._now()
        self._handle(self._mark(now), now)

    @handles(OrderRejected)
    def _rejected(self, r: OrderRejected) -> None:
        now = self._now()
        self._handle(self.core.on_order_error(r.code or 0, now, f"{r.kind}: {r.reason}"), now)

    @handles(OrderAnomaly)
    def _anomaly(self, a: OrderAnomaly) -> None:
        self._record("order_anomaly", "P0" if a.severe else "P1", {"order": a.client_order_id, "what": a.what})

    @handles(PositionMismatch)
    def _mismatch(self, m: PositionMismatch) -> None:
        now = self._now()
        self._handle(self.core.on_reconcile(m.local_lots, m.exchange_lots, now), now)

    @handles(OpenOrdersSnapshot)
    def _open_orders(self, s: OpenOrdersSnapshot) -> None:
        now = self._now()
        ids = [o.client_order_id for o in s.orders if o.symbol == self.ctx.symbol]
        self._handle(self.core.on_open_orders(ids, now), now)

    @handles(PositionSnapshot)
    def _position(self, s: PositionSnapshot) -> None:
        now = self._now()
        try:
            lots = self.ctx.instrument.qty_to_lots(s.qty)
        except ValueError as exc:  # off the grid after a filter change: the panicstop asks again
            logger.error("{}: unusable position {}: {}", self.ctx.symbol, s.qty, exc)
            self._handle(self.core.on_query_failed(now, str(exc)), now)
            return
        self._handle(self.core.on_position(lots, now), now)

    @handles(Panicstop, Resume, Halt, ReduceOnly)
    def _command(self, cmd: Any) -> Any:
        now = self._now()
        logger.warning("{}: {} from {}: {}", self.ctx.symbol, type(cmd).__name__,
                       getattr(cmd, "source", getattr(cmd, "operator", "?")), getattr(cmd, "reason", ""))
        out = self.core.command(cmd, now)
        self._handle(out, now)
        return self.core.report(now)

    @handles(RiskTick)
    def _tick(self, t: RiskTick) -> None:
        now = self._now()
        if not t.periodic:
            self._deadline_ns = None
        self._handle(self.core.tick(now), now, force_report=t.periodic)

    def describe(self) -> dict[str, Any]:
        r = self.core.report(self._now())
        a = r.adaptation
        return {"name": self.name, "trading_state": str(r.trading_state), "quotes_allowed": r.quotes_allowed,
                "causes": list(r.causes), "panic_active": r.panic_active, "daily_pnl": str(r.daily_pnl),
                "net_limit": str(a.net_limit) if a else None, "adapt_factor": a.factor if a else None,
                "adapt_causes": list(a.causes) if a else []}

    # ------------------------------------------------------------------ outputs
    def _handle(self, outs: list[Output], now: int, force_report: bool = False) -> None:
        peers = self.ctx.peers
        for o in outs:
            if isinstance(o, CancelAllOrders | ListOpenOrders | FetchPosition | PlaceFlattenOrder):
                peers.tell("oms", o)
            elif isinstance(o, Notify):
                (logger.critical if o.level == "P0" else logger.warning)("{} [{}] {}: {}", self.ctx.symbol, o.level,
                                                                        o.title, o.body)
                self._record("alert", o.level, {"title": o.title, "body": o.body})
                if self._on_alert is not None:
                    self._on_alert(o)
            elif isinstance(o, RiskTriggered):
                logger.warning("{} risk {} → {}: {}", self.ctx.symbol, o.kind, o.action, o.detail)
                if self.ctx.metrics is not None:
                    self.ctx.metrics.risk_trigger(o.kind)
                if o.kind in (Cause.POSITION_MISMATCH, Cause.POSITION_MISMATCH_HALT) and self._on_alert is not None:
                    # our position and the exchange's disagree: someone must look now (lesson 4's cousin)
                    self._on_alert(Notify("P0", f"{self.ctx.symbol}: position mismatch",
                                          f"{o.detail}; trading {o.action}", now))
                self._record(o.kind, "P1", {"action": str(o.action), "detail": o.detail})
            elif isinstance(o, TradingStateChanged):
                logger.warning("{} trading {} → {}: {}", self.ctx.symbol, o.previous, o.current, o.reason)
                sev = "P0" if o.current == "HALTED" else "P2"
                self._record("trading_state", sev, {"from": str(o.previous), "to": str(o.current),
                                                    "reason": o.reason}, state=str(o.current))
            elif isinstance(o, Resumed):
                self._record("resumed", "P2", {"operator": o.operator, "lifted": list(o.lifted)})
                peers.tell("oms", o)
            elif isinstance(o, PanicstopFinished):
                (logger.info if o.ok else logger.critical)("{} panicstop finished: {}", self.ctx.symbol, o.detail)
                self._record("panicstop_finished", "P0" if not o.ok else "P1",
                             {"ok": o.ok, "no_orders": o.confirmed_no_orders, "residual_lots": o.residual_lots,
                              "detail": o.detail})
            elif isinstance(o, PanicstopAdvanced):
                logger.warning("{} panicstop: {} {}", self.ctx.symbol, o.phase, o.detail)
            elif isinstance(o, RiskCleared | CommandRefused):
                logger.info("{} risk: {}", self.ctx.symbol, o)
        if outs or force_report:
            self._publish_report(now)
        self._arm()

    def _publish_report(self, now: int) -> None:
        r = self.core.report(now)
        changed = self.last_report is None or _significant(self.last_report) != _significant(r)
        before = self.last_report.adaptation if self.last_report is not None else None
        if r.adaptation is not None and (before is None or before.causes != r.adaptation.causes):
            a = r.adaptation
            logger.info("{} adaptive net limit {} ({:.0%} of max_inventory): {}", self.ctx.symbol, a.net_limit,
                        a.factor, ", ".join(a.causes) or "recovering / normal")
            if before is not None:
                self._record("adaptive_limit", "P2", {"net_limit": str(a.net_limit), "factor": round(a.factor, 4),
                                                      "causes": list(a.causes)})
        self.last_report = r
        self.ctx.peers.tell("oms", r)
        self.ctx.peers.tell("strategy", r)
        m = self.ctx.metrics
        if m is not None:
            m.set_trading_state(r.trading_state.value)
            m.set_daily_pnl(r.daily_pnl)
            if r.adaptation is not None:
                m.set_adaptive_netmax(r.adaptation.net_limit)
        self.ctx.notice(r)  # the P1 daily-loss warning
        if changed:
            logger.debug("{} risk state: {}", self.ctx.symbol, r)

    def _arm(self) -> None:
        d = self.core.next_deadline_ns()
        if d is None or (self._deadline_ns is not None and self._deadline_ns <= d):
            return
        self._deadline_ns = d
        self.ctx.timers.tell_later(max(0.0, (d - self._now()) / 1e9), self.actor_ref, RiskTick())

    def _unique_ns(self) -> int:
        """Risk events are unique per (symbol, kind, time): two in the same nanosecond must not collapse."""
        self._event_ns = max(self._now(), self._event_ns + 1)
        return self._event_ns

    def _record(self, kind: str, severity: str, detail: dict[str, Any], state: str = "") -> None:
        if self.store is None:
            return
        try:
            self.store.record_risk_event(kind, venue=self.ctx.venue, symbol=self.ctx.symbol, severity=severity,
                                         state=state or str(self.core.monitor.state), detail=detail,
                                         run_id=self.ctx.run_id, at_ns=self._unique_ns())
        except Exception as exc:  # the record must never stop a risk decision
            logger.error("{}: could not record risk event {}: {}", self.ctx.symbol, kind, exc)


def _significant(r: RiskState) -> tuple[Any, ...]:
    return (r.trading_state, r.quotes_allowed, r.market_stale, r.streams_down, r.causes, r.panic_active)

