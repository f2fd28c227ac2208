"""Several actors, one Store each, on their own threads: nothing lost, no "database is locked"."""

from __future__ import annotations

import sqlite3
import threading
from decimal import Decimal as D
from pathlib import Path

from actors.gateway.events import Fill, Side
from actors.store import Store
from actors.store.reports import summary

WRITERS = 4
PER_WRITER = 150


def writer(path: Path, w: int, barrier: threading.Barrier, errors: list[BaseException]) -> None:
    try:
        with Store.open(path) as store:
            barrier.wait()
            for i in range(PER_WRITER):
                cid = f"w{w}-{i}"
                store.record_order_intent(cid, venue="binance-usdm", symbol="ETHUSDC", side="BUY",
                                          price=D("2500.00"), qty=D("0.010"), tif="GTX", reduce_only=False,
                                          created_ns=i, run_id="r1")
                store.record_order_event(cid, "NEW", exchange_order_id=w * 10_000 + i, executed_qty=0)
                store.record_fill(Fill("binance-usdm", "ETHUSDC", w * 10_000 + i, w * 10_000 + i, cid, Side.BUY,
                                       D("2500.00"), D("0.010"), D("0.005"), "USDC", True, D("0.001"), i))
                store.record_order_event(cid, "FILLED", executed_qty="0.010")
                store.record_risk_event("check", symbol="ETHUSDC", at_ns=w * 10_000 + i)
                store.record_audit(f"writer{w}", "tick", {"i": i}, at_ns=i)
    except BaseException as exc:  # pragma: no cover - reported by the test
        errors.append(exc)


def test_concurrent_writers_lose_nothing_and_never_see_locked(tmp_path: Path) -> None:
    path = tmp_path / "mm.db"
    with Store.open(path) as s:
        s.start_run("r1")
    errors: list[BaseException] = []
    barrier = threading.Barrier(WRITERS + 1)
    stop = threading.Event()
    reads = []

    def reader() -> None:
        barrier.wait()
        while not stop.is_set():
            with Store.open_readonly(path) as ro:
                reads.append(summary(ro)["fills"])

    threads = [threading.Thread(target=writer, args=(path, w, barrier, errors)) for w in range(WRITERS)]
    rt = threading.Thread(target=reader)
    for t in (*threads, rt):
        t.start()
    for t in threads:
        t.join()
    stop.set()
    rt.join()
    assert errors == []
    n = WRITERS * PER_WRITER
    with Store.open_readonly(path) as store:
        assert store.count("orders") == n and store.count("fills") == n and store.count("order_events") == 2 * n
        assert store.count("risk_events") == n and store.count("audit") == n
        assert store.open_orders("ETHUSDC") == []
        assert summary(store)["realized_pnl"] == str(D("0.001") * n)
    assert reads and reads == sorted(reads)  # every reader saw a consistent, growing history


def test_a_reader_never_blocks_a_writer_and_sees_only_commits(tmp_path: Path) -> None:
    path = tmp_path / "mm.db"
    with Store.open(path) as w:
        w.start_run("r1")
        ro = Store.open_readonly(path)
        ro.query("BEGIN")  # hold a read snapshot open, as a slow report would
        assert ro.count("runs") == 1
        w.start_run("r2")  # not blocked by the open read
        assert ro.count("runs") == 1  # the reader's snapshot is stable
        ro.query("COMMIT")
        assert ro.count("runs") == 2
        try:
            ro.start_run("r3")
        except sqlite3.OperationalError as exc:
            assert "readonly" in str(exc)
        else:  # pragma: no cover
            raise AssertionError("a read-only store wrote")
        ro.close()
