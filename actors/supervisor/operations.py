"""The engine's operator-facing services beside the symbol trees: apprise alerts (and the P1 rules that
raise them), Prometheus metrics and their exporter, and the daily report.

None of it may block or fail trading: alerts are told to the notifier actor (its deliveries run on threads
of their own), the rules are a few dict operations under a lock, metrics are prometheus-client's
thread-safe counters, and the report is built on a thread of its own once a day.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pykka
from loguru import logger

from actors.clock import Clock
from actors.gateway.events import StreamConnected, StreamDisconnected, StreamStalled
from actors.metrics.exporter import MetricsExporter, start_exporter
from actors.metrics.registry import AccountMetrics, Metrics
from actors.notifier.actor import NotifierActor
from actors.notifier.messages import NotifyWithFiles
from actors.notifier.rules import AlertRules
from actors.notifier.targets import Targets, resolve_targets
from actors.oms.messages import OrderRejected
from actors.risk.messages import Notify, RiskState
from actors.settings import Settings, SettingsError
from actors.supervisor.messages import ChildRestarted
from actors.timers import Timers

_DAY_NS = 86_400_000_000_000
EQUITY_EVERY_S = 30.0  # GET /fapi/v2/account: weight 5, about 0.3 % of the minute's budget


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parents[2])
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


class Operations:
    def __init__(self, settings: Settings, clock: Clock, timers: Timers, venue: str) -> None:
        self.settings = settings
        self.clock = clock
        self.timers = timers
        try:  # a bad alert URL is a configuration error: nothing starts (the message never quotes the URL)
            self.targets: Targets = resolve_targets(settings.alerts)
        except ValueError as exc:
            raise SettingsError(f"{settings.source}: [alerts]: {exc}") from None
        self.metrics = Metrics(clock, ws_lag_sample_every=settings.metrics.ws_lag_sample_every, commit=_commit())
        self.account: AccountMetrics = self.metrics.account(venue)
        self.rules = AlertRules(settings.alerts)
        self._rules_lock = threading.Lock()
        self.notifier: pykka.ActorRef | None = None
        self.exporter: MetricsExporter | None = None
        self._next_rules_tick = 0
        self._report_thread: threading.Thread | None = None
        self._next_report_ns = 0
        self._stopping = threading.Event()
        self._equity_thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self, first_run_ns: int | None = None) -> None:
        """``first_run_ns``: when the database's first run started (a report is only owed for days after)."""
        self.notifier = NotifierActor.start(self.settings.alerts, self.targets, self.clock, self.timers)
        self.exporter = start_exporter(self.settings.metrics, self.metrics)  # OSError (port taken): no start
        self._next_report_ns = self._first_report_ns(first_run_ns)

    def watch_equity(self, account: Callable[[], Any], every_s: float = EQUITY_EVERY_S) -> None:
        """The account's equity (wallet balance + unrealized PnL per asset) for the metric, polled on a thread
        of its own: a REST call can take seconds, which no actor and not the root loop may wait for."""
        def poll() -> None:
            while not self._stopping.wait(every_s):
                try:
                    snap = account()
                except Exception as exc:  # a metric: log it, try again next time
                    logger.debug("equity poll failed: {}", exc)
                    continue
                for b in snap.balances:
                    upnl = sum((p.unrealized_pnl for p in snap.positions if p.symbol.endswith(b.asset)), Decimal(0))
                    self.account.set_equity(b.asset, b.wallet_balance + upnl)

        self._equity_thread = threading.Thread(target=poll, name="equity", daemon=True)
        self._equity_thread.start()

    def stop(self) -> None:
        """After the last alerts of the shutdown: the notifier flushes what it still holds, then stops."""
        self._stopping.set()
        if self.notifier is not None:
            with contextlib.suppress(pykka.ActorDeadError, pykka.Timeout):
                self.notifier.stop(timeout=self.settings.alerts.timeout_s + 5)
        if self.exporter is not None:
            self.exporter.stop()
        t = self._report_thread
        if t is not None:
            t.join(30)

    # ------------------------------------------------------------------ alerts
    def notify(self, n: Notify | NotifyWithFiles) -> None:
        if self.notifier is not None:
            with contextlib.suppress(pykka.ActorDeadError):
                self.notifier.tell(n)

    def observe(self, symbol: str, ev: Any) -> list[Notify]:
        """An engine event the P1 rules watch (called on actor threads)."""
        with self._rules_lock:
            if isinstance(ev, StreamConnected | StreamDisconnected | StreamStalled):
                return self.rules.on_stream(symbol, ev)
            if isinstance(ev, OrderRejected):
                return self.rules.on_reject(symbol, ev, self.clock.time_ns())
            if isinstance(ev, RiskState):
                return self.rules.on_risk_state(ev, Decimal(str(self.settings.risk.max_daily_loss)))
            if isinstance(ev, ChildRestarted):
                return self.rules.on_restart(ev)
        return []

    def tick(self, now_mono_ns: int) -> list[Notify]:
        """From the root loop: the rules' timers (a stream down too long) once a second, and the daily
        report when it is due."""
        if now_mono_ns < self._next_rules_tick:
            return []
        self._next_rules_tick = now_mono_ns + 1_000_000_000
        now = self.clock.time_ns()
        if self.settings.report.enabled and now >= self._next_report_ns and self._report_thread is None:
            self._start_report(now)
        with self._rules_lock:
            return self.rules.tick(now)

    # ------------------------------------------------------------------ the daily report
    def _first_report_ns(self, first_run_ns: int | None) -> int:
        """Yesterday's report is due at once if the engine traded yesterday and it was never written (the
        engine was down at its time), else at the next midnight (UTC) plus the settling delay."""
        now = self.clock.time_ns()
        after = int(self.settings.report.after_midnight_s * 1e9)
        midnight = now - now % _DAY_NS
        yesterday = datetime.fromtimestamp(midnight / 1e9, UTC).date() - timedelta(days=1)
        traded = first_run_ns is not None and first_run_ns < midnight
        if traded and now >= midnight + after and not self._report_path(yesterday).exists():
            return now
        return midnight + after + (_DAY_NS if now >= midnight + after else 0)

    def _report_path(self, day: date) -> Path:
        return Path(self.settings.report.out_dir) / f"report-{day.isoformat()}.md"

    def _start_report(self, now: int) -> None:
        day = datetime.fromtimestamp(now / 1e9, UTC).date() - timedelta(days=1)
        midnight = now - now % _DAY_NS
        self._next_report_ns = midnight + _DAY_NS + int(self.settings.report.after_midnight_s * 1e9)
        self._report_thread = threading.Thread(target=self._report, args=(day,), name="daily-report", daemon=True)
        self._report_thread.start()

    def _report(self, day: date) -> None:
        try:
            from tools.report import build_daily_report  # numpy and the PNG writer: loaded when first needed

            rep = build_daily_report(Path(self.settings.store.path), day, Path(self.settings.report.out_dir),
                                     settings=self.settings.report, clock=self.clock)
            self.notify(NotifyWithFiles("P2", f"daily report {day.isoformat()}", rep.summary, self.clock.time_ns(),
                                        attach=tuple(str(p) for p in rep.attachments)))
            logger.info("daily report {} written: {}", day, rep.markdown_path)
        except Exception as exc:  # the report is for people: it must never hurt trading
            logger.error("daily report {} failed: {}", day, exc)
            self.notify(Notify("P1", f"daily report {day.isoformat()} failed", str(exc)[:300], self.clock.time_ns()))
        finally:
            self._report_thread = None
