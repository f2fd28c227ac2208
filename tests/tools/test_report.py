"""tools/report.py: one UTC day of two symbols written through the Store API, every figure of the report
computed by hand below, the tool run as a subprocess, its charts decoded and checked pixel by pixel."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from actors.clock import SimClock
from actors.gateway.events import Fill, OrderStatus, Side
from actors.store import LocalStatus, Store, schema
from actors.store.reports import ReportSettings, daily_figures
from tests.tools.test_png import colour, decode_png
from tools import report
from tools.png import BLACK, PALETTE, lighter

REPO = Path(__file__).resolve().parents[2]
VENUE = "binance-usdm"
ETH, BTC = "ETHUSDC", "BTCUSDC"
DAY = date(2024, 8, 9)
S = 1_723_161_600 * 10**9  # 2024-08-09T00:00:00Z
H = 3600 * 10**9
M = 60 * 10**9


def fill(sym: str, trade_id: int, side: Side, price: str, qty: str, fee: str, asset: str, maker: bool,
         realized: str, at_ns: int) -> Fill:
    return Fill(VENUE, sym, trade_id, 9000 + trade_id, f"f{trade_id}", side, D(price), D(qty), D(fee), asset, maker,
                D(realized), at_ns // 1_000_000)


def order(store: Store, cid: str, sym: str, at_ns: int, *events: tuple[str, int, str | None]) -> None:
    store.record_order_intent(cid, venue=VENUE, symbol=sym, side=Side.BUY, price=D("2400.00"), qty=D("0.010"),
                              tif="GTX", reduce_only=False, created_ns=at_ns, run_id="r2")
    for status, t, executed in events:
        store.record_order_event(cid, status, at_ns=t, executed_qty=executed, source="test")


def populate(store: Store) -> None:
    """The day 2024-08-09 and its surroundings; EXPECTED holds what the report must say."""
    store.start_run("r1", symbols=[ETH], host="mm1", code_version="v1", at_ns=S - 10 * H)  # never ended: crashed
    store.start_run("r2", symbols=[ETH, BTC], host="mm1", code_version="v2", at_ns=S + 1 * H)
    store.end_run("r2", reason="stopped", at_ns=S + 20 * H)
    store.start_run("r3", symbols=[ETH, BTC], host="mm1", code_version="v2", at_ns=S + 22 * H)  # still running
    # before the day: not counted, but the starting point of position and unrealized PnL
    store.record_fill(fill(ETH, 1, Side.BUY, "2500.00", "0.010", "0.005", "USDC", True, "0", S - 1 * H))
    store.record_inventory(VENUE, ETH, position="0.010", source="analyzer", at_ns=S - 30 * M)
    store.record_pnl_snapshot(VENUE, ETH, position="0.010", realized_pnl="0", unrealized_pnl="0.02", fees="0.005",
                              at_ns=S - 10 * 10**9)
    store.record_income(VENUE, "t0", symbol=ETH, asset="USDC", amount="0.003", kind="FUNDING_FEE",
                        at_ms=(S - 16 * H) // 10**6)
    # the day: ETHUSDC
    store.record_fill(fill(ETH, 2, Side.SELL, "2510.00", "0.004", "0.002008", "USDC", True, "0.04", S + 2 * H))
    store.record_inventory(VENUE, ETH, position="0.006", source="analyzer", at_ns=S + 2 * H)
    store.record_fill(fill(ETH, 3, Side.BUY, "2490.00", "0.006", "0.00747", "USDC", False, "0", S + 5 * H))
    store.record_inventory(VENUE, ETH, position="0.012", open_buy_qty="0.010", source="analyzer", at_ns=S + 5 * H)
    store.record_income(VENUE, "t1", symbol=ETH, asset="USDC", amount="-0.0125", kind="FUNDING_FEE",
                        at_ms=(S + 8 * H) // 10**6)
    store.record_fill(fill(ETH, 4, Side.SELL, "2505.00", "0.012", "0.006012", "USDC", True, "0.12", S + 9 * H))
    store.record_inventory(VENUE, ETH, position="0", open_sell_qty="0.030", source="analyzer", at_ns=S + 9 * H)
    store.record_fill(fill(ETH, 5, Side.BUY, "2506.00", "0.002", "0.00001", "BNB", True, "0", S + 12 * H))
    store.record_inventory(VENUE, ETH, position="0.002", source="analyzer", at_ns=S + 12 * H)
    store.record_pnl_snapshot(VENUE, ETH, position="0.002", realized_pnl="0.16", unrealized_pnl="0.0005",
                              fees="0.01549", at_ns=S + 12 * H + 10**9)
    # the day: BTCUSDC (no inventory records, no funding ever)
    store.record_fill(fill(BTC, 6, Side.BUY, "60000.0", "0.001", "0.012", "USDC", True, "0", S + 3 * H))
    store.record_fill(fill(BTC, 7, Side.SELL, "60100.0", "0.001", "0.01202", "USDC", True, "0.1", S + 4 * H))
    # after the day: not counted
    store.record_fill(fill(ETH, 8, Side.SELL, "2520.00", "0.002", "0.001", "USDC", True, "0.03", S + 24 * H + M))
    store.record_income(VENUE, "t2", symbol=ETH, asset="USDC", amount="-1", kind="FUNDING_FEE",
                        at_ms=(S + 24 * H) // 10**6)

    order(store, "oa", ETH, S + 1 * H, (OrderStatus.NEW, S + 1 * H, "0"))  # open, and still
    order(store, "ob", ETH, S + 3 * H, (OrderStatus.NEW, S + 3 * H, "0"), (OrderStatus.CANCELED, S + 6 * H, None))
    order(store, "oc", ETH, S + 20 * H, (OrderStatus.NEW, S + 20 * H, "0"),
          (OrderStatus.FILLED, S + 24 * H + 5 * M, "0.010"))  # open at the end, filled after it
    order(store, "od", ETH, S + 25 * H)  # created after the day
    order(store, "oe", ETH, S + 23 * H, (LocalStatus.UNKNOWN, S + 23 * H + 10**9, None))
    order(store, "of", ETH, S + 10 * H, (OrderStatus.NEW, S + 10 * H, "0"),
          (LocalStatus.CANCEL_REQUESTED, S + 11 * H, None), (OrderStatus.CANCELED, S + 24 * H + 2 * M, None))
    order(store, "og", BTC, S + 3 * H, (OrderStatus.NEW, S + 3 * H, "0"),
          (OrderStatus.PARTIALLY_FILLED, S + 4 * H, "0.004"))

    store.record_risk_event("stale_feed", venue=VENUE, symbol=ETH, severity="P1", state="REDUCING",
                            detail={"why": "a|b"}, at_ns=S + 7 * H)
    store.record_risk_event("trading_state", venue=VENUE, symbol=ETH, severity="P2", state="ACTIVE",
                            at_ns=S + 7 * H + M)
    store.record_risk_event("panicstop_tree", venue=VENUE, symbol="", severity="P0", state="HALTED",
                            at_ns=S + 19 * H)
    store.record_risk_event("stale_feed", venue=VENUE, symbol=ETH, severity="P1", at_ns=S - H)  # before
    store.record_config_version(2, {"risk.max_inventory": ["0.05", "0.1"]}, "operator:alice", at_ns=S - 5 * H)
    store.record_config_version(3, {"risk.max_inventory": ["0.1", "0.2"], "strategy.half_spread_bps": ["5", "7"]},
                                "file:settings.toml", config={"risk": {"max_inventory": "0.2"}}, at_ns=S + 6 * H)
    store.record_audit("operator:bob", "resume", {"symbol": ETH, "api_key": "k"}, at_ns=S + 21 * H)
    store.record_audit("operator:bob", "pause", {"symbol": ETH}, at_ns=S - 2 * H)


# Hand-computed:
# ETH fills 2..5: volume 10.04 + 14.94 + 30.06 + 5.012 = 60.052, maker 45.112 (75.1 %); realized 0.04 + 0.12
# = 0.16; USDC fees 0.002008 + 0.00747 + 0.006012 = 0.01549 (+ 0.00001 BNB, not netted); funding -0.0125;
# net 0.16 - 0.01549 - 0.0125 = 0.13201; unrealized 0.02 → 0.0005: -0.0195, so 0.11251 with it.
# BTC: volume 60 + 60.1 = 120.1, realized 0.1, fees 0.02402, funding never recorded, net 0.07598.
# USDC total: realized 0.26, fees 0.03951, net 0.20799.
ETH_NET, BTC_NET, TOTAL_NET = D("0.13201"), D("0.07598"), D("0.20799")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "mm.db"
    with Store.open(path) as store:
        populate(store)
    return path


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "tools/report.py"), *args], capture_output=True, text=True,
                          timeout=60, check=False, cwd=REPO)


def md_table(text: str, first_header: str) -> list[dict[str, str]]:
    """The markdown table whose first column is ``first_header``, as dicts."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    head = [c.strip() for c in lines[start].strip("|").split(" | ")]
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line[2:-2].split(" | ")]
        rows.append(dict(zip(head, cells, strict=True)))
    return rows


def test_figures_of_the_day_by_hand(db: Path) -> None:
    with Store.open_readonly(db) as store:
        fig = daily_figures(store, DAY)
    btc, eth = fig.symbols
    assert (eth.symbol, eth.fills, eth.maker_fills, eth.volume, eth.maker_volume) == (ETH, 4, 3, D("60.052"),
                                                                                       D("45.112"))
    assert (eth.realized_pnl, eth.fees, eth.other_fees, eth.funding, eth.net_pnl) == (
        D("0.16"), D("0.01549"), (("BNB", D("0.00001")),), D("-0.0125"), ETH_NET)
    assert (eth.unrealized_change, eth.net_pnl_mtm) == (D("-0.0195"), D("0.11251"))
    assert (eth.position_source, eth.position_start, eth.position_end, eth.max_abs_position) == (
        "inventory", D("0.010"), D("0.002"), D("0.012"))
    assert (eth.max_worst_long, eth.min_worst_short) == (D("0.022"), D("-0.030"))
    assert (eth.risk_events, eth.open_orders_at_end) == (2, 4)
    assert (btc.volume, btc.realized_pnl, btc.fees, btc.funding, btc.net_pnl, btc.unrealized_change) == (
        D("120.1"), D("0.1"), D("0.02402"), None, BTC_NET, None)
    assert (btc.position_source, btc.position_start, btc.position_end, btc.max_abs_position) == (
        "fills", D(0), D(0), D("0.001"))
    assert fig.totals()["USDC"]["net_pnl"] == TOTAL_NET
    # the curves: cumulative net over the day, ending where the totals say
    assert eth.equity[0] == (S, 0) and eth.equity[-1] == (S + 24 * H, ETH_NET)
    assert [v for _, v in eth.equity] == [0, D("0.037992"), D("0.030522"), D("0.018022"), D("0.13201"),
                                          D("0.13201"), D("0.13201")]
    assert eth.equity_mtm == ((S, 0), (S + 12 * H + 10**9, D("0.11251")))
    assert [v for _, v in eth.inventory] == [D("0.010"), D("0.006"), D("0.012"), D(0), D("0.002"), D("0.002")]
    assert [v for _, v in btc.inventory] == [0, D("0.001"), 0, 0]
    # open at the end as known then: oa, oc (filled after), oe (no answer), of (its cancel came after); og
    assert [(o.client_order_id, o.status, o.executed_qty) for o in fig.open_orders] == [
        ("og", "PARTIALLY_FILLED", D("0.004")), ("oa", "NEW", 0), ("of", "NEW", 0), ("oc", "NEW", 0),
        ("oe", "UNKNOWN", 0)]
    assert [r.run_id for r in fig.runs] == ["r1", "r2", "r3"] and fig.crashed_runs == ("r1",) and fig.starts == 2
    assert [e.kind for e in fig.risk_events] == ["stale_feed", "trading_state", "panicstop_tree"]
    assert [(c["version"], c["key"]) for c in fig.config_changes] == [(3, "risk.max_inventory"),
                                                                      (3, "strategy.half_spread_bps")]
    assert [a.action for a in fig.audit] == ["resume"]


def test_the_report_tool_writes_markdown_and_charts(db: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "reports"
    r = cli("daily", "--db", str(db), "--day", "2024-08-09", "--out", str(out_dir))
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 1
    paths = json.loads(r.stdout)
    assert paths["day"] == "2024-08-09"
    md = Path(paths["markdown"])
    assert md == out_dir / "report-2024-08-09.md"
    assert Path(paths["equity_png"]) == out_dir / "equity-2024-08-09.png"
    assert Path(paths["inventory_png"]) == out_dir / "inventory-2024-08-09.png"
    assert "net PnL +0.20799 USDC" in paths["summary"]
    text = md.read_text()
    assert "![equity curve](equity-2024-08-09.png)" in text and "![position](inventory-2024-08-09.png)" in text

    pnl = {r["symbol"]: r for r in md_table(text, "symbol") if r["symbol"] in (ETH, BTC, "**total USDC**")}
    assert {k: pnl[ETH][k] for k in ("fills", "maker fills", "maker share", "volume", "realized PnL", "fees",
                                     "funding", "net PnL", "Δ unrealized", "net + Δ unrealized",
                                     "fees in other assets")} == {
        "fills": "4", "maker fills": "3", "maker share": "75.1%", "volume": "60.052", "realized PnL": "0.16",
        "fees": "0.01549", "funding": "-0.0125", "net PnL": "+0.13201", "Δ unrealized": "-0.0195",
        "net + Δ unrealized": "+0.11251", "fees in other assets": "BNB:0.00001"}
    assert (pnl[BTC]["funding"], pnl[BTC]["net PnL"], pnl[BTC]["maker share"]) == ("", "+0.07598", "100.0%")
    assert (pnl["**total USDC**"]["net PnL"], pnl["**total USDC**"]["fees"]) == ("+0.20799", "0.03951")

    inv = {r["symbol"]: r for r in md_table(text.split("## Inventory and risk")[1], "symbol")}
    assert [inv[ETH][k] for k in ("position at start", "at end", "max abs", "max worst long", "min worst short",
                                  "from", "risk events", "open orders at end")] == [
        "0.01", "0.002", "0.012", "0.022", "-0.03", "inventory", "2", "4"]
    assert [inv[BTC][k] for k in ("max abs", "from", "open orders at end")] == ["0.001", "fills", "1"]

    risk = md_table(text, "at")
    assert [(e["kind"], e["severity"]) for e in risk] == [("stale_feed", "P1"), ("trading_state", "P2"),
                                                         ("panicstop_tree", "P0")]
    assert risk[0]["detail"] == '{"why":"a\\|b"}'  # a pipe inside a cell does not split it
    runs = {r["run"]: r for r in md_table(text, "run")}
    assert runs["r1"]["note"].startswith("no clean stop") and runs["r3"]["note"] == "running"
    assert runs["r2"]["end reason"] == "stopped"
    opened = [(o["client order id"], o["status"]) for o in md_table(text.split("## Open orders")[1], "symbol")]
    assert opened == [("og", "PARTIALLY_FILLED"), ("oa", "NEW"), ("of", "NEW"), ("oc", "NEW"), ("oe", "UNKNOWN")]
    assert [(c["key"], c["old"], c["new"]) for c in md_table(text, "version")] == [
        ("risk.max_inventory", "0.1", "0.2"), ("strategy.half_spread_bps", "5", "7")]
    assert "<redacted>" in text and '"k"' not in text  # the audit detail as stored: secrets redacted

    # the charts: exactly what the renderer drew for these figures, and the lines end at the day's totals
    with Store.open_readonly(db) as store:
        fig = daily_figures(store, DAY)
    equity = report.equity_chart(fig)
    img = decode_png(Path(paths["equity_png"]).read_bytes())
    assert np.array_equal(img, equity.pixels) and img.shape == (320, 900, 3)
    ax = equity.axes
    assert ax is not None
    assert colour(img, *ax.px(23, float(ETH_NET))) == PALETTE[1]  # ETHUSDC (symbols sorted: BTC first)
    assert colour(img, *ax.px(23, float(BTC_NET))) == PALETTE[0]
    assert colour(img, *ax.px(23, float(TOTAL_NET))) == BLACK
    assert colour(img, *ax.px(6, 0.11251 / 2)) == lighter(PALETTE[1])  # mark-to-market: 0 at 00:00 → 12:00
    assert colour(img, *ax.px(23, 0.1)) == (255, 255, 255)
    inventory = report.inventory_chart(fig)
    img = decode_png(Path(paths["inventory_png"]).read_bytes())
    assert np.array_equal(img, inventory.pixels)
    ax = inventory.axes
    assert ax is not None
    for hour, pos in ((1, 0.010), (3, 0.006), (7, 0.012), (20, 0.002)):
        assert colour(img, *ax.px(hour, pos)) == PALETTE[1], (hour, pos)
    assert colour(img, *ax.px(3.5, 0.001)) == PALETTE[0]


def test_default_day_is_yesterday_and_settings_are_used(db: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    clock = SimClock(S + 24 * H + 7 * M)  # 2024-08-10 00:07 UTC
    assert report.main(["daily", "--db", str(db), "--out", str(tmp_path)], out=out, clock=clock) == 0
    assert json.loads(out.getvalue())["day"] == "2024-08-09"
    # once the lead adds [report] to the settings: its out_dir, and [store] path
    fake = SimpleNamespace(store=SimpleNamespace(path=str(db)), report=ReportSettings(out_dir=str(tmp_path / "r")))
    monkeypatch.setattr(report, "load_settings", lambda _p: fake)
    out = io.StringIO()
    assert report.main(["daily", "--day", "2024-08-09"], out=out, clock=clock) == 0
    assert json.loads(out.getvalue())["markdown"] == str(tmp_path / "r" / "report-2024-08-09.md")
    monkeypatch.undo()
    cfg = tmp_path / "settings.toml"
    cfg.write_text(f"[store]\npath = {str(db)!r}\n")
    r = cli("daily", "--config", str(cfg), "--day", "2024-08-08", "--out", str(tmp_path / "x"))
    assert r.returncode == 0, r.stderr
    assert Path(json.loads(r.stdout)["markdown"]).parent == tmp_path / "x"


def test_a_day_not_over_yet_ends_now(db: Path, tmp_path: Path) -> None:
    clock = SimClock(S + 10 * H)
    rep = report.build_daily_report(db, DAY, tmp_path, clock=clock)
    text = rep.markdown_path.read_text()
    assert "the day is not over: figures up to 2024-08-09T10:00:00.000000Z" in text
    assert rep.attachments == (rep.markdown_path, rep.equity_png, rep.inventory_png)
    with Store.open_readonly(db) as store:
        fig = daily_figures(store, DAY, now_ns=S + 10 * H)
    assert fig.until_ns == S + 10 * H
    assert fig.symbols[0].equity[-1] == (S + 10 * H, BTC_NET)  # BTC's last fill was at 04:00: flat up to now


def test_errors_exit_2_without_creating_anything(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = cli("daily", "--db", str(tmp_path / "missing.db"), "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and "no such database" in r.stderr and r.stdout == ""
    assert not (tmp_path / "missing.db").exists() and not (tmp_path / "out").exists()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 200)
    clock = SimClock(S + 30 * H)
    for args, message in ((("--db", str(db), "--day", "yesterday"), "--day"),
                          (("--db", str(db), "--day", "2024-08-11"), "not begun"),  # tomorrow, by the clock
                          (("--db", str(junk)), "junk.db")):
        out = io.StringIO()
        assert report.main(["daily", *args, "--out", str(tmp_path / "out")], out=out, clock=clock) == 2
        assert message in capsys.readouterr().err and out.getvalue() == ""
    assert not (tmp_path / "out").exists()


def test_an_empty_day_gives_no_data_charts(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    Store.open(path).close()
    rep = report.build_daily_report(path, DAY, tmp_path / "out")
    text = rep.markdown_path.read_text()
    assert "no trading activity recorded" in rep.summary and "The engine did not run." in text
    for png_path in (rep.equity_png, rep.inventory_png):
        img = decode_png(png_path.read_bytes())
        assert img.shape == (320, 900, 3)
        assert (img[120:200, 300:600].sum(axis=2) < 200).sum() > 100  # NO DATA in the middle


def test_an_older_database_is_reported_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    schema.migrate(conn, target=1)
    conn.close()
    rep = report.build_daily_report(path, DAY, tmp_path)
    assert "No funding is recorded" in rep.markdown_path.read_text()
    assert schema.version(sqlite3.connect(path)) == 1


def test_runs_while_the_engine_holds_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "mm.db"
    with Store.open(path) as engine:
        engine.record_fill(fill(ETH, 1, Side.SELL, "2500.00", "0.010", "0.005", "USDC", True, "0.5", S + H))
        engine.query("BEGIN IMMEDIATE")  # mid-write
        engine.record_fill(fill(ETH, 2, Side.SELL, "2500.00", "0.010", "0.005", "USDC", True, "0.5", S + 2 * H))
        r = cli("daily", "--db", str(path), "--day", "2024-08-09", "--out", str(tmp_path / "out"))
        assert r.returncode == 0, r.stderr
        assert "net PnL +0.495 USDC" in json.loads(r.stdout)["summary"]  # the committed fill only
        engine.query("COMMIT")
