"""The exporter over real loopback HTTP: bound on a free port, scraped, parsed, stopped."""

from __future__ import annotations

import socket
from decimal import Decimal

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from actors.clock import SimClock
from actors.metrics import Metrics, MetricsExporter, MetricsSettings, start_exporter
from actors.settings import SettingsError, _build

EX = "binance-usdm"


def scrape(url: str) -> dict[str, list]:
    r = requests.get(url, timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    return {f.name: f for f in text_string_to_metric_families(r.text)}


def test_scrape_over_http_names_labels_values() -> None:
    clock = SimClock()
    m = Metrics(clock, version="1.2.3", commit="deadbeef")
    eth = m.symbol("ETHUSDC", EX)
    eth.order_placed()
    eth.order_placed()
    eth.fill("SELL", True, Decimal("0.03"))
    eth.reject(-2019, "rejected")
    eth.tick_to_order(0.0042)
    eth.set_trading_state("HALTED")
    eth.set_position(Decimal("-0.03"))
    eth.set_inventory_skew_bps(2.5)
    clock.advance(2_000_000_000)
    with MetricsExporter(m.registry, "127.0.0.1", 0) as ex:
        assert ex.port > 0 and ex.url == f"http://127.0.0.1:{ex.port}/metrics"
        fams = scrape(ex.url)
        eth.order_placed()  # live: the next scrape sees it
        again = scrape(ex.url)

    def sample(fams: dict, family: str, name: str, **labels: str) -> float:
        hits = [s.value for s in fams[family].samples if s.name == name and s.labels == labels]
        assert len(hits) == 1, (name, labels, fams[family].samples)
        return hits[0]

    sym = {"symbol": "ETHUSDC", "exchange": EX}
    assert fams["mm_orders_placed"].type == "counter"
    assert sample(fams, "mm_orders_placed", "mm_orders_placed_total", **sym) == 2
    assert sample(again, "mm_orders_placed", "mm_orders_placed_total", **sym) == 3
    assert sample(fams, "mm_fills", "mm_fills_total", **sym, side="SELL", liquidity="maker") == 1
    assert sample(fams, "mm_fill_volume", "mm_fill_volume_total", **sym, side="SELL", liquidity="maker") == 0.03
    assert sample(fams, "mm_order_rejects", "mm_order_rejects_total", **sym, code="-2019", kind="rejected") == 1
    assert fams["mm_tick_to_order_seconds"].type == "histogram"
    assert sample(fams, "mm_tick_to_order_seconds", "mm_tick_to_order_seconds_bucket", **sym, le="0.005") == 1
    assert sample(fams, "mm_tick_to_order_seconds", "mm_tick_to_order_seconds_bucket", **sym, le="0.003") == 0
    assert sample(fams, "mm_trading_state", "mm_trading_state", **sym) == 2
    assert sample(fams, "mm_position", "mm_position", **sym) == -0.03
    assert sample(fams, "mm_inventory_skew_bps", "mm_inventory_skew_bps", **sym) == 2.5
    assert sample(fams, "mm_book_staleness_seconds", "mm_book_staleness_seconds", **sym) == 2.0
    assert sample(fams, "mm_build_info", "mm_build_info", version="1.2.3", commit="deadbeef",
                  python=__import__("platform").python_version()) == 1
    # every family the registry defines is served, including gauges no one has set yet (no samples)
    assert {f"{n}" for n in fams} >= {"mm_vpin_current", "mm_equity", "mm_ws_lag_seconds", "mm_rest_latency_seconds"}
    assert not [n for n in fams if not n.startswith("mm_")]  # no process/platform collectors of the default one


def test_stop_closes_the_socket_and_is_idempotent() -> None:
    m = Metrics(SimClock())
    ex = MetricsExporter(m.registry, "127.0.0.1", 0)
    port = ex.start()
    assert ex.running
    with pytest.raises(RuntimeError, match="already running"):
        ex.start()
    ex.stop()
    ex.stop()
    assert not ex.running
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
    with socket.socket() as s:  # the port is free again: a restarted engine can take it
        s.bind(("127.0.0.1", port))


def test_a_taken_port_fails_loudly() -> None:
    m = Metrics(SimClock())
    with MetricsExporter(m.registry, "127.0.0.1", 0) as first:
        second = MetricsExporter(m.registry, "127.0.0.1", first.port)
        with pytest.raises(OSError):
            second.start()
        assert not second.running


def test_start_exporter_follows_settings() -> None:
    m = Metrics(SimClock())
    assert start_exporter(MetricsSettings(), m) is None  # off by default
    ex = start_exporter(MetricsSettings(enabled=True, host="127.0.0.1", port=0), m)
    assert ex is not None
    try:
        assert "mm_build_info" in requests.get(ex.url, timeout=5).text
    finally:
        ex.stop()


def test_settings_schema() -> None:
    s = _build(MetricsSettings, {"enabled": True, "port": 0, "ws_lag_sample_every": 1}, "settings.toml", "metrics")
    assert s == MetricsSettings(enabled=True, host="127.0.0.1", port=0, ws_lag_sample_every=1)
    assert MetricsSettings().port == 9464 and MetricsSettings().host == "127.0.0.1"
    with pytest.raises(SettingsError, match=r"\[metrics\] port: must be <= 65535"):
        _build(MetricsSettings, {"port": 70000}, "settings.toml", "metrics")
    with pytest.raises(SettingsError, match=r"\[metrics\] ws_lag_sample_every: must be >= 1"):
        _build(MetricsSettings, {"ws_lag_sample_every": 0}, "settings.toml", "metrics")
    with pytest.raises(SettingsError, match="host: must not be empty"):
        _build(MetricsSettings, {"host": " "}, "settings.toml", "metrics")
    with pytest.raises(SettingsError, match="did you mean 'port'"):
        _build(MetricsSettings, {"prot": 1}, "settings.toml", "metrics")
