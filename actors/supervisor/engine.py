"""The root of the engine: one supervised tree per symbol (``one_for_one`` across symbols), the shared
account resources, start-up and an orderly shutdown.

Per symbol, ``SymbolTree`` builds gateway → book → risk → oms → strategy → analyzer under a
``SupervisorActor`` (``rest_for_one``). A tree that exceeds its restart intensity panicstops: it cancels
every order of its symbol over REST directly (its own children are what is failing), confirms none is left,
records a P0 risk event and alerts; then the root restarts it. Past the root's own intensity everything is
panicstopped and ``run`` returns non-zero, so systemd restarts the process.
"""

from __future__ import annotations

import queue
import sqlite3
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pykka
from loguru import logger

from actors.analyzer.actor import AnalyzerActor
from actors.base import Inspect, Peers
from actors.book.actor import BookActor
from actors.clock import Clock, WallClock
from actors.config.messages import SettingsChanged
from actors.config.service import Applied, ConfigService, Rejected
from actors.config.watcher import ConfigWatcher, ReloadRequest
from actors.context import SymbolContext
from actors.gateway.actor import GatewayActor
from actors.gateway.binance.errors import BinanceError, OrderNotFoundError
from actors.gateway.binance.rest import BinanceRest
from actors.gateway.events import OrderReport, OrderStatus
from actors.gateway.latency import TickToOrder
from actors.instrument import Instrument
from actors.oms.actor import OmsActor
from actors.oms.ids import next_run_id
from actors.risk.actor import RiskActor
from actors.risk.messages import CancelAllOrders, Notify
from actors.risk.params import Limits as RiskLimits
from actors.settings import Credentials, Settings, SettingsError
from actors.store.models import LocalStatus
from actors.store.store import Store
from actors.strategy.actor import StrategyActor
from actors.supervisor.actor import StartTree, SupervisorActor
from actors.supervisor.lock import InstanceLock
from actors.supervisor.messages import ChildRestarted, TreeGaveUp
from actors.supervisor.operations import Operations
from actors.supervisor.sdnotify import Liveness, Notifier, WatchdogGate
from actors.supervisor.tree import SYMBOL_CHILDREN, RestartIntensity, Strategy, TreeSpec
from actors.timers import Timers

EXIT_OK = 0
EXIT_ESCALATED = 1  # the root gave up: systemd restarts the process
CHECKPOINT_EVERY_NS = 10_000_000_000
PLACEMENT_DRAIN_S = 25.0  # > the REST client's whole budget for one call (max_total_s, 20 s)


@dataclass
class EngineStats:
    tree_restarts: dict[str, int] = field(default_factory=dict)
    trees_gave_up: list[TreeGaveUp] = field(default_factory=list)
    child_restarts: list[ChildRestarted] = field(default_factory=list)


def _max_abs_position(fills: list[Any], run_id: str) -> Decimal:
    """The largest |position| right after any of this run's fills (the stored fills, oldest first, replayed
    from flat: the database holds every fill the account ever made on the symbol)."""
    pos, peak = Decimal(0), Decimal(0)
    for f in sorted(fills, key=lambda f: (f.trade_ms, f.trade_id)):
        pos += f.qty if f.side == "BUY" else -f.qty
        if f.run_id == run_id:
            peak = max(peak, abs(pos))
    return peak


class SymbolTree:
    def __init__(self, engine: Engine, symbol: str, instrument: Instrument) -> None:
        self.engine = engine
        self.symbol = symbol
        self.peers = Peers()
        s = engine.settings
        self.ctx = SymbolContext(symbol, s.exchange.venue, instrument, engine.clock, engine.timers, self.peers, s,
                                 engine.rest, engine.ws_url, engine.run_id, engine.latency,
                                 metrics=engine.ops.metrics.symbol(symbol, s.exchange.venue),
                                 observe=lambda ev: engine.observe(symbol, ev))
        self.spec = TreeSpec(symbol, SYMBOL_CHILDREN, Strategy.REST_FOR_ONE, s.supervision.max_restarts,
                             s.supervision.within_s)
        self.sup: pykka.ActorRef | None = None

    def factories(self) -> dict[str, Callable[[Any], pykka.ActorRef]]:
        # ``self.ctx`` is read at each (re)start: an actor restarted after a hot reload gets the new settings
        alert = self.engine.alert
        return {
            "gateway": lambda f: GatewayActor.start(self.ctx, f),
            "book": lambda f: BookActor.start(self.ctx, f),
            "risk": lambda f: RiskActor.start(self.ctx, f, on_alert=alert),
            "oms": lambda f: OmsActor.start(self.ctx, f),
            "strategy": lambda f: StrategyActor.start(self.ctx, f),
            "analyzer": lambda f: AnalyzerActor.start(self.ctx, f),
        }

    def apply(self, m: SettingsChanged) -> None:
        """A hot reload, per symbol: one message to each actor, which swaps all its parameters at once."""
        self.ctx = replace(self.ctx, settings=m.settings)
        for name in ("risk", "oms", "book", "strategy"):  # the limits first, then the signals and quotes under them
            self.peers.tell(name, m)

    def start(self) -> bool:
        sv = self.engine.settings.supervision
        self.sup = SupervisorActor.start(
            self.spec, self.factories(), self.peers, self.engine.clock, self.engine.timers,
            on_gave_up=self.engine.tree_gave_up, on_restarted=self.engine.child_restarted, give_up=self.panicstop,
            heartbeat_s=sv.heartbeat_s, heartbeat_timeout_s=sv.heartbeat_timeout_s, on_failed=self._supervisor_failed,
            on_alive=self.engine.liveness.proved)
        ok = bool(self.sup.ask(StartTree(), timeout=60))
        self.engine.liveness.watch(self.symbol, self.engine.clock.monotonic_ns())  # from now on: prove alive
        return ok

    def panicstop(self, reason: str, final: bool = True) -> bool:
        """Cancel every order of the symbol over REST and confirm none is left (the tree's own actors may be
        what is broken, so nothing here goes through them). The symbol is recorded HALTED: a restarted tree
        starts halted and trades again only when an operator resumes it. ``final``: alert and record."""
        left: list[Any] = [None]
        try:
            left = self.engine.rest.cancel_all(self.symbol, confirm_rounds=5)
        except (BinanceError, ValueError) as exc:  # ValueError: a reply we could not read
            logger.critical("{} panicstop: cancel-all failed: {}", self.symbol, exc)
        finally:
            ok = not left
            if final or not ok:
                state = "no order left open" if ok else "orders may still be open!"
                self.engine.alert(Notify("P0", f"{self.symbol} panicstop", f"{reason}; {state}",
                                         self.engine.clock.time_ns()))
            if final:
                self.engine.record_risk_event(self.symbol, "panicstop_tree", {"reason": reason, "confirmed": ok},
                                              state="HALTED")
        return ok

    def _supervisor_failed(self, _urn: str, exc: BaseException) -> None:
        """The tree's own supervisor crashed: nobody manages its children now. Escalate like a give-up."""
        self.engine.tree_gave_up(TreeGaveUp(self.symbol, f"supervisor crashed: {exc}", self.engine.clock.time_ns()))

    def inspect(self, names: tuple[str, ...] = SYMBOL_CHILDREN) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in names:
            ref = self.peers.get(name)
            if ref is None:
                out[name] = None
                continue
            try:
                out[name] = ref.ask(Inspect(), timeout=3)
            except (pykka.Timeout, pykka.ActorDeadError):
                out[name] = None
        return out

    def stop(self) -> None:
        if self.sup is not None and self.sup.is_alive():
            try:
                self.sup.stop(timeout=30)
            except pykka.Timeout:
                logger.error("{}: tree did not stop in time", self.symbol)


class Engine:
    def __init__(self, settings: Settings, symbols: list[str], rest_url: str, ws_url: str, creds: Credentials,
                 *, clock: Clock | None = None, on_alert: Callable[[Notify], None] | None = None,
                 notifier: Notifier | None = None, config_path: str | Path | None = None,
                 reload_request: ReloadRequest | None = None) -> None:
        """``config_path``: the settings file to hot-reload (on a content change, or ``reload_request``:
        SIGHUP); ``None``: settings built in code, nothing to reload."""
        self.settings = settings
        self.symbols = symbols
        self.ws_url = ws_url
        self.clock = clock or WallClock()
        self.timers = Timers(self.clock)
        self.run_id = f"run-{next_run_id(self.clock.time_ns())}"
        self._creds = creds
        self._on_alert = on_alert
        self.notifier = notifier if notifier is not None else Notifier(None)  # None: not under systemd
        self.liveness = Liveness(int(settings.systemd.proof_max_age_s * 1e9))
        self.watchdog = WatchdogGate(self.notifier)
        ex = settings.exchange
        self.ops = Operations(settings, self.clock, self.timers, ex.venue)  # alerts, metrics, daily report
        self.latency = TickToOrder(self.clock)
        self.rest = BinanceRest(rest_url, creds.api_key, creds.api_secret, clock=self.clock, stp_mode=ex.stp_mode,
                                recv_window_ms=ex.recv_window_ms, rate_safety=ex.rate_limit_safety,
                                pre_send=self.latency.pre_send, on_request=self.ops.account.rest_request)
        self.ops.account.track_rate_budget(self.rest.budget_snapshot)
        self.ops.account.track_clock_offset(lambda: self.rest.time_offset_ms)
        self.store: Store | None = None
        self.trees: dict[str, SymbolTree] = {}
        self.locks: list[InstanceLock] = []
        self.stats = EngineStats()
        self._events: queue.Queue[TreeGaveUp] = queue.Queue()
        self._store_lock = threading.Lock()
        self._summary: dict[str, Any] | None = None  # set by shutdown
        self._config_path = config_path
        self._watcher = ConfigWatcher(config_path) if config_path is not None else None
        self._reload_request = reload_request
        self.config: ConfigService | None = None
        self._settings_msg: SettingsChanged | None = None  # the last hot reload, re-told to restarted actors
        self._next_config_check = 0
        self.root_intensity = RestartIntensity(settings.supervision.root_max_restarts,
                                               settings.supervision.root_within_s)

    # ------------------------------------------------------------------ start
    def start(self, resume: list[str] | tuple[str, ...] = ()) -> None:
        """Locks, store, exchange info, then every symbol's tree. Raises before trading if any of it fails.
        ``resume``: symbols an operator resumes from the halt they were left in (recorded and audited)."""
        # A thread woken by a message waits for the GIL up to the switch interval (5 ms by default) while
        # another thread computes: every actor hop would pay it. 0.2 ms keeps hand-offs prompt.
        sys.setswitchinterval(self.settings.engine.switch_interval_ms / 1000)
        for sym in self.symbols:
            lock = InstanceLock(self.settings.engine.state_dir, self.settings.exchange.venue, self._creds.api_key, sym)
            lock.acquire()  # InstanceLocked: a second instance refuses to start
            self.locks.append(lock)
        self.store = Store.open(self.settings.store.path, clock=self.clock)
        self.store.start_run(self.run_id, symbols=self.symbols)
        if self._config_path is not None:  # the version the engine starts with (refuses to start unrecorded)
            self.config = ConfigService(self._config_path, self.settings, self.clock, self.settings.store.path,
                                        run_id=self.run_id, checks=(self._check_settings,))
            started = self.config.record_start()
            self.ops.metrics.set_config_version(started.version)
            logger.info("{}", started.text)
        runs = self.store.runs()
        self.ops.start(first_run_ns=min((r.started_ns for r in runs), default=None))
        self.ops.watch_equity(self.rest.account)
        for sym in resume:
            self.store.record_audit("operator", "resume", {"symbol": sym, "run_id": self.run_id})
            self.store.record_risk_event("operator_resume", venue=self.settings.exchange.venue, symbol=sym,
                                         severity="P1", state="ACTIVE", detail={"by": "operator at start"},
                                         run_id=self.run_id)
            logger.warning("{}: resumed by the operator at start", sym)
        self.rest.sync_time()
        info = self.rest.exchange_info()
        missing = [s for s in self.symbols if s not in info.instruments]
        if missing:
            raise ValueError(f"not listed on the exchange: {', '.join(missing)}")
        for sym in self.symbols:
            tree = SymbolTree(self, sym, info.instrument(sym))
            self.trees[sym] = tree
            if not tree.start():
                logger.error("{}: tree could not start", sym)
        self.notifier.ready(f"trading {', '.join(self.symbols)} (run {self.run_id})")
        logger.info("engine {} trading {} ({} restarts per {:g}s per symbol)", self.run_id, ", ".join(self.symbols),
                    self.settings.supervision.max_restarts, self.settings.supervision.within_s)

    # ------------------------------------------------------------------ supervision callbacks
    def tree_gave_up(self, ev: TreeGaveUp) -> None:
        self._events.put(ev)

    def child_restarted(self, ev: ChildRestarted) -> None:
        self.stats.child_restarts.append(ev)
        tree = self.trees.get(ev.tree)
        if tree is not None:
            for child in ev.children:
                tree.ctx.metrics.actor_restarted(child)
            if self._settings_msg is not None:  # a child rebuilt while a reload was applied may hold the old one
                tree.apply(self._settings_msg)
        self.observe(ev.tree, ev)

    def observe(self, symbol: str, ev: object) -> None:
        """An event the P1 alert rules watch (stream state, rejects, risk state, restarts)."""
        for n in self.ops.observe(symbol, ev):
            self.alert(n)

    # ------------------------------------------------------------------ hot reload
    def _maybe_reload(self) -> None:
        if self.config is None:
            return
        by = "sighup" if self._reload_request is not None and self._reload_request.consume() else ""
        if self._watcher is not None and self._watcher.changed():
            by = by or "file change"
        if not by:
            return
        res = self.config.reload(by)
        if isinstance(res, Applied):
            self.settings = self.ops.settings = res.settings
            msg = self._settings_msg = res.message()
            for tree in self.trees.values():
                tree.apply(msg)
            self.ops.metrics.set_config_version(res.version)
            self.ops.metrics.config_reload(True)
            logger.warning("{}", res.text)
            self.alert(Notify("P2", f"config v{res.version} applied", res.text, self.clock.time_ns()))
        elif isinstance(res, Rejected):
            self.ops.metrics.config_reload(False)
            self.alert(Notify("P1", "config reload rejected", res.text, self.clock.time_ns()))

    def _check_settings(self, s: Settings) -> None:
        """A configuration every tree can take, or none gets it: each symbol's limits must be buildable."""
        for tree in self.trees.values():
            try:
                RiskLimits.from_params(s.risk, tree.ctx.instrument)
            except ValueError as exc:
                raise SettingsError(f"{s.source}: [risk] for {tree.symbol}: {exc}") from None

    def _checkpoint(self) -> None:
        """Move the WAL into the database here, off every actor's thread: the OMS's connection never
        checkpoints (a checkpoint fsyncs, milliseconds, which must not land between a tick and its order)."""
        if self.store is None:
            return
        try:
            with self._store_lock:
                self.store.checkpoint()
        except sqlite3.Error as exc:
            logger.warning("WAL checkpoint failed: {}", exc)

    def alert(self, n: Notify) -> None:
        (logger.critical if n.level == "P0" else logger.warning)("ALERT {} {}: {}", n.level, n.title, n.body)
        self.ops.notify(n)
        if self._on_alert is not None:
            try:
                self._on_alert(n)
            except Exception as exc:  # an alert channel must never take trading down
                logger.error("alert delivery failed: {}", exc)

    def record_risk_event(self, symbol: str, kind: str, detail: dict[str, Any], state: str = "") -> None:
        if self.store is None:
            return
        with self._store_lock:
            try:
                self.store.record_risk_event(kind, venue=self.settings.exchange.venue, symbol=symbol, severity="P0",
                                             state=state, detail=detail, run_id=self.run_id)
            except Exception as exc:
                logger.error("could not record {}: {}", kind, exc)

    # ------------------------------------------------------------------ the root loop
    def run(self, stop: threading.Event, duration_s: float = 0.0) -> int:
        """Until ``stop`` is set or ``duration_s`` passes; restarts trees that gave up (one_for_one)."""
        deadline = self.clock.monotonic_ns() + int(duration_s * 1e9) if duration_s else None
        next_checkpoint = self.clock.monotonic_ns() + CHECKPOINT_EVERY_NS
        while not stop.is_set():
            now = self.clock.monotonic_ns()
            if deadline is not None and now >= deadline:
                break
            silent = self.liveness.silent(now)
            self.watchdog.beat(now, not silent, f"no heartbeat round from {', '.join(silent)}")
            if now >= next_checkpoint:
                next_checkpoint = now + CHECKPOINT_EVERY_NS
                self._checkpoint()
            self._stage("the alert rules' tick", lambda now=now: [self.alert(n) for n in self.ops.tick(now)])
            if now >= self._next_config_check:
                self._next_config_check = now + 1_000_000_000
                self._stage("a config reload", self._maybe_reload)  # a failure keeps the running config
            try:
                ev = self._events.get(timeout=0.1)
            except queue.Empty:
                continue
            self.stats.trees_gave_up.append(ev)
            if self.root_intensity.record(self.clock.monotonic_ns()):
                logger.critical("root: {} symbol trees gave up within {:g}s: panicstop everything, exit",
                                self.root_intensity.recent, self.settings.supervision.root_within_s)
                for tree in self.trees.values():
                    tree.panicstop("root escalation")
                self.alert(Notify("P0", "engine escalation", "too many symbol trees gave up: the process exits "
                                  "(systemd restarts it)", self.clock.time_ns()))
                return EXIT_ESCALATED
            tree = self.trees[ev.tree]
            now = self.clock.monotonic_ns()
            silent = [s for s in self.liveness.silent(now) if s != ev.tree]
            # the restart blocks this loop (stop, exchangeInfo, start): it gets the whole WatchdogSec
            self.watchdog.beat(now, not silent, f"no heartbeat round from {', '.join(silent)}", force=True)
            tree.stop()
            self.watchdog.beat(self.clock.monotonic_ns(), not silent, "restarting a tree", force=True)
            tree.ctx.metrics.tree_restarted()
            self.stats.tree_restarts[ev.tree] = self.stats.tree_restarts.get(ev.tree, 0) + 1
            logger.warning("root: restarting the {} tree after it gave up ({})", ev.tree, ev.reason)
            try:  # the filters may have changed (a tick size) and be why it kept failing
                instrument = self.rest.exchange_info().instrument(ev.tree)
            except (BinanceError, ValueError) as exc:
                logger.error("root: exchangeInfo failed ({}); restarting {} with the instrument it had", exc, ev.tree)
                instrument = tree.ctx.instrument
            self.watchdog.beat(self.clock.monotonic_ns(), not silent, "restarting a tree", force=True)
            fresh = SymbolTree(self, ev.tree, instrument)
            self.trees[ev.tree] = fresh
            fresh.start()
        return EXIT_OK

    # ------------------------------------------------------------------ shutdown
    def shutdown(self, reason: str = "shutdown") -> dict[str, Any]:
        """Cancel all, confirm, flush, stop. Every OMS goes HALTED (it places nothing more, cancels everything
        and anything acknowledged later); once the trees are stopped and the last placement on the wire has
        finished, what is still open is cancelled over REST directly and confirmed, and the database settled.
        Each stage is guarded: a failing one is logged and the rest still runs (the notifier still flushes
        the P0 just raised, the locks are still released). Once only: a second call returns the summary."""
        if self._summary is not None:
            return self._summary
        summary: dict[str, Any] = {"run_id": self.run_id, "symbols": {}, "tick_to_order": self.latency.summary(),
                                   "child_restarts": len(self.stats.child_restarts),
                                   "trees_gave_up": len(self.stats.trees_gave_up)}
        try:
            self.notifier.stopping(f"stopping ({reason}): cancelling every order")
            self._stage("shutdown: stop the trees", self._stop_trees)
            mine = [s for s in self.symbols if s in self.trees]  # never touch a symbol another instance holds
            for sym in mine:
                summary["symbols"][sym] = {"open_orders": 1}  # until proven otherwise
                self._stage(f"{sym}: final cancel-all", lambda sym=sym: self._final_cancel(sym, summary))
            if self.store is not None:
                for sym in mine:
                    self._stage(f"{sym}: settle the database", lambda sym=sym: self._settle(sym, summary))
                self._stage("record the run", lambda: self._record_end(reason, mine, summary))
        finally:
            self._summary = summary
            for name, fn in (("store", self._close_store), ("operations", self.ops.stop),
                             ("config", self.config.close if self.config is not None else lambda: None),
                             ("timers", self.timers.stop), ("rest", self.rest.close)):
                self._stage(f"close the {name}", fn)
            for lock in self.locks:
                self._stage("release a lock", lock.release)
        return summary

    @staticmethod
    def _stage(what: str, fn: Callable[[], object]) -> None:
        try:
            fn()
        except Exception as exc:
            logger.opt(exception=exc).error("{} failed: {}", what, exc)

    def _stop_trees(self) -> None:
        for tree in self.trees.values():
            tree.peers.tell("oms", CancelAllOrders(tree.symbol, 0, self.clock.time_ns()))
        end = self.clock.monotonic_ns() + 5_000_000_000
        for tree in self.trees.values():
            while self.clock.monotonic_ns() < end and tree.sup is not None and tree.sup.is_alive():
                oms = tree.inspect(("oms",)).get("oms")
                if oms is not None and not oms.get("live"):
                    break  # (no answer is not "nothing live": a busy OMS is still working through acks)
                threading.Event().wait(0.1)
        for tree in self.trees.values():
            tree.stop()
        for tree in self.trees.values():  # a placement a stopped gateway left on the wire lands before the end
            if not tree.ctx.lanes.wait_idle("orders", PLACEMENT_DRAIN_S):
                logger.error("{}: a placement is still in flight after {:g}s; the final cancel-all goes anyway",
                             tree.symbol, PLACEMENT_DRAIN_S)

    def _final_cancel(self, sym: str, summary: dict[str, Any]) -> None:
        try:
            left = self.rest.cancel_all(sym, confirm_rounds=5)
            pos = self.rest.position_risk(sym)
        except (BinanceError, ValueError) as exc:
            logger.error("{}: final cancel-all/position failed: {}", sym, exc)
            left, pos = [None], []
        if left:
            self.alert(Notify("P0", f"{sym}: orders may be open after shutdown",
                              f"the final cancel-all could not confirm that nothing is open ({len(left)})",
                              self.clock.time_ns()))
        summary["symbols"][sym] = {"open_orders": len(left),
                                   "position": str(sum((p.qty for p in pos if p.symbol == sym), 0)),
                                   "unrealized_pnl": str(sum((p.unrealized_pnl for p in pos if p.symbol == sym), 0))}

    def _record_end(self, reason: str, mine: list[str], summary: dict[str, Any]) -> None:
        assert self.store is not None
        self.store.end_run(self.run_id, reason=reason)
        for sym in mine:
            rows = self.store.fills(symbol=sym)
            realized = sum((f.realized_pnl for f in rows), 0)
            fees = sum((f.commission for f in rows if f.commission_asset == self.trees[sym].ctx.instrument
                        .quote_asset), 0)
            run_rows = [f for f in rows if f.run_id == self.run_id]
            summary["symbols"][sym].update({"fills_this_run": len(run_rows), "fills_total": len(rows),
                                            "realized_pnl": str(realized), "fees": str(fees),
                                            "net_pnl": str(realized - fees),
                                            "max_abs_position_this_run": str(_max_abs_position(rows, self.run_id)),
                                            "markouts_this_run": self._run_markouts(sym)})

    def _run_markouts(self, sym: str) -> dict[str, dict[str, float]]:
        """Per horizon: this run's fills marked out, their mean (bps, positive: good for us), adverse rate."""
        assert self.store is not None
        out: dict[str, dict[str, float]] = {}
        for r in self.store.query("SELECT horizon_ms, count(*) AS n, avg(bps) AS mean, avg(bps < 0) AS adverse "
                                  "FROM markouts WHERE symbol = ? AND run_id = ? GROUP BY horizon_ms ORDER BY 1",
                                  (sym, self.run_id)):
            out[f"{r['horizon_ms'] // 1000}s"] = {"fills": r["n"], "mean_bps": round(r["mean"], 3),
                                                  "adverse_rate": round(r["adverse"], 3)}
        return out

    def _close_store(self) -> None:
        if self.store is not None:
            try:
                self.store.checkpoint("TRUNCATE")
            finally:
                self.store.close()

    def _settle(self, sym: str, summary: dict[str, Any]) -> None:
        """After the final cancel-all: bring the database up to what the exchange says for orders the stopped
        OMS did not hear the end of (an ack, cancel or fill in flight as it stopped). The next start's
        reconciliation would repair them too; doing it here leaves a database that is true as the run ends.
        An order still live here (a placement that landed after the cancel-all) is cancelled, confirmed,
        counted in the summary and paged: nothing is left resting unmanaged."""
        assert self.store is not None
        venue = self.trees[sym].ctx.venue
        rows = self.store.open_orders(sym, venue=venue)
        if not rows:
            return
        by_exchange_id: dict[int, str] = {}
        try:
            for row in rows:
                try:
                    report = self.rest.get_order(sym, client_order_id=row.client_order_id)
                except OrderNotFoundError:
                    self.store.record_order_event(row.client_order_id, LocalStatus.NOT_FOUND, source="shutdown",
                                                  reason="not on the exchange at shutdown", run_id=self.run_id)
                    continue
                by_exchange_id[report.order_id] = row.client_order_id
                if report.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
                    report = self._cancel_late(sym, row.client_order_id, report, summary)
                self.store.record_order_report(report, source="shutdown", run_id=self.run_id)
            last = self.store.last_trade_id(venue, sym)
            since = min(r.created_ns for r in rows) // 1_000_000 - 60_000
            # with an overlap: trade ids of different orders interleave; a fill recorded twice is one row
            fills = (self.rest.user_trades(sym, from_id=max(last - 100, 0)) if last is not None
                     else self.rest.user_trades(sym, start_time_ms=since))
            for f in fills:
                cid = f.client_order_id or by_exchange_id.get(f.order_id) or self.store.client_id_of(
                    venue, sym, f.order_id)
                self.store.record_fill(replace(f, client_order_id=cid or ""), run_id=self.run_id)
        except (BinanceError, ValueError) as exc:
            logger.warning("{}: could not settle {} open orders in the database at shutdown ({}); the next start"
                           " reconciles them", sym, len(rows), exc)
            return
        logger.info("{}: settled {} orders left open in the database at shutdown", sym, len(rows))

    def _cancel_late(self, sym: str, cid: str, report: OrderReport, summary: dict[str, Any]) -> OrderReport:
        try:
            report = self.rest.cancel_order(sym, client_order_id=cid)
            left = 0
        except BinanceError as exc:
            logger.error("{}: {} is open after the final cancel-all and its cancel failed: {}", sym, cid, exc)
            left = 1
        summary["symbols"][sym]["open_orders"] = summary["symbols"][sym].get("open_orders", 0) + left
        self.alert(Notify("P0", f"{sym}: an order was open after the final cancel-all",
                          f"{cid} landed after the cancel-all; " + ("cancelled now" if not left else
                                                                    "its cancel FAILED: check the exchange"),
                          self.clock.time_ns()))
        return report

