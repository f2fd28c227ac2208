"""WebSocket market streams: a local book synced by the documented rules stays equal to every bookTicker,
across a depth gap and a resync; stream chains per speed; subscriptions; pings, pong timeouts, lifetime."""

from __future__ import annotations

import base64
import itertools
import json
import os
import socket
import struct
import time
from decimal import Decimal

import websocket

from simex import SimConfig, SimExchange

from .conftest import Client, LocalBook, WsReader, wait_for

SYM = "ethusdc"


class Follower:
    """Follows depth@0ms + bookTicker messages in arrival order, resyncing from REST on any gap."""

    def __init__(self, client: Client, reader: WsReader) -> None:
        self.client, self.reader = client, reader
        self.book = LocalBook()
        self.book.load(client.public("/fapi/v1/depth", symbol=SYM.upper(), limit=1000).json())
        self.i = 0

    def run(self, seconds: float, place_order: bool = False) -> dict[str, int]:
        stats = {"checks": 0, "applied": 0, "resyncs": 0}
        book = self.book
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            with self.reader.lock:
                batch = self.reader.msgs[self.i:]
            self.i += len(batch)
            for stream, data in batch:
                if stream == f"{SYM}@depth@0ms":
                    if book.apply(data):
                        stats["applied"] += 1
                    else:
                        stats["resyncs"] += 1
                        book.load(self.client.public("/fapi/v1/depth", symbol=SYM.upper(), limit=1000).json())
                elif stream == f"{SYM}@bookTicker" and book.synced and data["u"] == book.last_u:
                    bb, bq, ba, aq = book.top()
                    assert (bb, bq, ba, aq) == (Decimal(data["b"]), Decimal(data["B"]), Decimal(data["a"]),
                                                Decimal(data["A"])), (data, book.top())
                    assert bb < ba
                    stats["checks"] += 1
            if place_order and book.synced:
                bb = book.top()[0]
                self.client.ok("POST", "/fapi/v1/order", symbol=SYM.upper(), side="BUY", type="LIMIT",
                               timeInForce="GTC", quantity="7.777", price=str(bb - Decimal("0.05")))
                place_order = False
            time.sleep(0.02)
        return stats


def test_local_book_matches_every_book_ticker_including_after_a_gap_and_resync() -> None:
    with SimExchange(SimConfig(seed=11, speed=4.0)) as sx:
        client = Client(sx.rest_url)
        reader = WsReader(f"{sx.ws_url}/stream?streams={SYM}@depth@0ms/{SYM}@bookTicker")
        try:
            assert wait_for(lambda: len(reader.msgs) > 5)
            follower = Follower(client, reader)
            stats = follower.run(1.5, place_order=True)
            assert stats["checks"] >= 10 and stats["applied"] >= 20 and stats["resyncs"] == 0
            sx.fault("depth_gap", symbol="ETHUSDC")
            stats2 = follower.run(1.5)
            assert stats2["resyncs"] == 1 and stats2["checks"] >= 10
            assert follower.book.gaps == 1
            # our resting order is part of the published book
            snap = client.public("/fapi/v1/depth", symbol="ETHUSDC", limit=1000).json()
            mine = sx.state()["accounts"]["simkey"]["open_orders"]
            if mine:
                level = dict(snap["bids"])[mine[0]["price"]]
                assert Decimal(level) >= Decimal(mine[0]["remaining"])
        finally:
            reader.close()


def test_every_depth_speed_chains_and_bridges_the_snapshot(sx: SimExchange, client: Client) -> None:
    names = [f"{SYM}@depth@0ms", f"{SYM}@depth@100ms", f"{SYM}@depth", f"{SYM}@depth@500ms"]
    reader = WsReader(f"{sx.ws_url}/stream?streams=" + "/".join(names))
    try:
        assert wait_for(lambda: len(reader.of(f"{SYM}@depth")) >= 1, timeout=3)
        snap = client.public("/fapi/v1/depth", symbol="ETHUSDC", limit=5).json()
        assert wait_for(lambda: all(any(e["u"] >= snap["lastUpdateId"] for e in reader.of(n)) for n in names),
                        timeout=5)
        for name in names:
            evs = reader.of(name)
            assert all(b["pu"] == a["u"] and b["U"] == a["u"] + 1 for a, b in itertools.pairwise(evs)), name
            first = next(e for e in evs if e["u"] >= snap["lastUpdateId"])
            assert first["U"] <= snap["lastUpdateId"] <= first["u"]          # USDⓈ-M rule
            assert first["U"] <= snap["lastUpdateId"] + 1 <= first["u"]      # spot rule
            assert set(evs[0]) == {"e", "E", "T", "s", "U", "u", "pu", "b", "a"} and evs[0]["s"] == "ETHUSDC"
        t100 = [e["E"] for e in reader.of(f"{SYM}@depth@100ms")]
        assert all(b - a >= 90 for a, b in itertools.pairwise(t100))
    finally:
        reader.close()


def test_trades_subscriptions_and_raw_streams(sx: SimExchange) -> None:
    ws = websocket.create_connection(f"{sx.ws_url}/ws/{SYM}@trade", timeout=5)
    try:
        msg = json.loads(ws.recv())
        assert msg["e"] == "trade" and set(msg) == {"e", "E", "T", "s", "t", "p", "q", "X", "m"}
        ws.send(json.dumps({"method": "SUBSCRIBE", "params": [f"{SYM}@bookTicker", f"{SYM}@aggTrade"], "id": 7}))
        ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 8}))
        got: dict[int, object] = {}
        kinds = set()
        end = time.monotonic() + 5
        while time.monotonic() < end and (len(got) < 2 or not {"bookTicker", "aggTrade"} <= kinds):
            m = json.loads(ws.recv())
            if "id" in m:
                got[m["id"]] = m["result"]
            else:
                kinds.add(m["e"])
        assert got == {7: None, 8: sorted([f"{SYM}@trade", f"{SYM}@bookTicker", f"{SYM}@aggTrade"])}
        ws.send(json.dumps({"method": "UNSUBSCRIBE", "params": [f"{SYM}@trade", f"{SYM}@aggTrade",
                                                                f"{SYM}@bookTicker"], "id": 9}))
        ws.send("not json")
        replies = []
        while len(replies) < 2:
            m = json.loads(ws.recv())
            if "id" in m or "error" in m:
                replies.append(m)
        assert replies[0] == {"result": None, "id": 9} and replies[1]["error"]["code"] == 3
    finally:
        ws.close()


def test_server_pings_pong_timeout_and_max_lifetime() -> None:
    cfg = SimConfig(seed=2, ws_ping_interval_s=0.3, ws_pong_timeout_s=0.6, ws_max_lifetime_s=2.0)
    with SimExchange(cfg) as sx:
        # a client that answers pings stays until the lifetime ends, then the server closes it
        ws = websocket.create_connection(f"{sx.ws_url}/ws/{SYM}@bookTicker", timeout=5)
        ws.ping("hello")
        saw_pong = saw_ping = False
        t0 = time.monotonic()
        closed_at = None
        while time.monotonic() - t0 < 5:
            try:
                op, frame = ws.recv_data_frame(control_frame=True)
            except websocket.WebSocketConnectionClosedException:
                closed_at = time.monotonic() - t0
                break
            if op == websocket.ABNF.OPCODE_PONG and frame.data == b"hello":
                saw_pong = True
            if op == websocket.ABNF.OPCODE_PING:
                saw_ping = True
                ws.pong(frame.data)
            if op == websocket.ABNF.OPCODE_CLOSE:
                closed_at = time.monotonic() - t0
                assert struct.unpack("!H", frame.data[:2])[0] == 1000
                break
        assert saw_pong and saw_ping
        assert closed_at is not None and 1.8 <= closed_at <= 3.5
        # a silent client (no pongs) is dropped after the pong timeout
        raw = _raw_ws(sx.ws_url, f"/ws/{SYM}@bookTicker")
        raw.settimeout(5)
        t0 = time.monotonic()
        data = b""
        while True:
            chunk = raw.recv(65536)
            if not chunk:
                break
            data += chunk
        assert 0.8 <= time.monotonic() - t0 <= 2.0
        assert struct.pack("!H", 1008) in data
        assert sx.state()["ws"]["closed_by_server"]["pong_timeout"] >= 1


def _raw_ws(ws_url: str, path: str) -> socket.socket:
    host, port = ws_url.removeprefix("ws://").split(":")
    s = socket.create_connection((host, int(port)), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101")
    from simex.wsproto import accept_key
    assert f"Sec-WebSocket-Accept: {accept_key(key)}".encode() in head
    return s


def _masked(op: int, payload: bytes, fin: bool = True) -> bytes:
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([(0x80 if fin else 0) | op, 0x80 | len(payload)]) + mask + body


def test_raw_protocol_fragmentation_ping_and_unmasked_frames(sx: SimExchange) -> None:
    s = _raw_ws(sx.ws_url, "/ws")
    req = json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 1}).encode()
    s.sendall(_masked(0x1, req[:10], fin=False) + _masked(0x9, b"pp") + _masked(0x0, req[10:]))
    buf = b""
    end = time.monotonic() + 3
    while time.monotonic() < end and b'"id":1' not in buf:
        buf += s.recv(4096)
    assert buf.startswith(b"\x8a\x02pp")                          # pong first, then the reply
    assert b'{"result":[],"id":1}' in buf
    s.sendall(bytes([0x81, 2]) + b"hi")                           # unmasked: protocol error
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    assert data[:1] == b"\x88" and struct.unpack("!H", data[2:4])[0] == 1002
    s.close()
