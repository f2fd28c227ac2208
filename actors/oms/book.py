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
    """Orders by client id: ``open`` (may still fill) and ``done`` (terminal, kept a while for late events).

    Every change returns a new Book; the dicts inside are never mutated. Keeping the two apart makes the
    hot queries (live orders, exposure) independent of how many finished orders are kept.
    """

    symbol: str
    open: dict[str, Order] = msgspec.field(default_factory=dict)
    done: dict[str, Order] = msgspec.field(default_factory=dict)

    # ---- lookups
    @property
    def orders(self) -> dict[str, Order]:
        """All orders (a new dict)."""
        return {**self.done, **self.open}

    def get(self, client_order_id: str) -> Order | None:
        o = self.open.get(client_order_id)
        return o if o is not None else self.done.get(client_order_id)

    def by_exchange_id(self, exchange_id: int) -> Order | None:
        if exchange_id:
            for group in (self.open, self.done):
                for o in group.values():
                    if o.exchange_id == exchange_id:
                        return o
        return None

    def find(self, client_order_id: str = "", exchange_id: int = 0) -> Order | None:
        """By client id, else by exchange id (REST userTrades carry no client id)."""
        o = self.get(client_order_id) if client_order_id else None
        return o if o is not None else self.by_exchange_id(exchange_id)

    def live(self, side: Side | None = None) -> tuple[Order, ...]:
        """Non-terminal orders (oldest first), optionally of one side."""
        if side is None:
            return tuple(self.open.values())
        return tuple(o for o in self.open.values() if o.side is side)

    def in_status(self, *statuses: Status) -> tuple[Order, ...]:
        return tuple(o for o in self.orders.values() if o.status in statuses)

    def __len__(self) -> int:
        return len(self.open) + len(self.done)

    # ---- exposure
    def exposure(self) -> Exposure:
        buy = sell = 0
        for o in self.open.values():
            n = o.exposure_lots
            if o.side is Side.BUY:
                buy += n
            else:
                sell += n
        return Exposure(buy, sell)

    # ---- changes
    def put(self, order: Order) -> Book:
        """Insert or replace one order."""
        cid = order.client_order_id
        if order.terminal:
            opened = self.open if cid not in self.open else {k: v for k, v in self.open.items() if k != cid}
            return Book(self.symbol, opened, {**self.done, cid: order})
        done = self.done if cid not in self.done else {k: v for k, v in self.done.items() if k != cid}
        return Book(self.symbol, {**self.open, cid: order}, done)

    def add(self, order: Order) -> Book:
        """Insert a new order; a client id is used once, ever."""
        if self.get(order.client_order_id) is not None:
            raise ValueError(f"client order id {order.client_order_id} is already in the book")
        return self.put(order)

    def apply(self, client_order_id: str, event: OrderEvent) -> tuple[Book, Order, tuple[Effect, ...]]:
        """Apply one event to one order. KeyError if the order is not in the book."""
        old = self.get(client_order_id)
        if old is None:
            raise KeyError(client_order_id)
        new, effects = apply(old, event)
        return self.put(new), new, effects

    def prune(self, now_ns: int, keep_ns: int) -> tuple[Book, tuple[str, ...]]:
        """Drop terminal orders unchanged for ``keep_ns`` (late events for them find them until then)."""
        gone = tuple(cid for cid, o in self.done.items() if now_ns - o.updated_ns >= keep_ns)
        if not gone:
            return self, ()
        drop = set(gone)
        return Book(self.symbol, self.open, {cid: o for cid, o in self.done.items() if cid not in drop}), gone

    @classmethod
    def of(cls, symbol: str, orders: Iterable[Order]) -> Book:
        items = list(orders)
        return cls(symbol, {o.client_order_id: o for o in items if not o.terminal},
                   {o.client_order_id: o for o in items if o.terminal})


__all__ = ["Book", "Exposure", "IllegalTransition"]
