"""``Store``: one SQLite connection with typed, idempotent writes and the readers the query tool needs.

Durability: WAL with ``synchronous=NORMAL``. A commit is in the WAL file (the OS page cache) when the call
returns, so it survives the process being killed at any point (kill -9, OOM, a crash); only a power loss or
kernel crash can take the last few commits, which is the failure ``synchronous="FULL"`` (an fsync per commit,
milliseconds) defends against. Every write is keyed by a natural key and applied with INSERT OR IGNORE, so
re-applying what the exchange tells us again after a crash changes nothing.

Speed: the hot writes (``record_order_intent``, ``record_fill``) are single plain ``sqlite3`` statements from
the connection's statement cache in autocommit mode, tens of microseconds; sqlite-utils, which builds and
introspects per call, is used for the schema only (see schema.py). Writes that read first run under
``BEGIN IMMEDIATE``, so two writers queue on the busy timeout instead of failing with "database is locked".

Threads: a Store is owned by one thread at a time (it may be opened on another and handed over); each actor
that writes opens its own Store, and SQLite serialises their writes.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from actors.clock import Clock, WallClock
from actors.gateway.events import Fill, OrderReport, Side
from actors.store import schema
from actors.store.codec import Num, dec, dec_key, dec_opt, iso_ms, iso_ns, to_json
from actors.store.lifecycle import supersedes
from actors.store.models import (
    ALL_STATUSES,
    AuditRow,
    ConfigVersionRow,
    FillRow,
    IncomeRow,
    InventoryRow,
    LocalStatus,
    OrderEventRow,
    OrderRow,
    PnlSnapshotRow,
    RiskEventRow,
    RunRow,
    columns,
    from_row,
)


class MarkoutLike(Protocol):
    """What ``record_markouts`` reads (``actors.analyzer.markout.Markout``): the store imports no actor."""

    trade_id: int
    horizon_ms: int
    side: Side
    regime: str
    maker: bool
    price: Decimal
    qty: Decimal
    fill_ns: int
    mid: Decimal
    bps: float


R = TypeVar("R")

_SYNC_MODES = ("NORMAL", "FULL")
_SEVERITIES = ("INFO", "P2", "P1", "P0")


class StoreError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class JournalOrder:
    """One order as the OMS persists it: the human-facing fields, a store status, and its own JSON state."""

    client_order_id: str
    side: str
    price: Decimal
    qty: Decimal
    tif: str
    reduce_only: bool
    created_ns: int
    status: str  # an exchange status or a LocalStatus
    exchange_order_id: int | None
    executed_qty: Decimal
    terminal: bool
    state_json: str
    reason: str = ""
    origin: str = "intent"  # "exchange": an order found on the exchange (adopted)


class UnknownOrderError(StoreError):
    """An event for a client order id that was never recorded (record the intent, or use record_order_report)."""


class ConflictError(StoreError):
    """The same key was written before with different content: a reused client id, a rewritten config version."""


class _DecimalSum:
    """``dsum(text)``: an exact SQL SUM over Decimal TEXT columns (SQLite's own SUM goes through REAL)."""

    def __init__(self) -> None:
        self.total = Decimal(0)
        self.n = 0

    def step(self, value: str | None) -> None:
        if value is not None:
            self.total += Decimal(value)
            self.n += 1

    def finalize(self) -> str | None:
        return dec(self.total) if self.n else None


def _dmul(a: str | None, b: str | None) -> str | None:
    return None if a is None or b is None else dec(Decimal(a) * Decimal(b))


def _wal(conn: sqlite3.Connection, busy_timeout_s: float) -> str:
    """Switch to WAL. On a new file that several connections open at once the switch can report "database
    is locked" without waiting for the busy timeout: retry until the timeout instead."""
    deadline = time.monotonic() + busy_timeout_s
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _connect(uri: str, busy_timeout_s: float) -> sqlite3.Connection:
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=busy_timeout_s,
                           cached_statements=256)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
    conn.create_aggregate("dsum", 1, _DecimalSum)
    conn.create_function("dmul", 2, _dmul, deterministic=True)
    return conn


def _uri(path: Path, mode: str) -> str:
    return f"file:{quote(str(path.resolve()))}?mode={mode}"


class Store:
    """The engine's database. ``Store.open`` for an actor that writes, ``Store.open_readonly`` for tools."""

    def __init__(self, conn: sqlite3.Connection, path: Path, clock: Clock, readonly: bool) -> None:
        self._conn = conn
        self.path = path
        self._clock = clock
        self.readonly = readonly

    # ------------------------------------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: str | Path, *, clock: Clock | None = None, busy_timeout_s: float = 5.0,
             synchronous: str = "NORMAL", autocheckpoint: bool = True) -> Store:
        """Open (creating or upgrading) the database for writing.

        ``autocheckpoint=False`` keeps WAL checkpoints (which fsync, milliseconds) off this connection's
        commits: for the OMS's latency-critical connection, provided another one calls ``checkpoint()``.
        """
        if synchronous not in _SYNC_MODES:
            raise ValueError(f"synchronous must be one of {_SYNC_MODES}, got {synchronous!r}")
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        conn = _connect(_uri(p, "rwc"), busy_timeout_s)
        try:
            mode = _wal(conn, busy_timeout_s)
            if mode.lower() != "wal":
                raise StoreError(f"{p}: cannot use WAL journal mode (got {mode})")
            conn.execute(f"PRAGMA synchronous = {synchronous}")
            conn.execute("PRAGMA foreign_keys = ON")
            if not autocheckpoint:
                conn.execute("PRAGMA wal_autocheckpoint = 0")
            schema.migrate(conn)
        except BaseException:
            conn.close()
            raise
        return cls(conn, p, clock or WallClock(), readonly=False)

    @classmethod
    def open_readonly(cls, path: str | Path, *, busy_timeout_s: float = 5.0) -> Store:
        """Open for reading only: never migrates, never takes a write lock, so it cannot stall the engine."""
        p = Path(path)
        if not p.is_file():
            raise StoreError(f"{p}: no such database")
        conn = _connect(_uri(p, "ro"), busy_timeout_s)
        try:
            conn.execute("PRAGMA query_only = ON")
            v = schema.version(conn)
            if v == 0:
                raise StoreError(f"{p}: not an engine database (schema version 0)")
            if v > schema.LATEST:
                raise StoreError(f"{p}: schema version {v} is newer than this code ({schema.LATEST})")
        except BaseException:
            conn.close()
            raise
        return cls(conn, p, WallClock(), readonly=True)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return schema.version(self._conn)

    def has_table(self, name: str) -> bool:
        return self._conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                  (name,)).fetchone() is not None

    def checkpoint(self, mode: str = "PASSIVE") -> tuple[int, int, int]:
        """Move WAL content into the database file: (busy, wal pages, pages checkpointed)."""
        if mode not in ("PASSIVE", "FULL", "RESTART", "TRUNCATE"):
            raise ValueError(f"bad checkpoint mode {mode!r}")
        row = self._conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A read-then-write transaction, holding the write lock from the start (no upgrade deadlock)."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # some errors (disk full) have already rolled it back
                conn.execute("ROLLBACK")
            raise

    def _now(self, at_ns: int | None) -> int:
        return self._clock.time_ns() if at_ns is None else at_ns

    # ------------------------------------------------------------------------------------------ runs

    def start_run(self, run_id: str, *, symbols: Sequence[str] = (), code_version: str = "",
                  config_version: int | None = None, pid: int | None = None, host: str | None = None,
                  at_ns: int | None = None) -> bool:
        """Record a process start; true if new (a restart with the same id changes nothing)."""
        now = self._now(at_ns)
        cur = self._conn.execute(
            "INSERT OR IGNORE INTO runs (run_id, started_ns, started_at, symbols, pid, host, code_version, "
            "config_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, now, iso_ns(now), ",".join(symbols), os.getpid() if pid is None else pid,
             socket.gethostname() if host is None else host, code_version, config_version))
        return cur.rowcount == 1

    def end_run(self, run_id: str, *, reason: str = "", at_ns: int | None = None) -> bool:
        """Record a clean stop; the first end wins. A run without an end is a run that crashed."""
        now = self._now(at_ns)
        cur = self._conn.execute(
            "UPDATE runs SET ended_ns = ?, ended_at = ?, end_reason = ? WHERE run_id = ? AND ended_ns IS NULL",
            (now, iso_ns(now), reason, run_id))
        return cur.rowcount == 1

    # ------------------------------------------------------------------------------------------ orders

    def record_order_intent(self, client_order_id: str, *, venue: str, symbol: str, side: Side | str,
                            price: Num | None, qty: Num, tif: str, reduce_only: bool, created_ns: int,
                            run_id: str | None, order_type: str = "LIMIT", tag: str = "") -> bool:
        """Persist an order before it is sent; durable against a process crash once this returns.

        True if new; false if this exact intent was already recorded (a retry). The same client id with
        different content raises ``ConflictError``: reusing an id is how orders become orphans.
        """
        side = Side(side)
        row = (client_order_id, venue, symbol, side.value, order_type, dec_opt(price), dec(qty), tif,
               int(bool(reduce_only)), tag, created_ns, iso_ns(created_ns), run_id)
        cur = self._conn.execute(
            "INSERT OR IGNORE INTO orders (client_order_id, venue, symbol, side, order_type, price, qty, tif, "
            "reduce_only, tag, created_ns, created_at, run_id, origin, status, executed_qty, updated_ns, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'intent', 'INTENT', '0', ?11, ?12)", row)
        if cur.rowcount == 1:
            return True
        old = self._conn.execute(
            "SELECT client_order_id, venue, symbol, side, order_type, price, qty, tif, reduce_only, tag, created_ns, "
            "created_at, run_id FROM orders WHERE client_order_id = ?", (client_order_id,)).fetchone()
        if tuple(old) != row:
            raise ConflictError(f"client order id {client_order_id!r} already recorded with different content")
        return False

    def record_order_event(self, client_order_id: str, status: str, *, at_ns: int | None = None,
                           exchange_order_id: int | None = None, executed_qty: Num | None = None,
                           avg_price: Num | None = None, price: Num | None = None, qty: Num | None = None,
                           reason: str = "", code: int | None = None, source: str = "",
                           exchange_ms: int | None = None, key: str | None = None,
                           run_id: str | None = None) -> bool:
        """Record a status transition (exchange status or ``LocalStatus``); true if new.

        The event's natural key is its state (status, executed qty, price, qty, code), so the same report
        arriving twice, or by REST and by the user stream, is one event; pass ``key`` to keep two occurrences
        of the same state apart (a second cancel attempt). The order's status moves only forward
        (``lifecycle.supersedes``). ``CANCEL_REQUESTED`` also stamps the order's ``cancel_requested_ns``.
        """
        if status not in ALL_STATUSES:
            raise ValueError(f"unknown order status {status!r}")
        status = str(status)
        now = self._now(at_ns)
        with self._write() as conn:
            return self._apply_event(conn, client_order_id, status, now, exchange_order_id, executed_qty, avg_price,
                                     price, qty, reason, code, source, exchange_ms, key, run_id)

    def record_order_report(self, report: OrderReport, *, source: str, at_ns: int | None = None,
                            reason: str = "", code: int | None = None, run_id: str | None = None) -> bool:
        """Record the exchange's view of an order (a REST reply, a query, a user-stream update).

        An order we never persisted (found on the exchange: an orphan) is recorded from the report itself,
        with ``origin = 'exchange'``, so that it is tracked, counted as open, and can be cancelled.
        """
        now = self._now(at_ns)
        with self._write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO orders (client_order_id, venue, symbol, side, order_type, price, qty, tif, "
                "reduce_only, tag, created_ns, created_at, run_id, origin, status, executed_qty, updated_ns, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, 'exchange', 'INTENT', '0', ?10, ?11)",
                (report.client_order_id, report.venue, report.symbol, Side(report.side).value, report.order_type,
                 dec(report.price), dec(report.orig_qty), report.time_in_force, int(report.reduce_only), now,
                 iso_ns(now), run_id))
            return self._apply_event(conn, report.client_order_id, str(report.status), now, report.order_id,
                                     report.executed_qty, report.avg_price, report.price, report.orig_qty, reason,
                                     code, source, report.update_ms, None, run_id)

    def _apply_event(self, conn: sqlite3.Connection, cid: str, status: str, now: int, exchange_order_id: int | None,
                     executed_qty: Num | None, avg_price: Num | None, price: Num | None, qty: Num | None,
                     reason: str, code: int | None, source: str, exchange_ms: int | None, key: str | None,
                     run_id: str | None) -> bool:
        order = conn.execute("SELECT status, executed_qty, exchange_order_id FROM orders WHERE client_order_id = ?",
                             (cid,)).fetchone()
        if order is None:
            raise UnknownOrderError(f"no order with client order id {cid!r}")
        event_key = "|".join((status, dec_key(executed_qty), dec_key(price), dec_key(qty),
                              "" if code is None else str(code), key or ""))
        if conn.execute("SELECT 1 FROM order_events WHERE client_order_id = ? AND event_key = ?",
                        (cid, event_key)).fetchone():
            return False
        exec_new = None if executed_qty is None else Decimal(dec(executed_qty))
        applied = supersedes(order["status"], Decimal(order["executed_qty"]), status, exec_new)
        seq = conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM order_events WHERE client_order_id = ?",
                           (cid,)).fetchone()[0]
        conn.execute(
            "INSERT INTO order_events (client_order_id, seq, event_key, status, applied, exchange_order_id, "
            "executed_qty, avg_price, price, qty, reason, code, source, exchange_ms, recorded_ns, recorded_at, run_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (cid, seq, event_key, status, int(applied), exchange_order_id, dec_opt(executed_qty), dec_opt(avg_price),
             dec_opt(price), dec_opt(qty), reason, code, source, exchange_ms, now, iso_ns(now), run_id))
        if applied:
            avg = dec_opt(avg_price) if avg_price is not None and Decimal(dec(avg_price)) != 0 else None  # 0: none yet
            conn.execute(
                "UPDATE orders SET status = ?, executed_qty = coalesce(?, executed_qty), "
                "avg_price = coalesce(?, avg_price), updated_ns = ?, updated_at = ? WHERE client_order_id = ?",
                (status, None if exec_new is None else dec(max(exec_new, Decimal(order["executed_qty"]))),
                 avg, now, iso_ns(now), cid))
        if exchange_order_id is not None and order["exchange_order_id"] is None:
            conn.execute("UPDATE orders SET exchange_order_id = ? WHERE client_order_id = ?", (exchange_order_id, cid))
        if status == LocalStatus.CANCEL_REQUESTED:
            conn.execute("UPDATE orders SET cancel_requested_ns = coalesce(cancel_requested_ns, ?) "
                         "WHERE client_order_id = ?", (now, cid))
        return True

    def open_orders(self, symbol: str, *, venue: str | None = None) -> list[OrderRow]:
        """Orders that may be resting on the exchange (INTENT, UNKNOWN, NEW, PARTIALLY_FILLED), oldest first."""
        sql = f"SELECT {columns(OrderRow)} FROM orders WHERE symbol = ? AND {schema.OPEN_STATUS_SQL}"
        args: tuple[Any, ...] = (symbol,)
        if venue is not None:
            sql += " AND venue = ?"
            args += (venue,)
        return self._rows(OrderRow, sql + " ORDER BY created_ns, client_order_id", args)

    # ------------------------------------------------------------------------------------------ OMS journal

    def journal(self, *, venue: str, symbol: str, run_id: str | None, at_ns: int,
                orders: Sequence[JournalOrder] = (), fills: Sequence[Fill] = (), position: str | None = None,
                ledger: str | None = None) -> None:
        """One OMS step in one transaction: its orders (the human-facing rows, their events and the OMS's own
        JSON), its new fills and its position. Called before the step's commands are sent (lesson 4)."""
        if not (orders or fills or position is not None or ledger is not None):
            return
        now = at_ns
        with self._write() as conn:
            for o in orders:
                conn.execute(
                    "INSERT OR IGNORE INTO orders (client_order_id, venue, symbol, side, order_type, price, qty, tif, "
                    "reduce_only, tag, created_ns, created_at, run_id, origin, status, executed_qty, updated_ns, "
                    "updated_at) VALUES (?, ?, ?, ?, 'LIMIT', ?, ?, ?, ?, '', ?, ?, ?, ?, 'INTENT', '0', ?, ?)",
                    (o.client_order_id, venue, symbol, Side(o.side).value, dec(o.price), dec(o.qty), o.tif,
                     int(o.reduce_only), o.created_ns, iso_ns(o.created_ns), run_id, o.origin, now, iso_ns(now)))
                if o.status != LocalStatus.INTENT:
                    self._apply_event(conn, o.client_order_id, o.status, now, o.exchange_order_id, o.executed_qty,
                                      None, None, None, o.reason, None, "oms", None, None, run_id)
                conn.execute(
                    "INSERT INTO oms_orders (client_order_id, venue, symbol, terminal, state, updated_ns, run_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (client_order_id) DO UPDATE SET "
                    "terminal = excluded.terminal, state = excluded.state, updated_ns = excluded.updated_ns",
                    (o.client_order_id, venue, symbol, int(o.terminal), o.state_json, now, run_id))
            for f in fills:
                self._insert_fill(conn, f, run_id, now)
            if position is not None or ledger is not None:
                conn.execute(
                    "INSERT INTO oms_state (key, venue, symbol, position, ledger, updated_ns, run_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                    "position = coalesce(excluded.position, position), ledger = coalesce(excluded.ledger, ledger), "
                    "updated_ns = excluded.updated_ns, run_id = excluded.run_id",
                    (f"{venue}:{symbol}", venue, symbol, position, ledger, now, run_id))

    def last_client_id(self, venue: str, symbol: str, prefix: str) -> str | None:
        """The greatest client order id starting with ``prefix`` the OMS ever journaled for this symbol (its
        own ids sort by creation; adopted foreign ids are left out by the prefix)."""
        row = self._conn.execute("SELECT max(client_order_id) FROM oms_orders WHERE venue = ? AND symbol = ? "
                                 "AND client_order_id LIKE ? ESCAPE '\\'",
                                 (venue, symbol, prefix.replace("_", "\\_").replace("%", "\\%") + "%")).fetchone()
        return row[0] if row else None

    def last_trading_state(self, venue: str, symbol: str) -> tuple[str, str] | None:
        """(state, kind) of the latest risk event that recorded the trading state: what a restarted risk
        actor must restore (a HALTED symbol stays halted until an operator resumes it)."""
        row = self._conn.execute("SELECT state, kind FROM risk_events WHERE venue = ? AND symbol = ? AND state != '' "
                                 "ORDER BY at_ns DESC, id DESC LIMIT 1", (venue, symbol)).fetchone()
        return (row[0], row[1]) if row else None

    def load_journal(self, venue: str, symbol: str) -> tuple[list[str], str | None, str | None]:
        """What the OMS last persisted: its non-terminal orders (JSON), its position and its fill ledger."""
        rows = self._conn.execute("SELECT state FROM oms_orders WHERE venue = ? AND symbol = ? AND terminal = 0 "
                                  "ORDER BY updated_ns", (venue, symbol)).fetchall()
        st = self._conn.execute("SELECT position, ledger FROM oms_state WHERE key = ?",
                                (f"{venue}:{symbol}",)).fetchone()
        return [r[0] for r in rows], (st[0] if st else None), (st[1] if st else None)

    # ------------------------------------------------------------------------------------------ fills

    def record_fill(self, fill: Fill, *, run_id: str | None = None, at_ns: int | None = None) -> bool:
        """Record an execution; true if new. Unique by (venue, symbol, trade id): replays are free.

        A fill without a client id (REST userTrades) is linked through the exchange order id where we know it;
        a later copy that carries the client id fills in a missing one.
        """
        return self._insert_fill(self._conn, fill, run_id, self._now(at_ns))

    @staticmethod
    def _insert_fill(conn: sqlite3.Connection, fill: Fill, run_id: str | None, now: int) -> bool:
        cid = fill.client_order_id
        if not cid:
            found = conn.execute(
                "SELECT client_order_id FROM orders WHERE venue = ? AND symbol = ? AND exchange_order_id = ?",
                (fill.venue, fill.symbol, fill.order_id)).fetchone()
            cid = found[0] if found else ""
        cur = conn.execute(
            "INSERT OR IGNORE INTO fills (venue, symbol, trade_id, order_id, client_order_id, side, price, qty, "
            "commission, commission_asset, is_maker, realized_pnl, trade_ms, trade_at, recorded_ns, run_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (fill.venue, fill.symbol, fill.trade_id, fill.order_id, cid, Side(fill.side).value, dec(fill.price),
             dec(fill.qty), dec(fill.commission), fill.commission_asset, int(fill.is_maker), dec(fill.realized_pnl),
             fill.trade_ms, iso_ms(fill.trade_ms), now, run_id))
        if cur.rowcount == 1:
            return True
        if cid:
            conn.execute("UPDATE fills SET client_order_id = ? WHERE venue = ? AND symbol = ? AND trade_id = ? "
                         "AND client_order_id = ''", (cid, fill.venue, fill.symbol, fill.trade_id))
        return False

    def last_trade_id(self, venue: str, symbol: str) -> int | None:
        """The highest trade id recorded: where fill recovery resumes after a crash.

        Fills of different orders can arrive out of trade-id order, so recover with an overlap (from
        ``last_fill_ms`` minus a margin, or a few ids back): recording a fill twice costs nothing.
        """
        row = self._conn.execute("SELECT max(trade_id) FROM fills WHERE venue = ? AND symbol = ?",
                                 (venue, symbol)).fetchone()
        return row[0]

    def client_id_of(self, venue: str, symbol: str, exchange_order_id: int) -> str | None:
        """Our client order id for an exchange order id (REST userTrades carry only the latter)."""
        row = self._conn.execute("SELECT client_order_id FROM orders WHERE venue = ? AND symbol = ? AND "
                                 "exchange_order_id = ?", (venue, symbol, exchange_order_id)).fetchone()
        return row[0] if row else None

    def last_fill_ms(self, venue: str, symbol: str) -> int | None:
        row = self._conn.execute("SELECT max(trade_ms) FROM fills WHERE venue = ? AND symbol = ?",
                                 (venue, symbol)).fetchone()
        return row[0]

    # ------------------------------------------------------------------------------------------ pnl, inventory

    def record_pnl_snapshot(self, venue: str, symbol: str, *, position: Num, realized_pnl: Num, unrealized_pnl: Num,
                            fees: Num, funding: Num = 0, mark_price: Num | None = None,
                            entry_price: Num | None = None, equity: Num | None = None, at_ns: int | None = None,
                            run_id: str | None = None) -> bool:
        """PnL at a moment, in the margin asset; ``net_pnl = realized + unrealized - fees + funding`` (funding
        signed as the exchange reports it: negative when paid). True if new (unique per symbol and time)."""
        now = self._now(at_ns)
        net = Decimal(dec(realized_pnl)) + Decimal(dec(unrealized_pnl)) - Decimal(dec(fees)) + Decimal(dec(funding))
        cur = self._conn.execute(
            "INSERT OR IGNORE INTO pnl_snapshots (venue, symbol, at_ns, at, position, entry_price, mark_price, "
            "realized_pnl, unrealized_pnl, fees, funding, net_pnl, equity, run_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (venue, symbol, now, iso_ns(now), dec(position), dec_opt(entry_price), dec_opt(mark_price),
             dec(realized_pnl), dec(unrealized_pnl), dec(fees), dec(funding), dec(net), dec_opt(equity), run_id))
        return cur.rowcount == 1

    def record_markouts(self, venue: str, symbol: str, rows: Iterable[MarkoutLike], run_id: str | None = None) -> int:
        """Markouts of fills (one row per fill and horizon, idempotent: a markout seen again is ignored);
        returns how many were new. One transaction for the batch."""
        data = [(venue, symbol, m.trade_id, m.horizon_ms, str(m.side), m.regime, int(m.maker), dec(m.price),
                 dec(m.qty), m.fill_ns, iso_ns(m.fill_ns), dec(m.mid), float(m.bps), run_id) for m in rows]
        if not data:
            return 0
        with self._write() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO markouts (venue, symbol, trade_id, horizon_ms, side, regime, maker, price, "
                "qty, fill_ns, fill_at, mid, bps, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", data)
            return conn.total_changes - before

    def markouts(self, *, symbol: str | None = None, horizon_ms: int | None = None,
                 since_ns: int | None = None) -> list[dict[str, Any]]:
        """Stored markouts, oldest first (for reports and the post-trade study)."""
        where, args = [], []
        for clause, value in (("symbol = ?", symbol), ("horizon_ms = ?", horizon_ms), ("fill_ns >= ?", since_ns)):
            if value is not None:
                where.append(clause)
                args.append(value)
        sql = "SELECT * FROM markouts" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY fill_ns, id"
        return [dict(r) for r in self._conn.execute(sql, args).fetchall()]

    def record_inventory(self, venue: str, symbol: str, *, position: Num, open_buy_qty: Num = 0,
                         open_sell_qty: Num = 0, entry_price: Num | None = None, source: str = "",
                         at_ns: int | None = None, run_id: str | None = None) -> bool:
        """Position plus resting quantity per side; stores the worst cases (position + every open order on the
        adding side), the numbers the inventory limit is about. True if new (unique per symbol and time)."""
        now = self._now(at_ns)
        pos, buys, sells = Decimal(dec(position)), Decimal(dec(open_buy_qty)), Decimal(dec(open_sell_qty))
        if buys < 0 or sells < 0:
            raise ValueError("open quantities are sizes, never negative")
        cur = self._conn.execute(
            "INSERT OR IGNORE INTO inventory (venue, symbol, at_ns, at, position, entry_price, open_buy_qty, "
            "open_sell_qty, worst_long, worst_short, source, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (venue, symbol, now, iso_ns(now), dec(pos), dec_opt(entry_price), dec(buys), dec(sells), dec(pos + buys),
             dec(pos - sells), source, run_id))
        return cur.rowcount == 1

    def record_income(self, venue: str, income_id: str | int, *, asset: str, amount: Num, kind: str, at_ms: int,
                      symbol: str = "", run_id: str | None = None, at_ns: int | None = None) -> bool:
        """Funding and other account income (Binance income history; ``income_id`` is its tranId). Amount signed
        as the exchange reports it. True if new (unique per venue and income id)."""
        cur = self._conn.execute(
            "INSERT OR IGNORE INTO income (venue, income_id, symbol, asset, kind, amount, at_ms, at, recorded_ns, "
            "run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (venue, str(income_id), symbol, asset, kind, dec(amount), at_ms, iso_ms(at_ms), self._now(at_ns), run_id))
        return cur.rowcount == 1

    # ------------------------------------------------------------------------------------------ risk, audit, config

    def record_risk_event(self, kind: str, *, venue: str = "", symbol: str = "", severity: str = "INFO",
                          state: str = "", detail: Mapping[str, Any] | str | None = None, at_ns: int | None = None,
                          run_id: str | None = None) -> bool:
        """A risk decision (limit hit, halt, panicstop, stale feed...); severity INFO, P2, P1 or P0. True if new
        (unique per venue, symbol, kind and time)."""
        if severity not in _SEVERITIES:
            raise ValueError(f"severity must be one of {_SEVERITIES}, got {severity!r}")
        now = self._now(at_ns)
        cur = self._conn.execute(
            "INSERT OR IGNORE INTO risk_events (venue, symbol, at_ns, at, kind, severity, state, detail, run_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (venue, symbol, now, iso_ns(now), kind, severity, state, to_json({} if detail is None else detail),
             run_id))
        return cur.rowcount == 1

    def record_audit(self, who: str, action: str, detail: Mapping[str, Any] | str | None = None, *,
                     at_ns: int | None = None, run_id: str | None = None) -> bool:
        """Who did what (an operator, the web UI, the supervisor); secret-looking keys in ``detail`` are
        redacted before writing. True if new (unique per time, who and action)."""
        now = self._now(at_ns)
        cur = self._conn.execute(
            "INSERT OR IGNORE INTO audit (at_ns, at, who, action, detail, run_id) VALUES (?, ?, ?, ?, ?, ?)",
            (now, iso_ns(now), who, action, to_json({} if detail is None else detail), run_id))
        return cur.rowcount == 1

    def record_config_version(self, version: int, diff: Mapping[str, Any] | str, applied_by: str, *,
                              config: Mapping[str, Any] | None = None, comment: str = "",
                              at_ns: int | None = None, run_id: str | None = None) -> bool:
        """A configuration version and what changed (``{"risk.max_inventory": [old, new]}``), secrets redacted.
        True if new; the same version again with a different diff or config raises ``ConflictError``."""
        now = self._now(at_ns)
        diff_json, config_json = to_json(diff), None if config is None else to_json(config)
        with self._write() as conn:
            old = conn.execute("SELECT diff, config FROM config_versions WHERE version = ?", (version,)).fetchone()
            if old is not None:
                if (old["diff"], old["config"]) != (diff_json, config_json):
                    raise ConflictError(f"config version {version} already recorded with different content")
                return False
            conn.execute("INSERT INTO config_versions (version, at_ns, at, applied_by, diff, config, comment, run_id) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (version, now, iso_ns(now), applied_by, diff_json, config_json, comment, run_id))
            return True

    # ------------------------------------------------------------------------------------------ readers

    def _rows(self, cls: type[R], sql: str, args: Iterable[Any] = ()) -> list[R]:
        return [from_row(cls, r) for r in self._conn.execute(sql, tuple(args))]

    def _recent(self, cls: type[R], table: str, time_col: str, where: Sequence[tuple[str, Any]],
                limit: int | None, tiebreak: str = "id") -> list[R]:
        """Rows matching ``where`` (column op ?, value), the newest ``limit`` of them, oldest first."""
        clauses = [c for c, v in where if v is not None]
        args = [v for _, v in where if v is not None]
        sql = f"SELECT {columns(cls)} FROM {table}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        order = f"{time_col} DESC, {tiebreak} DESC"
        sql += f" ORDER BY {order}"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return list(reversed(self._rows(cls, sql, args)))

    def query(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Raw read access for reports (``dsum``/``dmul`` available for exact sums)."""
        return self._conn.execute(sql, tuple(args)).fetchall()

    def runs(self, *, limit: int | None = None) -> list[RunRow]:
        return self._recent(RunRow, "runs", "started_ns", (), limit, tiebreak="run_id")

    def order(self, client_order_id: str) -> OrderRow | None:
        rows = self._rows(OrderRow, f"SELECT {columns(OrderRow)} FROM orders WHERE client_order_id = ?",
                          (client_order_id,))
        return rows[0] if rows else None

    def orders(self, *, symbol: str | None = None, status: str | None = None, since_ns: int | None = None,
               limit: int | None = None) -> list[OrderRow]:
        return self._recent(OrderRow, "orders", "created_ns",
                            (("symbol = ?", symbol), ("status = ?", status), ("created_ns >= ?", since_ns)),
                            limit, tiebreak="client_order_id")

    def order_events(self, client_order_id: str) -> list[OrderEventRow]:
        return self._rows(OrderEventRow, f"SELECT {columns(OrderEventRow)} FROM order_events "
                          "WHERE client_order_id = ? ORDER BY seq", (client_order_id,))

    def fills(self, *, symbol: str | None = None, client_order_id: str | None = None, since_ms: int | None = None,
              limit: int | None = None) -> list[FillRow]:
        return self._recent(FillRow, "fills", "trade_ms", (("symbol = ?", symbol),
                            ("client_order_id = ?", client_order_id), ("trade_ms >= ?", since_ms)), limit)

    def pnl_snapshots(self, *, symbol: str | None = None, since_ns: int | None = None,
                      limit: int | None = None) -> list[PnlSnapshotRow]:
        return self._recent(PnlSnapshotRow, "pnl_snapshots", "at_ns", (("symbol = ?", symbol),
                            ("at_ns >= ?", since_ns)), limit)

    def inventory(self, *, symbol: str | None = None, since_ns: int | None = None,
                  limit: int | None = None) -> list[InventoryRow]:
        return self._recent(InventoryRow, "inventory", "at_ns", (("symbol = ?", symbol), ("at_ns >= ?", since_ns)),
                            limit)

    def risk_events(self, *, symbol: str | None = None, since_ns: int | None = None,
                    limit: int | None = None) -> list[RiskEventRow]:
        return self._recent(RiskEventRow, "risk_events", "at_ns", (("symbol = ?", symbol), ("at_ns >= ?", since_ns)),
                            limit)

    def audit(self, *, since_ns: int | None = None, limit: int | None = None) -> list[AuditRow]:
        return self._recent(AuditRow, "audit", "at_ns", (("at_ns >= ?", since_ns),), limit)

    def config_versions(self, *, limit: int | None = None) -> list[ConfigVersionRow]:
        if not self.has_table("config_versions"):  # a read-only look at a database the engine has not upgraded
            return []
        return self._recent(ConfigVersionRow, "config_versions", "version", (), limit, tiebreak="version")

    def income(self, *, symbol: str | None = None, kind: str | None = None, since_ms: int | None = None,
               limit: int | None = None) -> list[IncomeRow]:
        if not self.has_table("income"):
            return []
        return self._recent(IncomeRow, "income", "at_ms", (("symbol = ?", symbol), ("kind = ?", kind),
                            ("at_ms >= ?", since_ms)), limit)

    def count(self, table: str, where: str = "", args: Iterable[Any] = ()) -> int:
        if table not in _COUNTABLE:
            raise ValueError(f"unknown table {table!r}")
        sql = f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")
        return int(self._conn.execute(sql, tuple(args)).fetchone()[0])


_COUNTABLE = frozenset({"runs", "orders", "order_events", "fills", "pnl_snapshots", "inventory", "risk_events",
                        "audit", "config_versions", "income"})
