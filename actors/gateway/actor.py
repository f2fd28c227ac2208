"""The gateway actor: the symbol's only door to the exchange.

Market frames are parsed on the socket's reader thread and told straight to the book (one hop, no queueing
behind commands); user-stream events go to the OMS and risk; stream state goes to the book and risk.
REST work (snapshots, orders, cancels, queries) runs on a small pool so a slow reply never blocks this
actor's mailbox; each result is told back to whoever needs it.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from loguru import logger

from actors.base import EngineActor, handles
from actors.context import SymbolContext
from actors.gateway.binance.errors import BinanceError
from actors.gateway.binance.frames import FrameParser
from actors.gateway.binance.listenkey import UserStream
from actors.gateway.binance.ws import WsClient, combined_url
from actors.gateway.commands import FetchSnapshot, ReconnectMarket, SnapshotFailed
from actors.gateway.events import (
    AccountUpdate,
    BookTicker,
    DepthDiff,
    ListenKeyExpired,
    OrderUpdate,
    StreamEvent,
    Trade,
)


class GatewayActor(EngineActor):
    name = "gateway"

    def __init__(self, ctx: SymbolContext, on_failed: Any = None, *, user_stream: bool = True) -> None:
        super().__init__(on_failed)
        self.ctx = ctx
        self._symbol = ctx.symbol
        self._pool: ThreadPoolExecutor | None = None
        self._market: WsClient | None = None
        self._user: UserStream | None = None
        self._want_user = user_stream
        self.market_parser = FrameParser()
        self.user_parser = FrameParser()

    # ------------------------------------------------------------------ lifecycle
    def on_start(self) -> None:
        s = self.ctx.settings.feed
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"rest-{self._symbol}")
        sym = self._symbol.lower()
        streams = [f"{sym}@{s.depth_stream}", f"{sym}@trade", f"{sym}@bookTicker"]
        self._market = WsClient(combined_url(self.ctx.ws_url, streams), name=f"market-{self._symbol}",
                                on_message=self._on_market_frame, on_event=self._on_market_state,
                                clock=self.ctx.clock, stale_after_s=s.stale_after_s, as_bytes=True)
        self._market.start()
        if self._want_user:
            self._user = UserStream(self.ctx.rest, self.ctx.ws_url, on_message=self._on_user_frame,
                                    on_event=self._on_user_state, clock=self.ctx.clock)
            self._user.start()

    def on_stop(self) -> None:
        if self._market is not None:
            self._market.stop()
        if self._user is not None:
            self._user.stop(delete_key=False)  # the key is the account's: other symbols use it too
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ socket threads
    def _on_market_frame(self, raw: bytes | str, recv_ns: int) -> None:
        ev = self.market_parser.parse(raw, recv_ns)
        t = type(ev)
        if (t is DepthDiff or t is BookTicker or t is Trade) and ev.symbol == self._symbol:
            self.ctx.peers.tell("book", ev)

    def _on_market_state(self, ev: StreamEvent) -> None:
        self.ctx.peers.tell("book", ev)
        self.ctx.peers.tell("risk", ev)

    def _on_user_frame(self, raw: bytes | str, recv_ns: int) -> None:
        ev = self.user_parser.parse(raw, recv_ns)
        if isinstance(ev, OrderUpdate):
            if ev.report.symbol == self._symbol:
                self.ctx.peers.tell("oms", ev)
        elif isinstance(ev, AccountUpdate):
            self.ctx.peers.tell("oms", ev)
            self.ctx.peers.tell("risk", ev)
        elif isinstance(ev, ListenKeyExpired):
            logger.warning("{}: listenKey expired; the keeper makes a new one", self._symbol)

    def _on_user_state(self, ev: StreamEvent) -> None:
        self.ctx.peers.tell("oms", ev)
        self.ctx.peers.tell("risk", ev)

    # ------------------------------------------------------------------ commands
    def _submit(self, fn: Any, *args: Any) -> None:
        if self._pool is None:
            return
        with contextlib.suppress(RuntimeError):  # the pool is shutting down with this actor
            self._pool.submit(self._guard, fn, *args)

    @staticmethod
    def _guard(fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except Exception:  # a worker must report, never die silently
            logger.exception("gateway worker failed")

    @handles(FetchSnapshot)
    def _fetch_snapshot(self, cmd: FetchSnapshot) -> None:
        self._submit(self._do_fetch_snapshot, cmd)

    def _do_fetch_snapshot(self, cmd: FetchSnapshot) -> None:
        try:
            snap = self.ctx.rest.depth(cmd.symbol, cmd.limit)
        except (BinanceError, ValueError, OSError) as exc:
            retry = getattr(exc, "retry_after_s", None) or 1.0
            self.ctx.peers.tell("book", SnapshotFailed(cmd.symbol, f"{type(exc).__name__}: {exc}", retry))
            return
        self.ctx.peers.tell("book", snap)

    @handles(ReconnectMarket)
    def _reconnect_market(self, cmd: ReconnectMarket) -> None:
        logger.warning("{}: reconnecting market data: {}", self._symbol, cmd.reason)
        if self._market is not None:
            self._market.reconnect()
