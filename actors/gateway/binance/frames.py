"""Raw WebSocket frames → typed events, with every bad frame counted and none of them fatal.

Combined-stream frames (``{"stream": name, "data": {...}}``) are routed by stream name: the envelope is
decoded with ``data`` left as raw bytes, and the payload is decoded straight into its typed struct (see
``market_parse``). Raw frames (``/ws/<stream>``) are routed by the connection's stream name when it is
known, else by the payload's ``e``. User-data payloads and anything unusual go through a generic decode.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import msgspec
from loguru import logger

from actors.gateway.binance.market_parse import BOOK_TICKER, BY_EVENT, ParseError, route_for_stream

UserParser = Callable[[dict, int], Any]


class _Envelope(msgspec.Struct, gc=False):
    stream: str
    data: msgspec.Raw


class _Head(msgspec.Struct, gc=False):
    """Just enough of an unrouted frame to route it."""

    e: str | None = None
    stream: str | None = None
    id: int | str | None = None
    result: Any = None
    error: Any = None


_decode_envelope = msgspec.json.Decoder(_Envelope).decode
_decode_head = msgspec.json.Decoder(_Head).decode
_decode_any = msgspec.json.Decoder().decode

_USER_EVENTS = frozenset({"ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE", "listenKeyExpired"})
# Payloads we subscribe to only incidentally (or a venue adds): recognised, counted, not an error.
_IGNORED_EVENTS = frozenset({"TRADE_LITE", "ACCOUNT_CONFIG_UPDATE", "MARGIN_CALL", "STRATEGY_UPDATE",
                             "GRID_UPDATE", "CONDITIONAL_ORDER_TRIGGER_REJECT", "ALGO_UPDATE",
                             "markPriceUpdate", "kline", "24hrTicker", "forceOrder"})
_LOG_FIRST = 20  # per reason; after that one line every 1000 occurrences
_DECODE_ERRORS = (msgspec.DecodeError, ParseError, ValueError, TypeError)


def _malformed(raw: str | bytes) -> str:
    """``malformed:<stream kind>`` for a combined-stream frame, e.g. ``malformed:depth@0ms``."""
    text = raw[:80] if isinstance(raw, str) else bytes(raw[:80]).decode("ascii", "replace")
    return "malformed:" + text[11:text.find('"', 11)].partition("@")[2]


def _default_user_parser() -> UserParser:
    from actors.gateway.binance.account_parse import parse_user_event

    return parse_user_event


class FrameParser:
    """Stateless apart from its routing cache and counters; one per connection, so the counts say where
    trouble came from. ``stream`` names the stream of a raw (non-combined) connection."""

    def __init__(self, user_parser: UserParser | None = None, stream: str = "") -> None:
        self._user_parser = user_parser
        # stream name (as str, and as bytes for byte frames) → (decode, convert), for market streams only
        self._routes: dict[str | bytes, tuple[Callable[[Any], Any], Callable[[Any, int], Any]]] = {}
        self._raw_route = route_for_stream(stream) if stream else None
        self.counts: Counter[str] = Counter()  # "control", "ignored", "malformed:<why>", "unknown:<what>"

    def parse(self, raw: str | bytes, recv_ns: int) -> Any | None:
        """One event, or None for a frame that carries none (acks, ignored types, bad frames).

        Binance writes the stream name first; peeking at it routes a market frame to a decoder that reads
        envelope and payload in one pass. The peek is only a hint: the typed decode checks everything. This
        fast path is a handful of C calls per frame; everything else goes through ``_route``."""
        if type(raw) is str:
            if raw.startswith('{"stream":"'):
                route = self._routes.get(raw[11:raw.find('"', 11)])
                if route is not None:
                    try:
                        return route[1](route[0](raw).data, recv_ns)
                    except _DECODE_ERRORS as exc:
                        return self._bad(_malformed(raw), raw, str(exc))
        elif raw.startswith(b'{"stream":"'):
            route = self._routes.get(raw[11:raw.find(b'"', 11)])
            if route is not None:
                try:
                    return route[1](route[0](raw).data, recv_ns)
                except _DECODE_ERRORS as exc:
                    return self._bad(_malformed(raw), raw, str(exc))
        return self._route(raw, recv_ns)

    def _route(self, raw: str | bytes, recv_ns: int) -> Any | None:
        """A frame the fast path did not know: learn its stream's route, or route it by its payload."""
        head = '{"stream":"' if type(raw) is str else b'{"stream":"'
        if raw.startswith(head):  # type: ignore[arg-type]
            key = raw[11:raw.find('"' if type(raw) is str else b'"', 11)]  # type: ignore[arg-type]
            stream = key if type(key) is str else bytes(key).decode("ascii", "replace")
            r = route_for_stream(stream)
            if r is not None:
                self._routes[key] = (r.decode_enveloped, r.convert)
                return self.parse(raw, recv_ns)
            try:
                env = _decode_envelope(raw)
            except _DECODE_ERRORS as exc:
                return self._bad("malformed:envelope", raw, str(exc))
            return self._unrouted(env.data, recv_ns, raw)
        if self._raw_route is not None:
            try:
                return self._raw_route.payload(raw, recv_ns)
            except _DECODE_ERRORS as exc:
                return self._bad("malformed:payload", raw, str(exc))
        return self._unrouted(raw, recv_ns, raw)

    def _unrouted(self, payload: bytes | str | msgspec.Raw, recv_ns: int, raw: str | bytes) -> Any | None:
        """User data, subscription replies, raw frames of unknown streams: route by the payload itself."""
        if isinstance(payload, msgspec.Raw):
            payload = bytes(payload)
        try:
            head = _decode_head(payload)
        except msgspec.DecodeError as exc:
            return self._bad("malformed:json", raw, str(exc))
        e = head.e
        try:
            if e is None:
                if head.id is not None:
                    self.counts["control"] += 1
                    if head.error is not None:
                        logger.warning("stream request {} failed: {}", head.id, str(head.error)[:200])
                    return None
                if head.stream is not None:  # an envelope whose stream name we did not peek
                    return self._unrouted_envelope(payload, recv_ns, raw)
                if ('"B"' if isinstance(payload, str) else b'"B"') in payload:
                    return BOOK_TICKER.payload(payload, recv_ns)  # spot's bookTicker has no "e"
                return self._bad("unknown:no-event-type", raw)
            route = BY_EVENT.get(e)
            if route is not None:
                return route.payload(payload, recv_ns)
            if e in _USER_EVENTS:
                if self._user_parser is None:
                    self._user_parser = _default_user_parser()
                ev = self._user_parser(_decode_any(payload), recv_ns)
                if ev is None:
                    self.counts["ignored"] += 1
                return ev
            if e in _IGNORED_EVENTS:
                self.counts["ignored"] += 1
                return None
            return self._bad(f"unknown:{e[:40]}", raw)
        except (*_DECODE_ERRORS, KeyError, AttributeError) as exc:
            return self._bad(f"malformed:{e or 'payload'}", raw, str(exc))

    def _unrouted_envelope(self, payload: bytes | str, recv_ns: int, raw: str | bytes) -> Any | None:
        try:
            env = _decode_envelope(payload)
        except msgspec.DecodeError as exc:
            return self._bad("malformed:envelope", raw, str(exc))
        route = route_for_stream(env.stream)
        if route is None:
            return self._unrouted(env.data, recv_ns, raw)
        try:
            return route.payload(env.data, recv_ns)
        except _DECODE_ERRORS as exc:
            return self._bad(f"malformed:{env.stream.partition('@')[2]}", raw, str(exc))

    def _bad(self, reason: str, raw: str | bytes, detail: str = "") -> None:
        self.counts[reason] += 1
        n = self.counts[reason]
        if n <= _LOG_FIRST or n % 1000 == 0:
            text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "replace")
            logger.warning("dropped frame ({}, seen {}x): {} {}", reason, n, detail[:200], text[:200])
        return None

    @property
    def rejected(self) -> int:
        return sum(v for k, v in self.counts.items() if k.startswith(("malformed", "unknown")))
