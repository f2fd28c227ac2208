"""`python tools/query.py ...`: exact numbers on a known history, every command in every format, read-only."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace

import pytest

from actors.gateway.events import Fill, Side
from actors.store import Store, schema
from tests.actors.store.sample import DAY1_NS, EXPECTED_SUMMARY, intent, populate
from tools import query

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("query") / "mm.db"
    with Store.open(path) as store:
        populate(store)
    return path


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "tools/query.py"), *args], capture_output=True, text=True,
                          timeout=60, check=False)


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = query.main(list(args), out=out)
    return code, out.getvalue()


def test_summary_json_has_the_exact_numbers(db: Path) -> None:
    r = cli("summary", "--json", "--db", str(db))
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert {k: s[k] for k in EXPECTED_SUMMARY} == EXPECTED_SUMMARY
    assert s["last_run"] == {"run_id": "r1", "started_at": "2024-08-08T00:00:00.000000Z",
                             "ended_at": "2024-08-09T02:00:00.000000Z", "end_reason": "stopped", "symbols": "ETHUSDC"}
    eth = s["symbols"]["ETHUSDC"]
    assert (eth["position"], eth["position_source"], eth["position_from_fills"], eth["maker_fills"]) == (
        "0.002", "inventory", "0.002", 3)
    assert s["schema_version"] == schema.LATEST and s["db"] == str(db)


def test_pnl_by_day_and_hour_net_of_fees_and_funding(db: Path) -> None:
    code, out = run("pnl", "--by", "day", "--json", "--db", str(db))
    assert code == 0
    assert [(r["day"], r["fills"], r["volume"], r["realized_pnl"], r["fees"], r["funding"], r["net_pnl"],
             r["other_fees"]) for r in json.loads(out)] == [
        ("2024-08-08", 2, "35.00400", "0.004", "0.0070008", "0", "-0.0030008", ""),
        ("2024-08-09", 2, "20.02200", "0.018", "0.0030036", "-0.0125", "0.0024964", "BNB:0.00001"),
    ]
    code, out = run("pnl", "--by", "hour", "--json", "--db", str(db))
    rows = json.loads(out)
    assert [r["hour"] for r in rows] == ["2024-08-08T10:00Z", "2024-08-09T02:00Z", "2024-08-09T08:00Z"]
    assert sum(D(r["net_pnl"]) for r in rows) == D(EXPECTED_SUMMARY["net_pnl"])  # the hours add up to the total


# command line, rows expected, a column every format must carry, a value that must appear
CASES = [
    (("summary",), None, "open_orders", "0.0100044"),
    (("orders",), 7, "client_order_id", "PARTIALLY_FILLED"),
    (("orders", "--status", "NEW"), 1, "client_order_id", "c3"),
    (("orders", "--id", "c2"), 3, "status", "PARTIALLY_FILLED"),
    (("fills",), 4, "trade_id", "0.0020008"),
    (("fills", "--since", "2024-08-09"), 2, "trade_id", "5004"),
    (("pnl", "--by", "day"), 2, "net_pnl", "-0.0030008"),
    (("risk",), 1, "kind", "inventory_soft_limit"),
    (("audit",), 1, "action", "<redacted>"),
    (("runs",), 1, "run_id", "r1"),
    (("config",), 2, "version", "0.12"),
    (("config", "--version", "2"), 1, "key", "risk.max_inventory"),
    (("inventory",), 2, "worst_long", "0.018"),
    (("inventory", "--by", "day"), 2, "max_worst_long", "-0.004"),
]


@pytest.mark.parametrize(("args", "n", "column", "value"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_every_command_as_table_csv_and_json(db: Path, args: tuple[str, ...], n: int | None, column: str,
                                             value: str) -> None:
    code, table = run(*args, "--db", str(db))
    assert code == 0
    assert column in table.splitlines()[0] or column in table  # summary is key/value: the key is in the body
    assert value in table

    code, text = run(*args, "--csv", "--db", str(db))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(text)))
    if n is None:
        assert {r["key"] for r in rows} >= {column}
    elif args[:2] == ("orders", "--id"):  # one timeline: the events and the fill
        assert [r["kind"] for r in rows] == ["event", "event", "fill", "event"] and column in rows[0]
    else:
        assert len(rows) == n and column in rows[0]
    assert value in text

    code, text = run(*args, "--json", "--db", str(db))
    assert code == 0
    data = json.loads(text)
    if args[:2] == ("orders", "--id"):
        assert len(data["events"]) == n and column in data["events"][0]
        assert data["order"]["status"] == "PARTIALLY_FILLED" and len(data["fills"]) == 1
    elif args[:2] == ("config", "--version"):
        assert data["version"] == 2 and data["config"] == {"risk": {"max_inventory": "0.12"}}
    elif n is None:
        assert column in data
    else:
        assert len(data) == n and column in data[0]
    assert value in text


def test_order_history_starts_with_the_intent(db: Path) -> None:
    code, text = run("orders", "--id", "c6", "--json", "--db", str(db))
    assert code == 0
    data = json.loads(text)
    assert [(e["seq"], e["status"], e["source"]) for e in data["events"]] == [
        (0, "FOUND", "exchange"), (1, "FILLED", "reconcile")]  # an orphan: found on the exchange, not sent by us
    code, text = run("orders", "--id", "c7", "--json", "--db", str(db))
    assert code == 0
    assert [e["status"] for e in json.loads(text)["events"]] == ["INTENT", "UNKNOWN"]


def test_json_details_are_objects_and_limits_take_the_newest(db: Path) -> None:
    _, text = run("audit", "--json", "--db", str(db))
    assert json.loads(text)[0]["detail"] == {"api_secret": "<redacted>", "symbol": "ETHUSDC"}
    _, text = run("config", "--json", "--limit", "1", "--db", str(db))
    assert [(c["version"], c["diff"]) for c in json.loads(text)] == [(2, {"risk.max_inventory": ["0.16", "0.12"]})]
    _, text = run("fills", "--json", "--limit", "0", "--symbol", "BTCUSDC", "--db", str(db))
    assert json.loads(text) == []


def test_errors_exit_nonzero_with_a_message(tmp_path: Path, db: Path) -> None:
    r = cli("summary", "--db", str(tmp_path / "missing.db"))
    assert r.returncode == 2 and "no such database" in r.stderr
    assert not (tmp_path / "missing.db").exists()  # a query never creates a database
    r = cli("orders", "--id", "nope", "--db", str(db))
    assert r.returncode == 1 and "no order" in r.stderr
    r = cli("fills", "--since", "yesterday", "--db", str(db))
    assert r.returncode == 2 and "--since" in r.stderr
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    assert cli("summary", "--db", str(junk)).returncode == 2


def test_read_only_while_the_engine_writes(tmp_path: Path) -> None:
    path = tmp_path / "mm.db"
    with Store.open(path) as engine:
        engine.start_run("r1")
        intent(engine, "a", Side.BUY, "2500.00", "0.010", DAY1_NS)
        engine.query("BEGIN IMMEDIATE")  # the engine is mid-write, holding the write lock
        intent(engine, "b", Side.BUY, "2499.00", "0.010", DAY1_NS)
        r = cli("summary", "--json", "--db", str(path))
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["orders"] == 1 and json.loads(r.stdout)["open_orders"] == 1  # committed only
        engine.query("COMMIT")  # and the engine was not disturbed
        r = cli("summary", "--json", "--db", str(path))
        assert json.loads(r.stdout)["orders"] == 2


def test_an_older_database_is_read_as_it_is_never_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    schema.migrate(conn, target=1)
    conn.close()
    code, text = run("summary", "--json", "--db", str(path))
    assert code == 0 and json.loads(text)["schema_version"] == 1 and json.loads(text)["config_version"] is None
    assert run("config", "--json", "--db", str(path)) == (0, "[]\n")
    assert schema.version(sqlite3.connect(path)) == 1


def test_database_path_from_settings_else_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = query.build_parser().parse_args(["summary"])
    assert query.resolve_db(args) == Path("var/mm.db")  # the shipped settings have no [store] yet
    monkeypatch.setattr(query, "load_settings", lambda _p: SimpleNamespace(store=SimpleNamespace(path="x/y.db")))
    assert query.resolve_db(args) == Path("x/y.db")  # once the lead adds [store] path
    assert query.resolve_db(query.build_parser().parse_args(["summary", "--db", "z.db"])) == Path("z.db")
    monkeypatch.undo()
    bad = tmp_path / "settings.toml"
    bad.write_text("[stor]\npath = 'a.db'\n")
    r = cli("summary", "--config", str(bad))
    assert r.returncode == 2 and "unknown key" in r.stderr and "--db" in r.stderr


def test_an_order_as_csv_is_one_timeline_of_events_and_fills(db: Path) -> None:
    code, text = run("orders", "--id", "c2", "--csv", "--db", str(db))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["kind"], r["seq"], r["status"], r["executed_qty"], r["trade_id"], r["qty"]) for r in rows] == [
        ("event", "0", "INTENT", "", "", "0.010"), ("event", "1", "NEW", "0", "", ""),
        ("fill", "", "", "", "5002", "0.004"), ("event", "2", "PARTIALLY_FILLED", "0.004", "", "")]
    fill_row = rows[2]
    assert (fill_row["price"], fill_row["commission"], fill_row["commission_asset"], fill_row["is_maker"],
            fill_row["realized_pnl"], fill_row["exchange_order_id"]) == ("2501.00", "0.0020008", "USDC", "true",
                                                                         "0.004", "1002")
    assert {(r["order_symbol"], r["order_side"], r["order_tif"], r["order_status"]) for r in rows} == {
        ("ETHUSDC", "SELL", "GTX", "PARTIALLY_FILLED")}  # the order's own fields on every row
    code, text = run("orders", "--id", "c6", "--csv", "--db", str(db))  # the orphan: found, filled, its fill
    assert [(r["kind"], r["status"], r["source"]) for r in csv.DictReader(io.StringIO(text))] == [
        ("event", "FOUND", "exchange"), ("event", "FILLED", "reconcile"), ("fill", "", "")]
    r = cli("orders", "--id", "nope", "--csv", "--db", str(db))
    assert r.returncode == 1 and r.stdout == ""


def test_pnl_says_whether_funding_is_in_it(db: Path, tmp_path: Path) -> None:
    code, text = run("pnl", "--by", "day", "--json", "--db", str(db))
    assert {r["net_of"] for r in json.loads(text)} == {"realized-fees+funding"}
    code, text = run("pnl", "--db", str(db))
    assert "net_pnl = realized_pnl - fees + funding" in text
    path = tmp_path / "btc.db"
    with Store.open(path) as store:  # a symbol with fills and no funding recorded, ever
        store.record_fill(Fill("binance-usdm", "BTCUSDC", 1, 1, "b1", Side.SELL, D("60000.0"), D("0.001"), D("0.012"),
                               "USDC", True, D("0.1"), DAY1_NS // 10**6))
    code, text = run("pnl", "--by", "hour", "--json", "--db", str(path))
    assert code == 0
    assert [(r["hour"], r["realized_pnl"], r["fees"], r["funding"], r["net_pnl"], r["net_of"])
            for r in json.loads(text)] == [("2024-08-08T00:00Z", "0.1", "0.012", None, "0.088",
                                            "realized-fees (no funding recorded)")]
    code, text = run("pnl", "--csv", "--db", str(path))
    assert next(csv.DictReader(io.StringIO(text)))["funding"] == ""  # unknown, not zero
    old = tmp_path / "v1.db"
    conn = sqlite3.connect(old, isolation_level=None)
    schema.migrate(conn, target=1)  # no income table at all
    conn.close()
    assert run("pnl", "--json", "--db", str(old)) == (0, "[]\n")


def test_inventory_by_hour_keeps_the_extremes(tmp_path: Path) -> None:
    path = tmp_path / "inv.db"
    with Store.open(path) as store:
        for minute, pos, buys, sells in ((1, "0.010", "0.005", "0"), (20, "-0.020", "0", "0.010"),
                                         (59, "0.005", "0.002", "0.001"), (61, "0.001", "0", "0")):
            store.record_inventory("binance-usdm", "ETHUSDC", position=pos, open_buy_qty=buys, open_sell_qty=sells,
                                   at_ns=DAY1_NS + minute * 60 * 10**9)
    code, text = run("inventory", "--by", "hour", "--json", "--db", str(path))
    assert code == 0
    first, second = json.loads(text)
    assert {k: first[k] for k in ("hour", "samples", "first", "last", "min", "max", "max_abs", "max_worst_long",
                                  "min_worst_short")} == {
        "hour": "2024-08-08T00:00Z", "samples": 3, "first": "0.010", "last": "0.005", "min": "-0.020",
        "max": "0.010", "max_abs": "0.020", "max_worst_long": "0.015", "min_worst_short": "-0.030"}
    assert (second["hour"], second["samples"], second["max_abs"]) == ("2024-08-08T01:00Z", 1, "0.001")
    code, text = run("inventory", "--by", "day", "--csv", "--db", str(path))
    assert [(r["day"], r["samples"], r["min"], r["max"]) for r in csv.DictReader(io.StringIO(text))] == [
        ("2024-08-08", "4", "-0.020", "0.010")]


def test_config_shows_each_changed_key_and_one_version_whole(tmp_path: Path) -> None:
    path = tmp_path / "cfg.db"
    with Store.open(path) as store:
        store.record_config_version(1, {"risk.max_inventory": ["0.1", "0.2"], "strategy.half_spread_bps": [5, 7]},
                                    "file:settings.toml", config={"risk": {"max_inventory": "0.2"},
                                                                  "strategy": {"half_spread_bps": 7, "levels": 1}},
                                    at_ns=DAY1_NS)
        store.record_config_version(2, "reload rejected: nothing changed", "sighup", at_ns=DAY1_NS + 1)
    code, text = run("config", "--csv", "--db", str(path))
    assert [(r["version"], r["key"], r["old"], r["new"]) for r in csv.DictReader(io.StringIO(text))] == [
        ("1", "risk.max_inventory", "0.1", "0.2"), ("1", "strategy.half_spread_bps", "5", "7"),
        ("2", "", "", "reload rejected: nothing changed")]  # a diff not in the {key: [old, new]} shape: whole
    code, text = run("config", "--version", "1", "--csv", "--db", str(path))
    assert [(r["key"], r["value"], r["changed"], r["old"]) for r in csv.DictReader(io.StringIO(text))] == [
        ("risk.max_inventory", "0.2", "true", "0.1"), ("strategy.half_spread_bps", "7", "true", "5"),
        ("strategy.levels", "1", "false", "")]
    code, text = run("config", "--version", "2", "--db", str(path))
    assert code == 0 and "(not recorded)" in text
    r = cli("config", "--version", "9", "--db", str(path))
    assert r.returncode == 1 and "no configuration version 9" in r.stderr
