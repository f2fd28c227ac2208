"""The Store's writes and readers on a real SQLite file: idempotency, keys, order lifecycle, recovery points."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest

from actors.clock import SimClock
from actors.gateway.events import OrderReport, OrderStatus, Side
from actors.store import ConflictError, LocalStatus, Store, UnknownOrderError
from actors.store.codec import REDACTED, dec, iso_ms, iso_ns, redact
from tests.actors.store.sample import DAY1_NS, SYM, VENUE, fill, intent, populate

TABLES = ("runs", "orders", "order_events", "fills", "pnl_snapshots", "inventory", "risk_events", "audit",
          "config_versions", "income")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "mm.db", clock=SimClock(DAY1_NS))
    s.start_run("r1", symbols=[SYM])
    yield s
    s.close()


def dump(store: Store) -> dict[str, list[tuple]]:
    """Every row of every table, except the per-write ``recorded_*`` times, which a replay may not repeat."""
    out = {}
    for t in TABLES:
        rows = store.query(f"SELECT * FROM {t} ORDER BY rowid")
        out[t] = [tuple(v for k, v in zip(r.keys(), r, strict=True) if not k.startswith("recorded")) for r in rows]
    return out


def test_every_write_twice_is_the_same_as_once(tmp_path: Path) -> None:
    once = Store.open(tmp_path / "once.db")
    populate(once)
    twice = Store.open(tmp_path / "twice.db")
    populate(twice)
    populate(twice)  # the whole history again: what a crash-and-replay does
    assert dump(twice) == dump(once)
    assert {t: len(rows) for t, rows in dump(once).items()} == {
        "runs": 1, "orders": 7, "order_events": 10, "fills": 4, "pnl_snapshots": 1, "inventory": 2,
        "risk_events": 1, "audit": 1, "config_versions": 2, "income": 1}


def test_each_write_reports_whether_it_was_new(store: Store) -> None:
    f = fill(1, 11, "a", Side.BUY, "2500.00", "0.010", "0.005", "USDC", True, "0", DAY1_NS)
    assert intent(store, "a", Side.BUY, "2500.00", "0.010", DAY1_NS) is True
    assert intent(store, "a", Side.BUY, "2500.00", "0.010", DAY1_NS) is False
    assert store.record_order_event("a", "NEW", executed_qty=0) is True
    assert store.record_order_event("a", "NEW", executed_qty="0.000") is False  # same state, other spelling
    assert store.record_fill(f) is True and store.record_fill(f) is False
    for call in (lambda: store.record_pnl_snapshot(VENUE, SYM, position=0, realized_pnl=0, unrealized_pnl=0, fees=0,
                                                   at_ns=5),
                 lambda: store.record_inventory(VENUE, SYM, position="0.01", at_ns=5),
                 lambda: store.record_risk_event("halt", symbol=SYM, severity="P0", at_ns=5),
                 lambda: store.record_audit("ops", "pause", {"symbol": SYM}, at_ns=5),
                 lambda: store.record_config_version(3, {"x": [1, 2]}, "ops", at_ns=5),
                 lambda: store.record_income(VENUE, 99, asset="USDC", amount="-0.01", kind="FUNDING_FEE", at_ms=5)):
        assert call() is True
        assert call() is False
    assert store.start_run("r1") is False
    assert store.end_run("r1", reason="done") is True and store.end_run("r1", reason="again") is False
    assert store.runs()[0].end_reason == "done"


def test_fills_are_unique_by_venue_symbol_and_trade_id(store: Store) -> None:
    f = fill(42, 11, "a", Side.BUY, "2500.00", "0.010", "0.005", "USDC", True, "0", DAY1_NS)
    assert store.record_fill(f)
    assert not store.record_fill(dataclasses.replace(f, price=D("2500.000")))  # the same trade, whatever it says
    assert store.record_fill(dataclasses.replace(f, symbol="BTCUSDC"))  # trade ids are per symbol
    assert store.record_fill(dataclasses.replace(f, venue="okx"))  # ... and per venue
    assert store.count("fills") == 3
    assert store.last_trade_id(VENUE, SYM) == 42 and store.last_trade_id(VENUE, "XRPUSDC") is None
    assert store.record_fill(dataclasses.replace(f, trade_id=41, trade_ms=f.trade_ms - 5))  # late, out of order
    assert store.last_trade_id(VENUE, SYM) == 42 and store.last_fill_ms(VENUE, SYM) == f.trade_ms


def test_a_fill_without_client_id_is_linked_through_the_exchange_order_id(store: Store) -> None:
    intent(store, "a", Side.BUY, "2500.00", "0.010", DAY1_NS)
    store.record_order_event("a", "NEW", exchange_order_id=777)
    f = fill(1, 777, "", Side.BUY, "2500.00", "0.010", "0.005", "USDC", True, "0", DAY1_NS)  # REST userTrades
    store.record_fill(f)
    assert store.fills()[0].client_order_id == "a"
    g = fill(2, 888, "", Side.BUY, "2500.00", "0.010", "0.005", "USDC", True, "0", DAY1_NS)  # not ours (yet)
    store.record_fill(g)
    assert not store.record_fill(dataclasses.replace(g, client_order_id="b"))  # a later copy names the order
    assert store.fills(client_order_id="b")[0].trade_id == 2


def test_a_reused_client_id_with_different_content_is_refused(store: Store) -> None:
    intent(store, "a", Side.BUY, "2500.00", "0.010", DAY1_NS)
    with pytest.raises(ConflictError):
        intent(store, "a", Side.SELL, "2500.00", "0.010", DAY1_NS)
    with pytest.raises(ConflictError):
        intent(store, "a", Side.BUY, "2500.01", "0.010", DAY1_NS)
    o = store.order("a")
    assert o is not None and o.side == "BUY" and o.price == D("2500.00")


def test_order_life_and_open_orders(store: Store) -> None:
    for cid, price in (("a", "2500.00"), ("b", "2499.00"), ("c", "2498.00")):
        intent(store, cid, Side.BUY, price, "0.010", DAY1_NS)
    assert [o.client_order_id for o in store.open_orders(SYM)] == ["a", "b", "c"]  # INTENT counts: maybe sent
    store.record_order_event("a", "NEW", exchange_order_id=1, executed_qty=0, source="rest")
    store.record_order_event("a", "FILLED", exchange_order_id=1, executed_qty="0.010", avg_price="2500.00",
                             source="ws")
    store.record_order_event("a", "NEW", exchange_order_id=1, executed_qty=0, price="2500.00", source="rest")  # late
    store.record_order_event("b", LocalStatus.UNKNOWN, reason="timeout")
    store.record_order_event("c", LocalStatus.CANCEL_REQUESTED, at_ns=DAY1_NS + 5)
    assert [o.client_order_id for o in store.open_orders(SYM)] == ["b", "c"]  # a request is not a confirmation
    store.record_order_event("c", "CANCELED", executed_qty=0, at_ns=DAY1_NS + 6)
    assert [o.client_order_id for o in store.open_orders(SYM)] == ["b"]
    assert store.open_orders("BTCUSDC") == [] and store.open_orders(SYM, venue="okx") == []

    a = store.order("a")
    assert a is not None and (a.status, a.executed_qty, a.avg_price, a.exchange_order_id) == (
        "FILLED", D("0.010"), D("2500.00"), 1)
    assert [(e.seq, e.status, e.applied) for e in store.order_events("a")] == [
        (1, "NEW", True), (2, "FILLED", True), (3, "NEW", False)]
    c = store.order("c")
    assert c is not None and c.status == "CANCELED" and c.cancel_requested_ns == DAY1_NS + 5
    # a second cancel attempt is its own event only when the caller says so
    assert store.record_order_event("b", LocalStatus.CANCEL_REQUESTED)
    assert not store.record_order_event("b", LocalStatus.CANCEL_REQUESTED)
    assert store.record_order_event("b", LocalStatus.CANCEL_REQUESTED, key="attempt-2")


def test_an_event_for_an_unknown_order_is_an_error(store: Store) -> None:
    with pytest.raises(UnknownOrderError):
        store.record_order_event("ghost", "NEW")
    intent(store, "a", Side.BUY, "1", "1", DAY1_NS)
    with pytest.raises(ValueError, match="unknown order status"):
        store.record_order_event("a", "PENDING")
    assert store.count("order_events") == 0


def test_an_orphan_found_on_the_exchange_is_recorded_and_open(store: Store) -> None:
    report = OrderReport(VENUE, SYM, "web_x1", 55, Side.SELL, "LIMIT", "GTC", D("2600.00"), D("0.020"), D("0"),
                         D("0"), OrderStatus.NEW, True, 1_723_075_200_123)
    assert store.record_order_report(report, source="reconcile")
    assert not store.record_order_report(report, source="reconcile")
    [o] = store.open_orders(SYM)
    assert (o.client_order_id, o.origin, o.status, o.side, o.qty, o.reduce_only, o.exchange_order_id) == (
        "web_x1", "exchange", "NEW", "SELL", D("0.020"), True, 55)
    assert o.avg_price is None  # Binance's "0" average of an unfilled order is not a price
    store.record_order_report(dataclasses.replace(report, status=OrderStatus.CANCELED), source="ws")
    assert store.open_orders(SYM) == []


def test_inventory_keeps_the_worst_cases(store: Store) -> None:
    store.record_inventory(VENUE, SYM, position="0.10", open_buy_qty="0.08", open_sell_qty="0.03", at_ns=1)
    [row] = store.inventory()
    assert (row.worst_long, row.worst_short) == (D("0.18"), D("0.07"))
    with pytest.raises(ValueError):
        store.record_inventory(VENUE, SYM, position="0", open_buy_qty="-1", at_ns=2)


def test_pnl_snapshot_net_is_computed_once_here(store: Store) -> None:
    store.record_pnl_snapshot(VENUE, SYM, position="0.01", realized_pnl="1.5", unrealized_pnl="-0.25", fees="0.30",
                              funding="-0.05", at_ns=1)
    [snap] = store.pnl_snapshots()
    assert snap.net_pnl == D("0.90")


def test_floats_never_reach_the_database(store: Store) -> None:
    with pytest.raises(TypeError):
        store.record_order_intent("f", venue=VENUE, symbol=SYM, side="BUY", price=0.1,  # type: ignore[arg-type]
                                  qty=D(1), tif="GTX", reduce_only=False, created_ns=1, run_id="r1")
    with pytest.raises(ValueError):
        dec(D("NaN"))
    assert dec(D("-0")) == "0" and dec(D("1E+2")) == "100" and dec("0.00000001") == "0.00000001"


def test_secrets_are_never_stored(store: Store) -> None:
    store.record_audit("ops", "set_keys", {"api_key": "AK", "exchange.api_secret": "S", "listenKey": "L",
                                           "api_key_env": "MM_API_KEY", "nested": [{"password": "p"}]}, at_ns=1)
    store.record_config_version(1, {"exchange.api_secret": ["a", "b"]}, "ops", config={"exchange": {"api_key": "k"}},
                                at_ns=1)
    rows = [*store.query("SELECT * FROM audit"), *store.query("SELECT * FROM config_versions")]
    text = " ".join(" ".join(map(str, r)) for r in rows)
    for secret in ("AK", '"S"', '"L"', '"p"', '"a"', '"k"'):
        assert secret not in text
    assert "MM_API_KEY" in text  # the name of the variable is not the secret
    assert redact({"signature": "x", "qty": 1}) == {"signature": REDACTED, "qty": 1}


def test_config_versions_are_immutable(store: Store) -> None:
    assert store.record_config_version(1, {"risk.max_inventory": ["0.16", "0.12"]}, "alice")
    assert not store.record_config_version(1, {"risk.max_inventory": ["0.16", "0.12"]}, "alice")
    with pytest.raises(ConflictError):
        store.record_config_version(1, {"risk.max_inventory": ["0.16", "0.10"]}, "alice")


def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        intent_for_run(store, "nope")


def intent_for_run(store: Store, run_id: str) -> None:
    store.record_order_intent("z", venue=VENUE, symbol=SYM, side="BUY", price=D(1), qty=D(1), tif="GTX",
                              reduce_only=False, created_ns=1, run_id=run_id)


def test_readers_return_the_newest_rows_oldest_first(tmp_path: Path) -> None:
    with Store.open(tmp_path / "mm.db") as store:
        populate(store)
        assert [f.trade_id for f in store.fills(limit=2)] == [5003, 5004]
        assert [o.client_order_id for o in store.orders(status="NEW")] == ["c3"]
        assert [o.client_order_id for o in store.orders(since_ns=DAY1_NS + 86_400 * 10**9)] == ["c5", "c6", "c7"]
        assert [c.version for c in store.config_versions()] == [1, 2]
        assert store.income(kind="FUNDING_FEE")[0].amount == D("-0.0125")


def test_times_are_ns_with_iso_text_beside_them() -> None:
    assert iso_ns(1_723_075_200_123_456_789) == "2024-08-08T00:00:00.123456Z"
    assert iso_ms(1_723_075_200_123) == "2024-08-08T00:00:00.123Z"


def test_a_failed_write_leaves_no_transaction_behind(store: Store) -> None:
    with pytest.raises(UnknownOrderError):
        store.record_order_event("ghost", "NEW")
    intent(store, "a", Side.BUY, "2500.00", "0.010", DAY1_NS)  # the connection is usable at once
    assert store.record_order_event("a", "NEW")


def test_checkpoint_moves_the_log_into_the_database(tmp_path: Path) -> None:
    path = tmp_path / "mm.db"
    with Store.open(path, autocheckpoint=False) as store:  # the OMS's connection: no fsync on its commits
        populate(store)
        wal = tmp_path / "mm.db-wal"
        assert wal.stat().st_size > 0
        busy, pages, done = store.checkpoint("TRUNCATE")
        assert busy == 0 and pages == done and wal.stat().st_size == 0
    with pytest.raises(ValueError):
        Store.open(path, synchronous="OFF")  # never: a power loss could then corrupt the database


def test_fill_linking_uses_the_exchange_id_index(store: Store) -> None:
    plan = " ".join(r[3] for r in store.query(
        "EXPLAIN QUERY PLAN SELECT client_order_id FROM orders WHERE venue = ? AND symbol = ? "
        "AND exchange_order_id = ?", (VENUE, SYM, 1)))
    assert "orders_exchange_id" in plan
