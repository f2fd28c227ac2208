"""Our orders for one symbol, and the exposure a pre-trade check needs (lesson 1 of the brief).

The predecessor checked limits against the filled position only and was liquidated. The worst case here
is the position plus every order that could still fill on the adding side: sent but not acknowledged,
resting, partially filled, cancel not yet confirmed, outcome unknown, and created but not yet sent.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from actors.gateway.events import Side
from actors.oms.order import Effect, IllegalTransition, Order, OrderEvent, Status, apply


class Exposure(msgspec.Struct, frozen=True):
    """Remaining lots of every order that could still fill, per side."""

    buy_lots: int = 0
    sell_lots: int = 0

    def worst_long(self, position_lots: int) -> int:
        """The position if every buy that could still fill did: must stay within the long limit."""
        return position_lots + self.buy_lots

    def worst_short(self, position_lots: int) -> int:
        """The position if every sell that could still fill did (negative = short)."""
        return position_lots - self.sell_lots


class Book(msgspec.Struct, frozen=True):
    """Orders by client id. Every change returns a new Book; the dict inside is never mutated."""

    symbol: str
    orders: dict[str, Order] = msgspec.field(default_factory=dict)

    # ---- lookups
    def get(self, client_order_id: str) -> Order | None:
        return self.orders.get(client_order_id)

    def by_exchange_id(self, exchange_id: int) -> Order | None:
        if exchange_id:
            for o in self.orders.values():
                if o.exchange_id == exchange_id:
                    return o
        return None

    def find(self, client_order_id: str = "", exchange_id: int = 0) -> Order | None:
        """By client id, else by exchange id (REST userTrades carry no client id)."""
        o = self.orders.get(client_order_id) if client_order_id else None
        return o if o is not None else self.by_exchange_id(exchange_id)

    def live(self, side: Side | None = None) -> tuple[Order, ...]:
        """Non-terminal orders (oldest first), optionally of one side."""
        return tuple(o for o in self.orders.values() if not o.terminal and (side is None or o.side is side))

    def in_status(self, *statuses: Status) -> tuple[Order, ...]:
        return tuple(o for o in self.orders.values() if o.status in statuses)

    def __len__(self) -> int:
        return len(self.orders)

    # ---- exposure
    def exposure(self) -> Exposure:
        buy = sell = 0
        for o in self.orders.values():
            n = o.exposure_lots
            if o.side is Side.BUY:
                buy += n
            else:
                sell += n
        return Exposure(buy, sell)

    # ---- changes
    def put(self, order: Order) -> Book:
        """Insert or replace one order."""
        return Book(self.symbol, {**self.orders, order.client_order_id: order})

    def add(self, order: Order) -> Book:
        """Insert a new order; a client id is used once, ever."""
        if order.client_order_id in self.orders:
            raise ValueError(f"client order id {order.client_order_id} is already in the book")
        return self.put(order)

    def apply(self, client_order_id: str, event: OrderEvent) -> tuple[Book, Order, tuple[Effect, ...]]:
        """Apply one event to one order. KeyError if the order is not in the book."""
        old = self.orders[client_order_id]
        new, effects = apply(old, event)
        return self.put(new), new, effects

    def prune(self, now_ns: int, keep_ns: int) -> tuple[Book, tuple[str, ...]]:
        """Drop terminal orders unchanged for ``keep_ns`` (late events for them find them until then)."""
        gone = tuple(cid for cid, o in self.orders.items() if o.terminal and now_ns - o.updated_ns >= keep_ns)
        if not gone:
            return self, ()
        drop = set(gone)
        return Book(self.symbol, {cid: o for cid, o in self.orders.items() if cid not in drop}), gone

    @classmethod
    def of(cls, symbol: str, orders: Iterable[Order]) -> Book:
        return cls(symbol, {o.client_order_id: o for o in orders})


__all__ = ["Book", "Exposure", "IllegalTransition"]
