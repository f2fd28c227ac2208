"""What one symbol's tree shares: its instrument, the injected clock and timers, its peers, the
account-wide exchange client, and the settings. Built by the supervisor, handed to every child."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from actors.base import Peers
from actors.clock import Clock
from actors.instrument import Instrument
from actors.lanes import Lanes
from actors.settings import Settings
from actors.timers import Timers


@dataclass(frozen=True)
class SymbolContext:
    symbol: str
    venue: str
    instrument: Instrument
    clock: Clock
    timers: Timers
    peers: Peers
    settings: Settings
    rest: Any  # the venue's REST client, shared by the account's symbols (one rate budget per account)
    ws_url: str
    run_id: str
    latency: Any = None  # actors.gateway.latency.TickToOrder, shared by the account's symbols
    lanes: Lanes = field(default_factory=Lanes)  # hot-path hand-offs between this tree's actors
    metrics: Any = None  # actors.metrics.registry.SymbolMetrics (None in unit tests: nothing recorded)
    observe: Callable[[object], None] | None = None  # events the engine's alert rules watch (actors/notifier)

    def notice(self, ev: object) -> None:
        """Hand an event to the engine's alert rules (never raises into the actor)."""
        if self.observe is not None:
            try:
                self.observe(ev)
            except Exception as exc:  # an alerting bug must not take an actor down
                from loguru import logger

                logger.error("{}: alert rules failed on {}: {}", self.symbol, type(ev).__name__, exc)
