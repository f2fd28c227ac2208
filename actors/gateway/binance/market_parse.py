"""Binance market-data payloads (already JSON-decoded) → typed events.

This is the hot path of the feed, so checks are inlined: the shape and the types of the scalar fields are
checked here (a missing or mistyped field raises ``ParseError``); price and quantity strings are validated
where they become integers (the book), so each string is read once.
"""

from __future__ import annotations

from actors.gateway.events import BookTicker, DepthDiff, DepthSnapshot, Level, Trade

VENUE = "binance"


class ParseError(ValueError):
    """A frame that does not have the shape its type promises. Counted and dropped, never a crash."""


_new = tuple.__new__  # builds a NamedTuple without its Python-level __new__: half the cost


def _levels(raw: object) -> tuple[Level, ...]:
    """The decoded pairs in an immutable outer tuple. The pairs themselves stay as decoded (converting
    70 of them per diff to tuples would double the cost of a diff); nothing writes to them, and the book
    rejects anything that is not two decimal strings."""
    if type(raw) is not list:
        raise ParseError(f"levels are not a list: {str(raw)[:80]}")
    return tuple(raw)


def _missing(kind: str, d: dict, fields: str) -> ParseError:
    gone = [f for f in fields.split() if f not in d]
    if gone:
        return ParseError(f"{kind} without field(s) {', '.join(gone)}")
    return ParseError(f"{kind} with a mistyped field: {str(d)[:160]}")


def depth_diff(d: dict, recv_ns: int) -> DepthDiff:
    """``depthUpdate``; USDⓈ-M carries ``pu`` (previous final id), spot does not (-1)."""
    try:
        s, first, last, ev, pu = d["s"], d["U"], d["u"], d["E"], d.get("pu", -1)
        bids, asks = d["b"], d["a"]
    except KeyError:
        raise _missing("depthUpdate", d, "s U u E b a") from None
    if not (type(s) is str and type(first) is int and type(last) is int and type(ev) is int
            and type(pu) is int):
        raise _missing("depthUpdate", d, "")
    if last < first:
        raise ParseError(f"depthUpdate final id {last} below first id {first}")
    return _new(DepthDiff, (VENUE, s, first, last, pu, ev, recv_ns, _levels(bids), _levels(asks)))


def depth_snapshot(d: dict, symbol: str, recv_ns: int) -> DepthSnapshot:
    """REST ``/depth`` reply; it does not name its symbol, so the caller does."""
    try:
        lid, ev, bids, asks = d["lastUpdateId"], d.get("E", 0), d["bids"], d["asks"]
    except KeyError:
        raise _missing("depth snapshot", d, "lastUpdateId bids asks") from None
    if type(lid) is not int or type(ev) is not int:
        raise _missing("depth snapshot", d, "")
    return _new(DepthSnapshot, (VENUE, symbol, lid, ev, recv_ns, _levels(bids), _levels(asks)))


def trade(d: dict, recv_ns: int) -> Trade:
    try:
        s, t, p, q, m, tt, ev = d["s"], d["t"], d["p"], d["q"], d["m"], d["T"], d["E"]
    except KeyError:
        raise _missing("trade", d, "s t p q m T E") from None
    if not (type(s) is str and type(t) is int and type(p) is str and type(q) is str and type(m) is bool
            and type(tt) is int and type(ev) is int):
        raise _missing("trade", d, "")
    return _new(Trade, (VENUE, s, t, p, q, m, tt, ev, recv_ns, -1, -1))


def agg_trade(d: dict, recv_ns: int) -> Trade:
    try:
        s, a, p, q, m, tt, ev, f, lt = d["s"], d["a"], d["p"], d["q"], d["m"], d["T"], d["E"], d["f"], d["l"]
    except KeyError:
        raise _missing("aggTrade", d, "s a p q m T E f l") from None
    if not (type(s) is str and type(a) is int and type(p) is str and type(q) is str and type(m) is bool
            and type(tt) is int and type(ev) is int and type(f) is int and type(lt) is int):
        raise _missing("aggTrade", d, "")
    return _new(Trade, (VENUE, s, a, p, q, m, tt, ev, recv_ns, f, lt))


def book_ticker(d: dict, recv_ns: int) -> BookTicker:
    """USDⓈ-M sends ``e``/``E``; spot's bookTicker has neither (event time 0)."""
    try:
        s, u, b, bq, a, aq, ev = d["s"], d["u"], d["b"], d["B"], d["a"], d["A"], d.get("E", 0)
    except KeyError:
        raise _missing("bookTicker", d, "s u b B a A") from None
    if not (type(s) is str and type(u) is int and type(b) is str and type(bq) is str and type(a) is str
            and type(aq) is str and type(ev) is int):
        raise _missing("bookTicker", d, "")
    return _new(BookTicker, (VENUE, s, u, b, bq, a, aq, ev, recv_ns))


MARKET_PARSERS = {
    "depthUpdate": depth_diff,
    "trade": trade,
    "aggTrade": agg_trade,
    "bookTicker": book_ticker,
}
