"""[alerts]: URLs from the settings and the environment, checked by apprise, never echoed."""

from __future__ import annotations

import pytest

from actors.notifier.settings import AlertSettings
from actors.notifier.targets import resolve_targets
from actors.settings import SettingsError, _build

TOKEN = "123456789:AAHsecretBotTokenXYZ"


def test_the_table_loads_through_the_settings_schema() -> None:
    s = _build(AlertSettings, {"p0_urls": ["json://127.0.0.1:9/p0"], "p1_per_window": 3, "fold_window_s": 30},
               "my.toml", "alerts")
    assert s.p0_urls == ("json://127.0.0.1:9/p0",) and s.p1_per_window == 3 and s.fold_window_ns == 30 * 10**9
    assert AlertSettings().per_window() == {"P0": 20, "P1": 10, "P2": 5}  # P0 gets the most


@pytest.mark.parametrize(("raw", "message"), [
    ({"p0_url": []}, "[alerts] p0_url: unknown key (did you mean 'p0_urls'?)"),
    ({"p1_urls": "json://x"}, "[alerts] p1_urls: must be a list"),
    ({"p1_per_window": 0}, "[alerts] p1_per_window: must be >= 1"),
    ({"timeout_s": 0.1}, "[alerts] timeout_s: must be >= 0.5"),
    ({"daily_loss_warn_ratio": 0}, "[alerts] daily_loss_warn_ratio: must be > 0"),
    ({"p2_urls": ["json://ok", TOKEN]}, "[alerts] p2_urls[1]: not an apprise URL (schema://...)"),
])
def test_mistakes_name_the_key_and_never_the_url(raw: dict, message: str) -> None:
    with pytest.raises(SettingsError) as ei:
        _build(AlertSettings, raw, "my.toml", "alerts")
    assert str(ei.value).startswith("my.toml: ")
    assert message in str(ei.value)
    assert "AAHsecret" not in str(ei.value)


def test_urls_come_from_settings_then_the_environment_split_on_commas_and_spaces() -> None:
    s = AlertSettings(p0_urls=("json://127.0.0.1:9/p0",), p1_urls_env="MY_P1")
    env = {"MM_ALERTS_P0": f" tgram://{TOKEN}/-100123 ,json://127.0.0.1:9/p0\n",  # the second is a repeat
           "MY_P1": "json://127.0.0.1:9/a json://127.0.0.1:9/b,,", "MM_ALERTS_P1": "json://127.0.0.1:9/ignored"}
    t = resolve_targets(s, env)
    assert [d.url for d in t.of("P0")] == ["json://127.0.0.1:9/p0", f"tgram://{TOKEN}/-100123"]
    assert [d.url for d in t.of("P1")] == ["json://127.0.0.1:9/a", "json://127.0.0.1:9/b"]
    assert t.of("P2") == ()
    assert t.labels() == {"P0": ["P0#0 json", "P0#1 tgram"], "P1": ["P1#0 json", "P1#1 json"], "P2": []}
    assert TOKEN not in repr(t) and TOKEN not in repr(t.of("P0")) and TOKEN not in str(t.labels())


def test_an_unusable_url_names_where_it_came_from_not_what_it_is() -> None:
    s = AlertSettings()
    with pytest.raises(ValueError) as ei:
        resolve_targets(s, {"MM_ALERTS_P1": f"json://127.0.0.1:9/ok telegrm://{TOKEN}/1"})
    assert str(ei.value) == ("$MM_ALERTS_P1 item 1: not a URL apprise can deliver to (schema 'telegrm', or a "
                             "required part missing)")
    with pytest.raises(ValueError, match=r"^\[alerts\] p2_urls\[0\]: not a URL apprise"):
        resolve_targets(AlertSettings(p2_urls=("tgram://",)), {})


def test_no_urls_anywhere_is_allowed() -> None:
    assert resolve_targets(AlertSettings(p0_urls_env=""), {"MM_ALERTS_P0": "json://x"}).labels() == {
        "P0": [], "P1": [], "P2": []}
