"""The registry's series as the per-symbol and account views record them (read back from the exposition)."""

from __future__ import annotations

from decimal import Decimal

import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

from actors.clock import SimClock
from actors.metrics.registry import (
    TICK_TO_ORDER_BUCKETS,
    Metrics,
    limit_label,
    log_buckets,
    status_class,
)
from actors.risk.messages import TradingState

EX = "binance-usdm"


def samples(m: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """(series name, labels) → value, parsed from the text exposition (what Prometheus would read)."""
    out = {}
    for fam in text_string_to_metric_families(m.scrape().decode()):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(m: Metrics, name: str, **labels: str) -> float:
    return samples(m)[(name, frozenset(labels.items()))]


def present(m: Metrics, name: str) -> bool:
    return any(n == name for n, _ in samples(m))


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


@pytest.fixture
def m(clock: SimClock) -> Metrics:
    return Metrics(clock, version="9.9.9", commit="abc123")


def test_counters_by_symbol_exchange_and_their_own_labels(m: Metrics) -> None:
    eth, btc = m.symbol("ETHUSDC", EX), m.symbol("BTCUSDC", EX)
    eth.order_placed()
    eth.order_placed(2)
    eth.cancel_sent()
    eth.fill("BUY", True, Decimal("0.012"))
    eth.fill("SELL", False, 0.5)
    eth.fill("SELL", False, 0.25)
    eth.reject(-5022, "REJECTED")  # the gateway's ErrorKind value and the OMS's own spelling: one series
    eth.reject(-5022, "rejected")
    eth.reject(None, "rejected")
    btc.order_placed()
    eth.risk_trigger("stream_down")
    eth.risk_trigger("some_new_rule")
    eth.actor_restarted("oms")
    eth.tree_restarted()
    sym = {"symbol": "ETHUSDC", "exchange": EX}
    assert value(m, "mm_orders_placed_total", **sym) == 3
    assert value(m, "mm_orders_placed_total", symbol="BTCUSDC", exchange=EX) == 1
    assert value(m, "mm_cancels_sent_total", **sym) == 1
    assert value(m, "mm_fills_total", **sym, side="BUY", liquidity="maker") == 1
    assert value(m, "mm_fills_total", **sym, side="SELL", liquidity="taker") == 2
    assert value(m, "mm_fills_total", **sym, side="BUY", liquidity="taker") == 0  # bound at 0 for rate()
    assert value(m, "mm_fill_volume_total", **sym, side="SELL", liquidity="taker") == pytest.approx(0.75)
    assert value(m, "mm_fill_volume_total", **sym, side="BUY", liquidity="maker") == pytest.approx(0.012)
    assert value(m, "mm_order_rejects_total", **sym, code="-5022", kind="rejected") == 2
    assert value(m, "mm_order_rejects_total", **sym, code="none", kind="rejected") == 1
    assert value(m, "mm_risk_triggers_total", **sym, kind="stream_down") == 1
    assert value(m, "mm_risk_triggers_total", **sym, kind="some_new_rule") == 1
    assert value(m, "mm_risk_triggers_total", **sym, kind="panicstop") == 0  # known kinds exist before they fire
    assert value(m, "mm_actor_restarts_total", **sym, actor="oms") == 1
    assert value(m, "mm_actor_restarts_total", **sym, actor="gateway") == 0
    assert value(m, "mm_tree_restarts_total", **sym) == 1


def test_the_view_is_one_object_per_symbol_and_exchange(m: Metrics) -> None:
    a = m.symbol("ETHUSDC", EX)
    assert m.symbol("ETHUSDC", EX) is a  # a restarted actor keeps counting on the same children
    assert m.symbol("ETHUSDC", "okx-swap") is not a
    assert a.account is m.account(EX)


def test_gauges_are_absent_until_set_then_exact(m: Metrics) -> None:
    s = m.symbol("ETHUSDC", EX)
    for name in ("mm_position", "mm_trading_state", "mm_vpin_current", "mm_pnl_realized", "mm_ws_connected"):
        assert not present(m, name), name
    s.set_position(Decimal("-0.25"))
    s.set_pnl(realized=Decimal("12.5"), unrealized=-3, fees=Decimal("0.75"))
    s.set_daily_pnl(8.75)
    s.set_trading_state(TradingState.REDUCING)
    s.set_ws_connected("market", True)
    s.set_ws_connected("user", False)
    s.set_vpin(0.42)
    s.set_volatility_regime("HighVol")
    s.set_adverse_selection_rate(0.3)
    s.set_inventory_net(-0.25)
    s.set_reservation_price(Decimal("3012.34"))
    s.set_inventory_skew_bps(-1.5)
    s.set_adaptive_netmax(0.8)
    m.account(EX).set_equity("USDC", Decimal("10050.5"))
    sym = {"symbol": "ETHUSDC", "exchange": EX}
    assert value(m, "mm_position", **sym) == -0.25
    assert value(m, "mm_pnl_realized", **sym) == 12.5
    assert value(m, "mm_pnl_unrealized", **sym) == -3
    assert value(m, "mm_fees", **sym) == 0.75
    assert value(m, "mm_pnl_daily", **sym) == 8.75
    assert value(m, "mm_trading_state", **sym) == 1
    assert value(m, "mm_ws_connected", **sym, stream="market") == 1
    assert value(m, "mm_ws_connected", **sym, stream="user") == 0
    assert value(m, "mm_vpin_current", **sym) == 0.42
    assert value(m, "mm_volatility_regime", **sym) == 3
    assert value(m, "mm_adverse_selection_rate", **sym) == 0.3
    assert value(m, "mm_inventory_net", **sym) == -0.25
    assert value(m, "mm_reservation_price", **sym) == pytest.approx(3012.34)
    assert value(m, "mm_inventory_skew_bps", **sym) == -1.5
    assert value(m, "mm_adaptive_netmax", **sym) == 0.8
    assert value(m, "mm_equity", exchange=EX, asset="USDC") == 10050.5
    s.set_trading_state("HALTED")
    assert value(m, "mm_trading_state", **sym) == 2


def test_enums_and_sides_refuse_what_they_do_not_know(m: Metrics) -> None:
    s = m.symbol("ETHUSDC", EX)
    with pytest.raises(ValueError, match="trading state"):
        s.set_trading_state("PAUSED")
    with pytest.raises(ValueError, match="regime"):
        s.set_volatility_regime("calm")
    with pytest.raises(ValueError, match="BUY or SELL"):
        s.fill("buy", True, 1)


def test_latency_histograms_in_seconds_with_tick_to_order_buckets_100us_to_1s(m: Metrics) -> None:
    s = m.symbol("ETHUSDC", EX)
    s.tick_to_order(0.00012)  # 120 µs: in the 150 µs bucket, not the 100 µs one
    s.tick_to_order(0.004)
    s.tick_to_order(2.5)  # past 1 s: only +Inf
    s.oms_latency("QuoteTarget", 0.0007)
    sym = {"symbol": "ETHUSDC", "exchange": EX}
    assert TICK_TO_ORDER_BUCKETS[0] == 1e-4 and TICK_TO_ORDER_BUCKETS[-1] == 1.0
    assert value(m, "mm_tick_to_order_seconds_bucket", **sym, le="0.0001") == 0
    assert value(m, "mm_tick_to_order_seconds_bucket", **sym, le="0.00015") == 1
    assert value(m, "mm_tick_to_order_seconds_bucket", **sym, le="0.005") == 2
    assert value(m, "mm_tick_to_order_seconds_bucket", **sym, le="1.0") == 2
    assert value(m, "mm_tick_to_order_seconds_bucket", **sym, le="+Inf") == 3
    assert value(m, "mm_tick_to_order_seconds_count", **sym) == 3
    assert value(m, "mm_tick_to_order_seconds_sum", **sym) == pytest.approx(2.50412)
    assert value(m, "mm_oms_latency_seconds_count", **sym, trigger="QuoteTarget") == 1


def test_ws_lag_corrects_the_clock_offset_and_samples_market_frames(clock: SimClock) -> None:
    m = Metrics(clock, ws_lag_sample_every=4)
    s = m.symbol("ETHUSDC", EX)
    m.account(EX).track_clock_offset(lambda: -250)  # the local clock is 250 ms ahead of the exchange's
    event_ms = 1_700_000_000_000
    recv_ns = (event_ms + 250 + 20) * 1_000_000  # received 20 ms after the event, in exchange time
    for _ in range(8):
        s.ws_event("depth", event_ms, recv_ns)
    s.ws_event("order", event_ms, recv_ns)  # user-stream events: never sampled
    s.ws_event("trade", event_ms, (event_ms + 100) * 1_000_000)  # the local clock behind: 0, never negative
    sym = {"symbol": "ETHUSDC", "exchange": EX}
    assert value(m, "mm_ws_lag_seconds_count", **sym, kind="depth") == 2  # one in four
    assert value(m, "mm_ws_lag_seconds_sum", **sym, kind="depth") == pytest.approx(0.040)
    assert value(m, "mm_ws_lag_seconds_bucket", **sym, kind="depth", le="0.015") == 0
    assert value(m, "mm_ws_lag_seconds_bucket", **sym, kind="depth", le="0.02") == 2
    assert value(m, "mm_ws_lag_seconds_count", **sym, kind="order") == 1
    assert not any(n == "mm_ws_lag_seconds_count" and dict(lb).get("kind") == "trade" for n, lb in samples(m))
    for _ in range(3):
        s.ws_event("trade", event_ms, (event_ms + 100) * 1_000_000)
    assert value(m, "mm_ws_lag_seconds_sum", **sym, kind="trade") == 0
    assert value(m, "mm_clock_offset_seconds", exchange=EX) == -0.25


def test_book_staleness_follows_the_injected_clock(clock: SimClock, m: Metrics) -> None:
    s = m.symbol("ETHUSDC", EX)
    sym = {"symbol": "ETHUSDC", "exchange": EX}
    clock.advance(3_000_000_000)
    assert value(m, "mm_book_staleness_seconds", **sym) == 3.0  # never synced: stale since the start
    s.book_updated(clock.time_ns())
    clock.advance(1_500_000_000)
    assert value(m, "mm_book_staleness_seconds", **sym) == 1.5
    s.book_updated(clock.time_ns())
    assert value(m, "mm_book_staleness_seconds", **sym) == 0


class _Stat:
    def __init__(self, method: str, path: str, status: int | None, ms: float, outcome: str) -> None:
        self.method, self.path, self.http_status, self.latency_ms, self.outcome = method, path, status, ms, outcome


class _Usage:
    def __init__(self, kind: str, interval_ms: int, used: int, cap: int) -> None:
        self.kind, self.interval_ms, self.used, self.cap = kind, interval_ms, used, cap


class _Snap:
    def __init__(self, *usage: _Usage) -> None:
        self.usage = usage


def test_account_series_rest_and_rate_budget_read_at_scrape(m: Metrics) -> None:
    a = m.account(EX)
    a.rest_request(_Stat("POST", "/fapi/v1/order", 200, 3.0, "ok"))
    a.rest_request(_Stat("POST", "/fapi/v1/order", 400, 4.0, "rejected"))
    a.rest_request(_Stat("GET", "/fapi/v1/order", None, 3000.0, "unknown_state"))
    used = [100]
    a.track_rate_budget(lambda: _Snap(_Usage("REQUEST_WEIGHT", 60_000, used[0], 2000),
                                      _Usage("ORDERS", 10_000, 30, 240)))
    acct = {"exchange": EX}
    assert value(m, "mm_rest_latency_seconds_count", **acct, endpoint="POST /fapi/v1/order", status_class="2xx") == 1
    assert value(m, "mm_rest_latency_seconds_sum", **acct, endpoint="POST /fapi/v1/order", status_class="4xx") \
        == pytest.approx(0.004)
    assert value(m, "mm_rest_latency_seconds_count", **acct, endpoint="GET /fapi/v1/order", status_class="none") == 1
    assert value(m, "mm_rest_errors_total", **acct, endpoint="POST /fapi/v1/order", kind="rejected") == 1
    assert value(m, "mm_rest_errors_total", **acct, endpoint="GET /fapi/v1/order", kind="unknown_state") == 1
    assert value(m, "mm_rate_limit_used_ratio", **acct, limit="weight_1m") == 0.05
    assert value(m, "mm_rate_limit_used_ratio", **acct, limit="orders_10s") == 0.125
    used[0] = 1700
    assert value(m, "mm_rate_limit_used_ratio", **acct, limit="weight_1m") == 0.85  # fresh at every scrape


def test_a_failing_scrape_callback_does_not_fail_the_scrape(m: Metrics) -> None:
    def broken() -> None:
        raise RuntimeError("source gone")

    m.on_scrape(broken)
    m.symbol("ETHUSDC", EX).order_placed()
    assert value(m, "mm_orders_placed_total", symbol="ETHUSDC", exchange=EX) == 1


def test_build_info_config_version_and_reloads(m: Metrics) -> None:
    assert value(m, "mm_build_info", version="9.9.9", commit="abc123", python=_python()) == 1
    assert value(m, "mm_config_version") == 0
    m.set_config_version(7)
    m.config_reload(applied=True)
    m.config_reload(applied=False)
    m.config_reload(applied=False)
    assert value(m, "mm_config_version") == 7
    assert value(m, "mm_config_reloads_total", result="applied") == 1
    assert value(m, "mm_config_reloads_total", result="rejected") == 2


def _python() -> str:
    import platform

    return platform.python_version()


def test_own_registry_never_the_global_one(clock: SimClock) -> None:
    a, b = Metrics(clock), Metrics(clock)  # two engines in one process do not collide
    a.symbol("ETHUSDC", EX).order_placed()
    b.symbol("ETHUSDC", EX)
    assert value(a, "mm_orders_placed_total", symbol="ETHUSDC", exchange=EX) == 1
    assert value(b, "mm_orders_placed_total", symbol="ETHUSDC", exchange=EX) == 0
    assert not [n for n in prometheus_client.REGISTRY._names_to_collectors if n.startswith("mm_")]


def test_series_names_expand_each_family_to_what_queries_use(m: Metrics) -> None:
    names = m.series_names()
    assert {"mm_fills_total", "mm_position", "mm_tick_to_order_seconds_bucket", "mm_tick_to_order_seconds_sum",
            "mm_tick_to_order_seconds_count", "mm_build_info", "mm_config_version"} <= names
    assert "mm_fills" not in names and "mm_tick_to_order_seconds" not in names and "mm_fills_created" not in names
    blueprint = {"mm_vpin_current", "mm_volatility_regime", "mm_adverse_selection_rate", "mm_inventory_net",
                 "mm_reservation_price", "mm_inventory_skew_bps", "mm_adaptive_netmax"}
    assert blueprint <= names
    assert all(n.startswith("mm_") for n in names)


def test_helpers() -> None:
    assert log_buckets(1e-4, 1e-3) == (1e-4, 1.5e-4, 2e-4, 3e-4, 5e-4, 7e-4, 1e-3)
    assert status_class(200) == "2xx" and status_class(429) == "4xx" and status_class(None) == "none"
    assert limit_label("REQUEST_WEIGHT", 60_000) == "weight_1m"
    assert limit_label("ORDERS", 10_000) == "orders_10s"
    assert limit_label("ORDERS", 86_400_000) == "orders_1d"
