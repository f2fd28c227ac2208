"""settings.toml: the shipped file is valid; every kind of mistake names the key; secrets stay secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.settings import SettingsError, credentials, load_settings, parse_settings

REPO = Path(__file__).resolve().parents[2]


def test_shipped_settings_are_valid_and_use_the_embedded_exchange() -> None:
    s = load_settings(REPO / "settings.toml")
    assert s.embedded_exchange
    assert s.source.endswith("settings.toml")


def test_signals_are_overridden_per_symbol_on_top_of_the_base_table() -> None:
    s = parse_settings({"signals": {"vpin_bucket_volume": 300.0, "vpin_buckets": 40},
                        "signals_symbols": {"BTCUSDC": {"vpin_bucket_volume": 8.0, "intensity_step": 1.0}}})
    eth, btc = s.signals_for("ETHUSDC"), s.signals_for("BTCUSDC")
    assert eth == s.signals and eth.vpin_bucket_volume == 300.0
    assert btc.vpin_bucket_volume == 8.0 and btc.intensity_step == 1.0 and btc.vpin_buckets == 40  # base + own


@pytest.mark.parametrize(("raw", "message"), [
    ({"feed": {"stale_aftr_s": 2}}, "[feed] stale_aftr_s: unknown key (did you mean 'stale_after_s'?)"),
    ({"fed": {}}, "fed: unknown key (did you mean 'feed'?)"),
    ({"feed": {"stale_after_s": -1}}, "[feed] stale_after_s: must be >= 0.2, got -1"),
    ({"feed": {"stale_after_s": "3"}}, "[feed] stale_after_s: must be a number, got '3'"),
    ({"feed": {"snapshot_limit": 2.5}}, "[feed] snapshot_limit: must be an integer, got 2.5"),
    ({"feed": {"stale_after_s": float("nan")}}, "[feed] stale_after_s: must be a finite number"),
    ({"exchange": {"stp_mode": "X"}}, "[exchange] stp_mode: must be one of"),
    ({"exchange": {"rest_url": "http://x"}}, "[exchange] rest_url and ws_url: set both"),
    ({"exchange": {"rest_url": "ftp://x", "ws_url": "ws://y"}}, "[exchange] rest_url: must start with"),
    ({"simex": {"feed": "/no/such/file.gz"}}, "[simex] feed: no such file"),
    ({"feed": 3}, "[feed]: must be a table"),
])
def test_mistakes_name_the_key(raw: dict, message: str) -> None:
    with pytest.raises(SettingsError) as ei:
        parse_settings(raw, "my.toml")
    assert str(ei.value).startswith("my.toml: ")
    assert message in str(ei.value)


def test_broken_toml_names_the_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "settings.toml"
    p.write_text("[feed]\nstale_after_s = = 3\n")
    with pytest.raises(SettingsError, match=r"settings.toml: not valid TOML: .*line 2"):
        load_settings(p)
    with pytest.raises(SettingsError, match="file not found"):
        load_settings(tmp_path / "missing.toml")


def test_credentials_from_env_or_key_file_never_printed(tmp_path: Path) -> None:
    s = parse_settings({"exchange": {"rest_url": "http://127.0.0.1:1", "ws_url": "ws://127.0.0.1:2"}})
    with pytest.raises(SettingsError, match="no API keys: set MM_API_KEY and MM_API_SECRET"):
        credentials(s, env={})
    c = credentials(s, env={"MM_API_KEY": "k-123", "MM_API_SECRET": "s-456"})
    assert (c.api_key, c.api_secret) == ("k-123", "s-456")
    assert "k-123" not in repr(c) and "s-456" not in repr(c) and "s-456" not in str(c)
    kf = tmp_path / "keys"
    kf.write_text("k-file\ns-file\n")
    s2 = parse_settings({"exchange": {"rest_url": "http://h", "ws_url": "ws://h", "key_file": str(kf)}})
    assert credentials(s2, env={}).api_secret == "s-file"
    assert credentials(parse_settings({}), env={}).api_key == "simkey"  # the simulator's demo pair


def test_strategy_type_selects_its_parameters_per_symbol() -> None:
    from actors.strategy.asmm_params import AsmmParams
    from actors.strategy.params import FixedSpreadParams

    s = parse_settings({"strategy": {"type": "asmm", "max_levels": 2, "gamma": 0.2},
                        "strategy_symbols": {"BTCUSDC": {"type": "fixed_spread", "levels": 2},
                                             "SOLUSDC": {"max_levels": 4}}})
    eth, btc, sol = s.strategy_for("ETHUSDC"), s.strategy_for("BTCUSDC"), s.strategy_for("SOLUSDC")
    assert isinstance(eth, AsmmParams) and eth.max_levels == 2
    assert isinstance(btc, FixedSpreadParams) and btc.levels == 2  # its own type: the base's keys do not apply
    assert isinstance(sol, AsmmParams) and sol.max_levels == 4 and sol.gamma == 0.2  # same type: base + override
    assert isinstance(parse_settings({}).strategy_for("ETHUSDC"), FixedSpreadParams)  # phase 1 stays the default


@pytest.mark.parametrize(("raw", "message"), [
    ({"strategy": {"type": "avellaneda"}}, "[strategy] type: must be one of fixed_spread, asmm, got 'avellaneda'"),
    ({"strategy": {"type": "asmm", "levels": 2}}, "[strategy] levels: unknown key (did you mean 'max_levels'?)"),
    ({"strategy_symbols": {"BTCUSDC": {"max_levels": 2}}},
     "[strategy_symbols.BTCUSDC] max_levels: unknown key (did you mean 'levels'?)"),
    ({"strategy_symbols": {"BTCUSDC": 3}}, "[strategy_symbols.BTCUSDC]: must be a table"),
    ({"signals": {"vpin_bucketz": 3}}, "[signals] vpin_bucketz: unknown key"),
    ({"signals_symbols": {"BTCUSDC": {"vpin_bucketz": 3}}}, "[signals_symbols.BTCUSDC] vpin_bucketz: unknown key"),
    ({"signals_symbols": {"BTCUSDC": {"trend_exit_z": 5.0}}}, "trend_exit_z < trend_enter_z"),
    ({"signals_symbols": ["BTCUSDC"]}, "[signals_symbols]: must be a table of symbols"),
    ({"strategy": {"type": "asmm", "inv_hard_limit": "0.5", "reduce_only_threshold": "0.4"}},
     "[strategy] inv_hard_limit: must not exceed [risk] max_inventory (0.1)"),
    ({"strategy": {"base_size": "0.2"}}, "[strategy] base_size: must not exceed [risk] max_order_qty (0.05)"),
])
def test_strategy_and_signals_mistakes_name_the_key(raw: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=None) as e:
        parse_settings(raw)
    assert message in str(e.value)
