"""kill -9 of the engine process and a restart, against a simulated exchange that lives on: no fill is lost,
no order is orphaned, the position is reconciled. Also: a second instance refuses to start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import requests

from actors.store.store import Store
from tests.conftest import shipped_settings

from .harness import wait_until

REPO = Path(__file__).resolve().parents[2]


def _settings(tmp: Path, rest: str, ws: str) -> Path:
    return shipped_settings(tmp, ('rest_url = ""', f'rest_url = "{rest}"'), ('ws_url = ""', f'ws_url = "{ws}"'))


def _engine(cfg: Path, log: Path, extra: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    env = dict(os.environ, MM_API_KEY="simkey", MM_API_SECRET="simsecret")
    return subprocess.Popen([sys.executable, str(REPO / "supervisor.py"), "--symbols", "ETHUSDC", "--config",
                             str(cfg), "--json-summary", *extra], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=log.open("a"), text=True)


def test_kill_9_and_restart_lose_nothing(tmp_path: Path) -> None:
    sim = subprocess.Popen([sys.executable, str(REPO / "tools/simex.py"), "--seed", "5", "--regime",
                            "ETHUSDC=high_vol"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert sim.stdout is not None
        urls = json.loads(sim.stdout.readline())
        admin = urls["rest"] + "/admin/state"

        def account() -> dict:
            return requests.get(admin, timeout=5).json()["accounts"]["simkey"]

        cfg = _settings(tmp_path, urls["rest"], urls["ws"])
        log = tmp_path / "engine.log"
        first = _engine(cfg, log)
        assert wait_until(lambda: account()["fills"] >= 2 and account()["open_orders"], 90), log.read_text()[-3000:]

        second = _engine(cfg, log)  # one instance per account and symbol
        assert second.wait(30) == 3
        assert "already being traded by process" in log.read_text()

        first.send_signal(signal.SIGKILL)
        first.wait(10)
        left = {o["clientOrderId"] for o in account()["open_orders"]}
        assert left, "the killed engine left no order to reconcile: nothing was tested"

        restarted = _engine(cfg, log)
        # the restarted OMS recognises the orders it had journaled and keeps trading: none is cancelled as
        # an orphan, and the exchange never holds an order it does not know
        assert wait_until(lambda: account()["fills"] >= 4, 90)
        time.sleep(2)
        restarted.send_signal(signal.SIGTERM)
        out, _ = restarted.communicate(timeout=60)
        assert restarted.returncode == 0, log.read_text()[-3000:]
        summary = json.loads(out.strip().splitlines()[-1])
        assert summary["symbols"]["ETHUSDC"]["open_orders"] == 0
        acct = account()
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(20)
    text = log.read_text()
    assert "cancelled as an orphan" not in text and "unknown open order found" not in text
    with Store.open_readonly(tmp_path / "mm.db") as st:
        fills = st.fills(symbol="ETHUSDC")
        assert len(fills) == acct["fills"]  # every fill, including any made while the engine was dead
        signed = sum((f.qty if f.side == "BUY" else -f.qty for f in fills), Decimal(0))
        exchange = Decimal(acct["positions"]["ETHUSDC"]["qty"]) if "ETHUSDC" in acct["positions"] else Decimal(0)
        assert signed == exchange
        for cid in left:  # what the dead engine left resting was recovered, then cancelled on the way out
            assert st.order(cid) is not None
        assert len(st.runs()) == 2  # the killed run has no end; the restarted one has
        assert sum(1 for r in st.runs() if r.ended_ns is None) == 1
