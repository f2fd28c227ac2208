"""The ``[metrics]`` table. Kept beside the exporter; ``actors.settings`` embeds it like the actors' params."""

from __future__ import annotations

from dataclasses import dataclass

from actors.fields import num


@dataclass(frozen=True)
class MetricsSettings:
    """The Prometheus exporter. Loopback by default: position and PnL are nobody else's business; put a
    reverse proxy or an SSH tunnel in front rather than binding 0.0.0.0 on a trading host."""

    enabled: bool = False  # off unless asked for, so tests and tools never fight over one port
    host: str = "127.0.0.1"
    port: int = num(9464, 0, 65535)  # 0: any free port (the bound one is logged and readable)
    # Market frames arrive at up to tens of thousands a second and a histogram observation costs a few µs:
    # the exchange-to-receipt lag of market streams is observed on one frame in this many (user-stream
    # events, which are rare, always). 1: every frame.
    ws_lag_sample_every: int = num(10, 1, 1_000_000)

    def __post_init__(self) -> None:
        if not self.host.strip():
            raise ValueError("[metrics] host: must not be empty (127.0.0.1 keeps it on this machine)")
