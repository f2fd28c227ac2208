"""Request-weight and order-count budget: slow down *before* Binance says 429, stop dead after it.

Pure and deterministic: every method takes ``now_ms`` (server-aligned milliseconds: Binance counts in fixed
windows aligned to its own clock). Not thread-safe by itself; the REST client holds a lock around it.

Accounting: each request reserves its weight (and order count) in the current window when it is allowed to
go; a response's ``X-MBX-USED-WEIGHT-1M`` / ``X-MBX-ORDER-COUNT-10S`` / ``-1M`` header raises the count when
the server saw more than we did (other processes on the same IP/account, requests we did not count). Only
``safety`` of each limit is ever used. A 429 puts the whole budget in back-off until Retry-After has passed;
a 418 bans it: every acquire refuses at once with ``BannedError`` until the ban ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from actors.gateway.binance.errors import BannedError, RateLimitedError

_INTERVAL_MS = {"SECOND": 1_000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}
_INTERVAL_LETTER = {"SECOND": "S", "MINUTE": "M", "HOUR": "H", "DAY": "D"}

DEFAULT_RETRY_AFTER_S = 60.0  # a 429 without Retry-After: sit out a whole minute window
DEFAULT_BAN_S = 300.0  # a 418 that names no end


@dataclass(frozen=True, slots=True)
class RateLimit:
    kind: str  # "REQUEST_WEIGHT" (per IP) or "ORDERS" (per account)
    interval_ms: int
    limit: int
    header: str  # lower-case response header carrying the server's count for this window

    @property
    def counts_orders(self) -> bool:
        return self.kind == "ORDERS"


def _limit(kind: str, interval: str, num: int, limit: int) -> RateLimit:
    prefix = "x-mbx-used-weight-" if kind == "REQUEST_WEIGHT" else "x-mbx-order-count-"
    header = f"{prefix}{num}{_INTERVAL_LETTER[interval]}".lower()
    return RateLimit(kind, _INTERVAL_MS[interval] * num, limit, header)


# Binance USDⓈ-M's usual limits, used until exchangeInfo has been read.
DEFAULT_LIMITS: tuple[RateLimit, ...] = (
    _limit("REQUEST_WEIGHT", "MINUTE", 1, 2400),
    _limit("ORDERS", "MINUTE", 1, 1200),
    _limit("ORDERS", "SECOND", 10, 300),
)


def parse_rate_limits(raw: Iterable[Mapping]) -> tuple[RateLimit, ...]:
    """``exchangeInfo.rateLimits`` → limits we enforce (REQUEST_WEIGHT and ORDERS; RAW_REQUESTS ignored)."""
    out = []
    for item in raw:
        kind = item.get("rateLimitType")
        if kind not in ("REQUEST_WEIGHT", "ORDERS"):
            continue
        interval, num, limit = item.get("interval"), item.get("intervalNum"), item.get("limit")
        ok = interval in _INTERVAL_MS and type(num) is int and type(limit) is int and num > 0 and limit > 0
        if not ok:
            raise ValueError(f"malformed rate limit: {dict(item)!r}")
        out.append(_limit(kind, interval, num, limit))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class LimitUsage:
    kind: str
    interval_ms: int
    used: int
    limit: int
    cap: int  # what we allow ourselves: limit x safety


@dataclass(frozen=True, slots=True)
class BudgetSnapshot:
    """Numbers for metrics."""

    usage: tuple[LimitUsage, ...]
    backoff_until_ms: int
    banned_until_ms: int
    rate_limited_count: int  # 429s received
    banned_count: int  # 418s received
    local_waits: int  # times acquire asked a caller to wait


class RateBudget:
    def __init__(self, limits: Sequence[RateLimit] = DEFAULT_LIMITS, safety: float = 0.85) -> None:
        if not 0.0 < safety <= 1.0:
            raise ValueError("safety must be in (0, 1]")
        self.safety = safety
        self._limits: tuple[RateLimit, ...] = ()
        self._win: dict[RateLimit, list[int]] = {}  # limit -> [window index, used]
        self.set_limits(limits)
        self.backoff_until_ms = 0
        self.orders_backoff_until_ms = 0  # -1015: new orders only; cancels and queries may still go
        self.banned_until_ms = 0
        self.rate_limited_count = 0
        self.banned_count = 0
        self.local_waits = 0

    def set_limits(self, limits: Sequence[RateLimit]) -> None:
        """Replace the limits (from exchangeInfo), keeping the counts of windows that match."""
        old = self._win
        self._limits = tuple(limits)
        self._win = {lim: old.get(lim, [-1, 0]) for lim in self._limits}

    @property
    def limits(self) -> tuple[RateLimit, ...]:
        return self._limits

    def cap(self, lim: RateLimit) -> int:
        return max(1, int(lim.limit * self.safety))

    def _used(self, lim: RateLimit, now_ms: int) -> list[int]:
        w = self._win[lim]
        idx = now_ms // lim.interval_ms
        if w[0] != idx:
            w[0], w[1] = idx, 0
        return w

    # ---- the decision
    def acquire(self, weight: int, orders: int, now_ms: int) -> int:
        """Milliseconds to wait before this request may go; 0 means it may go now and is counted.

        Raises ``BannedError`` while a 418 ban lasts: nothing may be sent, and waiting is the caller's call.
        """
        if now_ms < self.banned_until_ms:
            raise BannedError("IP banned (HTTP 418); nothing is sent until the ban ends",
                              until_ms=self.banned_until_ms, http_status=418)
        if now_ms < self.backoff_until_ms:
            self.local_waits += 1
            return self.backoff_until_ms - now_ms
        if orders > 0 and now_ms < self.orders_backoff_until_ms:
            self.local_waits += 1
            return self.orders_backoff_until_ms - now_ms
        wait = 0
        for lim in self._limits:
            need = orders if lim.counts_orders else weight
            if need <= 0:
                continue
            w = self._used(lim, now_ms)
            if w[1] > 0 and w[1] + need > self.cap(lim):  # an empty window always admits one request
                wait = max(wait, (w[0] + 1) * lim.interval_ms - now_ms)
        if wait > 0:
            self.local_waits += 1
            return wait
        for lim in self._limits:
            need = orders if lim.counts_orders else weight
            if need > 0:
                self._used(lim, now_ms)[1] += need
        return 0

    def check(self, now_ms: int) -> None:
        """Raise if nothing may be sent at all right now (ban, or 429 back-off)."""
        if now_ms < self.banned_until_ms:
            raise BannedError("IP banned (HTTP 418)", until_ms=self.banned_until_ms, http_status=418)
        if now_ms < self.backoff_until_ms:
            raise RateLimitedError("in 429 back-off", local=True,
                                   retry_after_s=(self.backoff_until_ms - now_ms) / 1000)

    # ---- what the server told us
    def on_response(self, headers: Mapping[str, str], sent_ms: int, now_ms: int) -> None:
        """Take the server's counts from a response when they are higher than ours (same window only)."""
        lower = {k.lower(): v for k, v in headers.items()}
        for lim in self._limits:
            raw = lower.get(lim.header)
            if raw is None:
                continue
            try:
                seen = int(raw)
            except (TypeError, ValueError):
                continue
            w = self._used(lim, now_ms)
            if sent_ms // lim.interval_ms == w[0] and seen > w[1]:
                w[1] = seen

    def on_rate_limited(self, retry_after_s: float | None, now_ms: int, *, orders_only: bool = False) -> int:
        """A 429: nothing is sent before Retry-After. Returns the back-off end.

        ``orders_only`` (-1015, the account's order count): only new orders wait; cancels must still be able
        to pull quotes, and they do not count against that limit.
        """
        self.rate_limited_count += 1
        wait_s = DEFAULT_RETRY_AFTER_S if retry_after_s is None or retry_after_s < 0 else retry_after_s
        end = now_ms + int(wait_s * 1000) + 1
        if orders_only:
            self.orders_backoff_until_ms = max(self.orders_backoff_until_ms, end)
            return self.orders_backoff_until_ms
        self.backoff_until_ms = max(self.backoff_until_ms, end)
        return self.backoff_until_ms

    def on_banned(self, until_ms: int | None, retry_after_s: float | None, now_ms: int) -> int:
        """A 418: banned until the named time (or Retry-After, or a default). Returns the ban end."""
        self.banned_count += 1
        if until_ms is None:
            until_ms = now_ms + int((retry_after_s if retry_after_s is not None else DEFAULT_BAN_S) * 1000)
        self.banned_until_ms = max(self.banned_until_ms, until_ms)
        self.backoff_until_ms = max(self.backoff_until_ms, self.banned_until_ms)
        return self.banned_until_ms

    def snapshot(self, now_ms: int) -> BudgetSnapshot:
        usage = tuple(
            LimitUsage(lim.kind, lim.interval_ms, self._used(lim, now_ms)[1], lim.limit, self.cap(lim))
            for lim in self._limits
        )
        return BudgetSnapshot(usage, self.backoff_until_ms, self.banned_until_ms, self.rate_limited_count,
                              self.banned_count, self.local_waits)
