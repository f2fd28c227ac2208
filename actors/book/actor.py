"""The book actor: keeps the symbol's local book in step and publishes what the market looks like.

Diffs arrive straight from the gateway's socket thread. Each applied diff publishes a ``MarketView`` to the
strategy, risk and analyzer, carrying the market signals (volatility, regime, VPIN, trade intensity) that the
pure ``SignalEngine`` folds in from every book change and public trade. A gap, a reconnect, a stall or a
disagreement with the exchange's bookTicker makes the book untrusted: a stale view is published at once (the
strategy pulls its quotes) and a snapshot is fetched through the gateway, retried on a timer until one bridges
the buffered diffs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import msgspec
from loguru import logger

from actors.base import EngineActor, handles
from actors.book.book import OrderBook
from actors.book.signal_engine import SignalEngine
from actors.book.sync import Applied, BookSync, Gap, Resynced, SeqRule, SyncState
from actors.book.view import MarketView, market_view
from actors.config.messages import SettingsChanged
from actors.context import SymbolContext
from actors.gateway.commands import FetchSnapshot, ReportStreamState, SnapshotFailed
from actors.gateway.events import (
    BookTicker,
    DepthDiff,
    DepthSnapshot,
    StreamConnected,
    StreamDisconnected,
    StreamStalled,
    Trade,
)

SUBSCRIBERS = ("strategy", "risk", "analyzer")
# Risk and the analyzer watch the market; they need not wake (and take the GIL from the quoting path) on every
# diff. They get a view at least every _WATCH_EVERY_NS while the book moves, at once when the mid has moved by
# _WATCH_MOVE_BPS from the last one they got (a shock is never smoothed away), and on every stale/fresh flip.
WATCHERS = ("risk", "analyzer")
_WATCH_EVERY_NS = 50_000_000
_WATCH_MOVE_BPS = 5
_SNAPSHOT_TIMEOUT_NS = 10_000_000_000  # no reply to a snapshot request for this long: ask again


class RetrySnapshot(msgspec.Struct, frozen=True):
    """Timer message: ask for a snapshot again."""


class BookActor(EngineActor):
    name = "book"

    def __init__(self, ctx: SymbolContext, on_failed: Any = None, *, stale_after_s: float | None = None) -> None:
        super().__init__(on_failed, ctx.peers)
        self.ctx = ctx
        self.sync = BookSync(OrderBook(ctx.symbol), SeqRule.FUTURES)
        self._stale_ns = int((stale_after_s or ctx.settings.feed.stale_after_s) * 1e9)
        self._snapshot_pending = False
        self._asked_ns = 0
        self._last_update_ns = 0
        self.view: MarketView | None = None
        self._watched: MarketView | None = None  # the last view risk and the analyzer were sent
        self.last_trade: Trade | None = None
        self.signals = self._signal_engine(ctx.settings.signals_for(ctx.symbol))
        self.ticker_checks = 0
        self.ticker_mismatches = 0

    def _signal_engine(self, params: Any) -> SignalEngine:
        ins = self.ctx.instrument
        return SignalEngine(params, ins.tick_size, ins.step_size)

    def on_start(self) -> None:
        # Snapshot only once the socket streams: one taken before it would predate the first diff (a gap). If
        # the gateway is already connected (only the book restarted), it answers with a StreamConnected now.
        self.ctx.peers.tell("gateway", ReportStreamState())
        # and should that answer or the connect event itself be lost in the start-up race: ask anyway soon
        self.ctx.timers.tell_later(2.0, self.actor_ref, RetrySnapshot())

    # ------------------------------------------------------------------ the feed
    @handles(DepthDiff)
    def _diff(self, d: DepthDiff) -> None:
        out = self.sync.on_diff(d)
        if type(out) is Applied:
            self._last_update_ns = d.recv_ns
            if self.ctx.metrics is not None:
                self.ctx.metrics.book_updated(d.recv_ns)
            self._publish()
        elif type(out) is Gap:
            logger.warning("{} book gap ({}): resync", self.ctx.symbol, out.reason)
            self._untrusted()

    @handles(DepthSnapshot)
    def _snapshot(self, snap: DepthSnapshot) -> None:
        self._snapshot_pending = False
        out = self.sync.on_snapshot(snap)
        if isinstance(out, Resynced):
            logger.info("{} book synced at {} ({} buffered diffs applied)", self.ctx.symbol, out.last_id,
                        out.applied)
            self._last_update_ns = self.ctx.clock.time_ns()
            self._publish()
        else:
            logger.warning("{} snapshot did not bridge ({}): again shortly", self.ctx.symbol, out)
            self.ctx.timers.tell_later(0.2, self.actor_ref, RetrySnapshot())

    @handles(SnapshotFailed)
    def _snapshot_failed(self, msg: SnapshotFailed) -> None:
        self._snapshot_pending = False
        logger.warning("{} snapshot failed ({}): retry in {:.1f}s", self.ctx.symbol, msg.error, msg.retry_after_s)
        self.ctx.timers.tell_later(msg.retry_after_s, self.actor_ref, RetrySnapshot())

    @handles(RetrySnapshot)
    def _retry(self, _: RetrySnapshot) -> None:
        if self.sync.state is SyncState.SYNCED:
            return
        if self._snapshot_pending and self.ctx.clock.monotonic_ns() - self._asked_ns < _SNAPSHOT_TIMEOUT_NS:
            return  # still waiting for the reply; its own timeout is armed
        self._snapshot_pending = False  # the reply was lost (a restart, a dropped tell): ask again
        self._request_snapshot()

    @handles(BookTicker)
    def _ticker(self, t: BookTicker) -> None:
        """The exchange's own top for the same update id: a continuous proof of the book."""
        if t.update_id != self.sync.last_id:
            return
        self.ticker_checks += 1
        book = self.sync.book
        if book.best_bid() == (t.bid_price, t.bid_qty) and book.best_ask() == (t.ask_price, t.ask_qty):
            return
        self.ticker_mismatches += 1
        logger.error("{} book disagrees with the exchange at {}: resync", self.ctx.symbol, t.update_id)
        self.sync.reset()
        self._untrusted()

    @handles(Trade)
    def _trade(self, t: Trade) -> None:
        self.last_trade = t
        try:
            price, qty = float(t.price), float(t.qty)
        except ValueError:
            logger.warning("{} unusable trade print {}: ignored", self.ctx.symbol, t.trade_id)
            return
        self.signals.on_trade(price, qty, t.buyer_is_maker, t.recv_ns)

    @handles(SettingsChanged)
    def _settings(self, m: SettingsChanged) -> None:
        """New [signals] parameters: a fresh engine (its windows warm up again; quoting falls back to the
        strategy's defaults meanwhile)."""
        sym = self.ctx.symbol
        if m.settings.signals_for(sym) != self.ctx.settings.signals_for(sym):
            self.signals = self._signal_engine(m.settings.signals_for(sym))
        self.ctx = dataclasses.replace(self.ctx, settings=m.settings)

    @handles(StreamConnected, StreamDisconnected, StreamStalled)
    def _stream(self, ev: Any) -> None:
        # a new (or dead) connection cannot continue the old sequence: start over from a snapshot
        self.sync.reset()
        self._untrusted(fetch=isinstance(ev, StreamConnected))

    def describe(self) -> dict[str, Any]:
        sig = self.view.signals if self.view is not None else None
        return {"name": self.name, "state": str(self.sync.state), "last_id": self.sync.last_id,
                "gaps": self.sync.gaps, "resyncs": self.sync.resyncs, "ticker_checks": self.ticker_checks,
                "ticker_mismatches": self.ticker_mismatches, "mid": str(self.view.mid) if self.view else None,
                "signals": {"sigma_bps": sig.sigma_bps, "regime": sig.regime.label, "vpin": sig.vpin,
                            "toxic": sig.toxic, "intensity_a": sig.intensity_a, "intensity_k": sig.intensity_k}
                if sig is not None else None}

    # ------------------------------------------------------------------ helpers
    def _untrusted(self, fetch: bool = True) -> None:
        if self.view is not None and not self.view.stale:
            self.view = self._watched = msgspec.structs.replace(self.view, stale=True)
            for name in SUBSCRIBERS:
                self.ctx.peers.tell(name, self.view)
        if fetch:
            self._request_snapshot()

    def _request_snapshot(self) -> None:
        if self._snapshot_pending:
            return
        self._snapshot_pending = True
        self._asked_ns = self.ctx.clock.monotonic_ns()
        self.ctx.peers.tell("gateway", FetchSnapshot(self.ctx.symbol, self.ctx.settings.feed.snapshot_limit))
        self.ctx.timers.tell_later(_SNAPSHOT_TIMEOUT_NS / 1e9 + 0.1, self.actor_ref, RetrySnapshot())

    def _publish(self) -> None:
        view = market_view(self.sync.book, self.ctx.instrument, self._last_update_ns, self.ctx.clock.time_ns(),
                           self._stale_ns)
        if view is None:
            return
        sig = self.signals
        sig.on_view(view)
        view = msgspec.structs.replace(view, signals=sig.snapshot(view.last_update_ns))
        self.view = view
        peers = self.ctx.peers
        peers.tell("strategy", view)
        w = self._watched
        if (w is None or view.stale != w.stale or view.last_update_ns - w.last_update_ns >= _WATCH_EVERY_NS
                or abs(view.mid_x2_ticks - w.mid_x2_ticks) * 10_000 >= w.mid_x2_ticks * _WATCH_MOVE_BPS):
            self._watched = view
            for name in WATCHERS:
                peers.tell(name, view)
