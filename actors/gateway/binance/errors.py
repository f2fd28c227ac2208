"""What a failed Binance request means, and therefore what may be done next, as data.

The decision (``classify``) is a pure function of the HTTP status, the Binance error code, how the transport
failed and whether the request was a write. The one distinction that keeps money safe: a write whose outcome
is unknown (timeout, 5xx, -1007 after it was sent) is never blindly re-sent; the order is looked up first.
"""

from __future__ import annotations

import re
from enum import Enum, StrEnum


class ErrorKind(StrEnum):
    RETRYABLE = "RETRYABLE"  # nothing happened (or a read): try again after a backoff
    RATE_LIMITED = "RATE_LIMITED"  # 429 / -1003 / -1015: wait Retry-After, then try again
    BANNED = "BANNED"  # 418: stop; nothing is sent until the ban ends
    CLOCK_SKEW = "CLOCK_SKEW"  # -1021: resync the server time, re-sign, try again
    UNKNOWN_STATE = "UNKNOWN_STATE"  # a write that may or may not have happened: look it up
    REJECTED = "REJECTED"  # a business rule said no; re-sending gives the same answer
    AUTH = "AUTH"  # key, signature or permissions: a human must act


class Transport(Enum):
    """How the transport failed, as far as the client can tell."""

    NOT_SENT = "not_sent"  # connect refused/timed out, DNS: the request never left
    TIMEOUT = "timeout"  # sent, no answer in time
    BROKEN = "broken"  # connection reset/aborted after the request may have been sent


# Codes with their own handling. Any other code on a 4xx answer is a REJECTED business error.
RATE_LIMIT_CODES = frozenset({-1003, -1015})
ORDER_RATE_CODES = frozenset({-1015})  # the account's order count, not the IP's weight
CLOCK_CODES = frozenset({-1021})
AUTH_CODES = frozenset({-1002, -1022, -2014, -2015})
# The server says it did not process the request (overload / throttled): safe to retry, also for writes.
NOT_PROCESSED_CODES = frozenset({-1008})
# The server does not know whether it executed the request.
UNKNOWN_CODES = frozenset({-1000, -1001, -1006, -1007})

# Well-known business rejections (documented; everything 4xx not listed elsewhere behaves the same).
REJECT_CODES = {
    -1102: "mandatory parameter missing or malformed",
    -1111: "precision over the maximum for this asset",
    -1116: "invalid order type",
    -1117: "invalid side",
    -1121: "invalid symbol",
    -1125: "listenKey does not exist",
    -2010: "new order rejected",
    -2011: "cancel rejected (unknown order)",
    -2013: "order does not exist",
    -2019: "margin insufficient",
    -2021: "order would immediately trigger",
    -2022: "reduce-only order rejected",
    -4014: "price not a multiple of the tick size",
    -4015: "client order id invalid",
    -4023: "quantity not a multiple of the step size",
    -4116: "client order id duplicated",
    -4164: "notional below the minimum",
    -5022: "post-only (GTX) order would take; not kept in the order history",
}
ORDER_ABSENT_CODES = frozenset({-2013})  # query: the order does not exist
CANCEL_UNKNOWN_CODES = frozenset({-2011})  # cancel: unknown order (already done, or never existed)
DUPLICATE_CLIENT_ID_CODES = frozenset({-4116})
LISTEN_KEY_GONE_CODES = frozenset({-1125})


def classify(
    http_status: int | None,
    code: int | None,
    transport: Transport | None = None,
    *,
    is_write: bool,
) -> ErrorKind:
    """The kind of one failed attempt. ``http_status`` is None when no answer arrived."""
    if transport is not None:
        if transport is Transport.NOT_SENT:
            return ErrorKind.RETRYABLE
        return ErrorKind.UNKNOWN_STATE if is_write else ErrorKind.RETRYABLE
    if http_status == 418:
        return ErrorKind.BANNED
    if http_status == 429 or code in RATE_LIMIT_CODES or http_status == 403:
        return ErrorKind.RATE_LIMITED  # 403 is the WAF limit: back off like a 429
    if code in CLOCK_CODES:
        return ErrorKind.CLOCK_SKEW
    if http_status == 401 or code in AUTH_CODES:
        return ErrorKind.AUTH
    if code in NOT_PROCESSED_CODES:
        return ErrorKind.RETRYABLE
    if code in UNKNOWN_CODES or http_status == 408 or (http_status is not None and http_status >= 500):
        return ErrorKind.UNKNOWN_STATE if is_write else ErrorKind.RETRYABLE
    return ErrorKind.REJECTED


_BAN_RE = re.compile(r"banned until (\d{10,})")


def ban_until_ms(msg: str) -> int | None:
    """The ban end Binance writes into a 418's message ("IP banned until 1659761931230.")."""
    m = _BAN_RE.search(msg or "")
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------- typed exceptions


class BinanceError(Exception):
    """A failed request. Carries what is needed to decide and to report, never a key, secret or query."""

    kind: ErrorKind = ErrorKind.REJECTED

    def __init__(
        self,
        msg: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        endpoint: str = "",
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(msg)
        self.msg = msg
        self.code = code
        self.http_status = http_status
        self.endpoint = endpoint
        self.retry_after_s = retry_after_s

    def __str__(self) -> str:
        parts = [self.kind.value, self.endpoint or "?"]
        if self.http_status is not None:
            parts.append(f"http={self.http_status}")
        if self.code is not None:
            parts.append(f"code={self.code}")
        return f"{' '.join(parts)}: {self.msg}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self!s})"


class RetryableError(BinanceError):
    kind = ErrorKind.RETRYABLE


class RateLimitedError(BinanceError):
    """The server said 429, or our own budget would make it say so (``local``: nothing was sent)."""

    kind = ErrorKind.RATE_LIMITED

    def __init__(self, msg: str, *, local: bool = False, **kw) -> None:
        super().__init__(msg, **kw)
        self.local = local


class BannedError(BinanceError):
    kind = ErrorKind.BANNED

    def __init__(self, msg: str, *, until_ms: int, **kw) -> None:
        super().__init__(msg, **kw)
        self.until_ms = until_ms


class ClockSkewError(BinanceError):
    kind = ErrorKind.CLOCK_SKEW


class UnknownStateError(BinanceError):
    """A write that may or may not have taken effect. The order must be looked up, never blindly re-sent."""

    kind = ErrorKind.UNKNOWN_STATE


class RejectedError(BinanceError):
    kind = ErrorKind.REJECTED


class OrderNotFoundError(RejectedError):
    """-2013 on a query (or -2011 on a cancel, once a query confirmed the order is unknown)."""


class DuplicateClientIdError(RejectedError):
    """-4116: an open order already has this client id."""


class AuthError(BinanceError):
    kind = ErrorKind.AUTH


_BY_KIND: dict[ErrorKind, type[BinanceError]] = {
    ErrorKind.RETRYABLE: RetryableError,
    ErrorKind.RATE_LIMITED: RateLimitedError,
    ErrorKind.BANNED: BannedError,
    ErrorKind.CLOCK_SKEW: ClockSkewError,
    ErrorKind.UNKNOWN_STATE: UnknownStateError,
    ErrorKind.REJECTED: RejectedError,
    ErrorKind.AUTH: AuthError,
}


def make_error(
    kind: ErrorKind,
    msg: str,
    *,
    code: int | None = None,
    http_status: int | None = None,
    endpoint: str = "",
    retry_after_s: float | None = None,
    ban_until: int | None = None,
) -> BinanceError:
    """The typed exception for a classified failure (with the finer REJECTED subtypes)."""
    kw = {"code": code, "http_status": http_status, "endpoint": endpoint, "retry_after_s": retry_after_s}
    if kind is ErrorKind.BANNED:
        return BannedError(msg, until_ms=ban_until or 0, **kw)
    if kind is ErrorKind.REJECTED:
        if code in ORDER_ABSENT_CODES:
            return OrderNotFoundError(msg, **kw)
        if code in DUPLICATE_CLIENT_ID_CODES:
            return DuplicateClientIdError(msg, **kw)
    return _BY_KIND[kind](msg, **kw)
