"""The REST API: Binance USDⓈ-M paths, weights, security types, headers and error replies, plus the
unsigned ``/admin/*`` test endpoints. Handlers are thin: parse parameters, call the exchange core, shape
the reply. Rate limits and REST faults are applied here, before and after the core runs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from loguru import logger

from simex import errors
from simex.errors import ApiError
from simex.faults import FaultError
from simex.httpserver import Request, Response
from simex.signing import params_of, total_params, verify
from simex.validate import parse_int, parse_order, spec_for

if TYPE_CHECKING:
    from simex.runtime import Runtime

DEPTH_WEIGHTS = {5: 2, 10: 2, 20: 2, 50: 2, 100: 5, 500: 10, 1000: 20}
MAX_RECV_WINDOW = 60_000


@dataclass(frozen=True, slots=True)
class Ctx:
    params: dict[str, str]
    account: str
    now: int


@dataclass(frozen=True, slots=True)
class Route:
    fn: Callable[[Ctx], Any]
    security: str  # NONE | USER_STREAM | SIGNED
    weight: Callable[[dict[str, str]], int]
    orders: tuple[int, int] = (0, 0)  # (10 s count, 1 min count) added per request
    executes: bool = False  # a rest_5xx fault with after_execute runs it first


def _w(n: int) -> Callable[[dict[str, str]], int]:
    return lambda _p: n


def _depth_weight(p: dict[str, str]) -> int:
    try:
        return DEPTH_WEIGHTS.get(int(p.get("limit") or 500), 10)
    except ValueError:
        return 10


def _html(status: int, text: str) -> Response:
    body = (
        f"<html><head><title>{status} {text}</title></head><body><center><h1>{status} {text}</h1></center>"
        "</body></html>"
    )
    return Response(status, body.encode(), content_type="text/html")


def _jsonify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


class RestApi:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        signed = "SIGNED"
        self.routes: dict[tuple[str, str], Route] = {
            ("GET", "/fapi/v1/ping"): Route(lambda c: {}, "NONE", _w(1)),
            ("GET", "/fapi/v1/time"): Route(lambda c: {"serverTime": c.now}, "NONE", _w(1)),
            ("GET", "/fapi/v1/exchangeInfo"): Route(self.exchange_info, "NONE", _w(1)),
            ("GET", "/fapi/v1/depth"): Route(self.depth, "NONE", _depth_weight),
            ("GET", "/fapi/v1/ticker/bookTicker"): Route(
                self.book_ticker, "NONE", lambda p: 2 if p.get("symbol") else 5
            ),
            ("GET", "/fapi/v1/premiumIndex"): Route(self.premium_index, "NONE", lambda p: 1 if p.get("symbol") else 10),
            ("POST", "/fapi/v1/order"): Route(self.new_order, signed, _w(0), (1, 1), True),
            ("GET", "/fapi/v1/order"): Route(self.get_order, signed, _w(1)),
            ("DELETE", "/fapi/v1/order"): Route(self.cancel_order, signed, _w(1)),
            ("POST", "/fapi/v1/batchOrders"): Route(self.batch_orders, signed, _w(5), (5, 1), True),
            ("DELETE", "/fapi/v1/batchOrders"): Route(self.batch_cancel, signed, _w(1)),
            ("GET", "/fapi/v1/openOrders"): Route(self.open_orders, signed, lambda p: 1 if p.get("symbol") else 40),
            ("GET", "/fapi/v1/openOrder"): Route(self.open_order, signed, _w(1)),
            ("DELETE", "/fapi/v1/allOpenOrders"): Route(self.cancel_all, signed, _w(1)),
            ("GET", "/fapi/v1/userTrades"): Route(self.user_trades, signed, _w(5)),
            ("GET", "/fapi/v1/allOrders"): Route(self.all_orders, signed, _w(5)),
            ("GET", "/fapi/v1/commissionRate"): Route(
                lambda c: self.rt.core.commission_rate(spec_for(c.params, self.rt.core.specs).symbol), signed, _w(20)
            ),
            ("GET", "/fapi/v2/positionRisk"): Route(lambda c: self.position_risk(c, 2), signed, _w(5)),
            ("GET", "/fapi/v3/positionRisk"): Route(lambda c: self.position_risk(c, 3), signed, _w(5)),
            ("GET", "/fapi/v2/account"): Route(lambda c: self.rt.core.account_info(c.account, 2, c.now), signed, _w(5)),
            ("GET", "/fapi/v3/account"): Route(lambda c: self.rt.core.account_info(c.account, 3, c.now), signed, _w(5)),
            ("GET", "/fapi/v2/balance"): Route(lambda c: self.rt.core.balances(c.account, c.now), signed, _w(5)),
            ("GET", "/fapi/v3/balance"): Route(lambda c: self.rt.core.balances(c.account, c.now), signed, _w(5)),
            ("POST", "/fapi/v1/leverage"): Route(self.leverage, signed, _w(1)),
            ("POST", "/fapi/v1/listenKey"): Route(self.listen_key_new, "USER_STREAM", _w(1)),
            ("PUT", "/fapi/v1/listenKey"): Route(self.listen_key_keepalive, "USER_STREAM", _w(1)),
            ("DELETE", "/fapi/v1/listenKey"): Route(self.listen_key_close, "USER_STREAM", _w(1)),
        }

    # ------------------------------------------------------------------ pipeline
    async def handle(self, req: Request) -> Response:
        if req.path.startswith("/admin/"):
            return self.admin(req)
        route = self.routes.get((req.method, req.path))
        rt = self.rt
        now = rt.now()
        if route is None:
            used = [("X-MBX-USED-WEIGHT-1M", str(rt.limiter.used_weight(req.peer, now)))]
            body404 = {"code": -1099, "msg": "Not found, unauthenticated, or unauthorized."}
            return Response(404, orjson.dumps(body404), used)
        body_text = req.body.decode("utf-8", "replace")
        try:
            params = params_of(req.query, body_text)
        except ValueError:
            params = {}
        verdict = rt.limiter.admit(req.peer, route.weight(params), now, rt.faults.storm_until(now))
        headers = [("X-MBX-USED-WEIGHT-1M", str(rt.limiter.used_weight(req.peer, now)))]
        if verdict.status != 200:
            headers.append(("Retry-After", str(verdict.retry_after)))
            return Response(verdict.status, orjson.dumps({"code": verdict.code, "msg": verdict.msg}), headers)
        delay = rt.faults.rest_delay_ms(req.path, now)
        if delay:
            await asyncio.sleep(delay / 1000)
            now = rt.now()
        fault = rt.faults.rest_5xx(req.path, now, route.executes)
        if fault is not None and not fault[1]:
            return self._server_error(fault[0], executed=False, headers=headers)
        status, body = 200, None
        try:
            account = self._authenticate(route, req, params, body_text, now)
            if route.orders != (0, 0):
                ov = rt.limiter.admit_orders(req.peer, account, route.orders[0], route.orders[1], now)
                n10, n60 = rt.limiter.order_counts(account, now)
                headers += [("X-MBX-ORDER-COUNT-10S", str(n10)), ("X-MBX-ORDER-COUNT-1M", str(n60))]
                if ov.status != 200:
                    headers.append(("Retry-After", str(ov.retry_after)))
                    return Response(ov.status, orjson.dumps({"code": ov.code, "msg": ov.msg}), headers)
            body = route.fn(Ctx(params, account, now))
        except ApiError as exc:
            status, body = exc.status, exc.body()
        except Exception:
            logger.exception("simex: {} {} failed", req.method, req.path)
            status, body = (
                500,
                {"code": -1000, "msg": "An unknown error occured while processing the request."},
            )
        rt.dispatch()
        if fault is not None:
            return self._server_error(fault[0], executed=True, headers=headers)
        return Response(status, orjson.dumps(body), headers)

    @staticmethod
    def _server_error(status: int, executed: bool, headers: list[tuple[str, str]]) -> Response:
        if status == 502:
            return _html(502, "Bad Gateway")
        if status == 504:
            return _html(504, "Gateway Time-out")
        if status == 500:
            body = {"code": -1000, "msg": "Request occur unknown error."}
        elif executed:
            body = {
                "code": -1007,
                "msg": "Timeout waiting for response from backend server. Send status unknown; "
                "execution status unknown.",
            }
        else:
            body = {"code": -1001, "msg": "Service Unavailable."}
        return Response(status, orjson.dumps(body), headers)

    def _authenticate(self, route: Route, req: Request, params: dict[str, str], body: str, now: int) -> str:
        if route.security == "NONE":
            return ""
        key = req.headers.get("x-mbx-apikey", "")
        if not key:
            raise errors.bad_api_key_format()
        secret = self.rt.secrets.get(key)
        if secret is None:
            raise errors.rejected_api_key()
        if route.security == "USER_STREAM":
            return key
        ts = parse_int(params, "timestamp", required=True)
        window = parse_int(params, "recvWindow")
        window = 5000 if window is None else window
        if window <= 0 or window > MAX_RECV_WINDOW:
            raise errors.invalid_param("recvWindow")
        assert ts is not None
        if ts >= now + 1000:
            raise errors.ahead_of_server()
        if now - ts > window:
            raise errors.outside_recv_window()
        payload, signature = total_params(req.query, body)
        if not signature:
            raise errors.mandatory("signature")
        if not verify(secret, payload, signature):
            raise errors.bad_signature()
        return key

    # ------------------------------------------------------------------ market data
    def exchange_info(self, c: Ctx) -> Any:
        return self.rt.exchange_info(c.now)

    def depth(self, c: Ctx) -> Any:
        spec = spec_for(c.params, self.rt.core.specs)
        raw = c.params.get("limit") or "500"
        try:
            limit = int(raw)
        except ValueError:
            raise errors.bad_depth_limit(raw) from None
        if limit not in DEPTH_WEIGHTS:
            raise errors.bad_depth_limit(raw)
        return self.rt.core.snapshot(spec.symbol, limit, c.now)

    def book_ticker(self, c: Ctx) -> Any:
        core = self.rt.core
        if c.params.get("symbol"):
            return core.book_ticker(spec_for(c.params, core.specs).symbol, c.now)
        return [core.book_ticker(s, c.now) for s in core.specs]

    def premium_index(self, c: Ctx) -> Any:
        core = self.rt.core
        if c.params.get("symbol"):
            return core.premium_index(spec_for(c.params, core.specs).symbol, c.now)
        return [core.premium_index(s, c.now) for s in core.specs]

    # ------------------------------------------------------------------ trading
    def _reject_fault(self, now: int) -> None:
        rej = self.rt.faults.reject(now)
        if rej is not None:
            raise ApiError(rej[0], rej[1])

    def new_order(self, c: Ctx) -> Any:
        core = self.rt.core
        req = parse_order(c.params, core.specs, core.new_client_id())
        self._reject_fault(c.now)
        return core.place(c.account, req, c.now)

    def batch_orders(self, c: Ctx) -> Any:
        core = self.rt.core
        raw = c.params.get("batchOrders")
        if not raw:
            raise errors.mandatory("batchOrders")
        try:
            items = json.loads(raw, parse_float=Decimal)
        except ValueError:
            raise errors.invalid_param("batchOrders") from None
        if not isinstance(items, list) or not items or len(items) > 5 or not all(isinstance(i, dict) for i in items):
            raise errors.invalid_param("batchOrders")
        out: list[Any] = []
        for item in items:
            params = {str(k): _jsonify(v) for k, v in item.items()}
            try:
                req = parse_order(params, core.specs, core.new_client_id())
                self._reject_fault(c.now)
                out.append(core.place(c.account, req, c.now))
            except ApiError as exc:
                out.append(exc.body())
        return out

    def _ids(self, c: Ctx) -> tuple[str, int | None, str | None]:
        spec = spec_for(c.params, self.rt.core.specs)
        oid = parse_int(c.params, "orderId")
        cid = c.params.get("origClientOrderId") or None
        if oid is None and cid is None:
            raise errors.either_param("orderId", "origClientOrderId")
        return spec.symbol, oid, cid

    def get_order(self, c: Ctx) -> Any:
        sym, oid, cid = self._ids(c)
        return self.rt.core.query(c.account, sym, oid, cid)

    def open_order(self, c: Ctx) -> Any:
        sym, oid, cid = self._ids(c)
        return self.rt.core.open_order(c.account, sym, oid, cid)

    def cancel_order(self, c: Ctx) -> Any:
        sym, oid, cid = self._ids(c)
        return self.rt.core.cancel(c.account, sym, oid, cid, c.now)

    def batch_cancel(self, c: Ctx) -> Any:
        core = self.rt.core
        spec = spec_for(c.params, core.specs)
        ids_raw, cids_raw = c.params.get("orderIdList"), c.params.get("origClientOrderIdList")
        if not ids_raw and not cids_raw:
            raise errors.either_param("orderIdList", "origClientOrderIdList")
        try:
            values = json.loads(ids_raw or cids_raw or "[]")
        except ValueError:
            raise errors.invalid_param("orderIdList" if ids_raw else "origClientOrderIdList") from None
        if not isinstance(values, list) or not values or len(values) > 10:
            raise errors.invalid_param("orderIdList" if ids_raw else "origClientOrderIdList")
        out: list[Any] = []
        for v in values:
            try:
                if ids_raw:
                    out.append(core.cancel(c.account, spec.symbol, int(v), None, c.now))
                else:
                    out.append(core.cancel(c.account, spec.symbol, None, str(v), c.now))
            except (ApiError, ValueError) as exc:
                out.append(exc.body() if isinstance(exc, ApiError) else errors.unknown_order().body())
        return out

    def open_orders(self, c: Ctx) -> Any:
        core = self.rt.core
        sym = spec_for(c.params, core.specs).symbol if c.params.get("symbol") else None
        return core.open_orders(c.account, sym)

    def cancel_all(self, c: Ctx) -> Any:
        return self.rt.core.cancel_all(c.account, spec_for(c.params, self.rt.core.specs).symbol, c.now)

    def user_trades(self, c: Ctx) -> Any:
        core = self.rt.core
        spec = spec_for(c.params, core.specs)
        limit = parse_int(c.params, "limit") or 500
        if not 1 <= limit <= 1000:
            raise errors.invalid_param("limit")
        return core.user_trades(
            c.account,
            spec.symbol,
            order_id=parse_int(c.params, "orderId"),
            from_id=parse_int(c.params, "fromId"),
            start=parse_int(c.params, "startTime"),
            end=parse_int(c.params, "endTime"),
            limit=limit,
        )

    def all_orders(self, c: Ctx) -> Any:
        core = self.rt.core
        spec = spec_for(c.params, core.specs)
        limit = parse_int(c.params, "limit") or 500
        if not 1 <= limit <= 1000:
            raise errors.invalid_param("limit")
        return core.all_orders(
            c.account,
            spec.symbol,
            order_id=parse_int(c.params, "orderId"),
            start=parse_int(c.params, "startTime"),
            end=parse_int(c.params, "endTime"),
            limit=limit,
        )

    def position_risk(self, c: Ctx, version: int) -> Any:
        core = self.rt.core
        sym = spec_for(c.params, core.specs).symbol if c.params.get("symbol") else None
        return core.position_risk(c.account, sym, version)

    def leverage(self, c: Ctx) -> Any:
        core = self.rt.core
        spec = spec_for(c.params, core.specs)
        lev = parse_int(c.params, "leverage", required=True)
        assert lev is not None
        return core.set_leverage(c.account, spec.symbol, lev)

    # ------------------------------------------------------------------ user stream keys
    def listen_key_new(self, c: Ctx) -> Any:
        return {"listenKey": self.rt.keys.create(c.account, c.now)}

    def listen_key_keepalive(self, c: Ctx) -> Any:
        return {"listenKey": self.rt.keys.keepalive(c.account, c.now)}

    def listen_key_close(self, c: Ctx) -> Any:
        self.rt.keys.close(c.account)
        return {}

    # ------------------------------------------------------------------ admin (unsigned test tooling)
    def admin(self, req: Request) -> Response:
        rt = self.rt
        try:
            body = orjson.loads(req.body) if req.body else {}
            if not isinstance(body, dict):
                raise FaultError("body must be a JSON object")
            if req.method == "GET" and req.path == "/admin/state":
                return Response(200, orjson.dumps(rt.state()))
            if req.method == "POST" and req.path == "/admin/fault":
                name = body.pop("fault", None)
                if not name:
                    raise FaultError("missing 'fault'")
                return Response(200, orjson.dumps(rt.apply_fault(str(name), body)))
            if req.method == "POST" and req.path == "/admin/regime":
                seconds = body.get("seconds")
                return Response(
                    200,
                    orjson.dumps(
                        rt.set_regime(
                            str(body.get("symbol", "")),
                            str(body.get("regime", "")),
                            float(seconds) if seconds is not None else None,
                        )
                    ),
                )
        except (FaultError, ValueError, TypeError, orjson.JSONDecodeError) as exc:
            return Response(400, orjson.dumps({"error": str(exc)}))
        return Response(404, orjson.dumps({"error": f"no admin endpoint {req.method} {req.path}"}))
