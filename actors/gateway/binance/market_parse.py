"""Binance market-data frames → venue-neutral events.

The hot path of the whole feed. msgspec decodes each payload straight into a typed wire struct, in C:
types are checked (a price that is not a string, an id that is not an integer, a level that is not a pair
all fail the decode), and the level arrays arrive as tuples of string pairs with no Python loop. A combined-
stream frame is routed by its stream name and decoded in one pass, envelope and payload together. The wire
struct is then turned into the neutral event. The numbers themselves are validated where they become
integers (the book), so each string is read once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, NamedTuple, TypeVar

import msgspec

from actors.gateway.events import BookTicker, DepthDiff, DepthSnapshot, Level, Trade

VENUE = "binance"
W = TypeVar("W")


class ParseError(ValueError):
    """A frame that does not have the shape its type promises. Counted and dropped, never a crash."""


# ---------------------------------------------------------------- wire format (Binance field names)


class _Depth(msgspec.Struct, frozen=True, gc=False):
    s: str
    U: int
    u: int
    E: int
    b: tuple[Level, ...]
    a: tuple[Level, ...]
    pu: int = -1  # USDⓈ-M only


class _Snapshot(msgspec.Struct, frozen=True, gc=False):
    lastUpdateId: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    E: int = 0


class _Trade(msgspec.Struct, frozen=True, gc=False):
    s: str
    t: int
    p: str
    q: str
    m: bool
    T: int
    E: int


class _AggTrade(msgspec.Struct, frozen=True, gc=False):
    s: str
    a: int
    p: str
    q: str
    m: bool
    T: int
    E: int
    f: int
    l: int  # noqa: E741 (the wire's name)


class _BookTicker(msgspec.Struct, frozen=True, gc=False):
    s: str
    u: int
    b: str
    B: str
    a: str
    A: str
    E: int = 0  # USDⓈ-M only


class _Envelope(msgspec.Struct, Generic[W], gc=False):
    """A combined-stream frame whose payload type is known from its stream name: one decode, in C."""

    stream: str
    data: W


# ---------------------------------------------------------------- wire → event


def _depth(w: _Depth, recv_ns: int) -> DepthDiff:
    """``depthUpdate``; USDⓈ-M carries ``pu`` (previous final id), spot does not (-1)."""
    if w.u < w.U:
        raise ParseError(f"depthUpdate final id {w.u} below first id {w.U}")
    return DepthDiff(VENUE, w.s, w.U, w.u, w.pu, w.E, recv_ns, w.b, w.a)


def _trade(w: _Trade, recv_ns: int) -> Trade:
    return Trade(VENUE, w.s, w.t, w.p, w.q, w.m, w.T, w.E, recv_ns)


def _agg_trade(w: _AggTrade, recv_ns: int) -> Trade:
    return Trade(VENUE, w.s, w.a, w.p, w.q, w.m, w.T, w.E, recv_ns, w.f, w.l)


def _book_ticker(w: _BookTicker, recv_ns: int) -> BookTicker:
    """USDⓈ-M sends ``e``/``E``; spot's bookTicker has neither (event time 0)."""
    return BookTicker(VENUE, w.s, w.u, w.b, w.B, w.a, w.A, w.E, recv_ns)


class Route(NamedTuple):
    """How to turn one kind of market frame into its event: ``convert(decode_x(raw), recv_ns)``."""

    decode_payload: Callable[[bytes | str], Any]  # a bare payload (``/ws/<stream>``)
    decode_enveloped: Callable[[bytes | str], Any]  # a combined-stream frame; the payload is ``.data``
    convert: Callable[[Any, int], Any]

    def payload(self, raw: bytes | str, recv_ns: int) -> Any:
        return self.convert(self.decode_payload(raw), recv_ns)


def _route(wire: type, convert: Callable[[Any, int], Any]) -> Route:
    return Route(msgspec.json.Decoder(wire).decode, msgspec.json.Decoder(_Envelope[wire]).decode, convert)


DEPTH = _route(_Depth, _depth)
TRADE = _route(_Trade, _trade)
AGG_TRADE = _route(_AggTrade, _agg_trade)
BOOK_TICKER = _route(_BookTicker, _book_ticker)

# payload "e" → route, for frames that arrive without a stream name
BY_EVENT: dict[str, Route] = {"depthUpdate": DEPTH, "trade": TRADE, "aggTrade": AGG_TRADE,
                              "bookTicker": BOOK_TICKER}
_BY_SUFFIX: dict[str, Route] = {"trade": TRADE, "aggTrade": AGG_TRADE, "bookTicker": BOOK_TICKER}


def route_for_stream(stream: str) -> Route | None:
    """The route for a market stream name such as ``ethusdt@depth@0ms``; None if not a market stream."""
    at = stream.find("@")
    if at < 0:
        return None
    suffix = stream[at + 1 :]
    if suffix.startswith("depth") and not suffix[5:6].isdigit():
        return DEPTH  # partial-depth streams (depth5/10/20) are snapshots, not diffs: not handled
    return _BY_SUFFIX.get(suffix)


_decode_snapshot = msgspec.json.Decoder(_Snapshot).decode


def depth_snapshot(raw: bytes | str, symbol: str, recv_ns: int) -> DepthSnapshot:
    """REST ``/depth`` reply; it does not name its symbol, so the caller does."""
    w = _decode_snapshot(raw)
    return DepthSnapshot(VENUE, symbol, w.lastUpdateId, w.E, recv_ns, w.bids, w.asks)


def depth_diff(raw: bytes | str, recv_ns: int) -> DepthDiff:
    return DEPTH.payload(raw, recv_ns)


def trade(raw: bytes | str, recv_ns: int) -> Trade:
    return TRADE.payload(raw, recv_ns)


def agg_trade(raw: bytes | str, recv_ns: int) -> Trade:
    return AGG_TRADE.payload(raw, recv_ns)


def book_ticker(raw: bytes | str, recv_ns: int) -> BookTicker:
    return BOOK_TICKER.payload(raw, recv_ns)
