"""Binance USDⓈ-M REST client: signed, rate-budgeted, retried, and idempotent by client order id.

Thin shell around the pure parts (``errors.classify``, ``RateBudget``, ``TimeSync``, the parsers):

* every attempt is built and signed afresh (a retry never re-sends a stale signed URL, lesson 9);
* every attempt first asks the budget; after a 429 nothing is sent until Retry-After has passed, and a
  418 makes every call refuse at once (a 418 cannot be earned by this client);
* -1021 resyncs the server time, re-signs and retries (lesson 5);
* a placement whose outcome is unknown (timeout, 5xx, -1007 after send) is looked up by its client order id
  before anything is re-sent: found → returned; -2013 → re-sent with the same id; a -4116 duplicate on the
  re-send means it exists → looked up. A cancel whose outcome is unknown is confirmed by a query.

Transport: the order path (placements, cancels, order lookups) goes over ``wire.py``'s persistent stdlib
connections, everything else over requests (``session.py``); both fail with the same ``WireError``, so the
classification above them is one. A placement's first attempt can be written on the caller's thread
(``send_orders``) and its answer read, and the call completed, on another (``place_order(..., sent=)``).

Thread-safe: a lock guards the budget and the time offset; the connection pools are shared.
"""

from __future__ import annotations

import random
import re
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
import requests
from loguru import logger

from actors.clock import Clock, WallClock
from actors.gateway.binance.account_parse import (
    AccountSnapshot,
    ParseError,
    parse_account,
    parse_balances,
    parse_order,
    parse_orders,
    parse_position_risk,
    parse_user_trades,
)
from actors.gateway.binance.errors import (
    CANCEL_UNKNOWN_CODES,
    ORDER_RATE_CODES,
    BannedError,
    BinanceError,
    DuplicateClientIdError,
    ErrorKind,
    OrderNotFoundError,
    RateLimitedError,
    RejectedError,
    UnknownStateError,
    ban_until_ms,
    classify,
    make_error,
)
from actors.gateway.binance.exchange_info import ExchangeInfo, parse_exchange_info
from actors.gateway.binance.ratelimit import BudgetSnapshot, RateBudget
from actors.gateway.binance.session import exchange, new_session
from actors.gateway.binance.signing import Credentials, encode_params, format_value, quote_value
from actors.gateway.binance.timesync import TimeSample, TimeSync
from actors.gateway.binance.wire import InFlight, Reply, Wire, WireError
from actors.gateway.events import (
    BalanceReport,
    DepthSnapshot,
    Fill,
    OrderReport,
    OrderStatus,
    PositionReport,
    Side,
)

CLIENT_ID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
ORDER_TYPES = frozenset({"LIMIT", "MARKET"})
TIME_IN_FORCE = frozenset({"GTC", "IOC", "FOK", "GTX"})
STP_MODES = frozenset({"NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"})
TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED,
                      OrderStatus.EXPIRED_IN_MATCH})
_RETRY_KINDS = frozenset({ErrorKind.RETRYABLE, ErrorKind.RATE_LIMITED, ErrorKind.CLOCK_SKEW})
Params = list[tuple[str, object]] | str  # a request's parameters, or their encoding


# ---------------------------------------------------------------- endpoints


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    weight: int  # request weight (per IP, per minute)
    orders: int = 0  # order count (per account, 10 s and 1 min)
    security: str = "SIGNED"  # NONE | API_KEY | SIGNED
    write: bool = False  # a non-idempotent write: an unknown outcome must be resolved, never retried blindly
    hot: bool = False  # on the order path: sent over wire.py's persistent connections


PING = Endpoint("GET", "/fapi/v1/ping", 1, security="NONE")
TIME = Endpoint("GET", "/fapi/v1/time", 1, security="NONE")
EXCHANGE_INFO = Endpoint("GET", "/fapi/v1/exchangeInfo", 1, security="NONE")
DEPTH = Endpoint("GET", "/fapi/v1/depth", 20, security="NONE")
NEW_ORDER = Endpoint("POST", "/fapi/v1/order", 1, orders=1, write=True, hot=True)
BATCH_ORDERS = Endpoint("POST", "/fapi/v1/batchOrders", 5, orders=5, write=True, hot=True)
CANCEL_ORDER = Endpoint("DELETE", "/fapi/v1/order", 1, write=True, hot=True)
CANCEL_ALL = Endpoint("DELETE", "/fapi/v1/allOpenOrders", 1)  # idempotent: safe to repeat
GET_ORDER = Endpoint("GET", "/fapi/v1/order", 1, hot=True)
OPEN_ORDERS = Endpoint("GET", "/fapi/v1/openOrders", 1)
USER_TRADES = Endpoint("GET", "/fapi/v1/userTrades", 5)
POSITION_RISK = Endpoint("GET", "/fapi/v2/positionRisk", 5)
ACCOUNT = Endpoint("GET", "/fapi/v2/account", 5)
BALANCE = Endpoint("GET", "/fapi/v2/balance", 5)
LISTEN_KEY_NEW = Endpoint("POST", "/fapi/v1/listenKey", 1, security="API_KEY")
LISTEN_KEY_KEEP = Endpoint("PUT", "/fapi/v1/listenKey", 1, security="API_KEY")
LISTEN_KEY_DELETE = Endpoint("DELETE", "/fapi/v1/listenKey", 1, security="API_KEY")


def depth_weight(limit: int) -> int:
    """USDⓈ-M depth weight by limit (5/10/20/50: 2, 100: 5, 500: 10, 1000: 20)."""
    if limit <= 50:
        return 2
    if limit <= 100:
        return 5
    if limit <= 500:
        return 10
    return 20


# ---------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One order as the engine asks for it. Validated on construction; Decimal only, never floats."""

    symbol: str
    side: Side
    qty: Decimal
    client_order_id: str
    order_type: str = "LIMIT"
    price: Decimal | None = None
    time_in_force: str | None = "GTC"  # GTX is post-only
    reduce_only: bool = False
    stp_mode: str | None = None  # None: the client's configured mode

    def __post_init__(self) -> None:
        if not CLIENT_ID_RE.match(self.client_order_id):
            raise ValueError(f"client order id {self.client_order_id!r} is not {CLIENT_ID_RE.pattern}")
        if self.order_type not in ORDER_TYPES:
            raise ValueError(f"order type {self.order_type!r} not supported")
        if not isinstance(self.qty, Decimal) or not self.qty.is_finite() or self.qty <= 0:
            raise ValueError(f"quantity must be a positive Decimal, got {self.qty!r}")
        if self.order_type == "LIMIT":
            if not isinstance(self.price, Decimal) or not self.price.is_finite() or self.price <= 0:
                raise ValueError(f"a LIMIT order needs a positive Decimal price, got {self.price!r}")
            if self.time_in_force not in TIME_IN_FORCE:
                raise ValueError(f"time in force {self.time_in_force!r} not in {sorted(TIME_IN_FORCE)}")
        elif self.price is not None:
            raise ValueError("a MARKET order has no price")
        if self.stp_mode is not None and self.stp_mode not in STP_MODES:
            raise ValueError(f"self-trade prevention mode {self.stp_mode!r} not in {sorted(STP_MODES)}")

    def params(self, stp_mode: str) -> list[tuple[str, object]]:
        p: list[tuple[str, object]] = [("symbol", self.symbol), ("side", self.side.value),
                                       ("type", self.order_type), ("quantity", self.qty)]
        if self.order_type == "LIMIT":
            p += [("price", self.price), ("timeInForce", self.time_in_force)]
        if self.reduce_only:
            p.append(("reduceOnly", True))
        p += [("newClientOrderId", self.client_order_id),
              ("selfTradePreventionMode", self.stp_mode or stp_mode),
              ("newOrderRespType", "RESULT")]
        return p

    def query(self, stp_mode: str) -> str:
        """``encode_params(self.params(stp_mode))``, spelt out: the order path's own encoding (the values are
        validated, so only the symbol and the client id can need quoting), three times faster."""
        limit = (f"&price={format_value(self.price)}&timeInForce={self.time_in_force}"
                 if self.order_type == "LIMIT" else "")
        return (f"symbol={quote_value(self.symbol)}&side={self.side.value}&type={self.order_type}"
                f"&quantity={format_value(self.qty)}{limit}{'&reduceOnly=true' if self.reduce_only else ''}"
                f"&newClientOrderId={quote_value(self.client_order_id)}"
                f"&selfTradePreventionMode={self.stp_mode or stp_mode}&newOrderRespType=RESULT")


@dataclass(frozen=True, slots=True)
class RequestStat:
    """One HTTP attempt, for metrics (API latency, error rates)."""

    method: str
    path: str
    http_status: int | None
    latency_ms: float
    outcome: str  # "ok" or an ErrorKind value
    code: int | None
    attempt: int


# ---------------------------------------------------------------- attempts


def _retry_after(headers: dict[str, str]) -> float | None:
    raw = headers.get("retry-after")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------- the client


_USER_AGENT = "mm-engine/0.1"
_BASE_HEADERS = {"User-Agent": _USER_AGENT, "Accept": "*/*", "Accept-Encoding": "gzip, deflate",
                 "Connection": "keep-alive"}
_BODY_METHODS = frozenset({"POST", "PUT", "DELETE"})


class _Attempt:
    """One HTTP attempt begun: on the wire (its answer still to read), answered, or failed."""

    __slots__ = ("_error", "_flight", "_reply", "sent_ms", "t0_ns")

    def __init__(self, sent_ms: int, t0_ns: int, flight: InFlight | None = None, reply: Reply | None = None,
                 error: WireError | None = None) -> None:
        self.sent_ms = sent_ms
        self.t0_ns = t0_ns
        self._flight = flight
        self._reply = reply
        self._error = error

    def reply(self) -> Reply:
        """The answer (reading it if it is still on the wire); raises ``WireError``."""
        if self._error is not None:
            raise self._error
        if self._reply is None:
            assert self._flight is not None
            try:
                self._reply = self._flight.reply()
            except WireError as exc:
                self._error = exc
                raise
        return self._reply


class Sent:
    """The first attempt of a placement, already written (``BinanceRest.send_orders``): hand it to
    ``place_order`` (on any thread) to read its answer and finish the call."""

    __slots__ = ("attempt", "deadline_ns", "ep")

    def __init__(self, ep: Endpoint, deadline_ns: int, attempt: _Attempt) -> None:
        self.ep = ep
        self.deadline_ns = deadline_ns
        self.attempt = attempt


class BinanceRest:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_secret: str,
        *,
        clock: Clock | None = None,
        stp_mode: str = "EXPIRE_TAKER",
        recv_window_ms: int = 5_000,
        timeout_s: tuple[float, float] = (3.0, 10.0),
        max_attempts: int = 5,
        max_total_s: float = 20.0,
        backoff_base_s: float = 0.1,
        backoff_max_s: float = 5.0,
        max_resends: int = 2,
        lookup_delay_s: float = 0.2,
        rate_safety: float = 0.85,
        time_resync_s: float = 300.0,
        budget: RateBudget | None = None,
        session: requests.Session | None = None,
        on_request: Callable[[RequestStat], None] | None = None,
        pre_send: Callable[[Any], None] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        sleep: Callable[[float], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if stp_mode not in STP_MODES:
            raise ValueError(f"self-trade prevention mode {stp_mode!r} not in {sorted(STP_MODES)}")
        self.base_url = base_url.rstrip("/")
        self._creds = Credentials(api_key, api_secret)
        self._clock: Clock = clock or WallClock()
        self.stp_mode = stp_mode
        self.recv_window_ms = recv_window_ms
        self._timeout = timeout_s
        self._max_attempts = max_attempts
        self._max_total_ns = int(max_total_s * 1e9)
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._max_resends = max_resends
        self._lookup_delay_s = lookup_delay_s
        self._lock = threading.Lock()
        self._budget = budget or RateBudget(safety=rate_safety)
        self._time = TimeSync(resync_every_ms=int(time_resync_s * 1000))
        self._closed = threading.Event()
        self._sleep = sleep or self._interruptible_sleep
        self._rng = rng or random.Random()
        self._on_request = on_request
        self.counts: Counter[str] = Counter()  # "ok", error kinds, "retry", "resolved_unknown", ...
        self._pre_send = pre_send
        # the order path's own connections; an injected session (the tests' scripted transport) takes it all
        self._wire = Wire(self.base_url, connect_timeout_s=timeout_s[0], read_timeout_s=timeout_s[1],
                          ssl_context=ssl_context) if session is None else None
        self._session = session or new_session()
        self._hot_headers = {"User-Agent": _USER_AGENT, "Accept": "application/json",
                             "X-MBX-APIKEY": self._creds.api_key}
        self._heads: dict[Endpoint, bytes] = {}

    def __repr__(self) -> str:
        return f"BinanceRest({self.base_url!r})"

    # ---- lifecycle and metrics
    def close(self) -> None:
        """Interrupts every wait (they raise) and closes the pooled connections."""
        self._closed.set()
        self._session.close()
        if self._wire is not None:
            self._wire.close()

    def _interruptible_sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._closed.wait(seconds)

    def budget_snapshot(self) -> BudgetSnapshot:
        with self._lock:
            return self._budget.snapshot(self._server_ms_locked())

    @property
    def time_offset_ms(self) -> int:
        with self._lock:
            return self._time.offset_ms

    def _local_ms(self) -> int:
        return self._clock.time_ns() // 1_000_000

    def _server_ms_locked(self) -> int:
        return self._time.server_ms(self._local_ms())

    # ---- one attempt
    def _wait_for_budget(self, ep: Endpoint, weight: int, orders: int, deadline_ns: int) -> None:
        while True:
            if self._closed.is_set():
                raise RuntimeError("BinanceRest is closed")
            with self._lock:
                wait_ms = self._budget.acquire(weight, orders, self._server_ms_locked())  # may raise Banned
            if wait_ms <= 0:
                return
            remaining_ns = deadline_ns - self._clock.monotonic_ns()
            if wait_ms * 1_000_000 > remaining_ns:
                self._count("budget_refused")
                raise RateLimitedError(f"rate budget: next slot in {wait_ms} ms, past this call's deadline",
                                       local=True, endpoint=ep.path, retry_after_s=wait_ms / 1000)
            self._count("budget_wait")
            self._sleep(wait_ms / 1000)

    def _maybe_sync_time(self) -> None:
        with self._lock:
            due = self._time.needs_sync(self._local_ms())
        if due:
            try:
                self.sync_time()
            except BannedError:
                raise
            except BinanceError as exc:  # sign with what we have; a -1021 will bring us back here
                logger.warning("server time sync failed: {}", exc)

    def _begin(self, ep: Endpoint, params: Params, weight: int, orders: int, deadline_ns: int) -> _Attempt:
        """One attempt sent (signed if needed, budgeted), waiting for the budget and the time sync as needed."""
        if ep.security == "SIGNED":
            self._maybe_sync_time()
        self._wait_for_budget(ep, weight, orders, deadline_ns)
        if ep.hot and self._wire is not None:
            try:
                conn = self._wire.take()
            except WireError as exc:  # could not connect: nothing was sent
                return _Attempt(self._server_ms(), self._clock.monotonic_ns(), error=exc)
            return self._write(ep, params, conn)
        payload = self._payload(ep, params)
        headers = dict(_BASE_HEADERS)
        if ep.security != "NONE":
            headers["X-MBX-APIKEY"] = self._creds.api_key
        if payload and ep.method in _BODY_METHODS:
            url, body = f"{self.base_url}{ep.path}", payload.encode("ascii")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            url = f"{self.base_url}{ep.path}?{payload}" if payload else f"{self.base_url}{ep.path}"
            body = b"" if ep.method in _BODY_METHODS else None
        sent_ms = self._server_ms()
        self._before_write(ep)
        t0 = self._clock.monotonic_ns()
        try:
            return _Attempt(sent_ms, t0, reply=exchange(self._session, ep.method, url, headers, body, self._timeout))
        except WireError as exc:
            return _Attempt(sent_ms, t0, error=exc)

    def _write(self, ep: Endpoint, params: Params, conn: Any) -> _Attempt:
        """Sign and write one attempt on a connection of the order path (``conn`` from ``Wire.take``)."""
        try:
            data = self._request_bytes(ep, params)
        except BaseException:
            self._wire.put_back(conn)  # type: ignore[union-attr]
            raise
        return self._send_bytes(ep, data, conn)

    def _request_bytes(self, ep: Endpoint, params: Params) -> bytes:
        """The signed request for the order path. Writes carry the signed payload as a form body (Binance
        accepts it for POST, PUT and DELETE; the signature covers it), which also keeps it out of any URL a
        proxy or an error log might show."""
        assert self._wire is not None
        payload = self._payload(ep, params)
        if payload and ep.method in _BODY_METHODS:
            head = self._heads.get(ep)
            if head is None:  # the request line and headers of a write never change: built once
                head = self._heads[ep] = self._wire.head(ep.method, ep.path, {
                    **self._hot_headers, "Content-Type": "application/x-www-form-urlencoded"})
            body = payload.encode("ascii")
            return b"%sContent-Length: %d\r\n\r\n%s" % (head, len(body), body)
        target = f"{ep.path}?{payload}" if payload else ep.path
        return self._wire.request_bytes(ep.method, target, self._hot_headers,
                                        b"" if ep.method in _BODY_METHODS else None)

    def _send_bytes(self, ep: Endpoint, data: bytes, conn: Any, hook: bool = True) -> _Attempt:
        assert self._wire is not None
        sent_ms = self._server_ms()
        if hook:
            self._before_write(ep)
        t0 = self._clock.monotonic_ns()
        return _Attempt(sent_ms, t0, flight=self._wire.send(conn, ep.method, data))

    def _payload(self, ep: Endpoint, params: Params) -> str:
        payload = params if isinstance(params, str) else encode_params(params)
        if ep.security == "SIGNED":
            with self._lock:
                ts = self._time.timestamp_ms(self._local_ms())
            auth = f"recvWindow={self.recv_window_ms}&timestamp={ts}"  # two integers: nothing to quote
            payload = self._creds.signed(f"{payload}&{auth}" if payload else auth)
        return payload

    def _server_ms(self) -> int:
        with self._lock:
            return self._server_ms_locked()

    def _before_write(self, ep: Endpoint) -> None:
        """The latency hook, right before the request's bytes go to the socket: where tick-to-order ends."""
        if self._pre_send is not None:
            try:
                self._pre_send(ep)
            except Exception:  # a metrics bug must not fail an order
                logger.exception("pre_send hook failed")

    def _finish(self, ep: Endpoint, att: _Attempt, attempt: int, raw: bool = False) -> Any:
        """The answer to one attempt, classified: the decoded reply (its bytes if ``raw``), or the error."""
        try:
            reply = att.reply()
        except WireError as exc:
            latency = (self._clock.monotonic_ns() - att.t0_ns) / 1e6
            kind = classify(None, None, exc.transport, is_write=ep.write)
            self._record(ep, None, latency, kind.value, None, attempt)
            raise make_error(kind, self._creds.scrub(str(exc))[:250], endpoint=ep.path) from None
        latency = (self._clock.monotonic_ns() - att.t0_ns) / 1e6
        with self._lock:
            now_ms = self._server_ms_locked()
            self._budget.on_response(reply.headers, att.sent_ms, now_ms)
        status = reply.status
        if status < 400 and raw:
            self._record(ep, status, latency, "ok", None, attempt)
            return reply.body
        if status < 400:
            try:
                body = orjson.loads(reply.body) if reply.body else {}
            except orjson.JSONDecodeError:
                kind = classify(500, None, is_write=ep.write)  # an answer we cannot read: as good as none
                self._record(ep, status, latency, kind.value, None, attempt)
                raise make_error(kind, f"unreadable {status} reply", http_status=status,
                                 endpoint=ep.path) from None
            self._record(ep, status, latency, "ok", None, attempt)
            return body
        code, msg = self._error_body(reply)
        kind = classify(status, code, is_write=ep.write)
        retry_after = _retry_after(reply.headers)
        ban_end = None
        with self._lock:
            if kind is ErrorKind.RATE_LIMITED:
                self._budget.on_rate_limited(retry_after, now_ms, orders_only=code in ORDER_RATE_CODES)
            elif kind is ErrorKind.BANNED:
                ban_end = self._budget.on_banned(ban_until_ms(msg), retry_after, now_ms)
            elif kind is ErrorKind.CLOCK_SKEW:
                self._time.invalidate()
        self._record(ep, status, latency, kind.value, code, attempt)
        if kind in (ErrorKind.RATE_LIMITED, ErrorKind.BANNED, ErrorKind.AUTH):
            logger.error("binance {} {}: http={} code={} {}", ep.method, ep.path, status, code, msg[:160])
        raise make_error(kind, msg, code=code, http_status=status, endpoint=ep.path,
                         retry_after_s=retry_after, ban_until=ban_end)

    def _error_body(self, reply: Reply) -> tuple[int | None, str]:
        try:
            body = orjson.loads(reply.body)
        except orjson.JSONDecodeError:
            body = None
        if isinstance(body, dict) and type(body.get("code")) is int:
            return body["code"], self._creds.scrub(str(body.get("msg", "")))[:300]
        text = reply.body[:100].decode("utf-8", "replace")
        return None, f"HTTP {reply.status} {self._creds.scrub(text)}".strip()

    def _count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    def _record(self, ep: Endpoint, status: int | None, latency_ms: float, outcome: str, code: int | None,
                attempt: int) -> None:
        self._count(outcome)
        if self._on_request is not None:
            try:
                self._on_request(RequestStat(ep.method, ep.path, status, latency_ms, outcome, code, attempt))
            except Exception:  # a metrics bug must not fail an order
                logger.exception("on_request callback failed")

    # ---- one logical call, retried
    def _retry_wait(self, exc: BaseException, attempt: int) -> float:
        if isinstance(exc, BinanceError) and exc.kind in (ErrorKind.RATE_LIMITED, ErrorKind.CLOCK_SKEW):
            return 0.0  # the budget holds the next attempt until Retry-After; a resync needs no pause
        return min(self._backoff_max_s, self._backoff_base_s * 2 ** (attempt - 1)) * self._rng.uniform(0.5, 1.0)

    def _retry_if(self, exc: BaseException) -> bool:
        if isinstance(exc, RateLimitedError) and exc.local:
            return False  # our own budget says past the deadline: give the caller the decision
        return isinstance(exc, BinanceError) and exc.kind in _RETRY_KINDS

    def _call(self, ep: Endpoint, params: Iterable[tuple[str, object]] | str = (), *, weight: int | None = None,
              orders: int | None = None, raw: bool = False, first: Sent | None = None) -> Any:
        """One logical call: attempts until one is answered, one fails for good, ``max_attempts`` were made,
        the deadline passed or the client closed. ``first``: the first attempt, already written.
        (A plain loop: tenacity's machinery cost ~70 µs per call on the order path.)"""
        params = params if isinstance(params, str) else list(params)  # a str: already encoded
        weight = ep.weight if weight is None else weight
        orders = ep.orders if orders is None else orders
        if first is not None:
            if first.ep is not ep:
                raise ValueError(f"a first attempt of {first.ep.path} given to a call of {ep.path}")
            deadline, pending = first.deadline_ns, first.attempt
        else:
            deadline, pending = self._clock.monotonic_ns() + self._max_total_ns, None
        n = 0
        while True:
            n += 1
            att, pending = pending or self._begin(ep, params, weight, orders, deadline), None
            try:
                return self._finish(ep, att, n, raw)
            except BaseException as exc:
                if (not self._retry_if(exc) or n >= self._max_attempts or self._clock.monotonic_ns() >= deadline
                        or self._closed.is_set()):
                    raise
                wait = self._retry_wait(exc, n)
                self._count("retry")
                logger.debug("retrying {} {} after {}", ep.method, ep.path, exc)
                self._sleep(wait)

    def idle_order_connections(self) -> int:
        return self._wire.idle() if self._wire is not None else 0

    def warm(self, n: int) -> None:
        """Keep ``n`` connections of the order path open and idle, for ``send_orders`` (which never connects:
        that is a round trip, and a TLS handshake on the real exchange). Connects on this thread."""
        if self._wire is None or self._closed.is_set() or self._wire.idle() >= n:
            return
        try:
            self._wire.fill(n)
        except WireError as exc:
            logger.debug("could not open an order connection: {}", exc)

    def send_orders(self, reqs: Sequence[OrderRequest]) -> list[Sent] | None:
        """The first attempt of ``place_order`` for each order written now, on this thread, one request per
        order on an idle open connection of its own (so they travel together, and a pair costs 2 of the
        10-second order count where a batch costs 5), if nothing has to wait: enough open connections, the
        rate budget free, the server time fresh, no ban. Hand each result to ``place_order(req, sent=)``, on
        any thread, to read the answer and finish the call exactly as if it had made the attempt itself.
        None: nothing was sent nor counted. Never raises (a request that cannot be built is the usual call's
        to report). The latency hook runs once, right before the last request is written."""
        wire = self._wire
        if wire is None or not 1 <= len(reqs) <= 5 or self._closed.is_set():
            return None
        conns: list[Any] = []
        try:
            params = [r.query(self.stp_mode) for r in reqs]
            conns = wire.take_idle(len(reqs)) or []
            go = bool(conns)
            if go:
                with self._lock:
                    go = not self._time.needs_sync(self._local_ms())
            # every request built and signed before the budget counts them and the first is written
            data = [self._request_bytes(NEW_ORDER, p) for p in params] if go else []
            if go:
                with self._lock:
                    go = not self._budget.acquire(NEW_ORDER.weight * len(reqs), NEW_ORDER.orders * len(reqs),
                                                  self._server_ms_locked())
        except (WireError, BannedError, ValueError, TypeError):
            go = False
        if not go:
            for conn in conns:
                wire.put_back(conn)
            return None
        deadline = self._clock.monotonic_ns() + self._max_total_ns
        last = len(reqs) - 1
        return [Sent(NEW_ORDER, deadline, self._send_bytes(NEW_ORDER, d, c, hook=i == last))
                for i, (d, c) in enumerate(zip(data, conns, strict=True))]

    # ---- public, market and time
    def ping(self) -> None:
        self._call(PING)

    def server_time(self) -> int:
        body = self._call(TIME)
        t = body.get("serverTime") if isinstance(body, dict) else None
        if type(t) is not int:
            raise ParseError(f"no serverTime in {str(body)[:80]}")
        return t

    def sync_time(self) -> TimeSample:
        """Measure the server-time offset once (midpoint of the round trip)."""
        before = self._local_ms()
        server = self.server_time()
        after = self._local_ms()
        with self._lock:
            sample = self._time.add_sample(before, server, after)
        if abs(sample.offset_ms) > 1000:
            logger.warning("local clock is {} ms off the server's; timestamps corrected", -sample.offset_ms)
        return sample

    def exchange_info(self) -> ExchangeInfo:
        """Instruments and rate limits; the budget adopts the limits."""
        info = parse_exchange_info(self._call(EXCHANGE_INFO))
        if info.rate_limits:
            with self._lock:
                self._budget.set_limits(info.rate_limits)
        return info

    def depth(self, symbol: str, limit: int = 1000) -> DepthSnapshot:
        from actors.gateway.binance.market_parse import depth_snapshot

        body = self._call(DEPTH, [("symbol", symbol), ("limit", limit)], weight=depth_weight(limit), raw=True)
        return depth_snapshot(body, symbol, self._clock.time_ns())  # the feed parser decodes the bytes itself

    # ---- orders
    def place_order(self, req: OrderRequest, *, sent: Sent | None = None) -> OrderReport:
        """Place one order, exactly once as far as the exchange is concerned (see module docstring).
        ``sent``: its first attempt, already written by ``send_orders``."""
        params = req.query(self.stp_mode)
        last: BinanceError | None = None
        for n in range(self._max_resends + 1):
            try:
                return parse_order(self._call(NEW_ORDER, params, first=sent if n == 0 else None))
            except DuplicateClientIdError as exc:
                return self._existing(req, exc, resent=n > 0)
            except UnknownStateError as exc:
                last = exc
                found = self._resolve_unknown(req.symbol, req.client_order_id, exc)
                if found is not None:
                    return found
                logger.warning("order {} absent after an unknown outcome; re-sending with the same id",
                               req.client_order_id)
        raise UnknownStateError(f"placement of {req.client_order_id} still unknown after {self._max_resends} "
                                "re-sends", endpoint=NEW_ORDER.path, code=last.code if last else None)

    def _resolve_unknown(self, symbol: str, client_order_id: str, cause: BinanceError) -> OrderReport | None:
        """After an unknown outcome: the order if it exists, None if the exchange says it does not."""
        self._count("unknown_state")
        self._sleep(self._lookup_delay_s)
        try:
            report = self.get_order(symbol, client_order_id=client_order_id)
        except OrderNotFoundError:
            return None
        except BinanceError as exc:
            raise UnknownStateError(f"outcome unknown ({cause.msg}) and the lookup failed: {exc}",
                                    endpoint=cause.endpoint, http_status=cause.http_status) from exc
        self._count("resolved_unknown")
        return report

    def _existing(self, req: OrderRequest, dup: DuplicateClientIdError, *, resent: bool) -> OrderReport:
        """-4116: an order with this client id is open. Ours if we re-sent, or if it is the same order."""
        try:
            report = self.get_order(req.symbol, client_order_id=req.client_order_id)
        except OrderNotFoundError:
            raise dup from None
        same = (report.side is req.side and report.orig_qty == req.qty
                and (req.price is None or report.price == req.price))
        if not resent and not same:
            raise dup
        return report

    def _batch_params(self, reqs: Sequence[OrderRequest]) -> list[tuple[str, object]]:
        items = [{k: format_value(v) for k, v in r.params(self.stp_mode)} for r in reqs]
        return [("batchOrders", orjson.dumps(items).decode())]

    def place_batch(self, reqs: Sequence[OrderRequest]) -> list[OrderReport | BinanceError]:
        """Up to 5 orders in one request; one result per order, in order (a report or the error)."""
        if not 1 <= len(reqs) <= 5:
            raise ValueError("batchOrders takes 1 to 5 orders")
        try:
            raw = self._call(BATCH_ORDERS, self._batch_params(reqs), orders=len(reqs))
        except UnknownStateError:
            return [self._settle(r) for r in reqs]
        if not isinstance(raw, list) or len(raw) != len(reqs):
            logger.error("batchOrders reply of unexpected shape; resolving each order")
            return [self._settle(r) for r in reqs]
        out: list[OrderReport | BinanceError] = []
        for req, item in zip(reqs, raw, strict=True):
            if isinstance(item, dict) and "orderId" in item:
                out.append(parse_order(item))
                continue
            code = item.get("code") if isinstance(item, dict) else None
            msg = str(item.get("msg", "")) if isinstance(item, dict) else "malformed batch item"
            kind = classify(400, code if type(code) is int else None, is_write=True)
            err = make_error(kind, msg, code=code if type(code) is int else None, endpoint=BATCH_ORDERS.path)
            if isinstance(err, DuplicateClientIdError):
                try:
                    out.append(self._existing(req, err, resent=False))
                except BinanceError as exc:
                    out.append(exc)
            elif kind in (ErrorKind.UNKNOWN_STATE, ErrorKind.RETRYABLE, ErrorKind.CLOCK_SKEW):
                out.append(self._settle(req))
            else:
                out.append(err)
        return out

    def _settle(self, req: OrderRequest) -> OrderReport | BinanceError:
        """One order of a batch whose fate is unknown: look it up; if absent, place it alone."""
        try:
            cause = UnknownStateError("batch outcome unknown", endpoint=BATCH_ORDERS.path)
            found = self._resolve_unknown(req.symbol, req.client_order_id, cause)
            return found if found is not None else self.place_order(req)
        except BinanceError as exc:
            return exc

    @staticmethod
    def _ref(symbol: str, client_order_id: str | None, order_id: int | None) -> list[tuple[str, object]]:
        if (client_order_id is None) == (order_id is None):
            raise ValueError("give exactly one of client_order_id and order_id")
        if order_id is not None:
            return [("symbol", symbol), ("orderId", order_id)]
        return [("symbol", symbol), ("origClientOrderId", client_order_id)]

    def get_order(self, symbol: str, *, client_order_id: str | None = None,
                  order_id: int | None = None) -> OrderReport:
        """Raises OrderNotFoundError (-2013) when the exchange does not know the order."""
        return parse_order(self._call(GET_ORDER, self._ref(symbol, client_order_id, order_id)))

    def cancel_order(self, symbol: str, *, client_order_id: str | None = None,
                     order_id: int | None = None) -> OrderReport:
        """Cancel and confirm. Returns the order's final report (CANCELED, or FILLED/EXPIRED if it ended
        first). Raises OrderNotFoundError if the exchange has no such order."""
        ref = self._ref(symbol, client_order_id, order_id)
        for _ in range(self._max_resends + 1):
            try:
                return parse_order(self._call(CANCEL_ORDER, ref))
            except UnknownStateError:
                pass
            except RejectedError as exc:
                if exc.code not in CANCEL_UNKNOWN_CODES:
                    raise
            self._count("cancel_confirm")
            try:
                report = self.get_order(symbol, client_order_id=client_order_id, order_id=order_id)
            except OrderNotFoundError:
                raise
            except BinanceError as exc:
                raise UnknownStateError(f"cancel outcome unknown and the lookup failed: {exc}",
                                        endpoint=CANCEL_ORDER.path) from exc
            if report.status in TERMINAL:
                return report
        raise UnknownStateError("cancel not confirmed: the order is still open", endpoint=CANCEL_ORDER.path)

    def cancel_all(self, symbol: str, *, confirm_rounds: int = 3) -> list[OrderReport]:
        """Cancel every open order of the symbol, then confirm. Returns what is still open (empty = done)."""
        remaining: list[OrderReport] = []
        for _ in range(max(1, confirm_rounds)):
            self._call(CANCEL_ALL, [("symbol", symbol)])
            remaining = self.open_orders(symbol)
            if not remaining:
                return []
        return remaining

    def open_orders(self, symbol: str) -> list[OrderReport]:
        return parse_orders(self._call(OPEN_ORDERS, [("symbol", symbol)]))

    # ---- account
    def user_trades(self, symbol: str, *, from_id: int | None = None, start_time_ms: int | None = None,
                    end_time_ms: int | None = None, limit: int = 500) -> list[Fill]:
        params = [("symbol", symbol), ("fromId", from_id), ("startTime", start_time_ms),
                  ("endTime", end_time_ms), ("limit", limit)]
        return parse_user_trades(self._call(USER_TRADES, [(k, v) for k, v in params if v is not None]))

    def position_risk(self, symbol: str | None = None) -> list[PositionReport]:
        return parse_position_risk(self._call(POSITION_RISK, [("symbol", symbol)] if symbol else []))

    def account(self) -> AccountSnapshot:
        return parse_account(self._call(ACCOUNT))

    def balance(self) -> list[BalanceReport]:
        return parse_balances(self._call(BALANCE))

    # ---- user stream
    def listen_key_create(self) -> str:
        body = self._call(LISTEN_KEY_NEW)
        key = body.get("listenKey") if isinstance(body, dict) else None
        if not isinstance(key, str) or not key:
            raise ParseError("listenKey reply without a key")
        return key

    def listen_key_keepalive(self) -> None:
        """Raises RejectedError with code -1125 when the key no longer exists (then create a new one)."""
        self._call(LISTEN_KEY_KEEP)

    def listen_key_delete(self) -> None:
        self._call(LISTEN_KEY_DELETE)
