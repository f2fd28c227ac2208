"""What the analyzer tells the rest of the tree: post-trade feedback (it decides nothing itself)."""

from __future__ import annotations

import msgspec


class AdverseSelection(msgspec.Struct, frozen=True):
    """Report: the share of recent fills whose markout went against us, at the analyzer's adverse horizon.
    Risk shrinks its adaptive net limit on it (and the strategy widens and shrinks size with that limit)."""

    symbol: str
    rate: float  # 0..1
    fills: int  # markouts behind the rate (risk trusts it from ``adverse_min_fills``)
    horizon_ms: int
    mean_bps: float  # average markout at that horizon, positive: good for us
    at_ns: int
