"""Schema creation and forward migration on real SQLite files."""

from __future__ import annotations

import sqlite3
import threading
from decimal import Decimal as D
from pathlib import Path

import pytest
import sqlite_utils

from actors.gateway.events import Side
from actors.store import SchemaError, Store, schema
from tests.actors.store.sample import DAY1_NS, fill

V1_TABLES = {"schema_migrations", "runs", "orders", "order_events", "fills", "pnl_snapshots", "inventory",
             "risk_events", "audit"}


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def test_new_database_is_created_at_the_latest_version_in_wal(tmp_path: Path) -> None:
    with Store.open(tmp_path / "sub" / "mm.db") as store:
        assert store.schema_version == schema.LATEST == 4
    db = sqlite_utils.Database(tmp_path / "sub" / "mm.db")
    assert set(db.table_names()) == V1_TABLES | {"config_versions", "income", "oms_orders", "oms_state", "markouts"}
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert [r[0] for r in db.execute("SELECT version FROM schema_migrations ORDER BY version")] == [1, 2, 3, 4]
    # every table is STRICT, money is TEXT
    for name in db.table_names():
        assert db[name].strict, name
    assert db["fills"].columns_dict["price"] is str and db["fills"].columns_dict["trade_id"] is int
    # the natural keys that make writes idempotent are unique indexes
    unique = {tuple(i.columns) for t in db.tables for i in t.indexes if i.unique}
    assert {("venue", "symbol", "trade_id"), ("client_order_id", "event_key"), ("client_order_id", "seq"),
            ("venue", "symbol", "at_ns"), ("venue", "symbol", "kind", "at_ns"), ("at_ns", "who", "action"),
            ("venue", "income_id")} <= unique


def test_open_orders_uses_the_partial_index(tmp_path: Path) -> None:
    with Store.open(tmp_path / "mm.db") as store:
        plan = " ".join(r[3] for r in store.query(
            f"EXPLAIN QUERY PLAN SELECT * FROM orders WHERE symbol = ? AND {schema.OPEN_STATUS_SQL}", ("X",)))
    assert "orders_open" in plan


def test_migration_from_v1_keeps_the_data_and_adds_the_new_tables(tmp_path: Path) -> None:
    path = tmp_path / "mm.db"
    conn = raw(path)
    assert schema.migrate(conn, target=1) == 1  # a database as the first release left it
    conn.execute("INSERT INTO runs (run_id, started_ns, started_at, symbols, host, code_version) "
                 "VALUES ('old', 1, 'x', 'ETHUSDC', 'h', 'v1')")
    conn.execute("INSERT INTO fills (venue, symbol, trade_id, order_id, client_order_id, side, price, qty, commission, "
                 "commission_asset, is_maker, realized_pnl, trade_ms, trade_at, recorded_ns) VALUES "
                 "('binance-usdm', 'ETHUSDC', 7, 1, '', 'BUY', '2500.00', '0.010', '0.005', 'USDC', 1, '0', 1, 'x', 1)")
    assert {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} == V1_TABLES
    conn.close()

    with Store.open_readonly(path) as ro:  # a tool looking before the engine upgraded it
        assert ro.schema_version == 1 and ro.config_versions() == [] and ro.income() == []

    with Store.open(path) as store:
        assert store.schema_version == 4
        assert [r.run_id for r in store.runs()] == ["old"]
        assert store.last_trade_id("binance-usdm", "ETHUSDC") == 7
        assert store.record_config_version(1, {"a": [1, 2]}, "test")
        assert not store.record_fill(fill(7, 1, "", Side.BUY, "2500.00", "0.010", "0.005", "USDC", True, "0",
                                          DAY1_NS))
        assert [r[0] for r in store.query("SELECT version FROM schema_migrations ORDER BY version")] == [1, 2, 3, 4]


def test_reopening_does_not_migrate_again(tmp_path: Path) -> None:
    path = tmp_path / "mm.db"
    Store.open(path).close()
    Store.open(path).close()
    conn = raw(path)
    assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == 4


def test_a_failing_migration_leaves_the_database_untouched(tmp_path: Path) -> None:
    path = tmp_path / "mm.db"
    conn = raw(path)
    schema.migrate(conn, target=1)

    def broken(db: sqlite_utils.Database) -> None:
        db["half_done"].create({"x": int})
        raise RuntimeError("boom")

    migrations = (*schema.MIGRATIONS, schema.Migration(3, "broken", broken))
    with pytest.raises(RuntimeError, match="boom"):
        schema.migrate(conn, target=3, migrations=migrations)
    assert schema.version(conn) == 1  # not even v2: all pending steps are one transaction
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "half_done" not in names and "config_versions" not in names
    assert not conn.in_transaction


def test_a_newer_database_is_refused_not_downgraded(tmp_path: Path) -> None:
    path = tmp_path / "mm.db"
    Store.open(path).close()
    conn = raw(path)
    conn.execute(f"PRAGMA user_version = {schema.LATEST + 1}")
    conn.close()
    with pytest.raises(SchemaError, match="newer than this code"):
        Store.open(path)
    with pytest.raises(Exception, match="newer than this code"):
        Store.open_readonly(path)


def test_a_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = raw(path)
    conn.execute("CREATE TABLE something (x)")
    conn.close()
    with pytest.raises(SchemaError, match="not an engine database"):
        Store.open(path)


def test_many_threads_opening_a_new_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "mm.db"
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def opener() -> None:
        try:
            barrier.wait()
            with Store.open(path) as store:
                store.start_run(f"r{threading.get_ident()}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store.open_readonly(path) as ro:
        assert ro.count("runs") == 6
        assert [r[0] for r in ro.query("SELECT version FROM schema_migrations")] == [1, 2, 3, 4]


def test_decimal_columns_round_trip_exactly(tmp_path: Path) -> None:
    with Store.open(tmp_path / "mm.db") as store:
        store.start_run("r")
        price = D("0.1") + D("0.2")  # 0.3 exactly, which no float is
        store.record_order_intent("x", venue="v", symbol="S", side="BUY", price=price, qty=D("1E-8"), tif="GTX",
                                  reduce_only=False, created_ns=1, run_id="r")
        o = store.order("x")
        assert o is not None and o.price == D("0.3") and o.qty == D("0.00000001")
        assert store.query("SELECT price, qty, typeof(price) FROM orders")[0][:] == ("0.3", "0.00000001", "text")
