"""The pure diff: exact values, flattened free tables, redaction, and which changes need a restart."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

from actors.config.diff import (
    HOT_TABLES,
    REDACTED,
    describe,
    describe_refused,
    flatten_snapshot,
    refused,
    settings_diff,
    snapshot,
    snapshot_diff,
)
from actors.notifier.settings import AlertSettings
from actors.settings import Settings, parse_settings


def test_no_change_is_an_empty_diff_and_equal_decimals_are_no_change() -> None:
    assert settings_diff(Settings(), Settings()) == {}
    written = parse_settings({"risk": {"max_inventory": "0.10"}, "fees": {"maker": "0.00020"}})
    assert settings_diff(Settings(), written) == {}  # 0.1 == 0.10: the same limit
    assert settings_diff(Settings(), dataclasses.replace(Settings(), source="elsewhere.toml")) == {}


def test_values_render_exactly_decimal_never_through_a_float() -> None:
    new = parse_settings({"fees": {"maker": "0.00000000000000000123"}, "risk": {"max_daily_loss": "12.50"},
                          "strategy": {"min_spread_bps": 12.5, "levels": 2}, "oms": {"orphans": "adopt"}})
    d = settings_diff(Settings(), new)
    assert d == {
        "fees.maker": ("0.0002", "0.00000000000000000123"),  # str(Decimal) would say 1.23E-18
        "risk.max_daily_loss": ("50", "12.50"),
        "strategy.levels": ("1", "2"),
        "strategy.min_spread_bps": ("10.0", "12.5"),
        "oms.orphans": ("cancel", "adopt"),
    }
    assert list(d) == sorted(d)
    bools = settings_diff(Settings(), parse_settings({"metrics": {"enabled": True}}))
    assert bools == {"metrics.enabled": ("false", "true")}


def test_free_tables_are_flattened_with_dots_absent_sides_are_none() -> None:
    old = parse_settings({"log": {"modules": {"actors": "INFO", "urllib3": "WARNING"}}})
    new = parse_settings({"log": {"modules": {"actors": "DEBUG", "actors.gateway": "TRACE"}}})
    assert settings_diff(old, new) == {
        "log.modules.actors": ("INFO", "DEBUG"),
        "log.modules.actors.gateway": (None, "TRACE"),
        "log.modules.urllib3": ("WARNING", None),
    }
    assert describe(settings_diff(old, new)) == ("[log] modules.actors: INFO → DEBUG; [log] modules.actors.gateway: "
                                                 "(absent) → TRACE; [log] modules.urllib3: WARNING → (absent)")


def test_keys_named_like_secrets_urls_or_keys_are_redacted_on_both_sides() -> None:
    token_url = "tgram://123456:SECRETTOKEN/987"
    old = Settings()
    new = dataclasses.replace(
        old,
        exchange=dataclasses.replace(old.exchange, rest_url="https://user:pw@fapi.example", ws_url="wss://ws.example",
                                     key_file="/etc/mm/keys", api_key_env="OTHER_KEY"),
        alerts=AlertSettings(p0_urls=(token_url,), p1_urls_env="PAGE_ME"),
        simex=dataclasses.replace(old.simex, api_secret="s3cr3t"))
    d = settings_diff(old, new)
    for key in ("exchange.rest_url", "exchange.ws_url", "exchange.key_file", "exchange.api_key_env",
                "alerts.p0_urls", "alerts.p1_urls_env", "simex.api_secret"):
        assert d[key] == (REDACTED, REDACTED), key
    text = json.dumps([d, snapshot(new), describe(d)])
    for secret in ("SECRETTOKEN", "123456", "user:pw", "fapi.example", "/etc/mm/keys", "OTHER_KEY", "s3cr3t"):
        assert secret not in text
    # what is not secret stays readable: a name, a threshold
    d2 = settings_diff(old, parse_settings({"alerts": {"ws_down_alert_s": 5}, "exchange": {"recv_window_ms": 9000}}))
    assert d2 == {"alerts.ws_down_alert_s": ("30.0", "5.0"), "exchange.recv_window_ms": ("5000", "9000")}


def test_only_strategy_signals_risk_oms_and_fees_hot_reload_the_rest_is_refused_by_name() -> None:
    hot_tables = {"strategy", "strategy_symbols", "signals", "signals_symbols", "risk", "oms", "fees"}
    assert frozenset(hot_tables) == HOT_TABLES
    hot = parse_settings({"strategy": {"min_spread_bps": 20, "quote_interval_ms": 300},
                          "strategy_symbols": {"BTCUSDC": {"type": "asmm"}}, "signals": {},
                          "signals_symbols": {"BTCUSDC": {"vpin_bucket_volume": 1.0}},
                          "risk": {"max_inventory": "0.2"}, "oms": {"places_per_s": 3}, "fees": {"maker": "0.0001"}})
    assert refused(settings_diff(Settings(), hot)) == {}
    cold = parse_settings({"strategy": {"min_spread_bps": 20}, "exchange": {"recv_window_ms": 6000},
                           "alerts": {"reject_spike_count": 5}, "log": {"modules": {"pykka": "DEBUG"}},
                           "supervision": {"max_restarts": 9}})
    reasons = refused(settings_diff(Settings(), cold))
    assert set(reasons) == {"exchange.recv_window_ms", "alerts.reject_spike_count", "log.modules.pykka",
                            "supervision.max_restarts"}
    assert describe_refused(reasons) == ("[alerts] reject_spike_count: needs a restart; [exchange] recv_window_ms: "
                                         "needs a restart; [log] modules.pykka: needs a restart; [supervision] "
                                         "max_restarts: needs a restart")
    # a hot table's start-only key: refused with its own reason; a caller may widen the hot set
    timer = refused(settings_diff(Settings(), parse_settings({"oms": {"tick_s": 1.0}})))
    assert list(timer) == ["oms.tick_s"] and "timer" in timer["oms.tick_s"]
    assert refused(settings_diff(Settings(), cold), HOT_TABLES | {"alerts", "exchange", "log", "supervision"}) == {}


def test_snapshot_is_nested_text_and_round_trips_to_the_same_keys() -> None:
    s = parse_settings({"log": {"modules": {"actors": "INFO", "actors.gateway": "DEBUG"}},
                        "risk": {"max_inventory": "0.25"}})
    snap = snapshot(s)
    assert snap["risk"]["max_inventory"] == "0.25"
    assert snap["log"]["modules"] == {"actors": "INFO", "actors.gateway": "DEBUG"}  # a free table's keys stay whole
    assert "source" not in snap
    flat = flatten_snapshot(json.loads(json.dumps(snap)))
    assert flat["log.modules.actors.gateway"] == "DEBUG" and flat["strategy.min_spread_bps"] == "10.0"
    assert snapshot_diff(snap, snapshot(Settings())) == {
        "log.modules.actors": ("INFO", None), "log.modules.actors.gateway": ("DEBUG", None),
        "risk.max_inventory": ("0.25", "0.1")}
    assert Decimal(snap["fees"]["maker"]) == Decimal("0.0002")
