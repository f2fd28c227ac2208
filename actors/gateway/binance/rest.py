"""Binance USDⓈ-M REST client: signed, rate-budgeted, retried, and idempotent by client order id.

Thin shell around the pure parts (``errors.classify``, ``RateBudget``, ``TimeSync``, the parsers):

* every attempt is built and signed afresh (a retry never re-sends a stale signed URL, lesson 9);
* every attempt first asks the budget; after a 429 nothing is sent until Retry-After has passed, and a
  418 makes every call refuse at once (a 418 cannot be earned by this client);
* -1021 resyncs the server time, re-signs and retries (lesson 5);
* a placement whose outcome is unknown (timeout, 5xx, -1007 after send) is looked up by its client order id
  before anything is re-sent: found → returned; -2013 → re-sent with the same id; a -4116 duplicate on the
  re-send means it exists → looked up. A cancel whose outcome is unknown is confirmed by a query.

Thread-safe: a lock guards the budget and the time offset; ``requests.Session``'s pool is shared.
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
import requests
import tenacity
import urllib3.exceptions as u3
from loguru import logger
from requests.adapters import HTTPAdapter

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
    Transport,
    UnknownStateError,
    ban_until_ms,
    classify,
    make_error,
)
from actors.gateway.binance.exchange_info import ExchangeInfo, parse_exchange_info
from actors.gateway.binance.ratelimit import BudgetSnapshot, RateBudget
from actors.gateway.binance.signing import Credentials, encode_params, format_value
from actors.gateway.binance.timesync import TimeSample, TimeSync
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


# ---------------------------------------------------------------- endpoints


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    weight: int  # request weight (per IP, per minute)
    orders: int = 0  # order count (per account, 10 s and 1 min)
    security: str = "SIGNED"  # NONE | API_KEY | SIGNED
    write: bool = False  # a non-idempotent write: an unknown outcome must be resolved, never retried blindly


PING = Endpoint("GET", "/fapi/v1/ping", 1, security="NONE")
TIME = Endpoint("GET", "/fapi/v1/time", 1, security="NONE")
EXCHANGE_INFO = Endpoint("GET", "/fapi/v1/exchangeInfo", 1, security="NONE")
DEPTH = Endpoint("GET", "/fapi/v1/depth", 20, security="NONE")
NEW_ORDER = Endpoint("POST", "/fapi/v1/order", 1, orders=1, write=True)
BATCH_ORDERS = Endpoint("POST", "/fapi/v1/batchOrders", 5, orders=5, write=True)
CANCEL_ORDER = Endpoint("DELETE", "/fapi/v1/order", 1, write=True)
CANCEL_ALL = Endpoint("DELETE", "/fapi/v1/allOpenOrders", 1)  # idempotent: safe to repeat
GET_ORDER = Endpoint("GET", "/fapi/v1/order", 1)
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


# ---------------------------------------------------------------- transport classification


def _connect_failed(exc: BaseException) -> bool:
    """True when the request never left (refused, DNS, connect timeout) as far as requests/urllib3 say."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, u3.NewConnectionError | u3.ConnectTimeoutError | ConnectionRefusedError):
            return True
        if isinstance(e, BaseException):
            stack += [getattr(e, "reason", None), e.__cause__, e.__context__]
            stack += [a for a in e.args if isinstance(a, BaseException)]
    return False


def transport_kind(exc: requests.RequestException) -> Transport:
    if isinstance(exc, requests.ConnectTimeout) or _connect_failed(exc):
        return Transport.NOT_SENT
    if isinstance(exc, requests.Timeout):
        return Transport.TIMEOUT
    return Transport.BROKEN


def _retry_after(headers: Any) -> float | None:
    raw = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------- the client


_BASE_HEADERS = {"User-Agent": "mm-engine/0.1", "Accept": "*/*", "Accept-Encoding": "gzip, deflate",
                 "Connection": "keep-alive"}
_BODY_METHODS = frozenset({"POST", "PUT", "DELETE"})


class _Adapter(HTTPAdapter):
    """requests' adapter with a hook at the last moment before the request goes to the socket (after signing
    and preparation): where tick-to-order latency ends."""

    def __init__(self, pre_send: Callable[[Any], None] | None, **kw: Any) -> None:
        super().__init__(**kw)
        self._pre_send = pre_send

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if self._pre_send is not None:
            self._pre_send(request)
        return super().send(request, *args, **kwargs)


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
        if session is None:
            session = requests.Session()
            # No proxy/netrc lookups from the environment on every request: they cost ~0.4 ms each, inside the
            # tick-to-order path. (A proxy, if ever needed, is set explicitly on the session.)
            session.trust_env = False
            adapter = _Adapter(pre_send, pool_connections=4, pool_maxsize=16, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self._session = session

    def __repr__(self) -> str:
        return f"BinanceRest({self.base_url!r})"

    # ---- lifecycle and metrics
    def close(self) -> None:
        """Interrupts every wait (they raise) and closes the pooled connections."""
        self._closed.set()
        self._session.close()

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

    def _send_once(self, ep: Endpoint, params: Iterable[tuple[str, object]], weight: int, orders: int,
                   deadline_ns: int, attempt: list[int], raw: bool = False) -> Any:
        """One signed (if needed), budgeted HTTP attempt: the decoded reply (or its bytes if ``raw``)."""
        attempt[0] += 1
        if ep.security == "SIGNED":
            self._maybe_sync_time()
        self._wait_for_budget(ep, weight, orders, deadline_ns)
        payload = encode_params(params)
        if ep.security == "SIGNED":
            with self._lock:
                ts = self._time.timestamp_ms(self._local_ms())
            auth = encode_params([("recvWindow", self.recv_window_ms), ("timestamp", ts)])
            payload = self._creds.signed(f"{payload}&{auth}" if payload else auth)
        req = self._prepare(ep, payload)
        with self._lock:
            sent_ms = self._server_ms_locked()
        t0 = self._clock.monotonic_ns()
        try:
            resp = self._session.get_adapter(req.url).send(req, timeout=self._timeout)
        except requests.RequestException as exc:
            latency = (self._clock.monotonic_ns() - t0) / 1e6
            kind = classify(None, None, transport_kind(exc), is_write=ep.write)
            msg = f"{type(exc).__name__}: {self._creds.scrub(str(exc))[:200]}"
            self._record(ep, None, latency, kind.value, None, attempt[0])
            raise make_error(kind, msg, endpoint=ep.path) from None
        latency = (self._clock.monotonic_ns() - t0) / 1e6
        with self._lock:
            now_ms = self._server_ms_locked()
            self._budget.on_response(resp.headers, sent_ms, now_ms)
        status = resp.status_code
        if status < 400 and raw:
            self._record(ep, status, latency, "ok", None, attempt[0])
            return resp.content
        if status < 400:
            try:
                body = orjson.loads(resp.content) if resp.content else {}
            except orjson.JSONDecodeError:
                kind = classify(500, None, is_write=ep.write)  # an answer we cannot read: as good as none
                self._record(ep, status, latency, kind.value, None, attempt[0])
                raise make_error(kind, f"unreadable {status} reply", http_status=status,
                                 endpoint=ep.path) from None
            self._record(ep, status, latency, "ok", None, attempt[0])
            return body
        code, msg = self._error_body(resp)
        kind = classify(status, code, is_write=ep.write)
        retry_after = _retry_after(resp.headers)
        ban_end = None
        with self._lock:
            if kind is ErrorKind.RATE_LIMITED:
                self._budget.on_rate_limited(retry_after, now_ms, orders_only=code in ORDER_RATE_CODES)
            elif kind is ErrorKind.BANNED:
                ban_end = self._budget.on_banned(ban_until_ms(msg), retry_after, now_ms)
            elif kind is ErrorKind.CLOCK_SKEW:
                self._time.invalidate()
        self._record(ep, status, latency, kind.value, code, attempt[0])
        if kind in (ErrorKind.RATE_LIMITED, ErrorKind.BANNED, ErrorKind.AUTH):
            logger.error("binance {} {}: http={} code={} {}", ep.method, ep.path, status, code, msg[:160])
        raise make_error(kind, msg, code=code, http_status=status, endpoint=ep.path,
                         retry_after_s=retry_after, ban_until=ban_end)

    def _prepare(self, ep: Endpoint, payload: str) -> requests.PreparedRequest:
        """The request, built directly rather than through ``Session.request``: its generic preparation
        (settings merges, URL re-parsing and re-quoting of a long signed query, character by character, three
        times over) cost about a millisecond inside the tick-to-order path. Our payload is already encoded
        (``encode_params``) and signed. Writes carry it as a form body, as Binance accepts for POST, PUT and
        DELETE (the signature covers the body), which also keeps it out of any URL a proxy or error logs."""
        req = requests.PreparedRequest()
        req.method = ep.method
        req.hooks = {"response": []}
        headers = dict(_BASE_HEADERS)
        if ep.security != "NONE":
            headers["X-MBX-APIKEY"] = self._creds.api_key
        if payload and ep.method in _BODY_METHODS:
            req.url = f"{self.base_url}{ep.path}"
            body = payload.encode("ascii")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Content-Length"] = str(len(body))
            req.body = body
        else:
            req.url = f"{self.base_url}{ep.path}?{payload}" if payload else f"{self.base_url}{ep.path}"
            req.body = None
            if ep.method in _BODY_METHODS:
                headers["Content-Length"] = "0"
        req.headers = requests.structures.CaseInsensitiveDict(headers)
        return req

    def _error_body(self, resp: requests.Response) -> tuple[int | None, str]:
        try:
            body = orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            body = None
        if isinstance(body, dict) and type(body.get("code")) is int:
            return body["code"], self._creds.scrub(str(body.get("msg", "")))[:300]
        return None, f"HTTP {resp.status_code} {self._creds.scrub(resp.text[:100])}".strip()

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
    def _retry_wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, BinanceError) and exc.kind in (ErrorKind.RATE_LIMITED, ErrorKind.CLOCK_SKEW):
            return 0.0  # the budget holds the next attempt until Retry-After; a resync needs no pause
        n = state.attempt_number
        return min(self._backoff_max_s, self._backoff_base_s * 2 ** (n - 1)) * self._rng.uniform(0.5, 1.0)

    def _retry_if(self, exc: BaseException) -> bool:
        if isinstance(exc, RateLimitedError) and exc.local:
            return False  # our own budget says past the deadline: give the caller the decision
        return isinstance(exc, BinanceError) and exc.kind in _RETRY_KINDS

    def _call(self, ep: Endpoint, params: Iterable[tuple[str, object]] = (), *, weight: int | None = None,
              orders: int | None = None, raw: bool = False) -> Any:
        params = list(params)
        deadline = self._clock.monotonic_ns() + self._max_total_ns

        def stop(state: tenacity.RetryCallState) -> bool:
            return (state.attempt_number >= self._max_attempts or self._clock.monotonic_ns() >= deadline
                    or self._closed.is_set())

        def before_sleep(state: tenacity.RetryCallState) -> None:
            self._count("retry")
            exc = state.outcome.exception() if state.outcome else None
            logger.debug("retrying {} {} after {}", ep.method, ep.path, exc)

        attempt = [0]
        retrying = tenacity.Retrying(stop=stop, wait=self._retry_wait,
                                     retry=tenacity.retry_if_exception(self._retry_if),
                                     sleep=self._sleep, before_sleep=before_sleep, reraise=True)
        return retrying(self._send_once, ep, params, ep.weight if weight is None else weight,
                        ep.orders if orders is None else orders, deadline, attempt, raw)

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
    def place_order(self, req: OrderRequest) -> OrderReport:
        """Place one order, exactly once as far as the exchange is concerned (see module docstring)."""
        params = req.params(self.stp_mode)
        last: BinanceError | None = None
        for n in range(self._max_resends + 1):
            try:
                return parse_order(self._call(NEW_ORDER, params))
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

    def place_batch(self, reqs: Sequence[OrderRequest]) -> list[OrderReport | BinanceError]:
        """Up to 5 orders in one request; one result per order, in order (a report or the error)."""
        if not 1 <= len(reqs) <= 5:
            raise ValueError("batchOrders takes 1 to 5 orders")
        items = [{k: format_value(v) for k, v in r.params(self.stp_mode)} for r in reqs]
        param = [("batchOrders", orjson.dumps(items).decode())]
        try:
            raw = self._call(BATCH_ORDERS, param, orders=len(reqs))
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
