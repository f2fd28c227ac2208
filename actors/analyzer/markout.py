"""Markouts: for every fill, where the mid was ``h`` later (default 1 s, 5 s, 30 s), in bps of the fill price,
signed so that positive is good for us (we bought below / sold above where the market went). The adverse
selection rate is the share of fills whose markout is negative; both feed the next phases' spread, size and
limits (the blueprint's ``mm_adverse_selection_rate``).

Time is passed in. ``on_mid(mid, at_ns)`` says "the mid in effect at ``at_ns``": call it on every book
view and on a timer while the book is fresh. A fill due at ``t`` is resolved by the first call at or after
``t``, with the mid in effect at ``t`` (the previous mid if the call is later than ``t``: mids are
piecewise constant between updates). While the book is stale, do not call it: the markouts wait.
Markouts are gross of fees (the PnL book is where fees are counted).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import msgspec

from actors.gateway.events import Fill, Side


class Markout(msgspec.Struct, frozen=True):
    trade_id: int
    side: Side
    price: Decimal
    qty: Decimal
    maker: bool
    fill_ns: int
    horizon_ms: int
    mid: Decimal  # the mid in effect at fill_ns + horizon
    bps: float  # positive: good for us
    regime: str = "Calm"  # the market regime when the fill came (actors/book/market_signals.py)


class HorizonStats(msgspec.Struct, frozen=True):
    horizon_ms: int
    count: int
    mean_bps: float
    qty_weighted_bps: float
    adverse_rate: float  # share of fills with a negative markout


class GroupStats(msgspec.Struct, frozen=True):
    """One horizon's markouts of one group of fills: a side (``BUY``/``SELL``) or a regime (``Calm``…)."""

    horizon_ms: int
    group: str  # "side" or "regime"
    key: str
    count: int
    mean_bps: float
    adverse_rate: float


class MarkoutSummary(msgspec.Struct, frozen=True):
    window_s: float
    fills: int  # fills in the window
    edge_bps: float  # mean distance of fill prices from the mid at fill time (positive: captured spread)
    horizons: tuple[HorizonStats, ...]
    adverse_selection_rate: float  # at ``adverse_horizon_ms``
    pending: int
    at_ns: int
    groups: tuple[GroupStats, ...] = ()  # per side and per regime, every horizon
    adverse_fills: int = 0  # markouts behind ``adverse_selection_rate``


@dataclass(frozen=True, slots=True)
class _Pending:
    due_ns: int
    trade_id: int
    side: Side
    price: Decimal
    qty: Decimal
    maker: bool
    fill_ns: int
    regime: str


def markout_bps(side: Side, price: Decimal, mid: Decimal) -> float:
    """(mid − price) / price for a buy, (price − mid) / price for a sell, in bps."""
    diff = mid - price if side is Side.BUY else price - mid
    return float(diff / price) * 1e4


class MarkoutTracker:
    def __init__(self, horizons_ms: Sequence[int] = (1000, 5000, 30000), window_s: float = 3600.0,
                 adverse_horizon_ms: int = 5000) -> None:
        if not horizons_ms or any(h <= 0 for h in horizons_ms) or adverse_horizon_ms not in horizons_ms:
            raise ValueError("horizons must be positive and include adverse_horizon_ms")
        self.horizons_ms = tuple(sorted(set(horizons_ms)))
        self.window_ns = round(window_s * 1e9)
        self.window_s = window_s
        self.adverse_horizon_ms = adverse_horizon_ms
        self._pending: dict[int, deque[_Pending]] = {h: deque() for h in self.horizons_ms}
        # per horizon: (resolved at, bps, qty, side, regime)
        self._done: dict[int, deque[tuple[int, float, Decimal, str, str]]] = {h: deque() for h in self.horizons_ms}
        self._fills: deque[tuple[int, float | None]] = deque()  # (time, edge at fill: None before any mid)
        self._mid: Decimal | None = None
        self._mid_ns = 0

    # ------------------------------------------------------------------ inputs
    def on_fill(self, trade_id: int, side: Side, price: Decimal, qty: Decimal, maker: bool, now_ns: int,
                regime: str = "Calm") -> None:
        """A fill as we received it (``now_ns``: our clock, the same as the mids'), in ``regime``."""
        t = max(now_ns, self._mid_ns)  # never schedule behind a mid already seen
        for h in self.horizons_ms:
            self._pending[h].append(_Pending(t + h * 1_000_000, trade_id, side, price, qty, maker, t, regime))
        self._fills.append((t, None if self._mid is None else markout_bps(side, price, self._mid)))

    def on_fill_event(self, fill: Fill, now_ns: int) -> None:
        self.on_fill(fill.trade_id, fill.side, fill.price, fill.qty, fill.is_maker, now_ns)

    def on_mid(self, mid: Decimal, at_ns: int) -> list[Markout]:
        """The mid in effect from ``at_ns``; returns the markouts it resolves."""
        out: list[Markout] = []
        prev = self._mid
        for h in self.horizons_ms:
            q = self._pending[h]
            while q and q[0].due_ns <= at_ns:
                p = q.popleft()
                m = mid if p.due_ns == at_ns or prev is None else prev
                bps = markout_bps(p.side, p.price, m)
                out.append(Markout(p.trade_id, p.side, p.price, p.qty, p.maker, p.fill_ns, h, m, bps, p.regime))
                self._done[h].append((at_ns, bps, p.qty, p.side.value, p.regime))
        self._mid, self._mid_ns = mid, max(self._mid_ns, at_ns)
        return out

    # ------------------------------------------------------------------ reads
    @property
    def pending(self) -> int:
        return sum(len(q) for q in self._pending.values())

    def summary(self, now_ns: int) -> MarkoutSummary:
        horizon = now_ns - self.window_ns
        stats, groups = [], []
        for h in self.horizons_ms:
            d = self._done[h]
            while d and d[0][0] < horizon:
                d.popleft()
            n = len(d)
            qty = sum((x[2] for x in d), Decimal(0))
            mean = sum(x[1] for x in d) / n if n else 0.0
            weighted = sum(x[1] * float(x[2]) for x in d) / float(qty) if qty else 0.0
            adverse = sum(x[1] < 0 for x in d) / n if n else 0.0
            stats.append(HorizonStats(h, n, mean, weighted, adverse))
            for group, col in (("side", 3), ("regime", 4)):
                acc: dict[str, list[float]] = {}
                for x in d:
                    acc.setdefault(x[col], []).append(x[1])
                groups += [GroupStats(h, group, k, len(v), sum(v) / len(v), sum(b < 0 for b in v) / len(v))
                           for k, v in sorted(acc.items())]
        f = self._fills
        while f and f[0][0] < horizon:
            f.popleft()
        edges = [x[1] for x in f if x[1] is not None]
        edge = sum(edges) / len(edges) if edges else 0.0
        adv = next(s for s in stats if s.horizon_ms == self.adverse_horizon_ms)
        return MarkoutSummary(self.window_s, len(f), edge, tuple(stats), adv.adverse_rate, self.pending, now_ns,
                              tuple(groups), adv.count)
