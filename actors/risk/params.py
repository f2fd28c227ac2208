"""Risk parameters: the future ``[risk]`` settings keys (snake_case, after the blueprint's risk keys).

Quantities and money are Decimal (they are compared with what the exchange holds); ratios, bps and times
are plain numbers. Field bounds use the settings schema's ``num`` so the same class can be dropped into
``actors.settings`` as a table; ``__post_init__`` checks what spans several fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from actors.fields import num  # a dataclasses.field with bounds (RUF009 cannot know it is immutable)
from actors.instrument import Instrument

MISMATCH_ACTIONS = ("reducing", "halted")


@dataclass(frozen=True)
class RiskParams:
    # --- inventory and orders (blueprint: netMax, singleMax)
    max_inventory: Decimal = num(Decimal("0.1"), 0, lo_open=True)  # noqa: RUF009  base asset: |position + adding orders|
    max_order_qty: Decimal = num(Decimal("0.05"), 0, lo_open=True)  # noqa: RUF009  base asset, one order
    max_price_deviation_bps: float = num(300.0, 0, lo_open=True)  # fat finger: limit price vs mid
    # --- daily loss (dailyMax), net of fees and funding, realized + unrealized
    max_daily_loss: Decimal = num(Decimal(50), 0, lo_open=True)  # noqa: RUF009  quote asset
    daily_loss_warn_ratio: float = num(0.7, 0, 1, lo_open=True)  # warn at this share of max_daily_loss
    # --- order errors (rejects per window)
    error_window_s: float = num(60.0, 1.0, 3600.0)
    error_rate_reduce: int = num(10, 1)  # errors in the window → REDUCING (lifts at half of this)
    error_rate_halt: int = num(30, 1)  # errors in the window → HALTED + panicstop
    # --- market data (lesson 2): quotes are cancelled within this long of the last update
    stale_after_ms: int = num(1500, 50, 60_000)
    # --- price shock (shockPct, haltSeconds)
    shock_pct: Decimal = num(Decimal(2), 0, 100, lo_open=True)  # noqa: RUF009  percent
    shock_window_s: float = num(10.0, 0.1, 3600.0)
    halt_seconds: float = num(60.0, 1.0, 86_400.0)
    # --- reconciliation
    mismatch_action: str = "halted"  # reducing | halted
    mismatch_tolerance: Decimal = num(Decimal(0), 0)  # noqa: RUF009  base asset
    # --- panicstop
    panic_flatten: bool = False  # flatten with reduce-only IOC orders after confirming nothing is open
    flatten_slippage_bps: float = num(30.0, 0, 1000.0, lo_open=True)  # IOC limit: mid ± this
    flatten_max_orders: int = num(10, 1, 1000)
    flatten_deadline_s: float = num(60.0, 1.0, 3600.0)
    panic_confirm_deadline_s: float = num(30.0, 1.0, 3600.0)  # after this: P0 alert, keep retrying slower
    panic_poll_interval_ms: int = num(1000, 50, 60_000)
    panic_reply_timeout_ms: int = num(5000, 100, 60_000)
    # --- adaptive net limit (actors/risk/adaptive.py): max_inventory × the product of the causes in force
    adaptive: bool = True  # false: the net limit stays max_inventory whatever the market does
    adapt_high_vol: float = num(0.5, 0, 1, lo_open=True)  # × this in the HighVol regime
    adapt_trend: float = num(0.75, 0, 1, lo_open=True)  # × this in TrendUp / TrendDown
    adapt_toxic: float = num(0.5, 0, 1, lo_open=True)  # × this while the flow is toxic (VPIN)
    adapt_adverse: float = num(0.6, 0, 1, lo_open=True)  # × this while adverse selection is high
    adverse_rate_limit: float = num(0.65, 0, 1, lo_open=True)  # share of fills marked out negative: "high"
    adverse_min_fills: int = num(20, 1, 100_000)  # markouts needed before the rate is trusted
    adapt_min_factor: float = num(0.2, 0, 1, lo_open=True)  # the limit never shrinks below this share
    adapt_recover_s: float = num(120.0, 1.0, 86_400.0)  # from the floor back to 1.0 this long once clear

    def __post_init__(self) -> None:
        if self.error_rate_halt <= self.error_rate_reduce:
            raise ValueError("[risk] error_rate_halt: must be greater than error_rate_reduce")
        if self.max_order_qty > self.max_inventory:
            raise ValueError("[risk] max_order_qty: must not exceed max_inventory")
        if self.mismatch_action not in MISMATCH_ACTIONS:
            raise ValueError(f"[risk] mismatch_action: must be one of {', '.join(MISMATCH_ACTIONS)}")

    # ---- in engine units
    @property
    def stale_after_ns(self) -> int:
        return self.stale_after_ms * 1_000_000

    @property
    def error_window_ns(self) -> int:
        return round(self.error_window_s * 1e9)

    @property
    def shock_window_ns(self) -> int:
        return round(self.shock_window_s * 1e9)

    @property
    def halt_ns(self) -> int:
        return round(self.halt_seconds * 1e9)


@dataclass(frozen=True, slots=True)
class Limits:
    """The pre-trade limits in lots of one instrument (quantities rounded down: a limit never grows)."""

    max_inventory_lots: int
    max_order_lots: int
    max_price_deviation_bps: float = 300.0

    def __post_init__(self) -> None:
        if self.max_inventory_lots < 0 or self.max_order_lots <= 0:
            raise ValueError("limits must be non-negative (max order > 0)")

    @classmethod
    def from_params(cls, p: RiskParams, instrument: Instrument) -> Limits:
        inv = instrument.lots_floor(p.max_inventory)
        order = min(instrument.lots_floor(p.max_order_qty), instrument.max_lots, inv)
        if order <= 0:
            raise ValueError(f"{instrument.symbol}: max_order_qty {p.max_order_qty} is below one step "
                             f"{instrument.step_size}")
        return cls(inv, order, p.max_price_deviation_bps)
