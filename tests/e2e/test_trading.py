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


def test_shutdown_settles_what_a_stopped_oms_never_heard_the_end_of(tmp_path: Path) -> None:
    """An OMS stops with a placement's ack, a fill or a cancel still in flight (the race a loaded machine
    loses): the shutdown asks the exchange about every order the database still holds open and records the
    answer, so the run ends with a database that equals the exchange."""
    from actors.gateway.binance.rest import OrderRequest
    from actors.gateway.events import Side

    with Live(tmp_path) as live:
        assert wait_until(live.quoting, 20), live.tree()
        eng = live.engine
        assert eng is not None and eng.store is not None
        live.stop.set()
        eng.trees["ETHUSDC"].stop()  # the OMS is gone: nothing below reaches it
        book = eng.rest.depth("ETHUSDC", 5)
        bid, ask = Decimal(book.bids[0][0]), Decimal(book.asks[0][0])
        venue, now = eng.trees["ETHUSDC"].ctx.venue, eng.clock.time_ns()
        orders = {"mmETHUSDC.settle.rest": (bid - Decimal("2"), True),  # rests, then the final cancel-all
                  "mmETHUSDC.settle.take": (ask + Decimal("2"), True),  # takes liquidity: a fill nobody heard
                  "mmETHUSDC.settle.lost": (bid - Decimal("3"), False)}  # journaled, never sent
        for cid, (price, sent) in orders.items():
            eng.store.record_order_intent(cid, venue=venue, symbol="ETHUSDC", side=Side.BUY, price=price,
                                          qty=Decimal("0.01"), tif="GTC", reduce_only=False, created_ns=now,
                                          run_id=eng.run_id)
            if sent:
                eng.rest.place_order(OrderRequest("ETHUSDC", Side.BUY, Decimal("0.01"), cid, price=price))
        assert wait_until(lambda: live.exchange_fills() >= 1, 10)
        final_cancel = eng._final_cancel

        def then_a_late_landing(sym: str, summary: dict) -> None:  # a placement lands after the cancel-all
            final_cancel(sym, summary)
            cid = "mmETHUSDC.settle.late"
            eng.store.record_order_intent(cid, venue=venue, symbol="ETHUSDC", side=Side.BUY, price=bid - 4,
                                          qty=Decimal("0.01"), tif="GTC", reduce_only=False, created_ns=now,
                                          run_id=eng.run_id)
            eng.rest.place_order(OrderRequest("ETHUSDC", Side.BUY, Decimal("0.01"), cid, price=bid - 4))

        eng._final_cancel = then_a_late_landing  # type: ignore[method-assign]
        summary = eng.shutdown("test")
        assert not live.exchange_open_orders()  # the late one was cancelled by the settle step
        trades = live.sx.call(lambda rt: [t.id for t in rt.core.accounts[KEY].trades.get("ETHUSDC", [])])
    assert summary["symbols"]["ETHUSDC"]["open_orders"] == 0
    assert any(a.level == "P0" and "after the final cancel-all" in a.title for a in live.alerts)
    with Store.open_readonly(tmp_path / "mm.db") as st:
        assert not st.open_orders("ETHUSDC")
        status = {cid: st.order(cid).status for cid in orders}  # type: ignore[union-attr]
        assert status == {"mmETHUSDC.settle.rest": "CANCELED", "mmETHUSDC.settle.take": "FILLED",
                          "mmETHUSDC.settle.lost": "NOT_FOUND"}
        assert st.order("mmETHUSDC.settle.late").status == "CANCELED"  # type: ignore[union-attr]
        fills = st.fills(symbol="ETHUSDC")
        assert sorted(f.trade_id for f in fills) == sorted(trades)  # the unheard fill too, once
        assert any(f.client_order_id == "mmETHUSDC.settle.take" for f in fills)
