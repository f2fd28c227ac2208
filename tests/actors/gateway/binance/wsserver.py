"""A tiny RFC 6455 server on loopback for WsClient tests: broadcast, go silent, drop, refuse, ping."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import struct
import threading
from dataclasses import dataclass, field

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


@dataclass
class Conn:
    sock: socket.socket
    path: str
    received: list[tuple[int, bytes]] = field(default_factory=list)
    closed: bool = False


class WsServer:
    def __init__(self) -> None:
        self._srv = socket.create_server(("127.0.0.1", 0))
        self.port = self._srv.getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}"
        self.conns: list[Conn] = []
        self.mute = False  # no data and no pongs: a silent stall
        self.refuse = False  # close new connections before the handshake
        self._lock = threading.Lock()
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    # ---- test controls
    def broadcast(self, text: str) -> int:
        n = 0
        for c in self.live():
            try:
                c.sock.sendall(frame(0x1, text.encode()))
                n += 1
            except OSError:
                c.closed = True
        return n

    def ping_all(self, payload: bytes = b"srv") -> None:
        for c in self.live():
            c.sock.sendall(frame(0x9, payload))

    def drop(self) -> None:
        """Abrupt loss: no close frame."""
        for c in self.live():
            c.closed = True
            with contextlib.suppress(OSError):
                c.sock.shutdown(socket.SHUT_RDWR)
            c.sock.close()

    def live(self) -> list[Conn]:
        with self._lock:
            return [c for c in self.conns if not c.closed]

    def stop(self) -> None:
        self._stop.set()
        self.drop()
        self._srv.close()

    # ---- server side
    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._srv.accept()
            except OSError:
                return
            if self.refuse:
                sock.close()
                continue
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            req = b""
            while b"\r\n\r\n" not in req:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                req += chunk
            lines = req.decode().split("\r\n")
            path = lines[0].split(" ")[1]
            key = next(v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])
                       if k.lower() == "sec-websocket-key")
            accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
        except (OSError, StopIteration):
            sock.close()
            return
        conn = Conn(sock, path)
        with self._lock:
            self.conns.append(conn)
        try:
            while not conn.closed:
                b0, b1 = _recv_exact(sock, 2)
                opcode, n = b0 & 0x0F, b1 & 0x7F
                if n == 126:
                    n = struct.unpack("!H", _recv_exact(sock, 2))[0]
                elif n == 127:
                    n = struct.unpack("!Q", _recv_exact(sock, 8))[0]
                mask = _recv_exact(sock, 4) if b1 & 0x80 else b"\0\0\0\0"
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(_recv_exact(sock, n)))
                conn.received.append((opcode, data))
                if opcode == 0x9 and not self.mute:
                    sock.sendall(frame(0xA, data))
                elif opcode == 0x8:
                    sock.sendall(frame(0x8, data[:2]))
                    break
        except (OSError, ConnectionError, ValueError):
            pass
        finally:
            conn.closed = True
            with contextlib.suppress(OSError):
                sock.close()
