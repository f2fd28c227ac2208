"""Builders shared by the OMS tests: an ETHUSDC-like instrument and exchange reports/fills in its units."""

from __future__ import annotations

import zlib
from decimal import Decimal

from actors.gateway.events import Fill, OrderReport, OrderStatus, OrderUpdate, Side
from actors.instrument import Instrument
from actors.oms.order import Order, Status

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
