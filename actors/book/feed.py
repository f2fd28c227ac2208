"""A local book per symbol kept in step with the exchange over one market-data socket.

The glue between the gateway's WebSocket client and REST depth snapshots and the pure ``BookSync``: frames
are parsed and applied on the socket's reader thread; a sequence gap, a reconnect or a stall marks the book
unsynced and queues a snapshot request, which ``service()`` (called from the owner's loop) fetches and
applies. The actor tree's book actor does the same through messages.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from loguru import logger

from actors.book.book import OrderBook
from actors.book.signals import imbalance, mid, spread_bps
from actors.book.sync import Applied, BookSync, Gap, SeqRule, SyncState
from actors.gateway.binance.frames import FrameParser
from actors.gateway.events import (
    BookTicker,
    DepthDiff,
    DepthSnapshot,
    StreamConnected,
    StreamEvent,
    StreamStalled,
    Trade,
)
from actors.instrument import Instrument


@dataclass(frozen=True, slots=True)
class BookStatus:
    symbol: str
    state: str
    mid: str
    spread_bps: float
    imbalance: float
    last_id: int
    diffs: int
    gaps: int
    resyncs: int
    trades: int
    checks: int
    mismatches: int


class _SymbolBook:
    __slots__ = ("checks", "diffs", "mismatches", "need_snapshot", "sync", "trades")

    def __init__(self, sync: BookSync) -> None:
        self.sync = sync
        self.diffs = 0
        self.trades = 0
        self.checks = 0  # bookTickers compared with the book
        self.mismatches = 0
        self.need_snapshot = True


class MarketFeed:
    def __init__(self, instruments: Iterable[Instrument], fetch_snapshot: Callable[[str], DepthSnapshot],
                 rule: SeqRule = SeqRule.FUTURES) -> None:
        self._fetch = fetch_snapshot
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.parser = FrameParser()
        self.books: dict[str, _SymbolBook] = {}
        for ins in instruments:  # precision learnt from the first snapshot: how this exchange writes numbers
            self.books[ins.symbol] = _SymbolBook(BookSync(OrderBook(ins.symbol), rule))

    # -------------------------------------------------------------- socket thread
    def on_message(self, raw: str | bytes, recv_ns: int) -> None:
        ev = self.parser.parse(raw, recv_ns)
        t = type(ev)
        if t is DepthDiff:
            sb = self.books.get(ev.symbol)
            if sb is None:
                return
            with self._lock:
                out = sb.sync.on_diff(ev)
                if type(out) is Applied:
                    sb.diffs += 1
                elif type(out) is Gap:
                    logger.warning("{} book gap ({}): resync", ev.symbol, out.reason)
                    self._want_snapshot(sb)
        elif t is Trade and ev.symbol in self.books:
            self.books[ev.symbol].trades += 1
        elif t is BookTicker:
            sb = self.books.get(ev.symbol)
            if sb is not None and ev.update_id == sb.sync.last_id:
                self._check(sb, ev)

    def _check(self, sb: _SymbolBook, t: BookTicker) -> None:
        """The exchange's own top of book for the same update id: a free, continuous proof of the book."""
        with self._lock:
            if t.update_id != sb.sync.last_id:
                return
            book = sb.sync.book
            ok = book.best_bid() == (t.bid_price, t.bid_qty) and book.best_ask() == (t.ask_price, t.ask_qty)
        sb.checks += 1
        if not ok:
            sb.mismatches += 1
            logger.error("{} book disagrees with bookTicker at {}: resync", t.symbol, t.update_id)
            with self._lock:
                sb.sync.reset()
                self._want_snapshot(sb)

    def on_event(self, ev: StreamEvent) -> None:
        if isinstance(ev, StreamConnected | StreamStalled):
            # a new connection (or a dead one) cannot continue the old sequence: start over
            with self._lock:
                for sb in self.books.values():
                    sb.sync.reset()
                    self._want_snapshot(sb)

    def _want_snapshot(self, sb: _SymbolBook) -> None:
        sb.need_snapshot = True
        self._wake.set()

    # -------------------------------------------------------------- owner's thread
    def service(self, timeout_s: float) -> None:
        """Fetch the snapshots that are needed (the socket keeps buffering diffs meanwhile)."""
        self._wake.wait(timeout_s)
        self._wake.clear()
        for symbol, sb in self.books.items():
            if not sb.need_snapshot:
                continue
            sb.need_snapshot = False
            try:
                snap = self._fetch(symbol)
            except Exception as exc:  # any failure: try again on the next round
                logger.warning("{} snapshot failed: {}", symbol, exc)
                self._want_snapshot(sb)
                continue
            with self._lock:
                out = sb.sync.on_snapshot(snap)
            if isinstance(out, Gap):
                logger.warning("{} snapshot did not bridge ({}): again", symbol, out.reason)
                self._want_snapshot(sb)
            else:
                logger.info("{} book synced at update {}", symbol, sb.sync.last_id)

    def status(self) -> list[BookStatus]:
        out = []
        with self._lock:
            for symbol, sb in self.books.items():
                book = sb.sync.book
                top = book.top()
                synced = sb.sync.state is SyncState.SYNCED and top is not None
                out.append(BookStatus(
                    symbol, sb.sync.state.value,
                    str(mid(top, book.price_decimals)) if synced and top else "-",
                    spread_bps(top) if synced and top else 0.0,
                    imbalance(book, 5) if synced else 0.0,
                    sb.sync.last_id, sb.diffs, sb.sync.gaps, sb.sync.resyncs, sb.trades, sb.checks,
                    sb.mismatches))
        return out
