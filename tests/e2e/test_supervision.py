"""Supervision on the live code path: every actor kind crashed mid-run comes back and quoting resumes with
no orphan order; a symbol that keeps crashing panicstops within a second; a hung actor is replaced."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from actors.base import Crash, Hang
from actors.store.store import Store
from actors.supervisor.tree import SYMBOL_CHILDREN

from .harness import Live, wait_until


def test_each_actor_kind_crashed_mid_run_is_restarted_and_quoting_resumes(tmp_path: Path) -> None:
    with Live(tmp_path, supervision={"max_restarts": 50, "within_s": 60.0}) as live:
        assert wait_until(live.quoting, 20), live.tree()
        assert live.engine is not None
        for name in SYMBOL_CHILDREN:
            before = len(live.engine.stats.child_restarts)
            live.peers().tell(name, Crash(f"drill {name}"))
            assert wait_until(lambda b=before: len(live.engine.stats.child_restarts) > b, 10), name
            restarted = live.engine.stats.child_restarts[-1].children
            assert restarted[0] == name  # rest_for_one: it and those started after it
            assert restarted == SYMBOL_CHILDREN[SYMBOL_CHILDREN.index(name):]
            assert wait_until(live.quoting, 20), (name, live.tree(), live.exchange_open_orders())
        assert live.engine.stats.trees_gave_up == []


def test_repeated_crashes_panicstop_the_symbol_within_a_second(tmp_path: Path) -> None:
    with Live(tmp_path, supervision={"max_restarts": 2, "within_s": 60.0}) as live:
        assert wait_until(live.quoting, 20)
        assert live.engine is not None
        for i in range(2):
            live.peers().tell("oms", Crash(f"crash {i}"))
            assert wait_until(lambda i=i: len(live.engine.stats.child_restarts) > i, 10)
            assert wait_until(live.quoting, 20)
        assert live.exchange_open_orders()  # quotes are resting when the last crash comes
        t0 = time.monotonic()
        live.peers().tell("oms", Crash("the one too many"))
        assert wait_until(lambda: live.engine.stats.trees_gave_up, 5)
        assert wait_until(lambda: not live.exchange_open_orders(), 1.0)
        took = time.monotonic() - t0
        assert took < 1.0, took
        p0 = [a for a in live.alerts if a.level == "P0" and "panicstop" in a.title]
        assert p0, live.alerts
        assert "no order left open" in p0[0].body
    with Store.open_readonly(tmp_path / "mm.db") as st:
        assert any(e.kind == "panicstop_tree" and e.severity == "P0" for e in st.risk_events())


def test_a_hung_actor_is_found_by_its_heartbeat_and_replaced(tmp_path: Path) -> None:
    with Live(tmp_path) as live:
        assert wait_until(live.quoting, 20)
        assert live.engine is not None
        live.peers().tell("strategy", Hang(6.0))
        assert wait_until(lambda: live.engine.stats.child_restarts, 8)
        assert live.engine.stats.child_restarts[0].children[0] == "strategy"
        assert wait_until(live.quoting, 20)


@pytest.mark.parametrize("name", ["gateway", "oms"])
def test_no_fill_is_lost_across_a_crash(tmp_path: Path, name: str) -> None:
    with Live(tmp_path, sim={"regimes": (("ETHUSDC", "high_vol"),)}) as live:
        assert wait_until(lambda: live.exchange_fills() >= 2, 60)
        live.peers().tell(name, Crash())
        assert wait_until(lambda: live.engine.stats.child_restarts, 10)
        n = live.exchange_fills()
        assert wait_until(lambda: live.exchange_fills() >= n + 2, 60)
        assert wait_until(live.quoting, 20)
        live.stop_engine()
        fills = live.exchange_fills()
    with Store.open_readonly(tmp_path / "mm.db") as st:
        assert len(st.fills(symbol="ETHUSDC")) == fills
