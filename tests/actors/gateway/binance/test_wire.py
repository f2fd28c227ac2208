"""The order path's own connections (``wire.py``) on real loopback sockets: keep-alive, what a failure says
about the request (not sent / timed out / broken), a connection the server closed while idle, and TLS."""

from __future__ import annotations

import gzip
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from actors.gateway.binance.errors import Transport
from actors.gateway.binance.wire import Wire, WireError

from .httpscript import Act, HttpScript


@pytest.fixture
def srv():
    s = HttpScript()
    yield s
    s.stop()


def exchange(wire: Wire, method: str = "POST", target: str = "/x", body: bytes | None = b"a=1") -> tuple[int, bytes]:
    conn = wire.take()
    assert conn is not None
    r = wire.send(conn, method, wire.request_bytes(method, target, {"X-Test": "1"}, body)).reply()
    return r.status, r.body


def test_requests_share_one_kept_alive_connection_and_go_out_as_built(srv) -> None:
    srv.on("POST", "/x", Act(200, {"ok": 1}, {"X-MBX-USED-WEIGHT-1M": "7"}))
    srv.on("GET", "/y", Act(200, b"[]"))
    wire = Wire(srv.url)
    assert exchange(wire) == (200, b'{"ok":1}')
    assert exchange(wire, "GET", "/y?s=1", None) == (200, b"[]")
    assert exchange(wire) == (200, b'{"ok":1}')
    assert srv.connections == 1
    post, get, _ = srv.seen
    assert post.body == b"a=1" and post.headers["content-length"] == "3" and post.headers["x-test"] == "1"
    assert post.headers["host"] == f"127.0.0.1:{srv.port}"
    assert get.query == "s=1" and "content-length" not in get.headers
    wire.close()


def test_reply_headers_are_lower_case_and_gzip_is_undone(srv) -> None:
    srv.on("GET", "/z", Act(200, gzip.compress(b'{"a":2}'), {"Content-Encoding": "gzip", "Retry-After": "3"}))
    wire = Wire(srv.url)
    conn = wire.take()
    assert conn is not None
    r = wire.send(conn, "GET", wire.request_bytes("GET", "/z", {}, None)).reply()
    assert r.body == b'{"a":2}' and r.headers["retry-after"] == "3"


def test_chunked_answer_and_connection_close(srv) -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n"
    srv.on("GET", "/c", Act(raw=chunked), Act(200, b"{}", {"Connection": "close"}, close_after=True))
    wire = Wire(srv.url)
    assert exchange(wire, "GET", "/c", None) == (200, b'{"a":1}')
    assert exchange(wire, "GET", "/c", None) == (200, b"{}")  # "Connection: close": not reused
    assert exchange(wire, "GET", "/c", None)[0] == 200
    assert srv.connections == 2


def test_an_idle_connection_the_server_closed_is_replaced_before_use(srv) -> None:
    srv.on("POST", "/x", Act(200, b"{}"))
    wire = Wire(srv.url)
    exchange(wire)
    srv.close_idle()
    assert exchange(wire) == (200, b"{}")  # not a broken request: a new connection carried it
    assert srv.connections == 2 and len(srv.calls("POST", "/x")) == 2


def test_take_without_connecting_gives_only_an_open_idle_connection(srv) -> None:
    srv.on("POST", "/x", Act(200, b"{}"))
    wire = Wire(srv.url)
    assert wire.take(connect=False) is None and srv.connections == 0
    exchange(wire)
    conn = wire.take(connect=False)
    assert conn is not None
    wire.put_back(conn)
    srv.close_idle()
    assert wait(lambda: _dropped(wire))


def _dropped(wire: Wire) -> bool:
    conn = wire.take(connect=False)
    if conn is None:
        return True
    wire.put_back(conn)
    return False


def test_refused_connection_is_not_sent() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there
    wire = Wire(f"http://127.0.0.1:{port}")
    with pytest.raises(WireError) as ei:
        wire.take()
    assert ei.value.transport is Transport.NOT_SENT


def test_a_request_read_but_never_answered_is_broken_and_a_silence_is_a_timeout(srv) -> None:
    srv.on("POST", "/x", Act(drop=True))
    srv.on("POST", "/slow", Act(200, b"{}", silent_s=1.0))
    wire = Wire(srv.url, read_timeout_s=0.2)
    with pytest.raises(WireError) as ei:
        exchange(wire)
    assert ei.value.transport is Transport.BROKEN
    with pytest.raises(WireError) as ei:
        exchange(wire, target="/slow")
    assert ei.value.transport is Transport.TIMEOUT
    assert len(srv.calls("POST", "/x")) == 1  # never repeated by the transport


def test_garbage_instead_of_an_answer_is_broken(srv) -> None:
    srv.on("GET", "/g", Act(raw=b"SMTP ready\r\n\r\n"))
    with pytest.raises(WireError) as ei:
        exchange(Wire(srv.url), "GET", "/g", None)
    assert ei.value.transport is Transport.BROKEN


def test_closed_pool_sends_nothing(srv) -> None:
    wire = Wire(srv.url)
    wire.close()
    with pytest.raises(WireError) as ei:
        wire.take()
    assert ei.value.transport is Transport.NOT_SENT and srv.connections == 0


def test_base_url_forms() -> None:
    assert Wire("https://fapi.binance.com").request_bytes("GET", "/p", {}, None).startswith(
        b"GET /p HTTP/1.1\r\nHost: fapi.binance.com\r\n")
    assert b"Host: [::1]:8080\r\n" in Wire("http://[::1]:8080/api/").request_bytes("GET", "/p", {}, None)
    assert Wire("http://h/api/").request_bytes("GET", "/p", {}, None).startswith(b"GET /api/p HTTP/1.1")
    with pytest.raises(ValueError):
        Wire("ws://h")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is needed to make a test certificate")
def test_tls_with_hostname_verification(tmp_path: Path) -> None:
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    srv = HttpScript(tls=server_ctx)
    try:
        srv.on("POST", "/x", Act(200, {"tls": True}))
        trusted = ssl.create_default_context(cafile=str(cert))
        wire = Wire(srv.url, ssl_context=trusted)
        assert exchange(wire) == (200, b'{"tls":true}')
        assert exchange(wire) == (200, b'{"tls":true}') and srv.connections == 1
        with pytest.raises(WireError) as ei:  # not trusted: the handshake fails, nothing was sent
            Wire(srv.url).take()
        assert ei.value.transport is Transport.NOT_SENT
        assert len(srv.calls()) == 2
    finally:
        srv.stop()


def wait(pred, timeout: float = 5.0) -> bool:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


def test_fill_and_take_idle_check_every_idle_connection_at_once(srv) -> None:
    srv.on("POST", "/x", Act(200, b"{}"))
    wire = Wire(srv.url)
    wire.fill(3)
    assert wire.idle() == 3 and wait(lambda: srv.connections == 3)
    pair = wire.take_idle(2)
    assert pair is not None and len(pair) == 2 and wire.idle() == 1
    assert wire.take_idle(2) is None and wire.idle() == 1  # not enough: nothing taken
    for c in pair:
        wire.put_back(c)
    srv.close_idle()
    assert wire.take_idle(1) is None and wire.idle() == 0  # all three closed by the server: dropped
    wire.fill(1)
    assert wire.take_idle(1) is not None and wait(lambda: srv.connections == 4)
