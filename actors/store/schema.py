"""The tables, their keys, and forward migrations.

The schema version lives in ``PRAGMA user_version`` (part of the database header, so it changes in the same
transaction as the tables); ``schema_migrations`` keeps a readable history. All pending migrations run in
one ``BEGIN IMMEDIATE`` transaction, so a database is either fully upgraded or untouched, and two processes
opening a new file at once cannot both migrate it. A database newer than this code is refused, never
"downgraded".

Tables are built with sqlite-utils from typed column maps (STRICT, so a float can never slip into a TEXT
money column as a REAL; NOT NULL; foreign keys); the natural keys that make every write idempotent are
unique indexes. Decimal columns are TEXT, times are integer ns (``*_ns``) or the exchange's ms (``*_ms``),
each with an ISO text twin (``*_at``) for people.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from actors.store.codec import iso_ns

if TYPE_CHECKING:
    import sqlite_utils  # imported when a migration runs: it pulls in numpy (~0.3 s), which readers never need


class SchemaError(RuntimeError):
    """The database cannot be used by this code (newer schema, or not an engine database)."""


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[sqlite_utils.Database], None]


_RUN_FK = ("run_id", "runs", "run_id")
# Statuses under which an order may be resting on the exchange (models.OPEN_STATUSES); the partial index
# below must repeat the exact expression ``open_orders`` queries with, or the planner cannot use it.
OPEN_STATUS_SQL = "status IN ('INTENT', 'UNKNOWN', 'NEW', 'PARTIALLY_FILLED')"


def _table(db: sqlite_utils.Database, name: str, columns: dict[str, type], *, pk: str,
           not_null: Sequence[str] = (), defaults: dict[str, object] | None = None,
           foreign_keys: Sequence[tuple[str, str, str]] = (_RUN_FK,)) -> None:
    db[name].create(columns, pk=pk, not_null=set(not_null), defaults=defaults or {},
                    foreign_keys=list(foreign_keys), strict=True)


def _v1_core(db: sqlite_utils.Database) -> None:
    """The first issue's tables: runs, orders, order events, fills, pnl snapshots, inventory, risk, audit."""
    _table(db, "runs", {
        "run_id": str, "started_ns": int, "started_at": str, "ended_ns": int, "ended_at": str, "end_reason": str,
        "symbols": str, "pid": int, "host": str, "code_version": str, "config_version": int,
    }, pk="run_id", not_null=("started_ns", "started_at", "symbols", "host", "code_version"), foreign_keys=())
    db["runs"].create_index(["started_ns"], index_name="runs_started")

    _table(db, "orders", {
        "client_order_id": str, "venue": str, "symbol": str, "side": str, "order_type": str, "price": str,
        "qty": str, "tif": str, "reduce_only": int, "tag": str, "origin": str, "status": str,
        "executed_qty": str, "avg_price": str, "exchange_order_id": int, "cancel_requested_ns": int,
        "created_ns": int, "created_at": str, "updated_ns": int, "updated_at": str, "run_id": str,
    }, pk="client_order_id", not_null=("venue", "symbol", "side", "order_type", "qty", "tif", "reduce_only",
                                       "tag", "origin", "status", "executed_qty", "created_ns", "created_at",
                                       "updated_ns", "updated_at"),
       defaults={"tag": "", "executed_qty": "0"})
    db.execute(f"CREATE INDEX orders_open ON orders (symbol) WHERE {OPEN_STATUS_SQL}")
    db.execute("CREATE INDEX orders_exchange_id ON orders (venue, symbol, exchange_order_id) "
               "WHERE exchange_order_id IS NOT NULL")  # partial: an intent (no id yet) does not touch it
    db["orders"].create_index(["created_ns"], index_name="orders_created")

    _table(db, "order_events", {
        "id": int, "client_order_id": str, "seq": int, "event_key": str, "status": str, "applied": int,
        "exchange_order_id": int, "executed_qty": str, "avg_price": str, "price": str, "qty": str,
        "reason": str, "code": int, "source": str, "exchange_ms": int, "recorded_ns": int, "recorded_at": str,
        "run_id": str,
    }, pk="id", not_null=("client_order_id", "seq", "event_key", "status", "applied", "reason", "source",
                          "recorded_ns", "recorded_at"),
       foreign_keys=(("client_order_id", "orders", "client_order_id"), _RUN_FK))
    db["order_events"].create_index(["client_order_id", "event_key"], unique=True, index_name="order_events_key")
    db["order_events"].create_index(["client_order_id", "seq"], unique=True, index_name="order_events_seq")

    _table(db, "fills", {
        "id": int, "venue": str, "symbol": str, "trade_id": int, "order_id": int, "client_order_id": str,
        "side": str, "price": str, "qty": str, "commission": str, "commission_asset": str, "is_maker": int,
        "realized_pnl": str, "trade_ms": int, "trade_at": str, "recorded_ns": int, "run_id": str,
    }, pk="id", not_null=("venue", "symbol", "trade_id", "order_id", "client_order_id", "side", "price", "qty",
                          "commission", "commission_asset", "is_maker", "realized_pnl", "trade_ms", "trade_at",
                          "recorded_ns"))
    # No foreign key to orders: a fill of an order we never persisted (an orphan) must still be kept.
    db["fills"].create_index(["venue", "symbol", "trade_id"], unique=True, index_name="fills_trade")
    db["fills"].create_index(["trade_ms"], index_name="fills_time")
    db["fills"].create_index(["client_order_id"], index_name="fills_order")

    _table(db, "pnl_snapshots", {
        "id": int, "venue": str, "symbol": str, "at_ns": int, "at": str, "position": str, "entry_price": str,
        "mark_price": str, "realized_pnl": str, "unrealized_pnl": str, "fees": str, "funding": str,
        "net_pnl": str, "equity": str, "run_id": str,
    }, pk="id", not_null=("venue", "symbol", "at_ns", "at", "position", "realized_pnl", "unrealized_pnl", "fees",
                          "funding", "net_pnl"))
    db["pnl_snapshots"].create_index(["venue", "symbol", "at_ns"], unique=True, index_name="pnl_snapshots_key")
    db["pnl_snapshots"].create_index(["at_ns"], index_name="pnl_snapshots_time")

    _table(db, "inventory", {
        "id": int, "venue": str, "symbol": str, "at_ns": int, "at": str, "position": str, "entry_price": str,
        "open_buy_qty": str, "open_sell_qty": str, "worst_long": str, "worst_short": str, "source": str,
        "run_id": str,
    }, pk="id", not_null=("venue", "symbol", "at_ns", "at", "position", "open_buy_qty", "open_sell_qty",
                          "worst_long", "worst_short", "source"))
    db["inventory"].create_index(["venue", "symbol", "at_ns"], unique=True, index_name="inventory_key")
    db["inventory"].create_index(["at_ns"], index_name="inventory_time")

    _table(db, "risk_events", {
        "id": int, "venue": str, "symbol": str, "at_ns": int, "at": str, "kind": str, "severity": str,
        "state": str, "detail": str, "run_id": str,
    }, pk="id", not_null=("venue", "symbol", "at_ns", "at", "kind", "severity", "state", "detail"))
    db["risk_events"].create_index(["venue", "symbol", "kind", "at_ns"], unique=True, index_name="risk_events_key")
    db["risk_events"].create_index(["at_ns"], index_name="risk_events_time")

    _table(db, "audit", {
        "id": int, "at_ns": int, "at": str, "who": str, "action": str, "detail": str, "run_id": str,
    }, pk="id", not_null=("at_ns", "at", "who", "action", "detail"))
    db["audit"].create_index(["at_ns", "who", "action"], unique=True, index_name="audit_key")


def _v2_config_and_income(db: sqlite_utils.Database) -> None:
    """The history issue: configuration versions with their diff; funding and other income for net PnL."""
    _table(db, "config_versions", {
        "version": int, "at_ns": int, "at": str, "applied_by": str, "diff": str, "config": str, "comment": str,
        "run_id": str,
    }, pk="version", not_null=("at_ns", "at", "applied_by", "diff", "comment"))
    _table(db, "income", {
        "id": int, "venue": str, "income_id": str, "symbol": str, "asset": str, "kind": str, "amount": str,
        "at_ms": int, "at": str, "recorded_ns": int, "run_id": str,
    }, pk="id", not_null=("venue", "income_id", "symbol", "asset", "kind", "amount", "at_ms", "at", "recorded_ns"))
    db["income"].create_index(["venue", "income_id"], unique=True, index_name="income_key")
    db["income"].create_index(["at_ms"], index_name="income_time")


def _v3_oms_journal(db: sqlite_utils.Database) -> None:
    """The OMS's own state, exactly as its core holds it (JSON of its frozen values), so a restarted OMS
    resumes from what it last knew; the human-facing orders/order_events rows are written beside it."""
    _table(db, "oms_orders", {
        "client_order_id": str, "venue": str, "symbol": str, "terminal": int, "state": str, "updated_ns": int,
        "run_id": str,
    }, pk="client_order_id", not_null=("venue", "symbol", "terminal", "state", "updated_ns"))
    db.execute("CREATE INDEX oms_orders_live ON oms_orders (venue, symbol) WHERE terminal = 0")
    _table(db, "oms_state", {
        "key": str, "venue": str, "symbol": str, "position": str, "ledger": str, "updated_ns": int, "run_id": str,
    }, pk="key", not_null=("venue", "symbol", "updated_ns"))


def _v4_markouts(db: sqlite_utils.Database) -> None:
    """The strategy brain's post-trade record: for every fill and horizon, where the mid went (markout), with
    the side and the market regime at the fill, so adverse selection can be read per side and per regime."""
    _table(db, "markouts", {
        "id": int, "venue": str, "symbol": str, "trade_id": int, "horizon_ms": int, "side": str, "regime": str,
        "maker": int, "price": str, "qty": str, "fill_ns": int, "fill_at": str, "mid": str, "bps": float,
        "run_id": str,
    }, pk="id", not_null=("venue", "symbol", "trade_id", "horizon_ms", "side", "regime", "maker", "price", "qty",
                          "fill_ns", "fill_at", "mid", "bps"))
    db["markouts"].create_index(["venue", "symbol", "trade_id", "horizon_ms"], unique=True, index_name="markouts_key")
    db["markouts"].create_index(["fill_ns"], index_name="markouts_time")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "runs, orders, order events, fills, pnl snapshots, inventory, risk events, audit", _v1_core),
    Migration(2, "config versions, income (funding)", _v2_config_and_income),
    Migration(3, "the OMS journal: its orders and position as it holds them", _v3_oms_journal),
    Migration(4, "markouts per fill and horizon, with side and regime", _v4_markouts),
)
LATEST = MIGRATIONS[-1].version


def version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = LATEST,
            migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring the database to ``target`` (creating it from nothing if empty); returns the version it is at.

    ``conn`` must be in autocommit mode (``isolation_level=None``) and outside a transaction.
    """
    if not any(m.version == target for m in migrations):
        raise SchemaError(f"no migration reaches schema version {target}")
    newest = max(m.version for m in migrations)
    if version(conn) == target:
        return target  # the common case: no write lock taken
    import sqlite_utils  # before taking the lock: a cold import (numpy) can outlast other openers' busy timeout

    conn.execute("BEGIN IMMEDIATE")
    try:
        current = version(conn)  # again, under the write lock: another process may have just migrated
        if current > newest:
            raise SchemaError(f"database schema version {current} is newer than this code ({newest}): "
                              "upgrade the engine, never downgrade the database")
        if current == 0 and _has_user_tables(conn):
            raise SchemaError("not an engine database (tables present, schema version 0)")
        db = sqlite_utils.Database(conn, execute_plugins=False, recursive_triggers=False)
        if current == 0:
            db["schema_migrations"].create({"version": int, "description": str, "applied_ns": int,
                                            "applied_at": str}, pk="version", strict=True)
        for m in sorted(migrations, key=lambda m: m.version):
            if current < m.version <= target:
                m.apply(db)
                now = time.time_ns()
                conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?, ?)",
                             (m.version, m.description, now, iso_ns(now)))
        conn.execute(f"PRAGMA user_version = {max(current, target)}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return version(conn)


def _has_user_tables(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                        "AND name NOT LIKE 'sqlite_%'").fetchone()[0] > 0
