"""A price-level order book for one symbol: pure data, no sequencing (that is ``sync``'s job).

Levels are integer price units → integer qty units, so ordering and arithmetic are exact. Per side, a dict
holds every level and a short sorted list (bids negated) the best few hundred: best-first reads are a slice,
and the churn of far-away levels never touches the sorted list.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from actors.book.units import decimals_of, from_units, to_units
from actors.gateway.events import Level

_TOP = 256  # the sorted window per side holds between _TOP/2 and 2*_TOP of the best levels
_BELOW_ALL = -(1 << 80)  # window bounds when it is empty: nothing known (refill) / nothing exists
_ABOVE_ALL = 1 << 80
_CACHE_MAX = 50_000  # distinct strings per cache; cleared (not evicted) when full: it refills in seconds


@dataclass(frozen=True, slots=True)
class Top:
    bid_units: int
    bid_qty_units: int
    ask_units: int
    ask_qty_units: int


class OrderBook:
    """Levels as integer units only; strings are rendered on read with the book's fixed decimals, which
    reproduces the exchange's own strings exactly for venues that write fixed decimals per symbol (Binance
    does: checked against every bookTicker of the real captures)."""

    __slots__ = ("_ask_keys", "_asks", "_bid_keys", "_bids", "_pcache", "_qcache", "price_decimals",
                 "qty_decimals", "symbol")

    def __init__(self, symbol: str, price_decimals: int | None = None, qty_decimals: int | None = None) -> None:
        """Decimals left as None are learnt from the first snapshot's strings (how the exchange writes)."""
        self.symbol = symbol
        self.price_decimals = -1 if price_decimals is None else price_decimals
        self.qty_decimals = -1 if qty_decimals is None else qty_decimals
        self._bids: dict[int, int] = {}  # price units -> qty units
        self._asks: dict[int, int] = {}
        self._bid_keys: list[int] = []  # negated price units, ascending = best first
        self._ask_keys: list[int] = []
        self._pcache: dict[str, int] = {}  # string -> units, for every string that converted cleanly
        self._qcache: dict[str, int] = {}

    # ------------------------------------------------------------------ updates
    def clear(self) -> None:
        self._bids.clear()
        self._asks.clear()
        self._bid_keys.clear()
        self._ask_keys.clear()

    def load(self, bids: Sequence[Level], asks: Sequence[Level]) -> None:
        """Replace everything with a snapshot."""
        self.clear()
        if self.price_decimals < 0 or self.qty_decimals < 0:
            self._learn_decimals(bids, asks)
        self.apply(bids, asks)

    def _learn_decimals(self, bids: Sequence[Level], asks: Sequence[Level]) -> None:
        levels = [lv for lv in (*bids[:50], *asks[:50]) if len(lv) == 2 and all(type(x) is str for x in lv)]
        if not levels:
            raise ValueError(f"{self.symbol}: cannot learn the price precision from an empty snapshot")
        if self.price_decimals < 0:
            self.price_decimals = max(decimals_of(p) for p, _ in levels)
        if self.qty_decimals < 0:
            self.qty_decimals = max(decimals_of(q) for _, q in levels)
        self._pcache.clear()
        self._qcache.clear()

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Absolute quantities per level; a zero quantity deletes the level.

        A bad value (not a pair of plain non-negative decimal strings on the book's precision) raises
        ``ValueError`` and leaves the book empty: a book that missed part of an update must not be read.
        """
        try:
            self._side(bids, self._bids, self._bid_keys, -1)
            self._side(asks, self._asks, self._ask_keys, 1)
        except (TypeError, ValueError, AttributeError) as exc:  # not a pair of strings, or a bad number
            self.clear()
            raise ValueError(f"bad level in {self.symbol}: {exc}") from None

    def _side(self, updates: Iterable[Level], levels: dict[int, int], keys: list[int], sign: int) -> None:
        # The hot loop of the whole feed. Prices and sizes repeat endlessly, so each distinct string is
        # converted (and validated) once, then found in a cache; only clean strings get in.
        #
        # ``keys`` holds only the best levels (between _TOP/2 and 2*_TOP of them), sorted; every other level
        # is worse than ``keys[-1]`` and lives in ``levels`` alone. Full-depth feeds churn far from the top
        # (half of all updates insert or delete a level), and those then cost a dict operation, not a
        # memmove of a sorted list of thousands.
        pget, qget = self._pcache.get, self._qcache.get
        bound = keys[-1] if keys else (_BELOW_ALL if levels else _ABOVE_ALL)
        for p, q in updates:
            pu = pget(p)
            if pu is None:
                pu = self._convert(self._pcache, p, self.price_decimals)
            qu = qget(q)
            if qu is None:
                qu = self._convert(self._qcache, q, self.qty_decimals)
            if qu:
                if pu not in levels:
                    k = sign * pu
                    if k < bound:
                        insort(keys, k)
                        if len(keys) > 2 * _TOP:
                            del keys[_TOP:]
                            bound = keys[-1]
                levels[pu] = qu
            elif levels.pop(pu, None) is not None:
                k = sign * pu
                if k <= bound:
                    del keys[bisect_left(keys, k)]
                    if k == bound:
                        bound = keys[-1] if keys else (_BELOW_ALL if levels else _ABOVE_ALL)
        if len(keys) < _TOP // 2 and len(levels) > len(keys):
            self._refill(levels, keys, sign, _TOP)

    @staticmethod
    def _refill(levels: dict[int, int], keys: list[int], sign: int, n: int) -> None:
        keys[:] = heapq.nsmallest(n, [sign * k for k in levels])

    def _keys(self, side: int, n: int) -> list[int]:
        """The best ``n`` sorted keys of a side, refilling the sorted window when a reader wants more."""
        levels, keys = (self._bids, self._bid_keys) if side < 0 else (self._asks, self._ask_keys)
        if n > len(keys) and len(levels) > len(keys):
            self._refill(levels, keys, side, max(n, _TOP))
        return keys[:n]

    @staticmethod
    def _convert(cache: dict[str, int], s: str, decimals: int) -> int:
        # to_units' fixed-decimals fast path, inlined: a cache miss is common for sizes (every new size)
        if decimals and len(s) > decimals and s[-decimals - 1] == ".":
            text = s.replace(".", "", 1)
            units = int(text) if text.isdigit() and text.isascii() else to_units(s, decimals)
        else:
            units = to_units(s, decimals)
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[s] = units
        return units

    # ------------------------------------------------------------------ reads
    def __len__(self) -> int:
        return len(self._bids) + len(self._asks)

    @property
    def empty(self) -> bool:
        return not self._bid_keys or not self._ask_keys

    def is_crossed(self) -> bool:
        return bool(self._bid_keys and self._ask_keys and -self._bid_keys[0] >= self._ask_keys[0])

    def _level(self, pu: int, qu: int) -> Level:
        return from_units(pu, self.price_decimals), from_units(qu, self.qty_decimals)

    def best_bid(self) -> Level | None:
        if not self._bid_keys:
            return None
        pu = -self._bid_keys[0]
        return self._level(pu, self._bids[pu])

    def best_ask(self) -> Level | None:
        if not self._ask_keys:
            return None
        pu = self._ask_keys[0]
        return self._level(pu, self._asks[pu])

    def top(self) -> Top | None:
        if not self._bid_keys or not self._ask_keys:
            return None
        b, a = -self._bid_keys[0], self._ask_keys[0]
        return Top(b, self._bids[b], a, self._asks[a])

    def bids(self, n: int) -> list[Level]:
        """Top ``n`` bids as strings, best first."""
        lv = self._bids
        return [self._level(-k, lv[-k]) for k in self._keys(-1, n)]

    def asks(self, n: int) -> list[Level]:
        lv = self._asks
        return [self._level(k, lv[k]) for k in self._keys(1, n)]

    def depth_units(self, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Top ``n`` levels per side as (price units, qty units), best first."""
        bl, al = self._bids, self._asks
        return [(-k, bl[-k]) for k in self._keys(-1, n)], [(k, al[k]) for k in self._keys(1, n)]
