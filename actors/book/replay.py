"""Driving a book from recorded frames: the same parser and sync code the live gateway uses.

Used by ``tools/replay.py``, by the tests on the real captures and by the benchmark. It also checks the
rebuilt top of book against every ``bookTicker`` that carries the same update id as the last applied diff.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from actors.book.book import OrderBook
from actors.book.sync import Applied, BookSync, Gap, SeqRule
from actors.gateway.binance.capture import is_snapshot
from actors.gateway.binance.frames import FrameParser
from actors.gateway.binance.market_parse import depth_snapshot
from actors.gateway.events import BookTicker, DepthDiff, DepthSnapshot, Trade

_SNAPSHOT_HEAD = '{"lastUpdateId"'  # 15 characters
assert is_snapshot(_SNAPSHOT_HEAD)


@dataclass
class ReplayStats:
    frames: int = 0
    diffs_applied: int = 0
    snapshots: int = 0
    ticker_checks: int = 0
    ticker_mismatches: list[tuple[int, str]] = field(default_factory=list)


class BookReplayer:
    """Feed frames in arrival order; ``on_applied(sync)`` runs after each applied diff, ``on_gap(gap)`` on a
    sequence break (after which the book waits for another snapshot)."""

    def __init__(self, symbol: str, rule: SeqRule | None = None,
                 on_applied: Callable[[BookSync, DepthDiff], None] | None = None,
                 on_gap: Callable[[Gap], None] | None = None,
                 on_trade: Callable[[Trade], None] | None = None) -> None:
        self.symbol = symbol
        self.rule = rule  # None: decided by the first diff (pu present → futures)
        self.parser = FrameParser(user_parser=lambda d, ns: None)
        self.sync: BookSync | None = None
        self.stats = ReplayStats()
        self._on_applied = on_applied
        self._on_gap = on_gap
        self._on_trade = on_trade  # public trades of the symbol (the market signals need them)

    def _ensure_sync(self, ev: DepthDiff | DepthSnapshot) -> BookSync:
        if self.sync is None:
            rule = self.rule
            if rule is None:
                rule = SeqRule.FUTURES if isinstance(ev, DepthDiff) and ev.prev_id >= 0 else SeqRule.SPOT
            self.sync = BookSync(OrderBook(self.symbol), rule)  # precision learnt from the snapshot
        return self.sync

    def feed(self, recv_ns: int, raw: str) -> None:
        self.stats.frames += 1
        self._feed(recv_ns, raw)

    def _feed(self, recv_ns: int, raw: str) -> None:
        if raw[:15] == _SNAPSHOT_HEAD:  # is_snapshot(), inlined: this runs for every frame
            try:
                snap = depth_snapshot(raw, self.symbol, recv_ns)
            except ValueError as exc:  # msgspec's DecodeError is a ValueError
                self.parser.counts["malformed:snapshot"] += 1
                self._gap(Gap(f"unusable snapshot: {exc}", -1, -1, -1, -1))
                return
            self.stats.snapshots += 1
            sync = self._ensure_sync(snap)
            out = sync.on_snapshot(snap, on_applied=self._applied)
            if isinstance(out, Gap):
                self._gap(out)
            return
        ev = self.parser.parse(raw, recv_ns)
        t = type(ev)
        if t is DepthDiff and ev.symbol == self.symbol:
            sync = self._ensure_sync(ev)
            out = sync.on_diff(ev)
            if isinstance(out, Applied):
                self._applied(ev)
            elif isinstance(out, Gap):
                self._gap(out)
        elif t is BookTicker and self.sync is not None and ev.update_id == self.sync.last_id:
            self._check_ticker(ev)
        elif t is Trade and self._on_trade is not None and ev.symbol == self.symbol:
            self._on_trade(ev)

    def run(self, frames: Iterable[tuple[int, str]]) -> ReplayStats:
        """``feed`` for every frame, with the common case (a diff or ticker of a synced book) inlined: this
        loop is the benchmark's pipeline, so it does no more per frame than the live gateway and book do."""
        parse, symbol, stats, on_applied, on_trade = (self.parser.parse, self.symbol, self.stats, self._on_applied,
                                                      self._on_trade)
        n = applied = 0
        for recv_ns, raw in frames:
            n += 1
            sync = self.sync
            if sync is None or raw[:15] == _SNAPSHOT_HEAD:
                self._feed(recv_ns, raw)
                continue
            ev = parse(raw, recv_ns)
            t = type(ev)
            if t is DepthDiff:
                if ev.symbol != symbol:
                    continue
                out = sync.on_diff(ev)
                if type(out) is Applied:
                    applied += 1
                    if on_applied is not None:
                        on_applied(sync, ev)
                elif type(out) is Gap:
                    self._gap(out)
            elif t is BookTicker and ev.update_id == sync.last_id:
                self._check_ticker(ev)
            elif t is Trade and on_trade is not None and ev.symbol == symbol:
                on_trade(ev)
        stats.frames += n
        stats.diffs_applied += applied
        return stats

    def _applied(self, d: DepthDiff) -> None:
        self.stats.diffs_applied += 1
        if self._on_applied is not None and self.sync is not None:
            self._on_applied(self.sync, d)

    def _gap(self, gap: Gap) -> None:
        if self._on_gap is not None:
            self._on_gap(gap)

    def _check_ticker(self, t: BookTicker) -> None:
        sync = self.sync
        if sync is None or t.symbol != self.symbol:
            return
        self.stats.ticker_checks += 1
        bid, ask = sync.book.best_bid(), sync.book.best_ask()
        if bid != (t.bid_price, t.bid_qty) or ask != (t.ask_price, t.ask_qty):
            seen = f"ticker {t.bid_price} {t.bid_qty}/{t.ask_price} {t.ask_qty}"
            self.stats.ticker_mismatches.append((t.update_id, f"book {bid}/{ask} vs {seen}"))
