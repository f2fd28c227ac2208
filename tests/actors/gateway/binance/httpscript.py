"""A scripted HTTP/1.1 server on loopback: real sockets for the order path's own connections (``wire.py``).

Each request is answered by the next scripted action for its (method, path), or by a handler: a reply, a
close without an answer (after reading the request), a silence, a close of the idle connection right after
answering. Every request and every connection is recorded.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import orjson


@dataclass
class Req:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    conn_no: int  # which connection carried it (1, 2, ...)

    @property
    def params(self) -> dict[str, str]:
        return dict(parse_qsl(self.query + self.body.decode()))


@dataclass
class Act:
    """What the server does with one request."""

    status: int = 200
    body: object = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    close_after: bool = False  # answer, then close the connection (keep-alive header still sent)
    drop: bool = False  # close without answering (the request was read)
    silent_s: float = 0.0  # answer only after this long
    raw: bytes | None = None  # bytes to send instead of a formatted answer

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        body = self.body if isinstance(self.body, bytes) else orjson.dumps(self.body)
        head = [f"HTTP/1.1 {self.status} X", "Content-Type: application/json", f"Content-Length: {len(body)}",
                *(f"{k}: {v}" for k, v in self.headers.items())]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body


Script = Act | Callable[[Req], Act]
_NOT_SCRIPTED = Act(404, {"code": -1, "msg": "not scripted"})


class HttpScript:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._srv = socket.create_server(("127.0.0.1", 0))
        self.port = self._srv.getsockname()[1]
        self.url = f"{'https' if tls else 'http'}://{'localhost' if tls else '127.0.0.1'}:{self.port}"
        self._tls = tls
        self.routes: dict[tuple[str, str], list[Script]] = {}
        self.seen: list[Req] = []
        self.connections = 0
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def on(self, method: str, path: str, *acts: Script) -> HttpScript:
        """Scripted answers in order; the last one repeats."""
        self.routes.setdefault((method, path), []).extend(acts)
        return self

    def calls(self, method: str | None = None, path: str | None = None) -> list[Req]:
        with self._lock:
            return [r for r in self.seen if (method is None or r.method == method) and (path is None or r.path == path)]

    def close_idle(self) -> None:
        """Close every connection from the server side (as an idle timeout would)."""
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def stop(self) -> None:
        self.close_idle()
        self._srv.close()

    # ---- server side
    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._srv.accept()
            except OSError:
                return
            if self._tls is not None:
                try:
                    sock = self._tls.wrap_socket(sock, server_side=True)
                except (OSError, ssl.SSLError):
                    sock.close()
                    continue
            with self._lock:
                self.connections += 1
                n = self.connections
                self._socks.append(sock)
            threading.Thread(target=self._serve, args=(sock, n), daemon=True).start()

    def _serve(self, sock: socket.socket, n: int) -> None:
        f = sock.makefile("rb")
        try:
            while True:
                line = f.readline()
                if not line:
                    return
                method, target, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (h := f.readline()) not in (b"\r\n", b"\n", b""):
                    k, _, v = h.decode().partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = f.read(int(headers.get("content-length", "0") or 0))
                u = urlsplit(target)
                req = Req(method, u.path, u.query, headers, body, n)
                with self._lock:
                    self.seen.append(req)
                    queue = self.routes.get((method, u.path))
                    item = (queue.pop(0) if len(queue) > 1 else queue[0]) if queue else _NOT_SCRIPTED
                act = item(req) if callable(item) else item
                if act.drop:
                    return
                if act.silent_s:
                    time.sleep(act.silent_s)
                sock.sendall(act.encode())
                if act.close_after:
                    return
        except (OSError, ValueError):
            return
        finally:
            with contextlib.suppress(OSError):
                sock.close()
