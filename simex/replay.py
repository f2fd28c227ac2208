"""Replay of a raw capture in hftbacktest's gzip text format (``<receive_ns> <json>`` per line).

The REST snapshot line (a JSON without ``stream``) seeds the book; ``@depth`` diffs carry absolute level
sizes; ``@trade``/``@aggTrade`` lines are market trades; ``@bookTicker`` lines are skipped (the exchange
derives its own). Prices and sizes are re-quantised onto the listed symbol's grid (bids down, asks up,
sizes to the nearest lot), so a spot capture or another instrument works too; the exchange re-sequences
everything with its own update ids. At the end of the file the replay restarts from the snapshot and
publishes the difference as ordinary level changes, so the id chain never breaks.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import orjson

from simex.market import DepthSet, MarketEvent, TradePrint
from simex.orders import BUY, SELL
from simex.symbols import E8, SymbolSpec

BID, ASK = 0, 1


def dec8(text: str) -> int:
    """A non-negative decimal string as an integer count of 1e-8 (exact for up to 8 decimals)."""
    whole, _, frac = text.partition(".")
    return int((whole or "0") + (frac + "00000000")[:8])


def capture_symbol(path: str) -> str:
    """The symbol of the first stream message in a capture (e.g. ``ethusdt@depth@0ms`` -> ETHUSDT)."""
    with gzip.open(path, "rb") as f:
        for i, line in enumerate(f):
            _, _, js = line.partition(b" ")
            if js.startswith(b'{"stream":"'):
                return js[11 : js.index(b"@")].decode().upper()
            if i > 10_000:
                break
    raise ValueError(f"{path}: no stream messages found")


class _Grid:
    """Maps source 1e-8 prices/sizes onto target ticks/lots, aggregating source levels per target tick."""

    def __init__(self, spec: SymbolSpec) -> None:
        self.tick8 = int(spec.tick * E8)
        self.step8 = int(spec.step * E8)

    def ticks(self, side: int, p8: int) -> int:
        return p8 // self.tick8 if side == BID else -(-p8 // self.tick8)

    def lots(self, q8: int) -> int:
        return (2 * q8 + self.step8) // (2 * self.step8)


class ReplayFeed:
    """``advance(t)`` returns the capture's events with replay time <= t (ms), looping forever."""

    def __init__(self, path: str, spec: SymbolSpec) -> None:
        self.path = path
        self.spec = spec
        self.symbol = spec.symbol
        self.grid = _Grid(spec)
        self.src: tuple[dict[int, int], dict[int, int]] = ({}, {})  # source price8 -> qty8
        self.agg: tuple[dict[int, int], dict[int, int]] = ({}, {})  # target ticks -> summed qty8
        self.out_lots: tuple[dict[int, int], dict[int, int]] = ({}, {})  # target ticks -> published lots
        self.offset_ms = 0
        self.loops = 0
        self.lines = 0
        self._snapshot: dict | None = None
        self._snap_ns = 0
        self._last_ns = 0
        self._bridge: list[dict] = []
        self._it: Iterator[MarketEvent] = self._events()
        self._next: MarketEvent | None = next(self._it, None)

    def advance(self, to_ms: int, limit: int = 1 << 30) -> list[MarketEvent]:
        out = []
        while self._next is not None and self._next.t_ms <= to_ms and len(out) < limit:
            out.append(self._next)
            self._next = next(self._it, None)
        return out

    def next_time(self) -> int | None:
        return self._next.t_ms if self._next is not None else None

    # ---- source book ----
    def _set(self, side: int, p8: int, q8: int, touched: set[tuple[int, int]]) -> None:
        src = self.src[side]
        old = src.get(p8, 0)
        if old == q8:
            return
        if q8:
            src[p8] = q8
        else:
            src.pop(p8, None)
        t = self.grid.ticks(side, p8)
        agg = self.agg[side]
        total = agg.get(t, 0) + q8 - old
        if total:
            agg[t] = total
        else:
            agg.pop(t, None)
        touched.add((side, t))

    def _emit(self, touched: set[tuple[int, int]]) -> tuple[tuple[int, int, int], ...]:
        changes = []
        for side, t in sorted(touched):
            lots = self.grid.lots(self.agg[side].get(t, 0))
            out = self.out_lots[side]
            if out.get(t, 0) != lots:
                if lots:
                    out[t] = lots
                else:
                    out.pop(t, None)
                changes.append((side, t, lots))
        return tuple(changes)

    def _apply_diff(self, data: dict, touched: set[tuple[int, int]]) -> None:
        for side, key in ((BID, "b"), (ASK, "a")):
            for p, q in data[key]:
                self._set(side, dec8(p), dec8(q), touched)

    def _load_snapshot(self, touched: set[tuple[int, int]]) -> None:
        snap = self._snapshot
        assert snap is not None
        keep = ({dec8(p): dec8(q) for p, q in snap["bids"]}, {dec8(p): dec8(q) for p, q in snap["asks"]})
        for side in (BID, ASK):
            for p8 in list(self.src[side]):
                if p8 not in keep[side]:
                    self._set(side, p8, 0, touched)
            for p8, q8 in keep[side].items():
                self._set(side, p8, q8, touched)

    # ---- the event stream ----
    def _events(self) -> Iterator[MarketEvent]:
        while True:
            yield from self._one_pass()
            self.loops += 1
            self.offset_ms += (self._last_ns - self._snap_ns) // 1_000_000 + 1

    def _one_pass(self) -> Iterator[MarketEvent]:
        started = False
        with gzip.open(self.path, "rb") as f:
            for line in f:
                ts_s, _, js = line.partition(b" ")
                if not js or b"@bookTicker" in js[:64]:
                    continue
                self.lines += 1
                ns = int(ts_s)
                if not started:
                    if js.startswith(b'{"stream"'):
                        msg = orjson.loads(js)
                        if "@depth" in msg["stream"] and self._snapshot is None:
                            self._bridge.append(msg["data"])
                        continue
                    if self._snapshot is None:
                        self._snapshot = orjson.loads(js)
                        self._snap_ns = ns
                    started = True
                    touched: set[tuple[int, int]] = set()
                    self._load_snapshot(touched)
                    last = self._snapshot["lastUpdateId"]
                    for diff in self._bridge:
                        if diff["u"] >= last:
                            self._apply_diff(diff, touched)
                    changes = self._emit(touched)
                    if changes:
                        yield MarketEvent(self.offset_ms, self.symbol, (DepthSet(changes),))
                    continue
                msg = orjson.loads(js)
                stream, data = msg.get("stream", ""), msg.get("data", {})
                t = self.offset_ms + max(0, ns - self._snap_ns) // 1_000_000
                self._last_ns = max(self._last_ns, ns)
                if "@depth" in stream:
                    if data.get("u", 0) < self._snapshot.get("lastUpdateId", 0):
                        continue
                    touched = set()
                    self._apply_diff(data, touched)
                    changes = self._emit(touched)
                    if changes:
                        yield MarketEvent(t, self.symbol, (DepthSet(changes),))
                elif "@trade" in stream or "@aggTrade" in stream:
                    side = SELL if data["m"] else BUY
                    ticks = self.grid.ticks(BID if side == SELL else ASK, dec8(data["p"]))
                    lots = self.grid.lots(dec8(data["q"]))
                    if lots:
                        yield MarketEvent(t, self.symbol, (TradePrint(ticks, lots, side),))
