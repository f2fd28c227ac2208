"""The gateway actor: the symbol's only door to the exchange.

Market frames are parsed on the socket's reader thread and told straight to the book (one hop, no queueing
behind commands); user-stream events go to the OMS and risk; stream state goes to the book and risk.
REST work (snapshots, orders, cancels, queries) runs on a small pool so a slow reply never blocks this
actor's mailbox; each result is told back to whoever needs it.

Placements come from the OMS through the ``orders`` lane (``actors/lanes.py``), on the OMS's thread. When the
placement thread is idle, the lane writes the requests to the sockets right there (``BinanceRest.send_orders``:
one single-order request per order on its own open connection, the budget free) and the placement thread only
reads the answers: the tick's last thread hand-off is gone from the path to the wire. Otherwise the placement is
queued for that thread, in order (several orders then go as one batchOrders request).
"""

from __future__ import annotations

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
from actors.gateway.binance.rest import OrderRequest, Sent
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
    QueryFailed,
    QueryFills,
    QueryOpenOrders,
    QueryOrder,
    QueryPosition,
)

_STREAM_KIND = {DepthDiff: "depth", Trade: "trade", BookTicker: "bookTicker"}
_Written = list[tuple[OrderRequest, Sent]]  # a placement's orders whose first attempt the lane wrote
# Open connections kept for the lane (one per order of a placement; cancels borrow them too). The lane never
# connects: that is a round trip, and a TLS handshake, on the OMS's thread.
WARM_ORDER_CONNECTIONS = 4


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
        self._lane_lock = threading.Lock()  # the lane's check-write-queue step, against on_stop
        self._queued = 0  # placements handed to the placement thread and not finished (under _lane_lock)
        self._warming = threading.Lock()  # one connection top-up at a time (an unreachable exchange: 3 s each)

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
        self._warm()

    def _warm(self) -> None:
        """Top up the open connections the lane writes on, on the pool (never on the OMS's thread)."""
        if not self._stopping.is_set() and self._warming.acquire(blocking=False) and not self._submit(self._do_warm):
            self._warming.release()

    def _do_warm(self) -> None:
        try:
            if not self._stopping.is_set():
                self.ctx.rest.warm(WARM_ORDER_CONNECTIONS)
        finally:
            self._warming.release()

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
        with self._lane_lock:  # no lane write starts after this; one in progress is queued before the shutdown
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
            # comes after it and sees the order; queued ones that were not written yet are dropped (they see
            # _stopping), those whose request the lane wrote are read to the end
            self._orders.shutdown(wait=True)

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
    def _submit(self, fn: Any, *args: Any, pool: ThreadPoolExecutor | None = None) -> bool:
        pool = pool or self._pool
        if pool is None:
            return False
        try:
            pool.submit(self._guard, fn, *args)
        except RuntimeError:  # the pool is shutting down with this actor
            return False
        return True

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
        with self._lane_lock:
            if self._orders is None or self._stopping.is_set():
                return
            self._queue(cmd, None)

    def _order_lane(self, cmd: object) -> bool:
        """The ``orders`` lane (called on the OMS's thread): written now if the placement thread is idle (it
        reads the answers), else queued for it; refused (the OMS falls back to the mailbox, which reaches the
        current gateway) if this gateway has been retired or is stopping."""
        if (self._orders is None or not isinstance(cmd, PlaceOrders)
                or self.ctx.peers.get(self.name) is not self.actor_ref):
            return False
        with self._lane_lock:
            if self._stopping.is_set():
                return False
            written = self._write_now(cmd) if self._queued == 0 else None
            self._queue(cmd, written)
        return True

    def _write_now(self, cmd: PlaceOrders) -> _Written | None:
        """The placement's requests written on this (the OMS's) thread, one per order, if the client can
        without waiting (``BinanceRest.send_orders``). The lane counts as busy from here until the placement
        thread has read the answers."""
        try:
            reqs = [self._request(o) for o in cmd.orders]
        except ValueError:
            return None  # the placement thread reports it as usual
        lat, m = self.ctx.latency, self.ctx.metrics
        if lat is not None and cmd.market_ns:
            lat.begin(cmd.market_ns, m.tick_to_order if m is not None else None)
        self.ctx.lanes.enter("orders")
        try:
            sent = self.ctx.rest.send_orders(reqs)
        except Exception:  # it never raises; if it ever did, the placement thread places and reports as usual
            logger.exception("{}: writing a placement on the lane failed", self._symbol)
            sent = None
        finally:
            if lat is not None:
                lat.end()
        if sent is None:
            self.ctx.lanes.leave("orders")
            return None
        return list(zip(reqs, sent, strict=True))

    def _queue(self, cmd: PlaceOrders, written: _Written | None) -> None:
        """Onto the placement thread (under ``_lane_lock``, not stopping: the pool is still open)."""
        assert self._orders is not None
        try:
            self._orders.submit(self._guard, self._do_place, cmd, written)
        except RuntimeError:  # the interpreter is exiting: requests on the wire are still read to their end
            if written is not None:
                self._guard(self._do_place, cmd, written)
            return
        self._queued += 1

    def _do_place(self, cmd: PlaceOrders, written: _Written | None = None) -> None:
        if written is None and self._stopping.is_set():  # the OMS's follow-up finds the order never sent
            with self._lane_lock:
                self._queued -= 1
            return
        if written is None:
            self.ctx.lanes.enter("orders")  # (the lane entered already for what it wrote)
        try:
            if self.ctx.metrics is not None:
                self.ctx.metrics.order_placed(len(cmd.orders))
            if written is not None:  # written by the lane: read every answer, whatever else happens
                for o, (req, sent) in zip(cmd.orders, written, strict=True):
                    self._guard(self._place_one, o, req, sent)
            else:
                self._place_timed(cmd)
        finally:
            with self._lane_lock:
                self._queued -= 1
            self.ctx.lanes.leave("orders")  # after: once idle, the lane may write the next one itself
            if self.ctx.rest.idle_order_connections() < WARM_ORDER_CONNECTIONS:
                self._warm()  # for the lane's next placement

    def _place_timed(self, cmd: PlaceOrders) -> None:
        lat, m = self.ctx.latency, self.ctx.metrics
        if lat is not None and cmd.market_ns:
            lat.begin(cmd.market_ns, m.tick_to_order if m is not None else None)
        try:
            self._place_now(cmd)
        finally:
            if lat is not None:
                lat.end()

    def _place_one(self, o: NewOrder, req: OrderRequest | None = None, sent: Sent | None = None) -> None:
        try:
            self._reply(self.ctx.rest.place_order(req or self._request(o), sent=sent))
        except BinanceError as exc:
            self._reply(_rejected(o.client_order_id, exc))
        except ValueError as exc:  # an unreadable reply: it may have been placed; the OMS looks it up
            self._reply(OrderRejected(o.client_order_id, None, f"unreadable reply: {exc}", "unknown_state"))

    def _place_now(self, cmd: PlaceOrders) -> None:
        if len(cmd.orders) == 1:
            self._place_one(cmd.orders[0])
            return
        try:
            results: list[OrderReport | BinanceError] = self.ctx.rest.place_batch(
                [self._request(o) for o in cmd.orders])
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
        try:
            left = self.ctx.rest.open_orders(self._symbol)
        except (BinanceError, ValueError) as exc:
            self._query_failed("open_orders", exc, cmd.asked_ns)
            return
        self._reply(OpenOrdersSnapshot(self._symbol, tuple(left), cmd.asked_ns))

    def _query_failed(self, query: str, exc: Exception, asked_ns: int) -> None:
        """Told to the OMS, which asks the round again shortly (quoting waits for it)."""
        logger.warning("{}: {} query failed: {}", self._symbol, query, exc)
        self._reply(QueryFailed(self._symbol, query, str(exc), asked_ns))

    @handles(QueryFills)
    def _query_fills(self, cmd: QueryFills) -> None:
        self._submit(self._do_query_fills, cmd)

    def _do_query_fills(self, cmd: QueryFills) -> None:
        try:
            fills = self.ctx.rest.user_trades(self._symbol, from_id=cmd.from_trade_id or None,
                                              start_time_ms=None if cmd.from_trade_id else (cmd.start_ms or None),
                                              limit=cmd.limit)
        except (BinanceError, ValueError) as exc:
            self._query_failed("fills", exc, cmd.asked_ns)
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
            self._query_failed("position", exc, cmd.asked_ns)
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
