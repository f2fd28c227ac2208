"""Raw WebSocket frames → typed events, with every bad frame counted and none of them fatal.

Handles both the raw (``/ws/<stream>``) and the combined (``{"stream", "data"}``) envelopes, market and
user-data payloads, and subscription acknowledgements. JSON decoding uses orjson (see
docs/architecture.md for why).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson
from loguru import logger

from actors.gateway.binance.market_parse import MARKET_PARSERS, ParseError, book_ticker

UserParser = Callable[[dict, int], Any]

_MARKET: dict[Any, Callable[[dict, int], Any]] = dict(MARKET_PARSERS)
_USER_EVENTS = frozenset({"ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE", "listenKeyExpired"})
# Payloads we subscribe to only incidentally (or a venue adds): recognised, counted, not an error.
_IGNORED_EVENTS = frozenset({"TRADE_LITE", "ACCOUNT_CONFIG_UPDATE", "MARGIN_CALL", "STRATEGY_UPDATE",
                             "GRID_UPDATE", "CONDITIONAL_ORDER_TRIGGER_REJECT", "ALGO_UPDATE",
                             "markPriceUpdate", "kline", "24hrTicker", "forceOrder"})
_LOG_FIRST = 20  # per reason; after that one line every 1000 occurrences


def _default_user_parser() -> UserParser:
    from actors.gateway.binance.account_parse import parse_user_event

    return parse_user_event


class FrameParser:
    """Stateless apart from its counters; one per connection so the counts say where trouble came from."""

    def __init__(self, user_parser: UserParser | None = None) -> None:
        self._user_parser = user_parser
        self.ok = 0  # frames that became events
        self.counts: Counter[str] = Counter()  # "control", "ignored", "malformed:<why>", "unknown:<e>"

    def parse(self, raw: str | bytes, recv_ns: int) -> Any | None:
        """One event, or None for a frame that carries none (acks, ignored types, bad frames)."""
        try:
            msg = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return self._bad("malformed:json", raw)
        if type(msg) is not dict:
            return self._bad("malformed:not-an-object", raw)
        d = msg.get("data")
        if d is not None and "stream" in msg:
            if type(d) is not dict:
                return self._bad("malformed:data-not-an-object", raw)
            stream = msg["stream"]
        elif "id" in msg and ("result" in msg or "error" in msg):
            self.counts["control"] += 1
            if "error" in msg:
                logger.warning("stream request failed: {}", str(msg)[:200])
            return None
        else:
            d, stream = msg, ""
        e = d.get("e")
        try:
            parser = _MARKET.get(e)
            if parser is not None:
                ev = parser(d, recv_ns)
            elif e is None and (str(stream).endswith("@bookTicker") or ("u" in d and "B" in d and "A" in d)):
                ev = book_ticker(d, recv_ns)  # spot's bookTicker has no "e"
            elif e in _USER_EVENTS:
                if self._user_parser is None:
                    self._user_parser = _default_user_parser()
                ev = self._user_parser(d, recv_ns)
            elif e in _IGNORED_EVENTS:
                self.counts["ignored"] += 1
                return None
            else:
                return self._bad(f"unknown:{str(e)[:40]}", raw)
        except ParseError as exc:
            return self._bad("malformed:fields", raw, str(exc))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return self._bad("malformed:shape", raw, repr(exc))
        if ev is None:
            self.counts["ignored"] += 1
            return None
        self.ok += 1
        return ev

    def _bad(self, reason: str, raw: str | bytes, detail: str = "") -> None:
        self.counts[reason] += 1
        n = self.counts[reason]
        if n <= _LOG_FIRST or n % 1000 == 0:
            text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
            logger.warning("dropped frame ({}, seen {}x): {} {}", reason, n, detail, text[:200])
        return None

    @property
    def rejected(self) -> int:
        return sum(v for k, v in self.counts.items() if k.startswith(("malformed", "unknown")))
