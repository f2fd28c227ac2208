"""Halts on the live code path: an operator's halt pulls every quote and survives a restart of the actors and
of the whole engine until an operator resumes; a price-shock halt lifts by itself after halt_seconds; an
actor replaced while hung never acts again when it wakes."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path
from typing import Any

from actors.base import Crash, Hang
from actors.risk.messages import Halt
from actors.store.store import Store

from .harness import KEY, Live, wait_until


def test_a_halt_survives_actor_and_engine_restarts_until_resumed(tmp_path: Path) -> None:
    with Live(tmp_path) as live:
        assert wait_until(live.quoting, 20)
        live.peers().tell("risk", Halt("ETHUSDC", "test operator", "drill"))
        assert wait_until(lambda: not live.exchange_open_orders(), 5)
        assert wait_until(lambda: live.tree()["risk"]["trading_state"] == "HALTED", 5)
        live.peers().tell("gateway", Crash("restart everything after the gateway"))
        assert wait_until(lambda: live.engine.stats.child_restarts, 10)
        time.sleep(3)
        assert live.tree()["risk"]["trading_state"] == "HALTED"
        assert not live.exchange_open_orders()

        live.stop_engine()
        live.start_engine()  # a new process, as far as the engine knows: same store, same exchange
        time.sleep(3)
        assert live.tree()["risk"]["trading_state"] == "HALTED"
        assert not live.exchange_open_orders()

        live.stop_engine()
        live.start_engine(resume=("ETHUSDC",))  # the operator lifts it
        assert wait_until(live.quoting, 20)
        assert live.tree()["risk"]["trading_state"] == "ACTIVE"
    with Store.open_readonly(tmp_path / "mm.db") as st:
        assert any(a.action == "resume" and a.who == "operator" for a in st.audit())


def test_a_price_shock_halt_lifts_by_itself(tmp_path: Path) -> None:
    with Live(tmp_path, risk={"shock_pct": "0.3", "shock_window_s": 5.0, "halt_seconds": 3.0}) as live:
        assert wait_until(live.quoting, 20)
        live.sx.set_regime("ETHUSDC", "flash_crash", seconds=6)
        assert wait_until(lambda: live.tree()["risk"]["trading_state"] == "HALTED", 15)
        assert wait_until(lambda: not live.exchange_open_orders(), 5)
        live.sx.set_regime("ETHUSDC", "calm")
        assert wait_until(lambda: live.tree()["risk"]["trading_state"] == "ACTIVE", 30)
        assert wait_until(live.quoting, 20)  # the OMS left its halt too


def test_an_actor_replaced_while_hung_never_acts_when_it_wakes(tmp_path: Path) -> None:
    with Live(tmp_path, sim={"regimes": (("ETHUSDC", "high_vol"),)},
              supervision={"heartbeat_s": 0.3, "heartbeat_timeout_s": 1.0}) as live:
        assert wait_until(live.quoting, 20)
        # longer than the heartbeat timeout plus the stop timeout (5 s); targets keep queuing behind it
        live.peers().tell("oms", Hang(8.0))
        assert wait_until(lambda: live.engine.stats.child_restarts, 10)
        assert wait_until(live.quoting, 20)
        time.sleep(6)  # the old OMS wakes up with its stale book and queued targets
        assert wait_until(live.quoting, 10)
    with Store.open_readonly(tmp_path / "mm.db") as st:
        anomalies = [e for e in st.risk_events() if e.kind == "order_anomaly"]
        assert not any("unknown open order" in str(e.detail) for e in anomalies), anomalies


def test_a_position_mismatch_found_by_reconciliation_stops_adding_and_pages(tmp_path: Path) -> None:
    """The exchange's position moves without any event the engine could see (here: edited inside the
    simulator): the next periodic reconciliation finds the mismatch, risk stops adding to the position, and a
    P0 alert goes out."""
    from simex.positions import Position

    with Live(tmp_path, oms={"reconcile_every_s": 1.0}) as live:
        assert wait_until(live.quoting, 20)

        def shift(rt: Any) -> None:
            acct = rt.core.accounts[KEY]
            acct.positions["ETHUSDC"] = Position(acct.position("ETHUSDC").lots + 40, Fraction(0))

        live.sx.call(shift)
        assert wait_until(lambda: any(a.level == "P0" and "position mismatch" in a.title for a in live.alerts), 15)
        eng = live.engine
        assert eng is not None
        risk = eng.trees["ETHUSDC"].inspect(("risk",))["risk"]
        assert risk["trading_state"] in ("REDUCING", "HALTED"), risk
    with Store.open_readonly(tmp_path / "mm.db") as st:
        assert any(e.kind.startswith("position_mismatch") for e in st.risk_events())
