"""Faults on the live code path: a silent stall, a 429 storm, a 12 s clock skew, one-sided toxic flow and a
flash crash. The exchange is the judge: its open orders, its 418 count, its fills."""

from __future__ import annotations

import time
from pathlib import Path

from .harness import Live, wait_until

MAX_LOTS = 100  # [risk] max_inventory 0.1 ETH in 0.001 lots


def test_silent_ws_stall_cancels_quotes_within_the_stale_timeout_then_resyncs(tmp_path: Path) -> None:
    with Live(tmp_path) as live:
        assert wait_until(live.quoting, 20)
        t0 = time.monotonic()
        live.sx.fault("ws_stall", seconds=6)  # open sockets, no data, no pings
        assert wait_until(lambda: not live.exchange_open_orders(), 5)
        took = time.monotonic() - t0
        assert took <= 1.5 + 1.0, took  # risk's stale_after_ms (1.5 s) plus the cancel's round trip
        risk = live.tree()["risk"]
        assert not risk["quotes_allowed"]
        assert wait_until(live.quoting, 30)  # the stall ends (or the socket is replaced): resync, quote again
        book = live.tree()["book"]
        assert book["resyncs"] >= 2 and book["ticker_mismatches"] == 0


def test_429_storm_is_waited_out_without_a_single_418(tmp_path: Path) -> None:
    with Live(tmp_path, sim={"regimes": (("ETHUSDC", "high_vol"),)}) as live:
        assert wait_until(live.quoting, 20)
        live.sx.fault("rate_limit_storm", seconds=3)
        time.sleep(3.5)
        assert wait_until(live.quoting, 30)
        rl = live.sx.state()["rate_limits"]
        assert rl["count_429"] > 0  # the storm was felt
        assert rl["count_418"] == 0


def test_a_12_second_clock_skew_is_recovered(tmp_path: Path) -> None:
    with Live(tmp_path, sim={"regimes": (("ETHUSDC", "high_vol"),)}) as live:
        assert wait_until(live.quoting, 20)
        live.sx.fault("clock_skew", ms=-12_000)  # the exchange's clock is 12 s behind ours: -1021
        before = set(live.exchange_open_orders())
        # quoting goes on: new orders (new client ids) reach the exchange despite the skew
        assert wait_until(lambda: set(live.exchange_open_orders()) - before, 30)
        assert wait_until(live.quoting, 20)


def test_toxic_flow_and_flash_crash_never_breach_the_inventory_limit(tmp_path: Path) -> None:
    with Live(tmp_path, sim={"regimes": (("ETHUSDC", "toxic_sell"),)}) as live:
        assert wait_until(lambda: live.exchange_fills() >= 5, 60)
        live.sx.set_regime("ETHUSDC", "flash_crash", seconds=15)
        time.sleep(15)
        live.sx.set_regime("ETHUSDC", "toxic_buy", seconds=15)
        time.sleep(10)
        assert live.worst, "no fills: the test proved nothing"
        worst_long = max(w[0] for w in live.worst)
        worst_short = min(w[1] for w in live.worst)
        assert worst_long <= MAX_LOTS, worst_long
        assert worst_short >= -MAX_LOTS, worst_short
        assert max(worst_long, -worst_short) >= MAX_LOTS // 4  # the flow really pushed the inventory


def test_a_failed_reconciliation_query_is_asked_again_at_once_not_when_the_round_is_overdue(tmp_path: Path) -> None:
    # openOrders answers 503 to the first start's first call (five attempts: the client's retries) and once
    # more: the OMS is told the query failed and asks the round again a second later; quoting starts well
    # before the round would be overdue (4 × followup_after_ms = 24 s)
    faults = (("rest_5xx", (("path", "/fapi/v1/openOrders"), ("count", "6"), ("status", "503"))),)
    t0 = time.monotonic()
    with Live(tmp_path, sim={"faults": faults}) as live:
        assert wait_until(live.quoting, 15), live.tree()
        took = time.monotonic() - t0
        assert took < 12, took
        assert "rest_5xx" not in live.sx.state()["faults"]["active"]  # every failure was served: no shortcut
