"""listenKey upkeep for the user-data stream (lesson 8: a placeholder listenKey meant no position updates).

A key lives 60 minutes; a PUT extends it (every 30 minutes is usual). It is recreated when the stream says
``listenKeyExpired``, when a keep-alive answers -1125 (the key does not exist), or when keep-alives kept
failing long enough that the key must have lapsed. The schedule is pure (``next_action``: given the state
and the time, what to do and when); ``ListenKeyKeeper`` does the I/O through ``BinanceRest``, and
``UserStream`` wires a keeper to a ``WsClient`` so that a new key means a reconnect on the new URL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from loguru import logger

from actors.clock import Clock, WallClock
from actors.gateway.binance.errors import LISTEN_KEY_GONE_CODES, BannedError, BinanceError
from actors.gateway.binance.ws import OnEvent, OnMessage, WsClient, raw_url


class KeyAction(StrEnum):
    CREATE = "CREATE"
    KEEPALIVE = "KEEPALIVE"
    WAIT = "WAIT"


@dataclass(frozen=True, slots=True)
class KeyState:
    key: str | None = None
    last_ok_ms: int = 0  # last successful create or keep-alive (monotonic ms)
    failures: int = 0
    retry_at_ms: int = 0  # after a failure, nothing is tried before this
    expired: bool = False


@dataclass(frozen=True, slots=True)
class KeySchedule:
    keepalive_every_ms: int = 30 * 60_000
    validity_ms: int = 60 * 60_000
    retry_base_ms: int = 1_000
    retry_max_ms: int = 60_000


def next_action(state: KeyState, now_ms: int, sched: KeySchedule) -> tuple[KeyAction, int]:
    """What to do now, or WAIT and for how many ms."""
    if now_ms < state.retry_at_ms:
        return KeyAction.WAIT, state.retry_at_ms - now_ms
    if state.key is None or state.expired or now_ms - state.last_ok_ms >= sched.validity_ms:
        return KeyAction.CREATE, 0
    due = state.last_ok_ms + sched.keepalive_every_ms
    if now_ms >= due:
        return KeyAction.KEEPALIVE, 0
    return KeyAction.WAIT, due - now_ms


def on_created(state: KeyState, key: str, now_ms: int) -> KeyState:
    return KeyState(key=key, last_ok_ms=now_ms)


def on_kept_alive(state: KeyState, now_ms: int) -> KeyState:
    return replace(state, last_ok_ms=now_ms, failures=0, retry_at_ms=0)


def on_expired(state: KeyState) -> KeyState:
    return replace(state, expired=True, retry_at_ms=0, failures=0)


def on_failure(state: KeyState, now_ms: int, sched: KeySchedule, not_before_ms: int = 0) -> KeyState:
    failures = state.failures + 1
    delay = min(sched.retry_max_ms, sched.retry_base_ms * 2 ** (failures - 1))
    return replace(state, failures=failures, retry_at_ms=max(now_ms + delay, not_before_ms))


class ListenKeyKeeper:
    """Keeps one listenKey valid. Drive it with ``tick()`` (from an actor) or ``start()`` its own thread."""

    def __init__(
        self,
        rest,  # BinanceRest (duck-typed: listen_key_create / listen_key_keepalive / listen_key_delete)
        *,
        on_new_key: Callable[[str], None] | None = None,
        clock: Clock | None = None,
        schedule: KeySchedule | None = None,
    ) -> None:
        self._rest = rest
        self._on_new_key = on_new_key
        self._clock: Clock = clock or WallClock()
        self.schedule = schedule or KeySchedule()
        self._state = KeyState()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.creates = 0
        self.keepalives = 0
        self.failures = 0

    def __repr__(self) -> str:
        return "ListenKeyKeeper(<key hidden>)"

    @property
    def key(self) -> str | None:
        with self._lock:
            return self._state.key

    @property
    def state(self) -> KeyState:
        with self._lock:
            return self._state

    def _now_ms(self) -> int:
        return self._clock.monotonic_ns() // 1_000_000

    def expired(self) -> None:
        """The stream said ``listenKeyExpired``: recreate now."""
        with self._lock:
            self._state = on_expired(self._state)
        self._wake.set()

    def tick(self) -> float:
        """Do whatever is due; returns seconds until the next thing is due."""
        now = self._now_ms()
        with self._lock:
            action, wait_ms = next_action(self._state, now, self.schedule)
        if action is KeyAction.WAIT:
            return wait_ms / 1000
        try:
            if action is KeyAction.CREATE:
                key = self._rest.listen_key_create()
                with self._lock:
                    self._state = on_created(self._state, key, self._now_ms())
                self.creates += 1
                logger.info("listenKey created (#{})", self.creates)
                if self._on_new_key is not None:
                    self._on_new_key(key)
            else:
                self._rest.listen_key_keepalive()
                with self._lock:
                    self._state = on_kept_alive(self._state, self._now_ms())
                self.keepalives += 1
        except BinanceError as exc:
            self.failures += 1
            if action is KeyAction.KEEPALIVE and exc.code in LISTEN_KEY_GONE_CODES:
                logger.warning("listenKey keep-alive: key gone (-1125); recreating")
                with self._lock:
                    self._state = on_expired(self._state)
                return 0.0
            not_before = 0
            if isinstance(exc, BannedError):  # ban end is server time; convert to our monotonic ms
                not_before = self._now_ms() + max(0, exc.until_ms - self._clock.time_ns() // 1_000_000)
            logger.warning("listenKey {} failed: {}", action.value.lower(), exc)
            with self._lock:
                self._state = on_failure(self._state, self._now_ms(), self.schedule, not_before)
        with self._lock:
            _, wait_ms = next_action(self._state, self._now_ms(), self.schedule)
        return wait_ms / 1000

    # ---- optional own thread
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._run, name="listenkey", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delay = self.tick()
            except Exception:  # never let the upkeep thread die silently
                logger.exception("listenKey upkeep failed")
                delay = self.schedule.retry_base_ms / 1000
            self._wake.wait(delay)
            self._wake.clear()

    def stop(self, *, delete: bool = False, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        if delete and self.key is not None:
            try:
                self._rest.listen_key_delete()
            except BinanceError as exc:
                logger.warning("listenKey delete failed: {}", exc)


class UserStream:
    """The user-data stream: a keeper and a WsClient on ``<ws_base>/ws/<listenKey>``, wired together.

    A new key reconnects the socket on the new URL; a ``listenKeyExpired`` frame triggers a new key. Frames
    are handed on raw (``on_message``), as for any stream; the owner parses them.
    """

    def __init__(
        self,
        rest,
        ws_base: str,
        *,
        on_message: OnMessage,
        on_event: OnEvent | None = None,
        clock: Clock | None = None,
        schedule: KeySchedule | None = None,
        stale_after_s: float = 10.0,
        **ws_kwargs,
    ) -> None:
        self._on_message = on_message
        self.keeper = ListenKeyKeeper(rest, on_new_key=self._new_key, clock=clock, schedule=schedule)
        self._started = False
        self.ws = WsClient(lambda: raw_url(ws_base, self.keeper.key or "none"), name="user",
                           on_message=self._message, on_event=on_event, clock=clock,
                           stale_after_s=stale_after_s, liveness="any", redact=True, **ws_kwargs)

    def _new_key(self, key: str) -> None:
        if self._started:
            self.ws.reconnect()

    def _message(self, raw: str, recv_ns: int) -> None:
        if "listenKeyExpired" in raw:
            self.keeper.expired()
        self._on_message(raw, recv_ns)

    def start(self) -> None:
        """Create the key first (raises if that fails), then connect and keep it alive."""
        self.keeper.tick()
        if self.keeper.key is None:
            raise RuntimeError("could not create a listenKey")
        self._started = True
        self.ws.start()
        self.keeper.start()

    def stop(self, *, delete_key: bool = True) -> None:
        self.keeper.stop(delete=delete_key)
        self.ws.stop()
