"""AsmmParams: defaults valid, bounds and cross-field rules named as "[strategy] key: why", loadable as a table."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from actors.settings import SettingsError, _build
from actors.strategy.asmm_params import AsmmParams


def test_defaults_are_valid_and_in_engine_units() -> None:
    p = AsmmParams()
    assert p.stale_after_ns == 1_500_000_000 and p.quote_interval_ns == 1_000_000_000
    assert p.toxic_cooldown_ns == 30_000_000_000
    assert p.inv_soft_limit < p.reduce_only_threshold <= p.inv_hard_limit


@pytest.mark.parametrize(("kw", "match"), [
    ({"type": "fixed_spread"}, r"\[strategy\] type: 'fixed_spread' is not the asmm"),
    ({"model": "hummingbot"}, r"\[strategy\] model: must be one of as, glft"),
    ({"toxic_action": "ignore"}, r"\[strategy\] toxic_action: must be one of widen, reduce_only, cooldown"),
    ({"min_spread_bps": 50.0, "max_spread_bps": 40.0}, r"\[strategy\] min_spread_bps: must not exceed"),
    ({"inv_soft_limit": Decimal("0.1")}, r"\[strategy\] inv_soft_limit: must be below inv_hard_limit"),
    ({"reduce_only_threshold": Decimal("0.04")}, r"\[strategy\] reduce_only_threshold: must be above"),
    ({"reduce_only_threshold": Decimal("0.2")}, r"\[strategy\] reduce_only_threshold: .*at most"),
    ({"target_position": Decimal("-0.05")}, r"\[strategy\] target_position: "),
    ({"base_size": Decimal("0.2"), "inv_hard_limit": Decimal("0.1")}, r"\[strategy\] base_size: "),
    ({"gamma": 0.0}, r"\[strategy\] gamma: must be > 0"),
    ({"max_levels": 11}, r"\[strategy\] max_levels: must be <= 10"),
    ({"trend_spread_multiplier": 0.5}, r"\[strategy\] trend_spread_multiplier: must be >= 1"),
    ({"base_size": Decimal(0)}, r"\[strategy\] base_size: must be > 0"),
])
def test_invalid(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        AsmmParams(**kw)


def test_a_reduce_only_threshold_at_the_hard_limit_is_allowed() -> None:
    assert AsmmParams(reduce_only_threshold=Decimal("0.1")).reduce_only_threshold == Decimal("0.1")


def test_loads_as_a_settings_table() -> None:
    """The future ``[strategy]`` table (type = "asmm") goes through the same schema loader as every other table."""
    p = _build(AsmmParams, {"model": "glft", "gamma": 0.5, "base_size": "0.02", "max_levels": 2,
                            "toxic_action": "cooldown"}, "settings.toml", "strategy")
    assert p == AsmmParams(model="glft", gamma=0.5, base_size=Decimal("0.02"), max_levels=2, toxic_action="cooldown")
    with pytest.raises(SettingsError, match=r"settings.toml: \[strategy\] gama: unknown key \(did you mean 'gamma'"):
        _build(AsmmParams, {"gama": 1}, "settings.toml", "strategy")
    with pytest.raises(SettingsError, match=r"\[strategy\] inv_soft_limit: must be below"):
        _build(AsmmParams, {"inv_soft_limit": "0.2"}, "settings.toml", "strategy")
