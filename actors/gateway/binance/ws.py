"""Binance WebSocket client: one reader thread, a staleness watchdog, reconnects, rotation before 24 h.

Lesson 2 (a silent 4-hour stall) is why the watchdog exists: an open socket that delivers nothing for
``stale_after_s`` is reported (``StreamStalled``), closed and reconnected. What counts as "something":
data frames only (``liveness="data"``, for market streams, which are never quiet), or also the pongs that
answer our own pings (``liveness="any"``, for the user stream, which is legitimately quiet for hours).

The reader waits with ``select`` (so the watchdog runs even when nothing arrives) and reads whole frames
with ``recv_data_frame``, which also answers the server's pings. The receive time is taken with the injected
clock as soon as a frame is read. Reconnect waits are ``Event.wait`` (``stop()`` interrupts them).
"""

from __future__ import annotations

import contextlib
import itertools
import random
import re
import select
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import orjson
import websocket
from loguru import logger

from actors.clock import Clock, WallClock
from actors.gateway.events import StreamConnected, StreamDisconnected, StreamEvent, StreamStalled

OnMessage = Callable[[str, int], None]  # (raw frame, recv_ns); bytes if as_bytes
OnEvent = Callable[[StreamEvent], None]

DAY_S = 24 * 3600.0


def combined_url(base: str, streams: Sequence[str]) -> str:
    """``wss://fstream.binance.com`` + streams → ``.../stream?streams=a/b`` (one socket, many streams)."""
    if not streams:
        raise ValueError("no streams")
    return f"{base.rstrip('/')}/stream?streams={'/'.join(streams)}"


def raw_url(base: str, stream: str) -> str:
    """``.../ws/<stream>``: one stream, or the user stream (``stream`` = listenKey)."""
    return f"{base.rstrip('/')}/ws/{stream}"


def backoff_delay(failures: int, initial_s: float, max_s: float, u: float) -> float:
    """Jittered exponential backoff: ``min(max, initial·2^(failures-1))`` scaled by ``0.5 + u/2``."""
    if failures <= 0:
        return 0.0
    return min(max_s, initial_s * 2 ** (failures - 1)) * (0.5 + 0.5 * u)


_KEY_RE = re.compile(r"(/ws/)[^/?]+")


def redact_url(url: str) -> str:
    """Hide a listenKey (whoever holds it reads our orders)."""
    return _KEY_RE.sub(r"\1<listenKey>", url)


class WsClient:
    """One logical stream, kept connected until ``stop()``."""

    def __init__(
        self,
        url: str | Callable[[], str],
        *,
        name: str,
        on_message: OnMessage,
        on_event: OnEvent | None = None,
        clock: Clock | None = None,
        stale_after_s: float = 5.0,
        liveness: str = "data",
        ping_interval_s: float | None = None,
        max_lifetime_s: float = DAY_S - 1800.0,
        backoff_initial_s: float = 0.25,
        backoff_max_s: float = 30.0,
        connect_timeout_s: float = 5.0,
        poll_s: float = 0.05,
        redact: bool = False,
        as_bytes: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        """``as_bytes`` hands ``on_message`` the frame's bytes undecoded (the feed parser decodes bytes
        itself, so the hot path skips one copy); otherwise it gets ``str``."""
        if liveness not in ("data", "any"):
            raise ValueError("liveness is 'data' or 'any'")
        self._url = url if callable(url) else (lambda: url)
        self.name = name
        self._on_message = on_message
        self._on_event = on_event
        self._clock: Clock = clock or WallClock()
        self.stale_after_s = stale_after_s
        self.liveness = liveness
        self.ping_interval_s = ping_interval_s if ping_interval_s is not None else max(0.2, stale_after_s / 3)
        self.max_lifetime_s = max_lifetime_s
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._connect_timeout_s = connect_timeout_s
        self._poll_s = poll_s
        self._redact = redact
        self._as_bytes = as_bytes
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        self._kick = threading.Event()  # reconnect() asks the reader to drop the connection
        self._lock = threading.Lock()
        self._ws: websocket.WebSocket | None = None
        self._thread: threading.Thread | None = None
        self._subscribed: set[str] = set()
        self._ids = itertools.count(1)
        self.counts: Counter[str] = Counter()  # connects, messages, stalls, rotations, errors, ...
        self.connected = threading.Event()

    def __repr__(self) -> str:
        return f"WsClient({self.name!r})"

    # ---- lifecycle
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._run, name=f"ws-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Close the socket, end the reader thread and wait for it."""
        self._stop.set()
        self._abort()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                logger.error("ws {}: reader thread did not stop within {} s", self.name, timeout_s)

    def reconnect(self) -> None:
        """Drop the current connection; the reader reconnects at once (e.g. a new listenKey URL)."""
        self._kick.set()
        self._abort()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _abort(self) -> None:
        with self._lock:
            ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):  # already closed
                ws.abort()

    # ---- live (un)subscription on a combined stream
    def subscribe(self, streams: Iterable[str]) -> None:
        streams = list(streams)
        self._subscribed.update(streams)
        self._send_method("SUBSCRIBE", streams)

    def unsubscribe(self, streams: Iterable[str]) -> None:
        streams = list(streams)
        self._subscribed.difference_update(streams)
        self._send_method("UNSUBSCRIBE", streams)

    def _send_method(self, method: str, streams: list[str]) -> None:
        with self._lock:
            ws = self._ws
        if ws is None or not streams:
            return  # sent on the next connect
        try:
            ws.send(orjson.dumps({"method": method, "params": streams, "id": next(self._ids)}).decode())
        except (websocket.WebSocketException, OSError) as exc:
            logger.warning("ws {}: {} failed ({}); the reconnect will resend", self.name, method, exc)

    # ---- the reader thread
    def _emit(self, ev: StreamEvent) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(ev)
        except Exception:
            logger.exception("ws {}: on_event callback failed", self.name)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            url = self._url()
            shown = redact_url(url) if self._redact else url
            try:
                # UTF-8 is checked by the C decoder below; websocket-client's own check is a per-byte
                # Python loop (hundreds of µs per depth frame without wsaccel)
                ws = websocket.create_connection(url, timeout=self._connect_timeout_s,
                                                 enable_multithread=True, skip_utf8_validation=True)
            except Exception as exc:  # refused, DNS, handshake: all mean "try again later"
                failures += 1
                self.counts["connect_failed"] += 1
                delay = backoff_delay(failures, *self._backoff, self._rng.random())
                logger.warning("ws {}: connect failed ({}); retry in {:.2f} s", self.name,
                               type(exc).__name__, delay)
                self._stop.wait(delay)
                continue
            with self._lock:
                self._ws = ws
            self._kick.clear()
            self.counts["connects"] += 1
            self.connected.set()
            self._emit(StreamConnected(self.name, shown, self._clock.time_ns()))
            if self._subscribed:
                self._send_method("SUBSCRIBE", sorted(self._subscribed))
            reason, got_data = self._read(ws)
            self.connected.clear()
            with self._lock:
                self._ws = None
            with contextlib.suppress(Exception):
                ws.close(timeout=0.2)
            self._emit(StreamDisconnected(self.name, reason, self._clock.time_ns()))
            if self._stop.is_set():
                break
            if reason in ("rotation", "reconnect requested"):
                failures = 0
                continue
            failures = 1 if got_data else failures + 1
            delay = backoff_delay(failures, *self._backoff, self._rng.random())
            logger.warning("ws {}: disconnected ({}); reconnect in {:.2f} s", self.name, reason, delay)
            self._stop.wait(delay)

    def _read(self, ws: websocket.WebSocket) -> tuple[str, bool]:
        """Read until the connection should end; returns why, and whether any data arrived."""
        clock = self._clock
        stale_ns = int(self.stale_after_s * 1e9)
        ping_ns = int(self.ping_interval_s * 1e9)
        started = last_rx = last_ping = clock.monotonic_ns()
        end_ns = started + int(self.max_lifetime_s * 1e9)
        got_data = False
        sock = ws.sock
        try:
            sock.settimeout(max(self.stale_after_s, 2.0))  # a frame that starts must finish
            while True:
                if self._stop.is_set():
                    return "stopped", got_data
                if self._kick.is_set():
                    return "reconnect requested", got_data
                now = clock.monotonic_ns()
                silent = now - last_rx
                if silent >= stale_ns:
                    self.counts["stalls"] += 1
                    what = "message" if self.liveness == "data" else "message or pong"
                    logger.warning("ws {}: no {} for {} ms: stalled", self.name, what, silent // 10**6)
                    self._emit(StreamStalled(self.name, silent // 1_000_000, clock.time_ns()))
                    return "stalled", got_data
                if now >= end_ns:
                    self.counts["rotations"] += 1
                    return "rotation", got_data
                if now - last_ping >= ping_ns:
                    ws.ping()
                    last_ping = now
                pending = getattr(sock, "pending", None)
                if not (pending and pending()):
                    wait_s = min(self._poll_s, (stale_ns - silent) / 1e9)
                    readable, _, _ = select.select([sock], [], [], max(0.0, wait_s))
                    if not readable:
                        continue
                opcode, frame = ws.recv_data_frame(control_frame=True)
                recv_ns = clock.time_ns()
                if opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
                    last_rx = clock.monotonic_ns()
                    got_data = True
                    self.counts["messages"] += 1
                    data = frame.data
                    if not self._as_bytes and isinstance(data, bytes | bytearray):
                        data = data.decode("utf-8", "replace")
                    try:
                        self._on_message(data, recv_ns)
                    except Exception:
                        self.counts["callback_errors"] += 1
                        logger.exception("ws {}: on_message callback failed", self.name)
                elif opcode == websocket.ABNF.OPCODE_CLOSE:
                    return "closed by server", got_data
                elif opcode in (websocket.ABNF.OPCODE_PONG, websocket.ABNF.OPCODE_PING):
                    self.counts["pongs" if opcode == websocket.ABNF.OPCODE_PONG else "pings"] += 1
                    if self.liveness == "any":
                        last_rx = clock.monotonic_ns()
        except (websocket.WebSocketException, OSError, ValueError) as exc:
            if self._stop.is_set():
                return "stopped", got_data
            if self._kick.is_set():
                return "reconnect requested", got_data
            self.counts["errors"] += 1
            return f"error: {type(exc).__name__}", got_data
