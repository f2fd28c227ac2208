"""Avellaneda–Stoikov market-making parameters: the future ``[strategy]`` table when ``type = "asmm"``.

Names are the blueprint's strategy keys in snake_case (``quoteIntervalMs`` → ``quote_interval_ms``, ``invSkewK`` →
``inv_skew_k``, ``avoidToxic`` → ``toxic_action``...), plus the model's own (``gamma``, ``horizon_s``, the intensity
defaults). Sizes and limits are Decimal in the base asset (they are compared with what the exchange holds); bps,
times and model constants are plain numbers. See docs/strategy_asmm.md for what each key does and how to tune it.

Units of the model (the formulas depend on them):

* inventory ``q`` in the **base asset** (ETH for ETHUSDC), relative to ``target_position``;
* ``gamma`` in **1 / quote currency** (per USDC): the absolute risk aversion of a CARA utility of wealth in the
  quote currency, so ``q·γ·σ²·τ`` is a price and ``γ·Δ/k`` (Δ = ``base_size``, one fill) is a pure number;
* σ in price per √s (from ``MarketSignals.sigma``), intensity ``A`` in fills/s, ``k`` per price unit.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal

from actors.fields import num  # a dataclasses.field with bounds (RUF009 cannot know it is immutable)

MODELS = ("as", "glft")
TOXIC_ACTIONS = ("widen", "reduce_only", "cooldown")


@dataclass(frozen=True)
class AsmmParams:
    type: str = "asmm"  # [strategy] type: which strategy (as FixedSpreadParams.type; actors/settings.py)
    # --- publishing (as FixedSpreadParams, so fixed_spread.should_publish works unchanged)
    quote_interval_ms: int = num(1000, 50, 60_000)  # least time between targets that only move prices
    refresh_tolerance_bps: float = num(2.0, 0)  # a price that moved less than this is not re-quoted
    stale_after_ms: int = num(1500, 50, 60_000)  # a book older than this is not quoted on
    # --- spread: the model's width, clamped; never nearer the mid than the fee floor
    min_spread_bps: float = num(12.0, 0, lo_open=True)  # level-0 bid-to-ask, at least (> 2 x fee floor: room to skew)
    max_spread_bps: float = num(100.0, 0, lo_open=True)  # ...and at most (the fee floor wins over it)
    fee_buffer_bps: float = num(1.0, 0)  # each side >= 2 x maker fee + this from mid (lesson 6)
    # --- levels
    max_levels: int = num(3, 1, 10)  # per side
    min_spacing_bps: float = num(5.0, 0, lo_open=True)  # between levels, at least
    vol_k: float = num(2.0, 0, 100)  # spacing = max(min_spacing_bps, vol_k x σ in bps per √s x 1 √s)
    # --- sizes (base asset)
    base_size: Decimal = num(Decimal("0.01"), 0, lo_open=True)  # noqa: RUF009  per level; also the model's fill Δ
    size_vol_k: float = num(1.0, 0, 100)  # size x 1 / (1 + size_vol_k x (σ / default_sigma_bps − 1)) above it
    # --- inventory (base asset; limits on |position|, the skew relative to target_position)
    target_position: Decimal = num(Decimal(0))  # noqa: RUF009  the inventory the skew pulls toward
    inv_soft_limit: Decimal = num(Decimal("0.05"), 0, lo_open=True)  # noqa: RUF009  past it: skew harder
    reduce_only_threshold: Decimal = num(Decimal("0.08"), 0, lo_open=True)  # noqa: RUF009  past it: reduce only
    inv_hard_limit: Decimal = num(Decimal("0.1"), 0, lo_open=True)  # noqa: RUF009  position + adding orders
    inv_skew_k: float = num(1.0, 0, 100)  # extra skew at the hard limit, in half spreads (linear from soft)
    # --- the model
    model: str = "as"  # as (finite rolling horizon horizon_s) | glft (infinite horizon)
    gamma: float = num(1.0, 0, 1e6, lo_open=True)  # risk aversion, per quote-currency unit (1/USDC)
    horizon_s: float = num(60.0, 0, 86_400, lo_open=True)  # AS: T − t, a rolling horizon in seconds
    default_sigma_bps: float = num(2.0, 0, 1000, lo_open=True)  # σ (bps per √s) until warm; size-shrink reference
    default_intensity_a: float = num(1.0, 0, 1e6, lo_open=True)  # fills/s at the mid, until fitted
    default_intensity_k_bps: float = num(0.5, 0, 1e4, lo_open=True)  # decay per bps from mid, until fitted
    # --- regime and toxicity
    trend_spread_multiplier: float = num(1.5, 1, 100)
    trend_lean: float = num(0.5, 0, 10)  # in a trend, the side quoting against it x (1 + this) on top
    high_vol_spread_multiplier: float = num(2.0, 1, 100)
    toxic_action: str = "widen"  # widen | reduce_only | cooldown
    toxic_spread_multiplier: float = num(2.0, 1, 100)  # toxic_action = widen
    toxic_cooldown_s: float = num(30.0, 0, 86_400, lo_open=True)  # toxic_action = cooldown: no quotes this long

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # direct construction (tests, tools) gets the settings bounds too
            lo, hi, lo_open = f.metadata.get("lo"), f.metadata.get("hi"), f.metadata.get("lo_open", False)
            v = getattr(self, f.name)
            if lo is not None and (v <= lo if lo_open else v < lo):
                raise ValueError(f"[strategy] {f.name}: must be {'>' if lo_open else '>='} {lo}, got {v}")
            if hi is not None and v > hi:
                raise ValueError(f"[strategy] {f.name}: must be <= {hi}, got {v}")
        if self.type != "asmm":
            raise ValueError(f"[strategy] type: {self.type!r} is not the asmm strategy's parameters")
        if self.model not in MODELS:
            raise ValueError(f"[strategy] model: must be one of {', '.join(MODELS)}, got {self.model!r}")
        if self.toxic_action not in TOXIC_ACTIONS:
            raise ValueError(f"[strategy] toxic_action: must be one of {', '.join(TOXIC_ACTIONS)}, "
                             f"got {self.toxic_action!r}")
        if self.min_spread_bps > self.max_spread_bps:
            raise ValueError("[strategy] min_spread_bps: must not exceed max_spread_bps")
        if not self.inv_soft_limit < self.inv_hard_limit:
            raise ValueError("[strategy] inv_soft_limit: must be below inv_hard_limit")
        if not self.inv_soft_limit < self.reduce_only_threshold <= self.inv_hard_limit:
            raise ValueError("[strategy] reduce_only_threshold: must be above inv_soft_limit and at most "
                             "inv_hard_limit (skew harder first, then only reduce, and never past the hard limit)")
        if abs(self.target_position) >= self.inv_soft_limit:
            raise ValueError("[strategy] target_position: |target_position| must be below inv_soft_limit")
        if self.base_size > self.inv_hard_limit:
            raise ValueError("[strategy] base_size: must not exceed inv_hard_limit")

    @property
    def stale_after_ns(self) -> int:
        return self.stale_after_ms * 1_000_000

    @property
    def quote_interval_ns(self) -> int:
        return self.quote_interval_ms * 1_000_000

    @property
    def toxic_cooldown_ns(self) -> int:
        return round(self.toxic_cooldown_s * 1e9)
