"""Depth publication with the exchange's own update ids, so the local-book rules of Binance hold exactly.

Every book-changing step gets the id range ``[U, u] = [n, n + 1]`` and the next step starts at ``u + 1``.
A REST snapshot reports ``lastUpdateId = n_next`` (the first id of the step that has not happened yet),
which makes both the USDⓈ-M rule (first event has ``U <= lastUpdateId <= u``) and the spot-style rule
(``U <= lastUpdateId + 1 <= u``) bridge the snapshot, with ``pu`` chaining every event of a stream to
the previous one. Slower streams aggregate whole steps per window, keeping the same chain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from simex.book import ASK, BID, SymbolBook
from simex.symbols import Grid

SPEEDS = (0, 100, 250, 500)
FIRST_ID = 1_000_000


def _always(_name: str) -> bool:
    return True


def depth_stream(symbol: str, speed: int) -> str:
    return f"{symbol.lower()}@depth@{speed}ms"


@dataclass(slots=True)
class _Window:
    first: int = 0
    last: int = 0
    deadline: int = 0
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)


class DepthPublisher:
    """Turns a symbol book's dirty levels into depthUpdate/bookTicker payloads, one step at a time."""

    def __init__(self, symbol: str, grid: Grid, first_id: int = FIRST_ID) -> None:
        self.symbol = symbol
        self.grid = grid
        self.next_id = first_id
        self.last_u = first_id - 1
        self.published: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self.stream_u = dict.fromkeys(SPEEDS, first_id - 1)
        self.windows = {s: _Window() for s in SPEEDS if s}
        self.skip_next = 0  # depth_gap fault: steps to withhold from every depth stream
        self.top: tuple[int, int, int, int] | None = None
        self.names = {s: depth_stream(symbol, s) for s in SPEEDS}
        self.ticker_name = f"{symbol.lower()}@bookTicker"
        self.steps = 0
        self.wanted: Callable[[str], bool] = _always  # the shell narrows this to subscribed streams

    @property
    def snapshot_id(self) -> int:
        return self.next_id

    def step(self, book: SymbolBook, now: int, out: list[tuple[str, dict]]) -> None:
        """Publish whatever changed in ``book`` since the last step (appending payloads to ``out``)."""
        bid_prices, ask_prices = book.take_dirty()
        b = self._changes(book, BID, bid_prices)
        a = self._changes(book, ASK, ask_prices)
        if not b and not a:
            return
        U, u = self.next_id, self.next_id + 1
        self.next_id = u + 1
        self.last_u = u
        self.steps += 1
        if self.skip_next:
            self.skip_next -= 1
            for speed, w in self.windows.items():
                if w.bids or w.asks:
                    self._emit(speed, w, now, out)
            for speed in SPEEDS:
                self.stream_u[speed] = u
        else:
            if self.wanted(self.names[0]):
                g = self.grid
                out.append(
                    (
                        self.names[0],
                        {
                            "e": "depthUpdate",
                            "E": now,
                            "T": now,
                            "s": self.symbol,
                            "U": U,
                            "u": u,
                            "pu": self.stream_u[0],
                            "b": [[g.px(p), g.qty(q)] for p, q in b],
                            "a": [[g.px(p), g.qty(q)] for p, q in a],
                        },
                    )
                )
            self.stream_u[0] = u
            for speed, w in self.windows.items():
                if not w.bids and not w.asks:
                    w.first = U
                    w.deadline = (now // speed + 1) * speed
                w.last = u
                w.bids.update(b)
                w.asks.update(a)
        self._ticker(book, now, u, out)

    def _changes(self, book: SymbolBook, side: int, prices: list[int]) -> list[tuple[int, int]]:
        pub = self.published[side]
        feed, own = book.feed[side], book.own_lots[side]
        out = []
        for p in prices:
            q = feed.get(p, 0) + own.get(p, 0) if own else feed.get(p, 0)
            if pub.get(p, 0) != q:
                if q:
                    pub[p] = q
                else:
                    del pub[p]
                out.append((p, q))
        return out

    def _emit(self, speed: int, w: _Window, now: int, out: list[tuple[str, dict]]) -> None:
        """Close a window: send it if anyone listens; the chain moves on either way."""
        if self.wanted(self.names[speed]):
            g = self.grid
            out.append(
                (
                    self.names[speed],
                    {
                        "e": "depthUpdate",
                        "E": now,
                        "T": now,
                        "s": self.symbol,
                        "U": w.first,
                        "u": w.last,
                        "pu": self.stream_u[speed],
                        "b": [[g.px(p), g.qty(q)] for p, q in sorted(w.bids.items(), reverse=True)],
                        "a": [[g.px(p), g.qty(q)] for p, q in sorted(w.asks.items())],
                    },
                )
            )
        self.stream_u[speed] = w.last
        w.bids = {}
        w.asks = {}

    def flush(self, now: int, out: list[tuple[str, dict]]) -> None:
        """Emit the aggregated windows whose period has ended."""
        for speed, w in self.windows.items():
            if (w.bids or w.asks) and now >= w.deadline:
                self._emit(speed, w, now, out)

    def next_deadline(self) -> int | None:
        d = [w.deadline for w in self.windows.values() if w.bids or w.asks]
        return min(d) if d else None

    def _ticker(self, book: SymbolBook, now: int, u: int, out: list[tuple[str, dict]]) -> None:
        bb, ba = book.best(BID), book.best(ASK)
        top = (bb or 0, book.total(BID, bb) if bb else 0, ba or 0, book.total(ASK, ba) if ba else 0)
        if top == self.top:
            return
        self.top = top
        if not self.wanted(self.ticker_name):
            return
        g = self.grid
        out.append(
            (
                self.ticker_name,
                {
                    "e": "bookTicker",
                    "u": u,
                    "s": self.symbol,
                    "b": g.px(top[0]),
                    "B": g.qty(top[1]),
                    "a": g.px(top[2]),
                    "A": g.qty(top[3]),
                    "T": now,
                    "E": now,
                },
            )
        )
