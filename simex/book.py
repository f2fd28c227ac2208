"""One symbol's book as clients see it: feed liquidity plus the resting orders of our API accounts.

Feed sizes come from the market source as absolute level quantities. Our orders rest in FIFO queues per
level, each remembering how much feed size is queued in front of it (``Order.ahead``). Trades consume
that queue first; level decreases the feed does not explain by trades are cancels and shrink it too.
Every changed level is marked dirty so the depth publisher can emit exactly the changes.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator

from simex.orders import BUY, Order

BID, ASK = 0, 1  # a BUY order rests on the BID side


class SortedLevels:
    """Prices with a non-zero total size on one side, best first (bids stored negated)."""

    __slots__ = ("_keys", "_sign")

    def __init__(self, side: int) -> None:
        self._keys: list[int] = []
        self._sign = -1 if side == BID else 1

    def add(self, price: int) -> None:
        insort(self._keys, price * self._sign)

    def remove(self, price: int) -> None:
        key = price * self._sign
        i = bisect_left(self._keys, key)
        if i < len(self._keys) and self._keys[i] == key:
            del self._keys[i]

    def best(self) -> int | None:
        return self._keys[0] * self._sign if self._keys else None

    def __iter__(self) -> Iterator[int]:
        s = self._sign
        return (k * s for k in self._keys)

    def __len__(self) -> int:
        return len(self._keys)


class SymbolBook:
    def __init__(self, symbol: str, queue_model: str = "proportional") -> None:
        self.symbol = symbol
        self.queue_model = queue_model
        self.feed: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self.own: tuple[dict[int, list[Order]], dict[int, list[Order]]] = ({}, {})
        self.own_lots: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self.levels = (SortedLevels(BID), SortedLevels(ASK))
        self.dirty: tuple[set[int], set[int]] = (set(), set())
        # feed trade volume at levels holding our orders, not yet matched by a depth decrease
        self.traded: tuple[dict[int, int], dict[int, int]] = ({}, {})

    # ---- sizes ----
    def total(self, side: int, price: int) -> int:
        return self.feed[side].get(price, 0) + self.own_lots[side].get(price, 0)

    def _changed(self, side: int, price: int, before: int) -> None:
        after = self.total(side, price)
        if before == 0 and after > 0:
            self.levels[side].add(price)
        elif before > 0 and after == 0:
            self.levels[side].remove(price)
        self.dirty[side].add(price)

    def best(self, side: int) -> int | None:
        return self.levels[side].best()

    def best_feed(self, side: int) -> int | None:
        feed = self.feed[side]
        for p in self.levels[side]:
            if feed.get(p, 0) > 0:
                return p
        return None

    def depth(self, side: int, n: int) -> list[tuple[int, int]]:
        out = []
        for p in self.levels[side]:
            out.append((p, self.total(side, p)))
            if len(out) >= n:
                break
        return out

    # ---- feed ----
    def set_feed(self, side: int, price: int, lots: int) -> None:
        """Absolute feed size at a level; keeps our queue positions consistent with the change."""
        feed = self.feed[side]
        old = feed.get(price, 0)
        if old == lots:
            return
        if lots:
            feed[price] = lots
        else:
            del feed[price]
        own = self.own_lots[side].get(price, 0)
        if own:
            queue = self.own[side].get(price)
            if queue and lots < old:
                self._shrink_queue(side, price, queue, old, lots)
        elif not old:
            self.levels[side].add(price)
        elif not lots:
            self.levels[side].remove(price)
        self.dirty[side].add(price)

    def _shrink_queue(self, side: int, price: int, queue: list[Order], old: int, new: int) -> None:
        drop = old - new
        traded = self.traded[side]
        explained = min(drop, traded.get(price, 0))
        if explained:
            traded[price] -= explained
        cancels = drop - explained
        for o in queue:
            if cancels and o.ahead:
                if self.queue_model == "front":
                    o.ahead = max(0, o.ahead - cancels)
                else:  # cancels spread uniformly over the level: the share in front of us leaves
                    o.ahead -= (cancels * o.ahead + old // 2) // old
            o.ahead = min(o.ahead, new)

    def take_feed(self, side: int, price: int, lots: int) -> None:
        """Our trade consumed feed size (shown until the feed next sets this level)."""
        if lots <= 0:
            return
        feed = self.feed[side]
        before = feed.get(price, 0) + self.own_lots[side].get(price, 0)
        left = feed.get(price, 0) - lots
        if left > 0:
            feed[price] = left
        else:
            feed.pop(price, None)
        for o in self.own[side].get(price, ()):
            o.ahead = max(0, o.ahead - lots)
        self._changed(side, price, before)

    def note_trade(self, side: int, price: int, lots: int) -> None:
        if price in self.own[side]:
            t = self.traded[side]
            t[price] = min(t.get(price, 0) + lots, self.feed[side].get(price, 0))

    # ---- our orders ----
    def rest(self, order: Order) -> None:
        side = BID if order.side == BUY else ASK
        p = order.price
        before = self.total(side, p)
        order.ahead = self.feed[side].get(p, 0)
        order.resting = True
        self.own[side].setdefault(p, []).append(order)
        self.own_lots[side][p] = self.own_lots[side].get(p, 0) + order.remaining
        self._changed(side, p, before)

    def reduce_own(self, order: Order, lots: int) -> None:
        """``lots`` of a resting order left the book (filled, or removed with ``drop_order``)."""
        side = BID if order.side == BUY else ASK
        p = order.price
        before = self.total(side, p)
        left = self.own_lots[side][p] - lots
        if left > 0:
            self.own_lots[side][p] = left
        else:
            del self.own_lots[side][p]
        self._changed(side, p, before)

    def drop_order(self, order: Order) -> None:
        """Remove a resting order from its queue (cancel, expiry, or completely filled)."""
        side = BID if order.side == BUY else ASK
        queue = self.own[side].get(order.price)
        if not queue or order not in queue:
            return
        queue.remove(order)
        order.resting = False
        if order.remaining:
            self.reduce_own(order, order.remaining)
        if not queue:
            del self.own[side][order.price]
            self.traded[side].pop(order.price, None)

    def own_orders(self, side: int) -> Iterator[tuple[int, list[Order]]]:
        """Levels holding our orders, best first."""
        own = self.own[side]
        if not own:
            return iter(())
        prices = sorted(own, reverse=(side == BID))
        return ((p, own[p]) for p in prices)

    def take_dirty(self) -> tuple[list[int], list[int]]:
        bids, asks = sorted(self.dirty[BID], reverse=True), sorted(self.dirty[ASK])
        self.dirty[BID].clear()
        self.dirty[ASK].clear()
        return bids, asks
