"""Builders shared by the OMS tests: an ETHUSDC-like instrument and exchange reports/fills in its units."""

from __future__ import annotations

import zlib
from decimal import Decimal

from actors.gateway.events import Fill, OrderReport, OrderStatus, OrderUpdate, Side
from actors.instrument import Instrument
from actors.oms import core
from actors.oms.diff import Limits
from actors.oms.ids import ClientIds, next_run_id
from actors.oms.messages import (
    CancelAll,
    CancelOrders,
    CancelRejected,
    FillsSnapshot,
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
from actors.oms.order import Order, Status
from actors.strategy.messages import Quote, QuoteTarget

SYMBOL = "ETHUSDC"
INST = Instrument(SYMBOL, "ETH", "USDC", Decimal("0.01"), Decimal("0.001"), Decimal("0.001"), Decimal("10000"),
                  Decimal("20"))
T0 = 1_760_000_000_000_000_000  # ns
MS = 1_000_000
S = 1_000_000_000


def oid_of(cid: str) -> int:
    """A deterministic exchange order id for a client id."""
    return 1_000_000 + zlib.crc32(cid.encode())


def order(cid: str = "c1", side: Side = Side.BUY, price: int = 300_000, qty: int = 10,
          status: Status = Status.OPEN, **kw) -> Order:
    acked = status not in (Status.NEW, Status.PENDING_NEW, Status.UNKNOWN)
    kw.setdefault("exchange_id", oid_of(cid) if acked else 0)
    kw.setdefault("sent_ns", T0 if status is not Status.NEW else 0)
    kw.setdefault("updated_ns", T0)
    return Order(cid, side, price, qty, status, T0, **kw)


def report(o: Order | None = None, *, cid: str | None = None, status: OrderStatus = OrderStatus.NEW,
           filled: int = 0, side: Side | None = None, price: int | None = None, qty: int | None = None,
           order_id: int | None = None, avg: Decimal | None = None, ms: int = 1, reduce_only: bool = False,
           symbol: str = SYMBOL) -> OrderReport:
    """An exchange report for ``o`` (or for a free-standing order), quantities in lots/ticks."""
    side = side or (o.side if o else Side.BUY)
    price = price if price is not None else (o.price_ticks if o else 300_000)
    qty = qty if qty is not None else (o.qty_lots if o else 10)
    oid = order_id if order_id is not None else (o.exchange_id or oid_of(o.client_order_id) if o else 77)
    return OrderReport("binance-usdm", symbol, cid or (o.client_order_id if o else "x"), oid, side, "LIMIT", "GTX",
                       INST.ticks_to_price(price), INST.lots_to_qty(qty), INST.lots_to_qty(filled),
                       avg if avg is not None else (INST.ticks_to_price(price) if filled else Decimal(0)), status,
                       reduce_only, ms)


def fill(o: Order | None = None, *, trade_id: int, lots: int, cid: str | None = None, side: Side | None = None,
         price: int | None = None, maker: bool = True, order_id: int | None = None, ms: int = 1,
         commission: str = "0.001", rp: str = "0") -> Fill:
    side = side or (o.side if o else Side.BUY)
    price = price if price is not None else (o.price_ticks if o else 300_000)
    oid = order_id if order_id is not None else (o.exchange_id or oid_of(o.client_order_id) if o else 77)
    return Fill("binance-usdm", SYMBOL, trade_id, oid, cid if cid is not None else (o.client_order_id if o else ""),
                side, INST.ticks_to_price(price), INST.lots_to_qty(lots), Decimal(commission), "USDC", maker,
                Decimal(rp), ms)


def update(rep: OrderReport, f: Fill | None = None, exec_type: str = "TRADE") -> OrderUpdate:
    return OrderUpdate(rep, exec_type if f is not None else rep.status.value, f, rep.update_ms, 0)


class FakeExchange:
    """A tiny in-test exchange for the core: acknowledges placements and confirms cancels on the next step.

    It answers the core's commands the way the gateway would (REST replies as OrderReports; lookups; open
    orders, fills and position snapshots), and can fill resting orders on request.
    """

    def __init__(self) -> None:
        self.orders: dict[str, tuple[Order, OrderStatus, int]] = {}  # cid -> (order, status, filled lots)
        self.fills: list[Fill] = []
        self.position = 0
        self.next_id = 500_000
        self.next_trade = 9_000_000
        self.places = self.cancels = 0
        self.now_ms = T0 // MS  # the exchange's clock (the Sim moves it)
        self.position_ms = 0  # the position's last change

    def handle(self, cmd) -> list:
        """The answers to one command (to be delivered to the core later)."""
        out: list = []
        if isinstance(cmd, PlaceOrders):
            for n in cmd.orders:
                self.places += 1
                self.next_id += 1
                o = Order(n.client_order_id, n.side, n.price_ticks, n.qty_lots, Status.OPEN, 0,
                          reduce_only=n.reduce_only, exchange_id=self.next_id)
                self.orders[n.client_order_id] = (o, OrderStatus.NEW, 0)
                out.append(report(o, status=OrderStatus.NEW))
        elif isinstance(cmd, CancelOrders):
            for cid in cmd.client_order_ids:
                self.cancels += 1
                out.append(self._cancel(cid))
        elif isinstance(cmd, CancelAll):
            for cid in list(self.orders):
                self._cancel(cid)
            out.append(OpenOrdersSnapshot(cmd.symbol, (), cmd.asked_ns))
        elif isinstance(cmd, QueryOrder):
            got = self.orders.get(cmd.client_order_id)
            out.append(OrderNotFound(cmd.client_order_id) if got is None else
                       report(got[0], status=got[1], filled=got[2]))
        elif isinstance(cmd, QueryOpenOrders):
            out.append(OpenOrdersSnapshot(cmd.symbol, tuple(
                report(o, status=st, filled=f) for o, st, f in self.orders.values()
                if st in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)), cmd.asked_ns))
        elif isinstance(cmd, QueryFills):
            if cmd.from_trade_id:
                got = [f for f in self.fills if f.trade_id >= cmd.from_trade_id][:cmd.limit]
            elif cmd.start_ms:
                got = [f for f in self.fills if f.trade_ms >= cmd.start_ms][:cmd.limit]
            else:
                got = self.fills[-cmd.limit:]
            out.append(FillsSnapshot(cmd.symbol, cmd.from_trade_id, tuple(got), cmd.limit, cmd.asked_ns))
        elif isinstance(cmd, QueryPosition):
            out.append(PositionSnapshot(cmd.symbol, INST.lots_to_qty(self.position), Decimal(0), self.position_ms,
                                        cmd.asked_ns))
        return out

    def _cancel(self, cid: str):
        got = self.orders.get(cid)
        if got is None:
            return CancelRejected(cid, -2013, "Order does not exist.", "rejected")
        o, st, f = got
        if st not in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
            return report(o, status=st, filled=f)
        self.orders[cid] = (o, OrderStatus.CANCELED, f)
        return report(o, status=OrderStatus.CANCELED, filled=f)

    def fill(self, cid: str, lots: int, maker: bool = True) -> OrderUpdate:
        """Execute ``lots`` of a resting order; the user-stream update that reports it."""
        o, st, f = self.orders[cid]
        f += lots
        st = OrderStatus.FILLED if f == o.qty_lots else OrderStatus.PARTIALLY_FILLED
        self.orders[cid] = (o, st, f)
        self.next_trade += 1
        fl = fill(o, trade_id=self.next_trade, lots=lots, maker=maker, ms=self.now_ms)
        self.fills.append(fill(o, trade_id=self.next_trade, lots=lots, maker=maker, ms=self.now_ms, cid=""))
        self.position += lots if o.side is Side.BUY else -lots
        self.position_ms = self.now_ms
        return update(report(o, status=st, filled=f, ms=self.now_ms), fl)


def deliver(state, msg, now_ns: int):
    """Route one message to its core handler, as the actor shell does."""
    handlers = {
        OrderReport: core.on_order_report, OrderUpdate: core.on_order_update,
        OrderRejected: core.on_order_rejected, CancelRejected: core.on_cancel_rejected,
        OrderNotFound: core.on_order_not_found, OpenOrdersSnapshot: core.on_open_orders,
        FillsSnapshot: core.on_fills, PositionSnapshot: core.on_position, QueryFailed: core.on_query_failed,
    }
    return handlers[type(msg)](state, msg, now_ns)


class Sim:
    """The core driven like the actor shell drives it, against a FakeExchange, on simulated time.

    It also checks the shell contract on every step: every order named in a command is in the store (the
    step's ``persist`` is written before its commands are sent).
    """

    def __init__(self, params: core.OmsParams | None = None, now_ns: int = T0, exchange: FakeExchange | None = None,
                 stored: tuple[Order, ...] = (), position=None, ledger=None, run: str | None = None) -> None:
        self.ex = exchange or FakeExchange()
        self.now = now_ns
        self.ex.now_ms = now_ns // MS
        self.store: dict[str, Order] = {o.client_order_id: o for o in stored}
        self.commands: list = []
        self.events: list = []
        self.inbox: list = []
        ids = ClientIds("t", run or next_run_id(now_ns))
        self.take(core.start(SYMBOL, INST, params or core.OmsParams(), ids, now_ns, stored_orders=stored,
                             position=position, ledger=ledger))

    def take(self, step: core.Step) -> core.Step:
        self.state = step.state
        for o in step.persist:
            self.store[o.client_order_id] = o
        for cmd in step.commands:
            if isinstance(cmd, PlaceOrders):
                assert all(n.client_order_id in self.store for n in cmd.orders), "sent before persisted"
            if isinstance(cmd, CancelOrders):
                assert all(c in self.store for c in cmd.client_order_ids)
            self.commands.append(cmd)
            self.inbox += self.ex.handle(cmd)
        self.events += step.events
        return step

    def pump(self, limit: int = 10_000) -> None:
        """Deliver every pending answer (and the answers they cause)."""
        n = 0
        while self.inbox:
            msg = self.inbox.pop(0)
            self.take(deliver(self.state, msg, self.now))
            n += 1
            assert n < limit

    def send(self, msg) -> core.Step:
        return self.take(deliver(self.state, msg, self.now))

    def target(self, bids=(), asks=(), limits=None, **kw) -> core.Step:
        t = QuoteTarget(SYMBOL, tuple(Quote(p, q) for p, q in bids), tuple(Quote(p, q) for p, q in asks), self.now,
                        **kw)
        return self.take(core.on_target(self.state, t, limits or Limits(1000, 1000), self.now))

    def tick(self) -> core.Step:
        return self.take(core.on_tick(self.state, self.now))

    def advance(self, ns: int) -> None:
        self.now += ns
        self.ex.now_ms = self.now // MS

    def sent(self, kind: type) -> list:
        return [c for c in self.commands if isinstance(c, kind)]

    def published(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]
