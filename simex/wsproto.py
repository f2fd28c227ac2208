"""RFC 6455 essentials for a server: the opening handshake and frame encoding/decoding.

Server frames are never masked; client frames must be. Fragmented client messages are reassembled;
control frames may arrive between fragments.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_MESSAGE = 1 << 20


class ProtocolError(Exception):
    def __init__(self, msg: str, code: int = 1002) -> None:
        super().__init__(msg)
        self.code = code


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def handshake_response(key: str) -> bytes:
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n"
    ).encode()


def encode_frame(opcode: int, payload: bytes = b"", fin: bool = True) -> bytes:
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", first, n)
    elif n < 1 << 16:
        header = struct.pack("!BBH", first, 126, n)
    else:
        header = struct.pack("!BBQ", first, 127, n)
    return header + payload


def close_frame(code: int = 1000, reason: str = "") -> bytes:
    return encode_frame(OP_CLOSE, struct.pack("!H", code) + reason.encode()[:120])


def _unmask(data: bytes, mask: bytes) -> bytes:
    if not data:
        return data
    n = len(data)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(data, "big") ^ key).to_bytes(n, "big")


async def read_frame(reader: asyncio.StreamReader) -> tuple[bool, int, bytes]:
    """(fin, opcode, unmasked payload) of the next client frame."""
    b0, b1 = await reader.readexactly(2)
    fin, opcode = bool(b0 & 0x80), b0 & 0x0F
    if b0 & 0x70:
        raise ProtocolError("reserved bits set")
    masked, n = bool(b1 & 0x80), b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    if opcode >= 0x8 and (n > 125 or not fin):
        raise ProtocolError("bad control frame")
    if n > MAX_MESSAGE:
        raise ProtocolError("frame too large", 1009)
    if not masked:
        raise ProtocolError("client frames must be masked")
    mask = await reader.readexactly(4)
    return fin, opcode, _unmask(await reader.readexactly(n), mask)


class MessageReader:
    """Reassembles fragmented data messages; yields control frames as they come."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader
        self._op: int | None = None
        self._parts: list[bytes] = []

    async def next(self) -> tuple[int, bytes]:
        while True:
            fin, op, payload = await read_frame(self.reader)
            if op >= 0x8:
                return op, payload
            if op == OP_CONT:
                if self._op is None:
                    raise ProtocolError("continuation without a message")
                self._parts.append(payload)
            else:
                if self._op is not None:
                    raise ProtocolError("new message inside a fragmented one")
                self._op, self._parts = op, [payload]
            if sum(len(p) for p in self._parts) > MAX_MESSAGE:
                raise ProtocolError("message too large", 1009)
            if fin:
                op_done, data = self._op, b"".join(self._parts)
                self._op, self._parts = None, []
                return op_done, data
