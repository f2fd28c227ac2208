"""The gateway actor: the symbol's only door to the exchange.

Market frames are parsed on the socket's reader thread and told straight to the book (one hop, no queueing
behind commands); user-stream events go to the OMS and risk; stream state goes to the book and risk.
REST work (snapshots, orders, cancels, queries) runs on a small pool so a slow reply never blocks this
actor's mailbox; each result is told back to whoever needs it.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from loguru import logger

from actors.base import EngineActor, handles
from actors.context import SymbolContext
from actors.gateway.binance.errors import BinanceError, OrderNotFoundError, UnknownStateError
from actors.gateway.binance.frames import FrameParser
from actors.gateway.binance.listenkey import UserStream
from actors.gateway.binance.rest import OrderRequest
from actors.gateway.binance.ws import WsClient, combined_url
from actors.gateway.commands import (
    FetchSnapshot,
    ReconnectMarket,
    ReportStreamState,
    SnapshotFailed,
    StartUserStream,
)
from actors.gateway.events import (
    AccountUpdate,
    BookTicker,
    DepthDiff,
    ListenKeyExpired,
    OrderReport,
    OrderUpdate,
    StreamConnected,
    StreamEvent,
    Trade,
)
from actors.oms.messages import (
    CancelAll,
    CancelOrders,
    CancelRejected,
    FillsSnapshot,
    NewOrder,
    OpenOrdersSnapshot,
    OrderNotFound,
    OrderRejected,
    PlaceOrders,
    PositionSnapshot,
    QueryFills,
    QueryOpenOrders,
    QueryOrder,
    QueryPosition,
)

_STREAM_KIND = {DepthDiff: "depth", Trade: "trade", BookTicker: "bookTicker"}


class GatewayActor(EngineActor):
    name = "gateway"

    def __init__(self, ctx: SymbolContext, on_failed: Any = None, *, user_stream: bool = True) -> None:
        super().__init__(on_failed, ctx.peers)
        self.ctx = ctx
        self._symbol = ctx.symbol
        self._pool: ThreadPoolExecutor | None = None
        self._orders: ThreadPoolExecutor | None = None
        self._market: WsClient | None = None
        self._user: UserStream | None = None
        self._want_user = user_stream
        self.market_parser = FrameParser()
        self.user_parser = FrameParser()
        self._stopping = threading.Event()

    # ------------------------------------------------------------------ lifecycle
    def on_start(self) -> None:
        s = self.ctx.settings.feed
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"rest-{self._symbol}")
        # placements: one thread of their own, in order, never blocking this actor's mailbox (a slow exchange
        # must not make the gateway look hung, nor hold back the cancels behind it)
        self._orders = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"orders-{self._symbol}")
        self.ctx.lanes.set("orders", self._order_lane)  # the OMS hands placements to the worker directly
        sym = self._symbol.lower()
        streams = [f"{sym}@{s.depth_stream}", f"{sym}@trade", f"{sym}@bookTicker"]
        self._market = WsClient(combined_url(self.ctx.ws_url, streams), name=f"market-{self._symbol}",
                                on_message=self._on_market_frame, on_event=self._on_market_state,
                                clock=self.ctx.clock, stale_after_s=s.stale_after_s, as_bytes=True)
        self._market.start()
        if self._want_user:
            self._user = UserStream(self.ctx.rest, self.ctx.ws_url, on_message=self._on_user_frame,
                                    on_event=self._on_user_state, clock=self.ctx.clock)
            self._submit(self._start_user_stream)  # a listenKey is a REST call: never inside on_start

    def _start_user_stream(self) -> None:
        try:
            if self._user is not None:
                self._user.start()
        except (BinanceError, RuntimeError, ValueError) as exc:
            logger.error("{}: user stream could not start ({}): again in 2 s", self._symbol, exc)
            self.ctx.timers.tell_later(2.0, self.actor_ref, StartUserStream())

    @handles(StartUserStream)
    def _retry_user_stream(self, _: StartUserStream) -> None:
        if self._user is not None and not self._user.ws.alive():
            self._submit(self._start_user_stream)

    @handles(ReportStreamState)
    def _report_stream_state(self, _: ReportStreamState) -> None:
        """A (re)started book asks: if the market socket is already up, it hears so now."""
        if self._market is not None and self._market.connected.is_set():
            self.ctx.peers.tell("book", StreamConnected(self._market.name, "", self.ctx.clock.time_ns()))

    def on_stop(self) -> None:
        self._stopping.set()
        self.ctx.lanes.clear("orders", self._order_lane)
        if self._market is not None:
            self._market.stop()
        if self._user is not None:
            self._user.stop(delete_key=False)  # the key is the account's: other symbols use it too
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._orders is not None:
            # a placement already on the wire finishes (bounded by the REST timeouts) before the gateway is
            # gone, so whatever cancels after the stop (a restarted tree's reconcile, shutdown's cancel-all)
            # comes after it and sees the order; queued ones are dropped
            self._orders.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------------ socket threads
    def _on_market_frame(self, raw: bytes | str, recv_ns: int) -> None:
        ev = self.market_parser.parse(raw, recv_ns)
        t = type(ev)
        if (t is DepthDiff or t is BookTicker or t is Trade) and ev.symbol == self._symbol:
            self.ctx.peers.tell("book", ev)
            m = self.ctx.metrics
            if m is not None:
                m.ws_event(_STREAM_KIND[t], ev.event_ms, recv_ns)

    def _on_market_state(self, ev: StreamEvent) -> None:
        self.ctx.peers.tell("book", ev)
        self.ctx.peers.tell("risk", ev)
        self._stream_state("market", ev)

    def _stream_state(self, stream: str, ev: StreamEvent) -> None:
        if self.ctx.metrics is not None:
            self.ctx.metrics.set_ws_connected(stream, isinstance(ev, StreamConnected))
        self.ctx.notice(ev)  # the P1 rule: a stream down for longer than [alerts] ws_down_alert_s

    def _on_user_frame(self, raw: bytes | str, recv_ns: int) -> None:
        ev = self.user_parser.parse(raw, recv_ns)
        m = self.ctx.metrics
        if isinstance(ev, OrderUpdate):
            if ev.report.symbol == self._symbol:
                self.ctx.peers.tell("oms", ev)
                if m is not None:
                    m.ws_event("order", ev.report.update_ms, recv_ns)
        elif isinstance(ev, AccountUpdate):
            self.ctx.peers.tell("oms", ev)
            if m is not None:
                m.ws_event("account", ev.event_ms, recv_ns)
        elif isinstance(ev, ListenKeyExpired):
            logger.warning("{}: listenKey expired; the keeper makes a new one", self._symbol)

    def _on_user_state(self, ev: StreamEvent) -> None:
        self.ctx.peers.tell("oms", ev)
        self.ctx.peers.tell("risk", ev)
        self._stream_state("user", ev)

    # ------------------------------------------------------------------ commands
    def _submit(self, fn: Any, *args: Any, pool: ThreadPoolExecutor | None = None) -> None:
        pool = pool or self._pool
        if pool is None:
            return
        with contextlib.suppress(RuntimeError):  # the pool is shutting down with this actor
            pool.submit(self._guard, fn, *args)

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
        except (BinanceError, ValueError, OSError) as exc:  # ValueError: an unreadable snapshot
            retry = getattr(exc, "retry_after_s", None) or 1.0
            self.ctx.peers.tell("book", SnapshotFailed(cmd.symbol, f"{type(exc).__name__}: {exc}", retry))
            return
        self.ctx.peers.tell("book", snap)

    # ------------------------------------------------------------------ orders (from the OMS)
    def _reply(self, msg: object) -> None:
        self.ctx.peers.tell("oms", msg)

    def _request(self, o: NewOrder) -> OrderRequest:
        ins = self.ctx.instrument
        return OrderRequest(self._symbol, o.side, ins.lots_to_qty(o.qty_lots), o.client_order_id,
                            price=ins.ticks_to_price(o.price_ticks), time_in_force=o.time_in_force,
                            reduce_only=o.reduce_only)

    @handles(PlaceOrders)
    def _place(self, cmd: PlaceOrders) -> None:
        self._submit(self._do_place, cmd, pool=self._orders)

    def _order_lane(self, cmd: object) -> bool:
        """The ``orders`` lane (called on the OMS's thread): onto the placement worker, unless this gateway
        has been retired or is stopping; then the OMS falls back to the mailbox, which reaches the current
        gateway."""
        pool = self._orders
        if pool is None or not isinstance(cmd, PlaceOrders) or self.ctx.peers.get(self.name) is not self.actor_ref:
            return False
        try:
            pool.submit(self._guard, self._do_place, cmd)
        except RuntimeError:  # shut down with this actor
            return False
        return True

    def _do_place(self, cmd: PlaceOrders) -> None:
        if self._stopping.is_set():
            return  # the gateway is stopping: the OMS's follow-up finds the order never sent
        with self.ctx.lanes.busy("orders"):
            self._place_timed(cmd)

    def _place_timed(self, cmd: PlaceOrders) -> None:
        lat, m = self.ctx.latency, self.ctx.metrics
        if lat is not None and cmd.market_ns:
            lat.begin(cmd.market_ns, m.tick_to_order if m is not None else None)
        if m is not None:
            m.order_placed(len(cmd.orders))
        try:
            self._place_now(cmd)
        finally:
            if lat is not None:
                lat.end()

    def _place_now(self, cmd: PlaceOrders) -> None:
        rest = self.ctx.rest
        if len(cmd.orders) == 1:
            o = cmd.orders[0]
            try:
                self._reply(rest.place_order(self._request(o)))
            except BinanceError as exc:
                self._reply(_rejected(o.client_order_id, exc))
            except ValueError as exc:  # an unreadable reply: it may have been placed; the OMS looks it up
                self._reply(OrderRejected(o.client_order_id, None, f"unreadable reply: {exc}", "unknown_state"))
            return
        try:
            results: list[OrderReport | BinanceError] = rest.place_batch([self._request(o) for o in cmd.orders])
        except BinanceError as exc:  # the request as a whole: rate limited, banned, refused
            results = [exc] * len(cmd.orders)
        except ValueError as exc:
            results = [UnknownStateError(f"unreadable reply: {exc}")] * len(cmd.orders)
        for o, res in zip(cmd.orders, results, strict=True):
            self._reply(_rejected(o.client_order_id, res) if isinstance(res, BinanceError) else res)

    @handles(CancelOrders)
    def _cancel(self, cmd: CancelOrders) -> None:
        # On the pool, beside the placement that usually follows it: the OMS counts an unconfirmed cancel as
        # still open in the worst case, so the two need not be serialised (and the quote moves sooner).
        self._submit(self._do_cancel, cmd)

    def _do_cancel(self, cmd: CancelOrders) -> None:
        if self.ctx.metrics is not None:
            self.ctx.metrics.cancel_sent(len(cmd.client_order_ids))
        for cid in cmd.client_order_ids:
            try:
                self._reply(self.ctx.rest.cancel_order(self._symbol, client_order_id=cid))
            except BinanceError as exc:
                self._reply(CancelRejected(cid, exc.code, exc.msg, exc.kind.value))
            except ValueError as exc:  # an unreadable reply: the OMS's follow-up cancels again and confirms
                self._reply(CancelRejected(cid, None, f"unreadable reply: {exc}", "UNKNOWN_STATE"))

    @handles(CancelAll)
    def _cancel_all(self, cmd: CancelAll) -> None:
        self._submit(self._do_cancel_all, cmd)

    def _do_cancel_all(self, cmd: CancelAll) -> None:
        if self.ctx.metrics is not None:
            self.ctx.metrics.cancel_sent()
        try:
            left = self.ctx.rest.cancel_all(self._symbol)
        except (BinanceError, ValueError) as exc:
            logger.error("{}: cancel-all failed: {}", self._symbol, exc)
            left = self._open_orders_or_none()
            if left is None:
                return  # the OMS's follow-up cancels and looks up again
        self._reply(OpenOrdersSnapshot(self._symbol, tuple(left), cmd.asked_ns))

    def _open_orders_or_none(self) -> list[OrderReport] | None:
        try:
            return self.ctx.rest.open_orders(self._symbol)
        except (BinanceError, ValueError):
            return None

    @handles(QueryOrder)
    def _query_order(self, cmd: QueryOrder) -> None:
        self._submit(self._do_query_order, cmd)

    def _do_query_order(self, cmd: QueryOrder) -> None:
        try:
            self._reply(self.ctx.rest.get_order(self._symbol, client_order_id=cmd.client_order_id))
        except OrderNotFoundError:
            self._reply(OrderNotFound(cmd.client_order_id))
        except (BinanceError, ValueError) as exc:  # the OMS's follow-up asks again
            logger.warning("{}: lookup of {} failed: {}", self._symbol, cmd.client_order_id, exc)

    @handles(QueryOpenOrders)
    def _query_open(self, cmd: QueryOpenOrders) -> None:
        self._submit(self._do_query_open, cmd)

    def _do_query_open(self, cmd: QueryOpenOrders) -> None:
        left = self._open_orders_or_none()
        if left is not None:
            self._reply(OpenOrdersSnapshot(self._symbol, tuple(left), cmd.asked_ns))

    @handles(QueryFills)
    def _query_fills(self, cmd: QueryFills) -> None:
        self._submit(self._do_query_fills, cmd)

    def _do_query_fills(self, cmd: QueryFills) -> None:
        try:
            fills = self.ctx.rest.user_trades(self._symbol, from_id=cmd.from_trade_id or None,
                                              start_time_ms=None if cmd.from_trade_id else (cmd.start_ms or None),
                                              limit=cmd.limit)
        except (BinanceError, ValueError) as exc:  # the OMS asks again when the round is overdue
            logger.warning("{}: fills query failed: {}", self._symbol, exc)
            return
        fills.sort(key=lambda f: f.trade_id)
        self._reply(FillsSnapshot(self._symbol, cmd.from_trade_id, tuple(fills), cmd.limit, cmd.asked_ns))

    @handles(QueryPosition)
    def _query_position(self, cmd: QueryPosition) -> None:
        self._submit(self._do_query_position, cmd)

    def _do_query_position(self, cmd: QueryPosition) -> None:
        try:
            reports = self.ctx.rest.position_risk(self._symbol)
        except (BinanceError, ValueError) as exc:
            logger.warning("{}: position query failed: {}", self._symbol, exc)
            return
        qty = sum((r.qty for r in reports if r.symbol == self._symbol), Decimal(0))
        entry = next((r.entry_price for r in reports if r.symbol == self._symbol and r.qty), Decimal(0))
        update = max((r.update_ms for r in reports if r.symbol == self._symbol), default=0)
        self._reply(PositionSnapshot(self._symbol, qty, entry, update, cmd.asked_ns))

    @handles(ReconnectMarket)
    def _reconnect_market(self, cmd: ReconnectMarket) -> None:
        logger.warning("{}: reconnecting market data: {}", self._symbol, cmd.reason)
        if self._market is not None:
            self._market.reconnect()


def _rejected(client_order_id: str, exc: BinanceError) -> OrderRejected:
    retry_ms = int((exc.retry_after_s or 0) * 1000)
    return OrderRejected(client_order_id, exc.code, exc.msg, exc.kind.value, retry_ms)
