"""SimConfig: every knob of the simulated exchange, all with defaults, immutable once built."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from simex.symbols import DEFAULT_SPECS


def _dec(value: object, name: str) -> Decimal:
    if isinstance(value, float):
        raise TypeError(f"SimConfig.{name}: pass a string or Decimal, not a binary float")
    return value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass(frozen=True)
class SimConfig:
    seed: int = 7
    feed: str | None = None  # path of a raw capture (hftbacktest gzip format) to replay
    feed_symbol: str | None = None  # symbol the capture is published as (default: its own)
    speed: float = 1.0  # market time runs this many times faster than wall time
    api_key: str = "simkey"
    api_secret: str = "simsecret"
    extra_accounts: tuple[tuple[str, str], ...] = ()  # more (api_key, api_secret) accounts
    host: str = "127.0.0.1"
    rest_port: int = 0
    ws_port: int = 0
    symbols: tuple[str, ...] = tuple(DEFAULT_SPECS)
    # accounts
    wallet: Decimal | str = "10000"  # starting wallet of every quote asset, per account
    leverage: int = 20
    maker_fee: Decimal | str = "0.0002"
    taker_fee: Decimal | str = "0.0005"
    funding_rate: Decimal | str = "0"  # applied every funding_interval_s of market time; 0 = off
    funding_interval_s: float = 8 * 3600
    # user stream and websocket housekeeping
    listen_key_ttl_s: float = 3600.0
    ws_ping_interval_s: float = 180.0
    ws_pong_timeout_s: float = 600.0
    ws_max_lifetime_s: float = 24 * 3600.0
    # rate limits (Binance USDⓈ-M defaults)
    weight_limit_1m: int = 2400
    orders_limit_10s: int = 300
    orders_limit_1m: int = 1200
    ban_after_requests: int = 10  # requests sent during an active 429 back-off before a 418 ban
    ban_seconds: float = 120.0  # first ban; doubles on each repeat
    # market
    regimes: tuple[tuple[str, str], ...] = ()  # initial (symbol, regime)
    regime_schedule: tuple[tuple[float, str, str, float | None], ...] = ()  # (at market s, sym, regime, secs)
    synth_step_ms: int = 100
    order_retention_s: float = 6 * 3600.0  # canceled/expired orders without fills are forgotten after this
    queue_model: str = "proportional"  # how unexplained level decreases shrink the queue ahead
    faults: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()  # applied at start
    user_fault_seed: int | None = None  # RNG seed for user_dup/user_reorder/random_rejects

    def __post_init__(self) -> None:
        for name in ("wallet", "maker_fee", "taker_fee", "funding_rate"):
            object.__setattr__(self, name, _dec(getattr(self, name), name))
        unknown = [s for s in self.symbols if s not in DEFAULT_SPECS]
        if unknown:
            raise ValueError(f"unknown symbols {unknown}; listed: {list(DEFAULT_SPECS)}")
        if self.speed <= 0:
            raise ValueError("speed must be positive")
        if self.queue_model not in ("proportional", "front"):
            raise ValueError("queue_model is 'proportional' or 'front'")

    def accounts(self) -> dict[str, str]:
        """api_key -> secret for every account."""
        return {self.api_key: self.api_secret, **dict(self.extra_accounts)}
