"""WsClient on a loopback RFC 6455 server: data, stall watchdog, drop + backoff, rotation, pings, stop."""

from __future__ import annotations

import json
import random
import threading
import time

import pytest

from actors.clock import WallClock
from actors.gateway.binance.ws import WsClient, backoff_delay, combined_url, raw_url, redact_url
from actors.gateway.events import StreamConnected, StreamDisconnected, StreamStalled

from .wsserver import WsServer


def wait_for(pred, timeout: float = 3.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


class Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple[str, int]] = []
        self.events: list[tuple[float, object]] = []
        self.lock = threading.Lock()

    def on_message(self, raw: str, recv_ns: int) -> None:
        with self.lock:
            self.messages.append((raw, recv_ns))

    def on_event(self, ev) -> None:
        with self.lock:
            self.events.append((time.monotonic(), ev))

    def of(self, cls) -> list:
        with self.lock:
            return [e for _, e in self.events if isinstance(e, cls)]


@pytest.fixture
def server():
    s = WsServer()
    yield s
    s.stop()


def client(url, rec: Recorder, **kw) -> WsClient:
    kw.setdefault("stale_after_s", 5.0)
    kw.setdefault("backoff_initial_s", 0.05)
    kw.setdefault("backoff_max_s", 0.2)
    return WsClient(url, name="market", on_message=rec.on_message, on_event=rec.on_event, clock=WallClock(),
                    rng=random.Random(3), **kw)


def test_pure_helpers() -> None:
    assert combined_url("wss://fstream.binance.com/", ["ethusdc@depth@0ms", "ethusdc@trade"]) == (
        "wss://fstream.binance.com/stream?streams=ethusdc@depth@0ms/ethusdc@trade")
    assert raw_url("wss://x", "KEY123") == "wss://x/ws/KEY123"
    assert redact_url("wss://x/ws/KEY123") == "wss://x/ws/<listenKey>"
    assert backoff_delay(0, 1, 30, 0.5) == 0
    assert backoff_delay(1, 1, 30, 0.0) == 0.5 and backoff_delay(1, 1, 30, 1.0) == 1.0
    assert backoff_delay(4, 1, 30, 1.0) == 8.0 and backoff_delay(10, 1, 30, 1.0) == 30.0
    with pytest.raises(ValueError):
        combined_url("wss://x", [])
    with pytest.raises(ValueError):
        WsClient("ws://x", name="x", on_message=lambda r, t: None, liveness="sometimes")


def test_messages_arrive_with_a_receive_time(server: WsServer) -> None:
    rec = Recorder()
    ws = client(combined_url(server.url, ["a@trade", "b@trade"]), rec)
    ws.start()
    try:
        assert wait_for(lambda: server.live() and ws.connected.is_set())
        assert server.live()[0].path == "/stream?streams=a@trade/b@trade"
        before = time.time_ns()
        server.broadcast('{"stream":"a@trade","data":{}}')
        assert wait_for(lambda: rec.messages)
        raw, recv_ns = rec.messages[0]
        assert raw.startswith('{"stream"') and before <= recv_ns <= time.time_ns()
        (c,) = rec.of(StreamConnected)
        assert c.stream == "market" and c.url.endswith("b@trade")
    finally:
        ws.stop()
    assert not ws.alive
    assert rec.of(StreamDisconnected)[-1].reason == "stopped"


def test_silent_stall_is_detected_within_the_timeout_and_reconnected(server: WsServer) -> None:
    rec = Recorder()
    ws = client(server.url + "/ws/x", rec, stale_after_s=0.4)
    ws.start()
    try:
        assert wait_for(lambda: ws.connected.is_set())
        server.broadcast("{}")
        t_last = time.monotonic()
        assert wait_for(lambda: rec.of(StreamStalled), timeout=2)
        t_stall = next(t for t, e in rec.events if isinstance(e, StreamStalled))
        assert 0.35 <= t_stall - t_last <= 0.8
        assert rec.of(StreamStalled)[0].silent_ms >= 400
        assert wait_for(lambda: ws.counts["connects"] >= 2)
        assert rec.of(StreamDisconnected)[0].reason == "stalled"
    finally:
        ws.stop()


def test_drop_reconnects_with_backoff(server: WsServer) -> None:
    rec = Recorder()
    ws = client(server.url + "/ws/x", rec, backoff_initial_s=0.3, backoff_max_s=1.0)
    ws.start()
    try:
        assert wait_for(lambda: ws.connected.is_set())
        server.refuse = True
        server.drop()
        assert wait_for(lambda: ws.counts["connect_failed"] >= 2, timeout=4)
        server.refuse = False
        assert wait_for(lambda: ws.counts["connects"] >= 2, timeout=4)
        connects = [t for t, e in rec.events if isinstance(e, StreamConnected)]
        drops = [t for t, e in rec.events if isinstance(e, StreamDisconnected)]
        # at least the first two backoff waits (0.15..0.3 s, then 0.3..0.6 s) passed before reconnecting
        assert connects[1] - drops[0] >= 0.45
        assert drops[0] < connects[1]
    finally:
        ws.stop()


def test_server_ping_is_answered_and_pongs_keep_a_quiet_user_stream_alive(server: WsServer) -> None:
    rec = Recorder()
    ws = WsClient(server.url + "/ws/LISTENKEY", name="user", on_message=rec.on_message, on_event=rec.on_event,
                  stale_after_s=0.3, liveness="any", ping_interval_s=0.08, redact=True)
    ws.start()
    try:
        assert wait_for(lambda: server.live())
        server.ping_all(b"hello")
        assert wait_for(lambda: (0xA, b"hello") in server.live()[0].received)
        time.sleep(1.0)  # no data at all, but our pings are answered
        assert not rec.of(StreamStalled) and ws.counts["connects"] == 1
        assert "LISTENKEY" not in rec.of(StreamConnected)[0].url
        server.mute = True  # now nothing answers: stalled
        assert wait_for(lambda: rec.of(StreamStalled), timeout=2)
    finally:
        ws.stop()


def test_proactive_rotation(server: WsServer) -> None:
    rec = Recorder()
    ws = client(server.url + "/ws/x", rec, max_lifetime_s=0.3, stale_after_s=5)
    ws.start()
    try:
        assert wait_for(lambda: ws.counts["rotations"] >= 2, timeout=3)
        assert "rotation" in [e.reason for e in rec.of(StreamDisconnected)]
        assert not rec.of(StreamStalled)
    finally:
        ws.stop()


def test_callback_errors_do_not_kill_the_reader(server: WsServer) -> None:
    got: list[str] = []

    def bad(raw: str, recv_ns: int) -> None:
        got.append(raw)
        if raw == "boom":
            raise RuntimeError("bug in a parser")

    ws = WsClient(server.url + "/ws/x", name="m", on_message=bad)
    ws.start()
    try:
        assert wait_for(lambda: ws.connected.is_set())
        server.broadcast("boom")
        server.broadcast("after")
        assert wait_for(lambda: got == ["boom", "after"])
        assert ws.counts["callback_errors"] == 1 and ws.counts["connects"] == 1
    finally:
        ws.stop()


def test_subscribe_is_sent_and_resent_after_a_reconnect(server: WsServer) -> None:
    ws = WsClient(server.url + "/stream", name="m", on_message=lambda r, t: None, backoff_initial_s=0.05)
    ws.start()
    try:
        assert wait_for(lambda: ws.connected.is_set())
        ws.subscribe(["ethusdc@bookTicker"])
        assert wait_for(lambda: any(op == 1 for op, _ in server.live()[0].received))
        msg = json.loads(next(d for op, d in server.live()[0].received if op == 1))
        assert msg["method"] == "SUBSCRIBE" and msg["params"] == ["ethusdc@bookTicker"]
        server.drop()
        assert wait_for(lambda: server.live() and any(op == 1 for op, _ in server.live()[0].received))
        ws.unsubscribe(["ethusdc@bookTicker"])
    finally:
        ws.stop()


def test_stop_interrupts_a_backoff_wait(server: WsServer) -> None:
    server.refuse = True
    ws = WsClient(server.url + "/ws/x", name="m", on_message=lambda r, t: None, backoff_initial_s=30,
                  backoff_max_s=30)
    ws.start()
    assert wait_for(lambda: ws.counts["connect_failed"] >= 1)
    t = time.monotonic()
    ws.stop()
    assert time.monotonic() - t < 1.0 and not ws.alive


def test_reconnect_on_request_uses_the_current_url(server: WsServer) -> None:
    keys = ["k1"]
    ws = WsClient(lambda: f"{server.url}/ws/{keys[0]}", name="user", on_message=lambda r, t: None)
    ws.start()
    try:
        assert wait_for(lambda: ws.connected.is_set())
        keys[0] = "k2"
        ws.reconnect()
        assert wait_for(lambda: any(c.path == "/ws/k2" and not c.closed for c in server.conns))
    finally:
        ws.stop()


def test_bytes_mode_and_invalid_utf8(server: WsServer) -> None:
    from .wsserver import frame

    got: list[object] = []
    ws = WsClient(server.url + "/ws/x", name="m", on_message=lambda raw, t: got.append(raw), as_bytes=True)
    ws.start()
    try:
        assert wait_for(lambda: ws.connected.is_set())
        server.broadcast('{"a":1}')
        assert wait_for(lambda: got == [b'{"a":1}'])
    finally:
        ws.stop()
    texts: list[object] = []
    ws = WsClient(server.url + "/ws/x", name="m", on_message=lambda raw, t: texts.append(raw))
    ws.start()
    try:
        assert wait_for(lambda: ws.connected.is_set() and server.live())
        for c in server.live():
            c.sock.sendall(frame(0x1, b'{"bad":"\xff"}'))  # not UTF-8: replaced, not a dropped connection
        assert wait_for(lambda: texts == ['{"bad":"\ufffd"}'])
        assert ws.counts["connects"] == 1
    finally:
        ws.stop()
