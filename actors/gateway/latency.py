"""Tick-to-order latency: from a market frame's receive time to the order request leaving for the socket.

The placement carries the receive time of the market data behind it (``PlaceOrders.market_ns``); whichever
thread sends it (the OMS's, through the gateway's lane, or the placement thread) marks it, and the REST
client's hook right before the request's bytes are written to the socket takes the sample. Samples are kept
in a bounded window for percentiles; the symbol's histogram is fed after the write, off the path.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from actors.clock import Clock


class TickToOrder:
    def __init__(self, clock: Clock, window: int = 100_000) -> None:
        self._clock = clock
        self._local = threading.local()
        self.samples_ns: deque[int] = deque(maxlen=window)

    def begin(self, market_ns: int, observe: Callable[[float], None] | None = None) -> None:
        """``observe``: the symbol's own histogram (this recorder is shared by the account's symbols)."""
        self._local.market_ns = market_ns
        self._local.observe = observe

    def end(self) -> None:
        loc = self._local
        observe, ns = getattr(loc, "observe", None), getattr(loc, "sample_ns", 0)
        loc.market_ns = loc.sample_ns = 0
        loc.observe = None
        if observe is not None and ns:
            observe(ns / 1e9)

    def pre_send(self, _request: Any) -> None:
        """The REST client's hook: one sample per placement request (retries are not ticks)."""
        loc = self._local
        m = getattr(loc, "market_ns", 0)
        if m:
            ns = self._clock.time_ns() - m
            self.samples_ns.append(ns)
            loc.market_ns = 0
            loc.sample_ns = ns

    def summary(self) -> dict[str, float | int]:
        s = sorted(self.samples_ns)
        if not s:
            return {"n": 0}
        return {"n": len(s), "p50_ms": s[len(s) // 2] / 1e6, "p99_ms": s[min(len(s) - 1, int(len(s) * 0.99))] / 1e6,
                "max_ms": s[-1] / 1e6}
