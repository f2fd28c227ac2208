"""The exchange core: matching, accounts, order lifecycle and market-data publication. Pure and
single-threaded: every method takes the server time in ms, mutates only this object, and leaves what it
wants sent in two outboxes (``market_out``: (stream, payload); ``user_out``: (account, payload)) that the
I/O shell drains. No clocks, sockets or randomness in here, so a test can drive it event by event.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from fractions import Fraction

from simex import errors, render
from simex.accounts import Account, UserTrade, break_even
from simex.book import ASK, BID, SymbolBook
from simex.depth import DepthPublisher
from simex.market import DepthSet, TradePrint
from simex.orders import (
    BUY,
    CANCELED,
    EXPIRED,
    EXPIRED_IN_MATCH,
    SELL,
    SIDE_NAME,
    Order,
    OrderRequest,
)
from simex.symbols import E8, Grid, SymbolSpec, e8_str

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
FIRST_ORDER_ID = 8_389_765_000
FIRST_TRADE_ID = 1_000_000


def _round_half_up(x: Fraction) -> int:
    n = (abs(x.numerator) * 2 + x.denominator) // (2 * x.denominator)
    return n if x >= 0 else -n


def _rate_str(rate: Fraction) -> str:
    return format((Decimal(rate.numerator) / Decimal(rate.denominator)).normalize(), "f")


class Exchange:
    def __init__(
        self,
        specs: Mapping[str, SymbolSpec],
        accounts: Iterable[str],
        *,
        wallet: Decimal = Decimal(10000),
        leverage: int = 20,
        maker_fee: Decimal = Decimal("0.0002"),
        taker_fee: Decimal = Decimal("0.0005"),
        queue_model: str = "proportional",
        seed: int = 0,
    ) -> None:
        self.specs = dict(specs)
        self.grids = {s: Grid(spec) for s, spec in self.specs.items()}
        self.books = {s: SymbolBook(s, queue_model) for s in self.specs}
        self.pubs = {s: DepthPublisher(s, self.grids[s]) for s in self.specs}
        self.maker_fee = Fraction(maker_fee)
        self.taker_fee = Fraction(taker_fee)
        quotes = {spec.quote for spec in self.specs.values()}
        self.accounts = {
            k: Account(
                k,
                wallet={q: int(wallet * E8) for q in sorted(quotes)},
                leverage=dict.fromkeys(self.specs, leverage),
            )
            for k in accounts
        }
        self.orders: dict[int, Order] = {}
        self.by_client: dict[tuple[str, str, str], int] = {}
        self.next_order_id = FIRST_ORDER_ID
        self.trade_ids = dict.fromkeys(self.specs, FIRST_TRADE_ID)
        self.last_trade = dict.fromkeys(self.specs, 0)
        self.market_out: list[tuple[str, dict]] = []
        self.user_out: list[tuple[str, dict]] = []
        self.funding_rate = Fraction(0)
        self.next_funding_ms = 0
        self._seed = seed
        self._cid_counter = 0
        self.public_trades = dict.fromkeys(self.specs, 0)
        self.wanted: Callable[[str], bool] = lambda _name: True
        self._unfilled_done: deque[tuple[int, int]] = deque()

    # ------------------------------------------------------------------ helpers
    def spec(self, symbol: str) -> SymbolSpec:
        spec = self.specs.get(symbol)
        if spec is None:
            raise errors.bad_symbol()
        return spec

    def account(self, key: str) -> Account:
        return self.accounts[key]

    def new_client_id(self) -> str:
        """A Binance-looking 22-character id, deterministic in the seed."""
        self._cid_counter += 1
        h = int.from_bytes(hashlib.blake2b(f"{self._seed}:{self._cid_counter}".encode(), digest_size=16).digest())
        chars = []
        for _ in range(22):
            h, r = divmod(h, 62)
            chars.append(ALPHABET[r])
        return "".join(chars)

    def mark(self, symbol: str) -> Fraction:
        """Mark price in ticks: mid of the feed's best bid and ask (our own quotes do not move it)."""
        book = self.books[symbol]
        bb, ba = book.best_feed(BID), book.best_feed(ASK)
        if bb is not None and ba is not None:
            return Fraction(bb + ba, 2)
        one = bb if bb is not None else ba
        if one is not None:
            return Fraction(one)
        bb, ba = book.best(BID), book.best(ASK)
        if bb is not None and ba is not None:
            return Fraction(bb + ba, 2)
        return Fraction(self.last_trade[symbol])

    def _next_trade_id(self, symbol: str) -> int:
        self.trade_ids[symbol] += 1
        return self.trade_ids[symbol]

    def set_wanted(self, wanted: Callable[[str], bool]) -> None:
        """Only build market payloads for streams ``wanted`` says someone listens to (ids advance regardless)."""
        self.wanted = wanted
        for pub in self.pubs.values():
            pub.wanted = wanted

    def _public_trade(self, symbol: str, tid: int, ticks: int, lots: int, taker_side: int, now: int) -> None:
        self.public_trades[symbol] += 1
        low = symbol.lower()
        if not (self.wanted(f"{low}@trade") or self.wanted(f"{low}@aggTrade")):
            return
        g = self.grids[symbol]
        px, qty, maker_is_buyer = g.px(ticks), g.qty(lots), taker_side == SELL
        self.market_out.append(
            (
                f"{low}@trade",
                {
                    "e": "trade",
                    "E": now,
                    "T": now,
                    "s": symbol,
                    "t": tid,
                    "p": px,
                    "q": qty,
                    "X": "MARKET",
                    "m": maker_is_buyer,
                },
            )
        )
        self.market_out.append(
            (
                f"{low}@aggTrade",
                {
                    "e": "aggTrade",
                    "E": now,
                    "a": tid,
                    "s": symbol,
                    "p": px,
                    "q": qty,
                    "f": tid,
                    "l": tid,
                    "T": now,
                    "m": maker_is_buyer,
                },
            )
        )

    def publish(self, symbol: str, now: int) -> None:
        self.pubs[symbol].step(self.books[symbol], now, self.market_out)

    def flush(self, now: int) -> None:
        for pub in self.pubs.values():
            pub.flush(now, self.market_out)

    def drain(self) -> tuple[list[tuple[str, dict]], list[tuple[str, dict]]]:
        m, u = self.market_out, self.user_out
        self.market_out, self.user_out = [], []
        return m, u

    # ------------------------------------------------------------------ market feed
    def feed_step(self, symbol: str, items: Iterable[DepthSet | TradePrint], now: int) -> None:
        """Apply one market step (trades and level sizes, in order) and publish it as one update."""
        for item in items:
            if isinstance(item, TradePrint):
                self.feed_trade(symbol, item.ticks, item.lots, item.taker_side, now)
            else:
                self.feed_depth(symbol, item.levels, now)
        self.publish(symbol, now)

    def feed_depth(self, symbol: str, levels: Iterable[tuple[int, int, int]], now: int) -> None:
        """Apply absolute feed level sizes ``(side, ticks, lots)``; then match anything they cross."""
        book = self.books[symbol]
        for side, ticks, lots in levels:
            book.set_feed(side, ticks, lots)
        self._cross_feed(symbol, now)

    def feed_trade(self, symbol: str, ticks: int, lots: int, taker_side: int, now: int) -> None:
        """A market trade: published, and it fills our resting orders it reaches (after their queue)."""
        tid = self._next_trade_id(symbol)
        self._public_trade(symbol, tid, ticks, lots, taker_side, now)
        self.last_trade[symbol] = ticks
        book = self.books[symbol]
        maker_side = ASK if taker_side == BUY else BID
        book.note_trade(maker_side, ticks, lots)
        for p, queue in list(book.own_orders(maker_side)):
            better = p < ticks if maker_side == ASK else p > ticks
            if better:
                for m in list(queue):
                    self._maker_fill(m, m.price, m.remaining, now)
            elif p == ticks:
                rem = lots
                for m in list(queue):
                    if rem <= 0:
                        break
                    if not m.is_open:
                        continue
                    x = min(m.ahead, rem)
                    if x:
                        rem -= x
                        for m2 in queue:
                            m2.ahead = max(0, m2.ahead - x)
                    if rem <= 0:
                        break
                    rem -= self._maker_fill(m, p, min(m.remaining, rem), now)
                break
            else:
                break

    def _maker_fill(self, m: Order, ticks: int, lots: int, now: int) -> int:
        """Fill a resting order as maker against the feed (no public print of our own); returns lots."""
        if not m.is_open or lots <= 0:
            return 0
        if m.reduce_only:
            lots = min(lots, self.accounts[m.account].reducible(m.symbol, m.side))
            if lots <= 0:
                self._expire(m, now)
                return 0
        self._fill(m, ticks, lots, True, self._next_trade_id(m.symbol), now)
        return lots

    def _cross_feed(self, symbol: str, now: int) -> None:
        """Our resting orders that the feed's opposite side now crosses trade with it as makers."""
        book = self.books[symbol]
        for side in (BID, ASK):
            opp = ASK if side == BID else BID
            for p, queue in list(book.own_orders(side)):
                crossed = False
                while True:
                    bf = book.best_feed(opp)
                    if bf is None or (bf > p if side == BID else bf < p):
                        break
                    crossed = True
                    live = [m for m in queue if m.is_open]
                    if not live:
                        break
                    avail = book.feed[opp][bf]
                    for m in live:
                        if avail <= 0:
                            break
                        lots = min(m.remaining, avail)
                        if m.reduce_only:
                            lots = min(lots, self.accounts[m.account].reducible(symbol, m.side))
                            if lots <= 0:
                                self._expire(m, now)
                                continue
                        tid = self._next_trade_id(symbol)
                        book.take_feed(opp, bf, lots)
                        self._fill(m, p, lots, True, tid, now)
                        self._public_trade(symbol, tid, p, lots, SELL if side == BID else BUY, now)
                        avail -= lots
                if not crossed:
                    break

    # ------------------------------------------------------------------ orders
    def place(self, account_key: str, req: OrderRequest, now: int) -> dict[str, object]:
        acct = self.accounts[account_key]
        spec = self.specs[req.symbol]
        book = self.books[req.symbol]
        if any(o.client_id == req.client_id for o in acct.open_in(req.symbol)):
            raise errors.duplicate_client_id()
        if len(acct.open_in(req.symbol)) >= spec.max_num_orders:
            raise errors.ApiError(-2025, "Reach max open order limit.")
        mark = self.mark(req.symbol)
        opp = ASK if req.side == BUY else BID
        if req.type == "LIMIT" and mark > 0:
            if req.side == BUY and req.price > mark * Fraction(spec.percent_up):
                cap = int(mark * Fraction(spec.percent_up))
                raise errors.price_above_cap(spec.price_str(cap))
            if req.side == SELL and req.price < mark * Fraction(spec.percent_down):
                floor = -int(-mark * Fraction(spec.percent_down))
                raise errors.price_below_floor(spec.price_str(floor))
        if not req.reduce_only:
            ref = req.price if req.type == "LIMIT" else (book.best(opp) or int(mark))
            if ref * req.lots * spec.unit_e8 < spec.min_notional_e8:
                raise errors.min_notional(format(spec.min_notional, "f"))
        if req.reduce_only:
            avail = acct.reducible(req.symbol, req.side)
            if avail <= 0 or req.lots > avail:
                raise errors.reduce_only_rejected()
        if req.tif == "GTX":
            best = book.best(opp)
            if best is not None and (best <= req.price if req.side == BUY else best >= req.price):
                raise errors.gtx_would_take()
        if not req.reduce_only:
            self._check_margin(acct, spec, req, mark)
        o = Order(
            order_id=self.next_order_id,
            client_id=req.client_id,
            account=account_key,
            symbol=req.symbol,
            side=req.side,
            type=req.type,
            tif=req.tif,
            price=req.price,
            lots=req.lots,
            reduce_only=req.reduce_only,
            stp=req.stp,
            time=now,
            update_time=now,
        )
        self.next_order_id += 1
        self.orders[o.order_id] = o
        self.by_client[(account_key, req.symbol, req.client_id)] = o.order_id
        acct.open_orders[o.order_id] = o
        ack = render.order_json(o, spec, with_time=False)
        self._order_event(o, "NEW", now)
        self._match_taker(o, now)
        if o.is_open:
            if o.type == "MARKET" or o.tif in ("IOC", "FOK"):
                self._expire(o, now)
            else:
                book.rest(o)
        self.publish(req.symbol, now)
        if req.resp_type == "RESULT":
            return render.order_json(o, spec, with_time=False)
        return ack

    def _check_margin(self, acct: Account, spec: SymbolSpec, req: OrderRequest, mark: Fraction) -> None:
        """-2019 when the order's extra initial margin exceeds what the account has available."""
        opp_best = self.books[spec.symbol].best(ASK if req.side == BUY else BID)
        px = req.price if req.type == "LIMIT" else (opp_best or round(mark))
        before = self._order_im(acct, spec.symbol)
        after = self._order_im(acct, spec.symbol, (req.side, req.lots, px))
        if after > before and self.available_e8(acct, spec.quote) < after - before:
            raise errors.margin_insufficient()

    def _order_im(self, acct: Account, symbol: str, extra: tuple[int, int, int] | None = None) -> Fraction:
        """Open-order initial margin (e8): per side, the notional of orders that would add to the position
        (orders closing an opposite position need none); the larger side counts, as in one-way mode."""
        pos = acct.position(symbol).lots
        legs = [(o.side, o.remaining, o.price) for o in acct.open_in(symbol) if not o.reduce_only]
        if extra is not None:
            legs.append(extra)
        lots = [0, 0]
        notional = [0, 0]
        for side, n, price in legs:
            lots[side] += n
            notional[side] += n * price
        ims = []
        for side, offset in ((BUY, -pos if pos < 0 else 0), (SELL, pos if pos > 0 else 0)):
            excess = max(0, lots[side] - offset)
            ims.append(Fraction(notional[side] * excess, lots[side]) if lots[side] else Fraction(0))
        spec = self.specs[symbol]
        return max(ims) * spec.unit_e8 / acct.leverage[symbol]

    def _match_taker(self, o: Order, now: int) -> None:
        book = self.books[o.symbol]
        opp = ASK if o.side == BUY else BID
        if o.tif == "FOK" and self._fillable(o, book, opp) < o.lots:
            return
        while o.is_open and o.remaining > 0:
            p = book.best(opp)
            if p is None:
                return
            if o.type == "LIMIT" and (p > o.price if o.side == BUY else p < o.price):
                return
            if self._take_level(o, book, opp, p, now):
                return

    def _fillable(self, o: Order, book: SymbolBook, opp: int) -> int:
        total = 0
        for p in book.levels[opp]:
            if o.type == "LIMIT" and (p > o.price if o.side == BUY else p < o.price):
                break
            total += book.feed[opp].get(p, 0)
            for m in book.own[opp].get(p, ()):
                if m.account != o.account or o.stp == "NONE":
                    total += m.remaining
            if total >= o.lots:
                break
        return total

    def _take_level(self, o: Order, book: SymbolBook, opp: int, p: int, now: int) -> bool:
        """Consume level ``p`` in queue order (feed ahead, our order, ...). True when the taker stops."""
        for m in list(book.own[opp].get(p, ())):
            if not o.is_open:
                return True
            if not m.is_open:
                continue
            x = min(m.ahead, o.remaining)
            if x and self._taker_vs_feed(o, book, opp, p, x, now):
                return True
            if not o.is_open:
                return True
            if m.account == o.account and o.stp != "NONE":
                if o.stp in ("EXPIRE_MAKER", "EXPIRE_BOTH"):
                    self._expire(m, now, in_match=True)
                if o.stp in ("EXPIRE_TAKER", "EXPIRE_BOTH"):
                    self._expire(o, now, in_match=True)
                    return True
                continue
            lots = min(m.remaining, self._taker_room(o))
            if lots <= 0:
                self._expire(o, now)
                return True
            if m.reduce_only:
                lots = min(lots, self.accounts[m.account].reducible(m.symbol, m.side))
                if lots <= 0:
                    self._expire(m, now)
                    continue
            tid = self._next_trade_id(o.symbol)
            self._fill(o, p, lots, False, tid, now)
            self._fill(m, p, lots, True, tid, now)
            self._public_trade(o.symbol, tid, p, lots, o.side, now)
        if not o.is_open:
            return True
        rest = book.feed[opp].get(p, 0)
        if rest:
            return self._taker_vs_feed(o, book, opp, p, min(rest, o.remaining), now)
        return False

    def _taker_room(self, o: Order) -> int:
        if not o.reduce_only:
            return o.remaining
        return min(o.remaining, self.accounts[o.account].reducible(o.symbol, o.side))

    def _taker_vs_feed(self, o: Order, book: SymbolBook, opp: int, p: int, lots: int, now: int) -> bool:
        lots = min(lots, self._taker_room(o))
        if lots <= 0:
            self._expire(o, now)
            return True
        tid = self._next_trade_id(o.symbol)
        book.take_feed(opp, p, lots)
        self._fill(o, p, lots, False, tid, now)
        self._public_trade(o.symbol, tid, p, lots, o.side, now)
        return False

    def _fill(self, o: Order, ticks: int, lots: int, maker: bool, tid: int, now: int) -> None:
        acct = self.accounts[o.account]
        spec = self.specs[o.symbol]
        book = self.books[o.symbol]
        o.fill(ticks, lots, now)
        if o.resting:
            book.reduce_own(o, lots)
            if not o.is_open:
                book.drop_order(o)
        pos, realized = acct.position(o.symbol).apply(lots if o.side == BUY else -lots, ticks)
        acct.positions[o.symbol] = pos
        realized_e8 = round(realized * spec.unit_e8)
        fee_e8 = _round_half_up(ticks * lots * spec.unit_e8 * (self.maker_fee if maker else self.taker_fee))
        acct.wallet[spec.quote] += realized_e8 - fee_e8
        acct.cum_realized[o.symbol] = acct.cum_realized.get(o.symbol, 0) + realized_e8
        acct.fees_e8 += fee_e8
        acct.fills += 1
        acct.pos_time[o.symbol] = now
        acct.trades.setdefault(o.symbol, []).append(
            UserTrade(tid, o.order_id, o.symbol, o.side, ticks, lots, realized_e8, fee_e8, now, maker)
        )
        if not o.is_open:
            acct.open_orders.pop(o.order_id, None)
        b, a = acct.side_notional(o.symbol)
        self.user_out.append(
            (
                o.account,
                render.order_update(
                    o,
                    spec,
                    "TRADE",
                    now,
                    last_lots=lots,
                    last_ticks=ticks,
                    fee_e8=fee_e8,
                    trade_id=tid,
                    maker=maker,
                    realized_e8=realized_e8,
                    bid_notional=b,
                    ask_notional=a,
                ),
            )
        )
        self.user_out.append(
            (
                o.account,
                render.account_update(
                    "ORDER",
                    now,
                    [self._balance_entry(acct, spec.quote, 0)],
                    [self._position_entry(acct, o.symbol)],
                ),
            )
        )
        self._check_reduce_only(acct, o.symbol, now)

    def _check_reduce_only(self, acct: Account, symbol: str, now: int) -> None:
        for o in acct.open_in(symbol):
            if o.reduce_only and acct.reducible(symbol, o.side) <= 0:
                self._expire(o, now)

    def _order_event(self, o: Order, exec_type: str, now: int) -> None:
        b, a = self.accounts[o.account].side_notional(o.symbol)
        self.user_out.append(
            (
                o.account,
                render.order_update(o, self.specs[o.symbol], exec_type, now, bid_notional=b, ask_notional=a),
            )
        )

    def _close(self, o: Order, status: str, exec_type: str, now: int) -> None:
        o.move(status, now)
        if not o.filled:
            self._unfilled_done.append((now, o.order_id))
        if o.resting:
            self.books[o.symbol].drop_order(o)
        self.accounts[o.account].open_orders.pop(o.order_id, None)
        self._order_event(o, exec_type, now)

    def _expire(self, o: Order, now: int, in_match: bool = False) -> None:
        if o.is_open:
            self._close(o, EXPIRED_IN_MATCH if in_match else EXPIRED, "EXPIRED", now)

    def _find(self, account_key: str, symbol: str, order_id: int | None, client_id: str | None) -> Order | None:
        if order_id is not None:
            o = self.orders.get(order_id)
        elif client_id:
            oid = self.by_client.get((account_key, symbol, client_id))
            o = self.orders.get(oid) if oid is not None else None
        else:
            raise errors.either_param("orderId", "origClientOrderId")
        if o is None or o.account != account_key or o.symbol != symbol:
            return None
        return o

    def prune(self, now: int, retention_ms: int) -> int:
        """Forget canceled/expired orders that never traded, ``retention_ms`` after they ended (Binance
        stops finding such orders after a while too); orders with fills are kept."""
        n = 0
        while self._unfilled_done and self._unfilled_done[0][0] < now - retention_ms:
            _, oid = self._unfilled_done.popleft()
            o = self.orders.pop(oid, None)
            if o is not None:
                key = (o.account, o.symbol, o.client_id)
                if self.by_client.get(key) == oid:
                    del self.by_client[key]
                n += 1
        return n

    def query(self, account_key: str, symbol: str, order_id: int | None, client_id: str | None) -> dict:
        spec = self.spec(symbol)
        o = self._find(account_key, symbol, order_id, client_id)
        if o is None:
            raise errors.no_such_order()
        return render.order_json(o, spec)

    def open_order(self, account_key: str, symbol: str, order_id: int | None, client_id: str | None) -> dict:
        spec = self.spec(symbol)
        o = self._find(account_key, symbol, order_id, client_id)
        if o is None or not o.is_open:
            raise errors.no_such_order()
        return render.order_json(o, spec)

    def cancel(self, account_key: str, symbol: str, order_id: int | None, client_id: str | None, now: int) -> dict:
        spec = self.spec(symbol)
        o = self._find(account_key, symbol, order_id, client_id)
        if o is None or not o.is_open:
            raise errors.unknown_order()
        self._close(o, CANCELED, "CANCELED", now)
        self.publish(symbol, now)
        return render.order_json(o, spec, with_time=False)

    def cancel_all(self, account_key: str, symbol: str, now: int) -> dict:
        self.spec(symbol)
        for o in self.accounts[account_key].open_in(symbol):
            self._close(o, CANCELED, "CANCELED", now)
        self.publish(symbol, now)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def all_orders(
        self,
        account_key: str,
        symbol: str,
        *,
        order_id: int | None = None,
        start: int | None = None,
        end: int | None = None,
        limit: int = 500,
    ) -> list[dict]:
        """The account's orders on a symbol, oldest first (open and finished; GTX rejections are not kept)."""
        spec = self.spec(symbol)
        rows = [o for o in self.orders.values() if o.account == account_key and o.symbol == symbol]
        if order_id is not None:
            rows = [o for o in rows if o.order_id >= order_id][:limit]
        else:
            rows = [o for o in rows if (start is None or o.time >= start) and (end is None or o.time <= end)]
            rows = rows[:limit] if start is not None else rows[-limit:]
        return [render.order_json(o, spec) for o in rows]

    def commission_rate(self, symbol: str) -> dict:
        self.spec(symbol)
        return {
            "symbol": symbol,
            "makerCommissionRate": _rate_str(self.maker_fee),
            "takerCommissionRate": _rate_str(self.taker_fee),
        }

    def open_orders(self, account_key: str, symbol: str | None) -> list[dict]:
        if symbol is not None:
            self.spec(symbol)
        return [
            render.order_json(o, self.specs[o.symbol])
            for o in self.accounts[account_key].open_orders.values()
            if symbol is None or o.symbol == symbol
        ]

    # ------------------------------------------------------------------ account queries
    def user_trades(
        self,
        account_key: str,
        symbol: str,
        *,
        order_id: int | None = None,
        from_id: int | None = None,
        start: int | None = None,
        end: int | None = None,
        limit: int = 500,
    ) -> list[dict]:
        spec = self.spec(symbol)
        if from_id is not None and (start is not None or end is not None):
            raise errors.bad_combo()
        if start is not None and end is not None and start > end:
            raise errors.ApiError(-1023, "Start time is greater than end time.")
        rows = self.accounts[account_key].trades.get(symbol, [])
        if order_id is not None:
            rows = [r for r in rows if r.order_id == order_id]
        if from_id is not None:
            rows = [r for r in rows if r.id >= from_id][:limit]
        elif start is not None:
            rows = [r for r in rows if r.time >= start and (end is None or r.time <= end)][:limit]
        else:
            rows = [r for r in rows if end is None or r.time <= end][-limit:]
        return [self._trade_row(spec, r) for r in rows]

    @staticmethod
    def _trade_row(spec: SymbolSpec, r: UserTrade) -> dict:
        return {
            "symbol": r.symbol,
            "id": r.id,
            "orderId": r.order_id,
            "side": SIDE_NAME[r.side],
            "price": spec.price_str(r.ticks),
            "qty": spec.qty_str(r.lots),
            "realizedPnl": e8_str(r.realized_e8),
            "marginAsset": spec.quote,
            "quoteQty": spec.notional_str(r.ticks * r.lots),
            "commission": e8_str(r.fee_e8),
            "commissionAsset": spec.quote,
            "time": r.time,
            "positionSide": "BOTH",
            "buyer": r.side == BUY,
            "maker": r.maker,
        }

    def _upnl_e8(self, acct: Account, symbol: str) -> int:
        pos = acct.position(symbol)
        return round(pos.unrealized(self.mark(symbol)) * self.specs[symbol].unit_e8) if pos.lots else 0

    def _margins_e8(self, acct: Account, symbol: str) -> tuple[int, int]:
        """(position initial margin, open-order initial margin) in e8 for one symbol."""
        spec = self.specs[symbol]
        pos = abs(acct.position(symbol).lots)
        pim = pos * self.mark(symbol) * spec.unit_e8 / acct.leverage[symbol]
        return round(pim), round(self._order_im(acct, symbol))

    def available_e8(self, acct: Account, quote: str) -> Fraction:
        total = Fraction(acct.wallet[quote])
        for sym, spec in self.specs.items():
            if spec.quote != quote:
                continue
            total += self._upnl_e8(acct, sym)
            pim, oim = self._margins_e8(acct, sym)
            total -= pim + oim
        return total

    def _balance_entry(self, acct: Account, quote: str, change_e8: int) -> dict:
        w = e8_str(acct.wallet[quote])
        return {"a": quote, "wb": w, "cw": w, "bc": e8_str(change_e8)}

    def _position_entry(self, acct: Account, symbol: str) -> dict:
        spec = self.specs[symbol]
        pos = acct.position(symbol)
        return render.position_entry(
            spec,
            symbol,
            pos.lots,
            pos.entry,
            acct.cum_realized.get(symbol, 0),
            self._upnl_e8(acct, symbol),
            break_even(pos, self.taker_fee),
        )

    def position_risk(self, account_key: str, symbol: str | None, version: int) -> list[dict]:
        acct = self.accounts[account_key]
        if symbol is not None:
            self.spec(symbol)
        out = []
        for sym, spec in self.specs.items():
            if symbol is not None and sym != symbol:
                continue
            pos = acct.position(sym)
            if version >= 3 and symbol is None and not pos.lots and not acct.open_in(sym):
                continue
            mark = self.mark(sym)
            notional = pos.lots * mark * spec.unit_e8
            pim, oim = self._margins_e8(acct, sym)
            b, a = acct.side_notional(sym)
            row: dict[str, object] = {
                "symbol": sym,
                "positionSide": "BOTH",
                "positionAmt": render.signed_qty(spec, pos.lots),
                "entryPrice": spec.ratio_price_str(pos.entry),
                "breakEvenPrice": spec.ratio_price_str(break_even(pos, self.taker_fee)),
                "markPrice": spec.ratio_price_str(mark),
                "unRealizedProfit": e8_str(self._upnl_e8(acct, sym)),
                "liquidationPrice": "0",
                "isolatedMargin": "0",
                "notional": e8_str(round(notional)),
                "isolatedWallet": "0",
                "updateTime": acct.pos_time.get(sym, 0),
            }
            if version >= 3:
                row.update(
                    {
                        "marginAsset": spec.quote,
                        "initialMargin": e8_str(pim + oim),
                        "maintMargin": e8_str(pim // 50),
                        "positionInitialMargin": e8_str(pim),
                        "openOrderInitialMargin": e8_str(oim),
                        "adl": 0,
                        "bidNotional": spec.notional_str(b),
                        "askNotional": spec.notional_str(a),
                    }
                )
            else:
                row.update(
                    {
                        "leverage": str(acct.leverage[sym]),
                        "maxNotionalValue": "1000000",
                        "marginType": "cross",
                        "isAutoAddMargin": "false",
                    }
                )
            out.append(row)
        return out

    def _asset_rows(self, acct: Account, now: int) -> list[dict]:
        rows = []
        for quote, wallet in acct.wallet.items():
            upnl = pim = oim = 0
            for sym, spec in self.specs.items():
                if spec.quote == quote:
                    upnl += self._upnl_e8(acct, sym)
                    a, b = self._margins_e8(acct, sym)
                    pim, oim = pim + a, oim + b
            avail = wallet + upnl - pim - oim
            rows.append(
                {
                    "asset": quote,
                    "walletBalance": e8_str(wallet),
                    "unrealizedProfit": e8_str(upnl),
                    "marginBalance": e8_str(wallet + upnl),
                    "maintMargin": e8_str(pim // 50),
                    "initialMargin": e8_str(pim + oim),
                    "positionInitialMargin": e8_str(pim),
                    "openOrderInitialMargin": e8_str(oim),
                    "crossWalletBalance": e8_str(wallet),
                    "crossUnPnl": e8_str(upnl),
                    "availableBalance": e8_str(avail),
                    "maxWithdrawAmount": e8_str(max(0, min(avail, wallet))),
                    "marginAvailable": True,
                    "updateTime": now,
                }
            )
        return rows

    def balances(self, account_key: str, now: int) -> list[dict]:
        acct = self.accounts[account_key]
        return [
            {
                "accountAlias": "SgsR",
                "asset": r["asset"],
                "balance": r["walletBalance"],
                "crossWalletBalance": r["crossWalletBalance"],
                "crossUnPnl": r["crossUnPnl"],
                "availableBalance": r["availableBalance"],
                "maxWithdrawAmount": r["maxWithdrawAmount"],
                "marginAvailable": True,
                "updateTime": now,
            }
            for r in self._asset_rows(acct, now)
        ]

    def account_info(self, account_key: str, version: int, now: int) -> dict:
        acct = self.accounts[account_key]
        assets = self._asset_rows(acct, now)

        def total(field: str) -> str:
            return e8_str(sum(round(Decimal(str(r[field])) * E8) for r in assets))

        positions = []
        for sym, spec in self.specs.items():
            pos = acct.position(sym)
            if version >= 3 and not pos.lots:
                continue
            pim, oim = self._margins_e8(acct, sym)
            row: dict[str, object] = {
                "symbol": sym,
                "positionSide": "BOTH",
                "positionAmt": render.signed_qty(spec, pos.lots),
                "unrealizedProfit": e8_str(self._upnl_e8(acct, sym)),
                "isolatedMargin": "0",
                "notional": e8_str(round(pos.lots * self.mark(sym) * spec.unit_e8)),
                "isolatedWallet": "0",
                "initialMargin": e8_str(pim + oim),
                "maintMargin": e8_str(pim // 50),
                "updateTime": acct.pos_time.get(sym, 0),
            }
            if version < 3:
                row.update(
                    {
                        "positionInitialMargin": e8_str(pim),
                        "openOrderInitialMargin": e8_str(oim),
                        "leverage": str(acct.leverage[sym]),
                        "isolated": False,
                        "entryPrice": spec.ratio_price_str(pos.entry),
                        "breakEvenPrice": spec.ratio_price_str(break_even(pos, self.taker_fee)),
                        "maxNotional": "1000000",
                        "bidNotional": "0",
                        "askNotional": "0",
                    }
                )
            positions.append(row)
        info: dict[str, object] = {
            "totalInitialMargin": total("initialMargin"),
            "totalMaintMargin": total("maintMargin"),
            "totalWalletBalance": total("walletBalance"),
            "totalUnrealizedProfit": total("unrealizedProfit"),
            "totalMarginBalance": total("marginBalance"),
            "totalPositionInitialMargin": total("positionInitialMargin"),
            "totalOpenOrderInitialMargin": total("openOrderInitialMargin"),
            "totalCrossWalletBalance": total("crossWalletBalance"),
            "totalCrossUnPnl": total("crossUnPnl"),
            "availableBalance": total("availableBalance"),
            "maxWithdrawAmount": total("maxWithdrawAmount"),
            "assets": assets,
            "positions": positions,
        }
        if version < 3:
            info = {
                "feeTier": 0,
                "feeBurn": False,
                "canTrade": True,
                "canDeposit": True,
                "canWithdraw": True,
                "updateTime": 0,
                "multiAssetsMargin": False,
                "tradeGroupId": -1,
                **info,
            }
        return info

    def set_leverage(self, account_key: str, symbol: str, leverage: int) -> dict:
        self.spec(symbol)
        if not 1 <= leverage <= 125:
            raise errors.bad_leverage()
        self.accounts[account_key].leverage[symbol] = leverage
        return {"leverage": leverage, "maxNotionalValue": "1000000", "symbol": symbol}

    # ------------------------------------------------------------------ market queries
    def snapshot(self, symbol: str, limit: int, now: int) -> dict:
        book, g = self.books[symbol], self.grids[symbol]
        return {
            "lastUpdateId": self.pubs[symbol].snapshot_id,
            "E": now,
            "T": now,
            "bids": [[g.px(p), g.qty(q)] for p, q in book.depth(BID, limit)],
            "asks": [[g.px(p), g.qty(q)] for p, q in book.depth(ASK, limit)],
        }

    def book_ticker(self, symbol: str, now: int) -> dict:
        book, g = self.books[symbol], self.grids[symbol]
        bb, ba = book.best(BID), book.best(ASK)
        return {
            "symbol": symbol,
            "bidPrice": g.px(bb or 0),
            "bidQty": g.qty(book.total(BID, bb) if bb else 0),
            "askPrice": g.px(ba or 0),
            "askQty": g.qty(book.total(ASK, ba) if ba else 0),
            "time": now,
            "lastUpdateId": self.pubs[symbol].last_u,
        }

    def premium_index(self, symbol: str, now: int) -> dict:
        spec = self.specs[symbol]
        m = spec.ratio_price_str(self.mark(symbol))
        rate = Decimal(self.funding_rate.numerator) / Decimal(self.funding_rate.denominator)
        return {
            "symbol": symbol,
            "markPrice": m,
            "indexPrice": m,
            "estimatedSettlePrice": m,
            "lastFundingRate": format(rate.quantize(Decimal("0.00000001")), "f"),
            "interestRate": "0.00010000",
            "nextFundingTime": self.next_funding_ms,
            "time": now,
        }

    # ------------------------------------------------------------------ funding
    def apply_funding(self, rate: Fraction, now: int) -> None:
        """Settle funding: longs pay shorts ``position notional x rate`` at the mark (FUNDING_FEE updates)."""
        if not rate:
            return
        for acct in self.accounts.values():
            changes: dict[str, int] = {}
            for sym, spec in self.specs.items():
                pos = acct.position(sym)
                if not pos.lots:
                    continue
                fee = round(pos.lots * self.mark(sym) * spec.unit_e8 * rate)
                acct.wallet[spec.quote] -= fee
                acct.funding_e8 -= fee
                changes[spec.quote] = changes.get(spec.quote, 0) - fee
            if changes:
                self.user_out.append(
                    (
                        acct.key,
                        render.account_update(
                            "FUNDING_FEE",
                            now,
                            [self._balance_entry(acct, q, c) for q, c in changes.items()],
                            [],
                        ),
                    )
                )

    # ------------------------------------------------------------------ admin view
    def state(self) -> dict:
        symbols = {}
        for sym, book in self.books.items():
            g = self.grids[sym]
            bb, ba = book.best(BID), book.best(ASK)
            symbols[sym] = {
                "best_bid": g.px(bb) if bb else None,
                "best_ask": g.px(ba) if ba else None,
                "bid_qty": g.qty(book.total(BID, bb)) if bb else None,
                "ask_qty": g.qty(book.total(ASK, ba)) if ba else None,
                "last_update_id": self.pubs[sym].last_u,
                "depth_steps": self.pubs[sym].steps,
                "levels": [len(book.levels[BID]), len(book.levels[ASK])],
                "mark_price": self.specs[sym].ratio_price_str(self.mark(sym)),
                "last_trade_id": self.trade_ids[sym],
                "public_trades": self.public_trades[sym],
            }
        accounts = {}
        for key, acct in self.accounts.items():
            accounts[key] = {
                "balances": {q: e8_str(w) for q, w in acct.wallet.items()},
                "positions": {
                    s: {
                        "qty": render.signed_qty(self.specs[s], p.lots),
                        "entry": self.specs[s].ratio_price_str(p.entry),
                        "realized": e8_str(acct.cum_realized.get(s, 0)),
                    }
                    for s, p in acct.positions.items()
                    if p.lots or s in acct.cum_realized
                },
                "open_orders": [
                    {
                        "symbol": o.symbol,
                        "orderId": o.order_id,
                        "clientOrderId": o.client_id,
                        "side": SIDE_NAME[o.side],
                        "price": self.specs[o.symbol].price_str(o.price),
                        "remaining": self.specs[o.symbol].qty_str(o.remaining),
                        "ahead": o.ahead,
                    }
                    for o in acct.open_orders.values()
                ],
                "fills": acct.fills,
                "fees": e8_str(acct.fees_e8),
                "funding": e8_str(acct.funding_e8),
            }
        return {"symbols": symbols, "accounts": accounts}
