"""Binance market-data frames → venue-neutral events.

The hot path of the whole feed. msgspec decodes each payload straight into a typed wire struct, in C:
types are checked (a price that is not a string, an id that is not an integer, a level that is not a pair
all fail the decode), and the level arrays arrive as tuples of string pairs with no Python loop. The wire
struct is then turned into the neutral event. The numbers themselves are validated where they become
integers (the book), so each string is read once.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from actors.gateway.events import BookTicker, DepthDiff, DepthSnapshot, Level, Trade

VENUE = "binance"


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


_decode_depth = msgspec.json.Decoder(_Depth).decode
_decode_snapshot = msgspec.json.Decoder(_Snapshot).decode
_decode_trade = msgspec.json.Decoder(_Trade).decode
_decode_agg = msgspec.json.Decoder(_AggTrade).decode
_decode_ticker = msgspec.json.Decoder(_BookTicker).decode


# ---------------------------------------------------------------- wire → event


def depth_diff(raw: bytes | str, recv_ns: int) -> DepthDiff:
    """``depthUpdate``; USDⓈ-M carries ``pu`` (previous final id), spot does not (-1)."""
    w = _decode_depth(raw)
    if w.u < w.U:
        raise ParseError(f"depthUpdate final id {w.u} below first id {w.U}")
    return DepthDiff(VENUE, w.s, w.U, w.u, w.pu, w.E, recv_ns, w.b, w.a)


def depth_snapshot(raw: bytes | str, symbol: str, recv_ns: int) -> DepthSnapshot:
    """REST ``/depth`` reply; it does not name its symbol, so the caller does."""
    w = _decode_snapshot(raw)
    return DepthSnapshot(VENUE, symbol, w.lastUpdateId, w.E, recv_ns, w.bids, w.asks)


def trade(raw: bytes | str, recv_ns: int) -> Trade:
    w = _decode_trade(raw)
    return Trade(VENUE, w.s, w.t, w.p, w.q, w.m, w.T, w.E, recv_ns)


def agg_trade(raw: bytes | str, recv_ns: int) -> Trade:
    w = _decode_agg(raw)
    return Trade(VENUE, w.s, w.a, w.p, w.q, w.m, w.T, w.E, recv_ns, w.f, w.l)


def book_ticker(raw: bytes | str, recv_ns: int) -> BookTicker:
    """USDⓈ-M sends ``e``/``E``; spot's bookTicker has neither (event time 0)."""
    w = _decode_ticker(raw)
    return BookTicker(VENUE, w.s, w.u, w.b, w.B, w.a, w.A, w.E, recv_ns)


MarketParser = Callable[[bytes | str, int], object]

# stream-name suffix (after the first "@") → parser; "depth", "depth@100ms", "depth20@100ms" all start so
_BY_SUFFIX: dict[str, MarketParser] = {
    "trade": trade,
    "aggTrade": agg_trade,
    "bookTicker": book_ticker,
}
# payload "e" → parser, for frames that arrive without a stream name
BY_EVENT: dict[str, MarketParser] = {
    "depthUpdate": depth_diff,
    "trade": trade,
    "aggTrade": agg_trade,
    "bookTicker": book_ticker,
}


def parser_for_stream(stream: str) -> MarketParser | None:
    """The parser for a market stream name such as ``ethusdt@depth@0ms``; None if not a market stream."""
    at = stream.find("@")
    if at < 0:
        return None
    suffix = stream[at + 1 :]
    if suffix.startswith("depth") and not suffix[5:6].isdigit():
        return depth_diff  # partial-depth streams (depth5/10/20) are snapshots, not diffs: not handled
    return _BY_SUFFIX.get(suffix)
