"""`python supervisor.py`: the command a user runs, as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import shipped_settings

REPO = Path(__file__).resolve().parents[1]


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "supervisor.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, check=False)


def test_runs_on_the_embedded_exchange_and_stops_cleanly(tmp_path: Path) -> None:
    cfg = shipped_settings(tmp_path)
    r = run("--symbols", "ETHUSDC,BTCUSDC", "--duration", "6", "--config", str(cfg), "--json-summary")
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(summary["symbols"]) == {"ETHUSDC", "BTCUSDC"}
    for s in summary["symbols"].values():
        assert s["open_orders"] == 0  # cancelled and confirmed on the way out
    assert "simulated exchange running in-process" in r.stderr
    assert "OMS started" in r.stderr and "book synced" in r.stderr


def test_broken_settings_name_the_key_and_start_nothing(tmp_path: Path) -> None:
    cfg = tmp_path / "settings.toml"
    cfg.write_text("[feed]\nstale_after_s = -5\n")
    r = run("--config", str(cfg), timeout=20)
    assert r.returncode == 2
    assert f"{cfg}: [feed] stale_after_s: must be >= 0.2, got -5" in r.stderr
    assert "nothing was started" in r.stderr and "simulated exchange running" not in r.stderr
    cfg.write_text("[feed\n")
    r = run("--config", str(cfg), timeout=20)
    assert r.returncode == 2 and "not valid TOML" in r.stderr


def test_unknown_symbol_is_refused(tmp_path: Path) -> None:
    cfg = shipped_settings(tmp_path)
    r = run("--symbols", "DOGEUSDC", "--duration", "2", "--config", str(cfg), timeout=30)
    assert r.returncode == 2 and "DOGEUSDC" in r.stderr


def test_replaying_the_real_capture_reports_fills_pnl_inventory_and_markouts(tmp_path: Path, data_dir: Path) -> None:
    """The real ETHUSDT capture replayed by the embedded exchange at 8x, traded by the shipped asmm strategy on a
    zero maker fee (as Binance's USDC books charge); the end-of-run report agrees with the database."""
    capture = data_dir / "hftbacktest/examples/usdm/ethusdt_20240808.gz"
    cfg = shipped_settings(tmp_path, ('feed = ""', f'feed = "{capture}"'), ("speed = 1.0", "speed = 8.0"),
                           ('maker = "0.0002"', 'maker = "0"'), ("min_spread_bps = 12.0", "min_spread_bps = 2.0"))
    r = run("--symbols", "ETHUSDT", "--duration", "40", "--config", str(cfg), timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [x for x in r.stdout.splitlines() if x.startswith("ETHUSDT:")]
    assert len(lines) == 2, r.stdout  # the money line and the inventory + markouts line
    assert "fills this run" in lines[0] and " net " in lines[0]
    assert "max |position| this run" in lines[1] and "markouts 1s " in lines[1], lines[1]
    q = subprocess.run([sys.executable, str(REPO / "tools/query.py"), "summary", "--json", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=60, cwd=REPO, check=True)
    db = json.loads(q.stdout)
    fills = int(lines[0].split(" fills this run")[0].rsplit(" ", 1)[1])
    assert fills == db["fills"] > 0
    m = subprocess.run([sys.executable, str(REPO / "tools/query.py"), "markouts", "--json", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=60, cwd=REPO, check=True)
    rows = json.loads(m.stdout)
    overall = {r["horizon_ms"]: r for r in rows if r["group"] == "all"}
    assert 1000 in overall and overall[1000]["fills"] <= fills
