"""A normal run, end to end: the engine quotes, gets filled, and its database agrees with the exchange."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from actors.store.store import Store

from .harness import KEY, Live, wait_until

REPO = Path(__file__).resolve().parents[2]


def test_normal_run_fills_and_the_database_equals_the_exchange(tmp_path: Path) -> None:
    with Live(tmp_path, sim={"regimes": (("ETHUSDC", "high_vol"),)}) as live:
        assert wait_until(live.quoting, 20), live.tree()
        assert wait_until(lambda: live.exchange_fills() >= 3, 60), "no fills"
        # a placement prompted by a market update (not by a fill or risk's state) has been timed
        assert wait_until(lambda: live.engine.latency.samples_ns, 30)
        summary = live.stop_engine()
        trades = live.sx.call(lambda rt: [t.id for t in rt.core.accounts[KEY].trades.get("ETHUSDC", [])])
        position = live.exchange_position()
    assert summary["symbols"]["ETHUSDC"]["open_orders"] == 0  # cancelled and confirmed on the way out
    assert summary["tick_to_order"]["n"] > 0  # placements prompted by market data were timed
    with Store.open_readonly(tmp_path / "mm.db") as st:
        fills = st.fills(symbol="ETHUSDC")
        assert sorted(f.trade_id for f in fills) == sorted(trades)  # every fill, once
        signed = sum((f.qty if f.side == "BUY" else -f.qty for f in fills), Decimal(0))
        assert signed == position
        assert all(f.client_order_id.startswith("mmETHUSDC.") for f in fills)  # ours, keyed by client id
        assert not st.open_orders("ETHUSDC")
    q = subprocess.run([sys.executable, str(REPO / "tools/query.py"), "summary", "--json", "--db",
                        str(tmp_path / "mm.db")], capture_output=True, text=True, timeout=60, check=True)
    report = json.loads(q.stdout)
    assert report["fills"] == len(trades) and report["open_orders"] == 0
    assert Decimal(report["position"].split(":")[-1]) == position
    for key in ("orders", "realized_pnl", "fees"):
        assert key in report
    worst_long = max(w[0] for w in live.worst)
    worst_short = min(w[1] for w in live.worst)
    assert worst_long <= 100 and worst_short >= -100  # max_inventory 0.1 ETH = 100 lots, at every fill
