"""`python tools/replay.py book ...`: the command-line contract, on the real capture and an edited copy."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
USDM = "hftbacktest/examples/usdm/ethusdt_20240808.gz"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "tools/replay.py"), *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_one_line_per_applied_diff_best_first_with_exchange_strings(data_dir: Path) -> None:
    r = run("book", "--file", str(data_dir / USDM), "--symbol", "ETHUSDT", "--depth", "3")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(lines) == 6581
    first, last = lines[0], lines[-1]
    assert set(first) == {"u", "bids", "asks"}
    assert all(len(x["bids"]) == 3 and len(x["asks"]) == 3 for x in lines)
    us = [x["u"] for x in lines]
    assert us == sorted(us) and len(set(us)) == len(us)
    for x in lines:
        bids = [float(p) for p, _ in x["bids"]]
        asks = [float(p) for p, _ in x["asks"]]
        assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and bids[0] < asks[0]
    # strings exactly as Binance writes them (2 price decimals, 3 qty decimals)
    p, q = last["bids"][0]
    assert len(p.split(".")[1]) == 2 and len(q.split(".")[1]) == 3
    assert "0 diffs" not in r.stderr and "0 mismatches" in r.stderr


def test_gap_prints_an_event_and_exits_3(data_dir: Path, tmp_path: Path) -> None:
    with gzip.open(data_dir / USDM, "rt") as fh:
        lines = fh.read().splitlines()
    depth = [i for i, ln in enumerate(lines) if "@depth" in ln[:80]]
    victim = depth[100]
    edited = tmp_path / "gap.gz"
    with gzip.open(edited, "wt") as fh:
        fh.write("\n".join(lines[:victim] + lines[victim + 1:]) + "\n")
    r = run("book", "--file", str(edited), "--symbol", "ETHUSDT", "--depth", "1")
    assert r.returncode == 3
    out = r.stdout.splitlines()
    gap = json.loads(out[-1])
    assert gap["event"] == "gap" and gap["reason"] == "pu does not chain"
    dropped = json.loads(lines[victim].split(" ", 1)[1])["data"]
    assert gap["pu"] == dropped["u"] and gap["expected"] == dropped["pu"]
    assert all("u" in json.loads(x) for x in out[:-1])


def test_check_ticker_passes_on_the_real_capture(data_dir: Path) -> None:
    r = run("book", "--file", str(data_dir / USDM), "--symbol", "ETHUSDT", "--depth", "1", "--check-ticker")
    assert r.returncode == 0 and "80 bookTicker checks, 0 mismatches" in r.stderr
