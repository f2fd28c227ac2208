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
