"""WebSocket side of the exchange: connections, stream subscriptions, fan-out, pings and lifetimes.

``/ws/<stream>[/<stream>...]`` sends raw payloads, ``/stream?streams=a/b`` wraps them as
``{"stream": name, "data": payload}``; both accept live SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS.
A name without ``@`` is a listenKey (user data stream). Faults act here: a stall sends nothing at all
(data is dropped, pings are not sent), a drop closes connections abruptly.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson
from loguru import logger

from simex.httpserver import BadRequest, abort, parse_head
from simex.wsproto import (
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    MessageReader,
    ProtocolError,
    close_frame,
    encode_frame,
    handshake_response,
)

if TYPE_CHECKING:
    from simex.runtime import Runtime

MAX_BUFFER = 16 << 20
DEPTH_ALIASES = {
    "depth": "depth@250ms",
    "depth@250ms": "depth@250ms",
    "depth@500ms": "depth@500ms",
    "depth@100ms": "depth@100ms",
    "depth@0ms": "depth@0ms",
}


def internal_name(name: str) -> str:
    """Canonical stream key: market streams lower-cased with depth speeds explicit; listenKeys as user:KEY."""
    if "@" not in name:
        return "user:" + name
    sym, _, kind = name.partition("@")
    return f"{sym.lower()}@{DEPTH_ALIASES.get(kind, kind)}"


class Conn:
    def __init__(self, conn_id: int, writer: asyncio.StreamWriter, combined: bool, path: str) -> None:
        self.id = conn_id
        self.writer = writer
        self.transport = writer.transport
        self.combined = combined
        self.path = path
        self.streams: dict[str, str] = {}  # internal key -> name the client used
        self.opened = time.monotonic()
        self.last_ping = self.opened
        self.awaiting_pong: float | None = None
        self.closed = False
        self.sent = 0

    def kinds(self) -> set[str]:
        return {"user" if k.startswith("user:") else "market" for k in self.streams}

    def send(self, frame: bytes) -> None:
        if self.closed or self.transport.is_closing():
            return
        if self.transport.get_write_buffer_size() > MAX_BUFFER:
            logger.warning("ws conn {}: slow consumer, closing", self.id)
            self.drop("reset")
            return
        self.transport.write(frame)
        self.sent += 1

    def drop(self, mode: str, code: int = 1001, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        if mode == "reset":
            abort(self.writer)
            return
        with contextlib.suppress(Exception):
            self.transport.write(close_frame(code, reason))
        self.transport.close()


class Hub:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.conns: set[Conn] = set()
        self.subs: dict[str, set[Conn]] = {}
        self.held: dict[str, tuple[bytes, float]] = {}
        self.server: asyncio.Server | None = None
        self.dropped_stalled = 0
        self.closed_by_server = {"lifetime": 0, "pong_timeout": 0, "fault": 0}
        self._ids = itertools.count(1)

    async def start(self, host: str, port: int) -> int:
        self.server = await asyncio.start_server(self._serve, host, port, reuse_address=True)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for c in list(self.conns):
            c.drop("close", 1001, "server shutdown")
        if self.server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)

    # ---- subscriptions ----
    def subscribe(self, conn: Conn, names: list[str]) -> None:
        for name in names:
            if not name:
                continue
            key = internal_name(name)
            conn.streams[key] = name
            self.subs.setdefault(key, set()).add(conn)

    def unsubscribe(self, conn: Conn, names: list[str]) -> None:
        for name in names:
            key = internal_name(name)
            conn.streams.pop(key, None)
            subs = self.subs.get(key)
            if subs is not None:
                subs.discard(conn)
                if not subs:
                    del self.subs[key]

    def _forget(self, conn: Conn) -> None:
        self.conns.discard(conn)
        self.unsubscribe(conn, list(conn.streams.values()))

    def wanted(self, key: str) -> bool:
        return key in self.subs

    # ---- delivery ----
    def _stalled(self, conn: Conn, now: int) -> bool:
        scope = self.rt.faults.stall(now)
        return scope is not None and (scope == "all" or scope in conn.kinds())

    def _deliver(self, key: str, data: bytes, now: int, copies: int = 1) -> None:
        conns = self.subs.get(key)
        if not conns:
            return
        raw: bytes | None = None
        for c in list(conns):
            if self._stalled(c, now):
                self.dropped_stalled += 1
                continue
            if c.combined:
                frame = encode_frame(OP_TEXT, b'{"stream":' + orjson.dumps(c.streams[key]) + b',"data":' + data + b"}")
            else:
                raw = raw or encode_frame(OP_TEXT, data)
                frame = raw
            for _ in range(copies):
                c.send(frame)

    def publish_market(self, stream: str, payload: dict[str, Any], now: int) -> None:
        if stream in self.subs:
            self._deliver(stream, orjson.dumps(payload), now)

    def publish_user(self, account: str, payload: dict[str, Any], now: int) -> None:
        data = orjson.dumps(payload)
        held = self.held.pop(account, None)
        if held is None and self.rt.faults.user_reorder(now):
            self.held[account] = (data, time.monotonic())
            return
        self._deliver_user(account, data, now)
        if held is not None:
            self._deliver_user(account, held[0], now)

    def _deliver_user(self, account: str, data: bytes, now: int) -> None:
        cur = self.rt.keys.keys.get(account)
        if cur is None or now >= cur[1]:
            return
        self._deliver("user:" + cur[0], data, now, 2 if self.rt.faults.user_dup(now) else 1)

    def key_expired(self, key: str, now: int) -> None:
        self._deliver("user:" + key, orjson.dumps({"e": "listenKeyExpired", "E": now, "listenKey": key}), now)

    def drop(self, mode: str, scope: str) -> int:
        n = 0
        for c in list(self.conns):
            if scope == "all" or scope in c.kinds():
                c.drop(mode)
                n += 1
        self.closed_by_server["fault"] += n
        return n

    def housekeeping(self, now: int) -> None:
        """Pings, pong timeouts, maximum connection lifetime, and release of reordered user events."""
        mono = time.monotonic()
        cfg = self.rt.cfg
        for c in list(self.conns):
            if c.closed:
                continue
            if mono - c.opened >= cfg.ws_max_lifetime_s:
                self.closed_by_server["lifetime"] += 1
                c.drop("close", 1000, "connection lifetime reached")
                continue
            if self._stalled(c, now):
                if c.awaiting_pong is not None:
                    c.awaiting_pong = mono
                continue
            if c.awaiting_pong is not None and mono - c.awaiting_pong >= cfg.ws_pong_timeout_s:
                self.closed_by_server["pong_timeout"] += 1
                c.drop("close", 1008, "pong timeout")
                continue
            if c.awaiting_pong is None and mono - c.last_ping >= cfg.ws_ping_interval_s:
                c.send(encode_frame(OP_PING, str(now).encode()))
                c.last_ping = mono
                c.awaiting_pong = mono
        for account, (data, t) in list(self.held.items()):
            if mono - t >= 0.5:
                del self.held[account]
                self._deliver_user(account, data, now)

    # ---- connections ----
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn: Conn | None = None
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            _, path, query, _, headers = parse_head(head[:-4], "")
            key = headers.get("sec-websocket-key")
            if headers.get("upgrade", "").lower() != "websocket" or not key:
                writer.write(b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            if path == "/stream":
                combined = True
                names = [n for n in parse_qs(query).get("streams", [""])[0].split("/") if n]
            elif path == "/ws" or path.startswith("/ws/"):
                combined = False
                names = [n for n in path[3:].split("/") if n]
            else:
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            writer.write(handshake_response(key))
            conn = Conn(next(self._ids), writer, combined, path)
            self.conns.add(conn)
            self.subscribe(conn, names)
            await self._read_loop(conn, MessageReader(reader))
        except ProtocolError as exc:
            if conn is not None:
                conn.drop("close", exc.code, str(exc))
        except (
            TimeoutError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ConnectionError,
            BadRequest,
        ):
            pass
        except Exception:
            logger.exception("simex ws: connection handler failed")
        finally:
            if conn is not None:
                self._forget(conn)
                conn.closed = True
            with contextlib.suppress(Exception):
                writer.close()

    async def _read_loop(self, conn: Conn, mr: MessageReader) -> None:
        while not conn.closed:
            op, data = await mr.next()
            now = self.rt.now()
            if op == OP_TEXT:
                reply = self._on_request(conn, data)
                if reply is not None and not self._stalled(conn, now):
                    conn.send(encode_frame(OP_TEXT, orjson.dumps(reply)))
            elif op == OP_PING:
                if not self._stalled(conn, now):
                    conn.send(encode_frame(OP_PONG, data))
            elif op == OP_PONG:
                conn.awaiting_pong = None
            elif op == OP_CLOSE:
                code = data[:2] if len(data) >= 2 else b"\x03\xe8"
                with contextlib.suppress(Exception):
                    conn.transport.write(encode_frame(OP_CLOSE, code))
                conn.closed = True
                conn.transport.close()
                return

    def _on_request(self, conn: Conn, data: bytes) -> dict[str, Any] | None:
        try:
            req = orjson.loads(data)
        except orjson.JSONDecodeError:
            return {"error": {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"}}
        if not isinstance(req, dict):
            return {"error": {"code": 2, "msg": "Invalid request: request must be an object"}}
        rid = req.get("id")
        method = req.get("method")
        params = req.get("params", [])
        handlers: dict[str, Callable[[], Any]] = {
            "SUBSCRIBE": lambda: self.subscribe(conn, [str(p) for p in params]),
            "UNSUBSCRIBE": lambda: self.unsubscribe(conn, [str(p) for p in params]),
            "LIST_SUBSCRIPTIONS": lambda: sorted(conn.streams.values()),
            "SET_PROPERTY": lambda: self._set_property(conn, params),
            "GET_PROPERTY": lambda: conn.combined if params == ["combined"] else None,
        }
        if method not in handlers or not isinstance(params, list):
            return {"error": {"code": 2, "msg": "Invalid request: unknown method or params"}, "id": rid}
        return {"result": handlers[method](), "id": rid}

    @staticmethod
    def _set_property(conn: Conn, params: list[Any]) -> None:
        if len(params) == 2 and params[0] == "combined":
            conn.combined = bool(params[1])

    def state(self) -> dict[str, Any]:
        return {
            "connections": len(self.conns),
            "subscriptions": {k: len(v) for k, v in self.subs.items() if not k.startswith("user:")},
            "user_subscriptions": sum(len(v) for k, v in self.subs.items() if k.startswith("user:")),
            "dropped_while_stalled": self.dropped_stalled,
            "closed_by_server": dict(self.closed_by_server),
        }
