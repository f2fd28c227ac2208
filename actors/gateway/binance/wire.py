"""Persistent HTTP/1.1 connections for the order path, on the standard library alone.

requests + urllib3 cost ~0.3 ms of Python per call on the tick-to-order path (preparation, header dicts,
pool bookkeeping, response wrapping). Here a request is one ``sendall`` of bytes built directly, and the reply
is read by ``http.client.HTTPResponse`` (status line, headers, Content-Length or chunked body). Connections
are opened by ``http.client.HTTPConnection`` / ``HTTPSConnection`` (TCP_NODELAY; TLS with SNI and hostname
verification) and kept alive in a small pool; one connection carries one request at a time.

Sending and reading are split (``send`` returns an ``InFlight``; ``InFlight.reply`` reads) so that one thread
can write a request and another wait for its answer. Failures are ``WireError``s that say how far the
request got (``Transport``): not sent (connect failed), sent without an answer in time, or broken after it
may have been sent. An idle connection the server has closed is noticed before reuse (readable with nothing
asked) and replaced, as urllib3 does.
"""

from __future__ import annotations

import contextlib
import http.client
import select
import socket
import ssl
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from actors.gateway.binance.errors import Transport


class WireError(Exception):
    """A request that got no HTTP answer; ``transport`` says whether it may have reached the server."""

    def __init__(self, transport: Transport, msg: str) -> None:
        super().__init__(msg)
        self.transport = transport


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


def _default_context() -> ssl.SSLContext:
    """Verify against certifi's bundle when installed (what requests uses), else the system's."""
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi comes with requests
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class _Conn:
    __slots__ = ("sock",)

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def dropped(self) -> bool:
        """Readable while no request is outstanding: the server closed it (or sent something unasked)."""
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        p = select.poll()
        p.register(self.sock, select.POLLIN)
        return bool(p.poll(0))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class InFlight:
    """A request written (or whose write failed) on a connection of ``wire``; ``reply`` reads the answer."""

    __slots__ = ("_conn", "_error", "_method", "_wire")

    def __init__(self, wire: Wire, conn: _Conn | None, method: str, error: WireError | None) -> None:
        self._wire = wire
        self._conn = conn
        self._method = method
        self._error = error

    def reply(self) -> Reply:
        """The answer (any status). Raises ``WireError``. Call once; the connection goes back to the pool."""
        if self._error is not None:
            raise self._error
        conn, self._conn = self._conn, None
        if conn is None:
            raise RuntimeError("reply already read")
        try:
            resp = http.client.HTTPResponse(conn.sock, method=self._method)
            resp.begin()
            body = resp.read()
            headers = {k.lower(): v for k, v in resp.getheaders()}
        except TimeoutError as exc:
            conn.close()
            raise WireError(Transport.TIMEOUT, _describe(exc)) from None
        except (http.client.HTTPException, OSError) as exc:  # reset, closed mid-answer, garbage
            conn.close()
            raise WireError(Transport.BROKEN, _describe(exc)) from None
        enc = headers.get("content-encoding", "").lower()
        if enc in ("gzip", "deflate") and body:
            try:
                body = zlib.decompress(body, 47)  # 32 + 15: gzip or zlib header, detected
            except zlib.error:
                body = b"\x00undecodable " + enc.encode()  # not JSON: the caller treats it as unreadable
        if resp.will_close:
            conn.close()
        else:
            self._wire.put_back(conn)
        return Reply(resp.status, headers, body)


class Wire:
    """Keep-alive connections to one origin (``http://`` or ``https://``), checked out one per request."""

    def __init__(self, base_url: str, *, connect_timeout_s: float = 3.0, read_timeout_s: float = 10.0,
                 ssl_context: ssl.SSLContext | None = None, max_idle: int = 8) -> None:
        u = urlsplit(base_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"not an http(s) origin: {base_url!r}")
        self._https = u.scheme == "https"
        self._host = u.hostname
        self._port = u.port or (443 if self._https else 80)
        name = f"[{self._host}]" if ":" in self._host else self._host
        host = name if u.port is None else f"{name}:{u.port}"
        self._prefix = u.path.rstrip("/")  # a base URL with a path prefix (a proxy mount)
        self._host_line = f"Host: {host}\r\n"
        self._connect_timeout = connect_timeout_s
        self._read_timeout = read_timeout_s
        self._ssl = (ssl_context or _default_context()) if self._https else None
        self._max_idle = max_idle
        self._idle: list[_Conn] = []
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"Wire({'https' if self._https else 'http'}://{self._host}:{self._port})"

    # ---- connections
    def _connect(self) -> _Conn:
        if self._https:
            c: http.client.HTTPConnection = http.client.HTTPSConnection(
                self._host, self._port, timeout=self._connect_timeout, context=self._ssl)
        else:
            c = http.client.HTTPConnection(self._host, self._port, timeout=self._connect_timeout)
        try:
            c.connect()  # TCP_NODELAY, and the TLS handshake with hostname verification
        except OSError as exc:  # refused, DNS, connect timeout, TLS handshake: the request never left
            c.close()
            raise WireError(Transport.NOT_SENT, _describe(exc)) from None
        sock = c.sock
        sock.settimeout(self._read_timeout)
        return _Conn(sock)

    def take(self, connect: bool = True) -> _Conn | None:
        """A connection for one request: an idle open one, else a new one (``connect=False``: None). Raises
        ``WireError`` (NOT_SENT) when connecting fails or the pool is closed."""
        while True:
            with self._lock:
                if self._closed:
                    raise WireError(Transport.NOT_SENT, "connection pool closed")
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self._connect() if connect else None
            if not conn.dropped():
                return conn
            conn.close()

    def take_idle(self, n: int) -> list[_Conn] | None:
        """``n`` idle open connections, or None (then nothing is taken). Never connects. One ``poll`` checks
        every idle connection (each system call hands the GIL to other threads, on the request's path), and
        those the server closed are dropped from the pool."""
        with self._lock:
            if self._closed or len(self._idle) < n:
                return None
            idle, self._idle = self._idle, []
        p = select.poll()
        for c in idle:
            p.register(c.sock, select.POLLIN)
        gone = {fd for fd, _ in p.poll(0)}
        ok: list[_Conn] = []
        for c in idle:
            if c.sock.fileno() in gone or (isinstance(c.sock, ssl.SSLSocket) and c.sock.pending()):
                c.close()
            else:
                ok.append(c)
        taken = ok[-n:] if len(ok) >= n else []
        for c in ok[:len(ok) - len(taken)]:
            self.put_back(c)
        return taken or None

    def put_back(self, conn: _Conn) -> None:
        """An unused (or fully answered, keep-alive) connection back to the pool."""
        with self._lock:
            if not self._closed and len(self._idle) < self._max_idle:
                self._idle.append(conn)
                return
        conn.close()

    def idle(self) -> int:
        """Open connections waiting for a request (some may have been closed by the server meanwhile)."""
        return len(self._idle)

    def fill(self, n: int) -> None:
        """Open connections until ``n`` are idle (connecting on this thread; raises ``WireError``)."""
        while self.idle() < n:
            conn = self._connect()
            with self._lock:
                full = self._closed or len(self._idle) >= min(n, self._max_idle)
                if not full:
                    self._idle.append(conn)
            if full:
                conn.close()
                return

    def close(self) -> None:
        """Closes the idle connections; those in use close when their reply has been read."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for c in idle:
            c.close()

    # ---- requests
    def head(self, method: str, target: str, headers: Mapping[str, str]) -> bytes:
        """The request line and header lines, without the blank line that ends them."""
        lines = [f"{method} {self._prefix}{target} HTTP/1.1\r\n", self._host_line]
        lines += [f"{k}: {v}\r\n" for k, v in headers.items()]
        return "".join(lines).encode("latin-1")

    def request_bytes(self, method: str, target: str, headers: Mapping[str, str], body: bytes | None) -> bytes:
        """The request as it goes on the wire (``target``: path and query)."""
        head = self.head(method, target, headers)
        if body is None:
            return head + b"\r\n"
        return b"%sContent-Length: %d\r\n\r\n%s" % (head, len(body), body)

    def send(self, conn: _Conn, method: str, data: bytes) -> InFlight:
        """Write one request (``request_bytes``) on ``conn`` (from ``take``). A failure is kept in the
        ``InFlight`` (its ``reply`` raises it): once writing began, the request may have arrived."""
        try:
            conn.sock.sendall(data)
        except TimeoutError as exc:
            conn.close()
            return InFlight(self, None, method, WireError(Transport.TIMEOUT, _describe(exc)))
        except OSError as exc:
            conn.close()
            return InFlight(self, None, method, WireError(Transport.BROKEN, _describe(exc)))
        return InFlight(self, conn, method, None)
