"""listenKey schedule (pure) and the keeper's I/O decisions on a fake REST client."""

from __future__ import annotations

from actors.clock import SimClock
from actors.gateway.binance.errors import BannedError, RejectedError, RetryableError
from actors.gateway.binance.listenkey import (
    KeyAction,
    KeySchedule,
    KeyState,
    ListenKeyKeeper,
    next_action,
    on_created,
    on_expired,
    on_failure,
    on_kept_alive,
)

S = KeySchedule(keepalive_every_ms=1_800_000, validity_ms=3_600_000, retry_base_ms=1_000, retry_max_ms=8_000)
MIN = 60_000


def test_schedule() -> None:
    st = KeyState()
    assert next_action(st, 0, S) == (KeyAction.CREATE, 0)
    st = on_created(st, "k", 0)
    assert next_action(st, 10 * MIN, S) == (KeyAction.WAIT, 20 * MIN)
    assert next_action(st, 30 * MIN, S) == (KeyAction.KEEPALIVE, 0)
    st = on_kept_alive(st, 30 * MIN)
    assert next_action(st, 31 * MIN, S) == (KeyAction.WAIT, 29 * MIN)
    assert next_action(on_expired(st), 31 * MIN, S) == (KeyAction.CREATE, 0)


def test_failures_back_off_and_a_lapsed_key_is_recreated() -> None:
    st = on_created(KeyState(), "k", 0)
    st = on_failure(st, 30 * MIN, S)
    assert next_action(st, 30 * MIN, S) == (KeyAction.WAIT, 1_000)
    st = on_failure(st, 30 * MIN + 1_000, S)
    assert st.retry_at_ms == 30 * MIN + 3_000
    for _ in range(10):
        st = on_failure(st, 40 * MIN, S)
    assert st.retry_at_ms == 40 * MIN + 8_000  # capped
    assert next_action(st, 60 * MIN, S) == (KeyAction.CREATE, 0)  # kept failing past the 60-min validity
    assert on_failure(st, 0, S, not_before_ms=99_999).retry_at_ms == 99_999


class FakeRest:
    def __init__(self) -> None:
        self.created = 0
        self.kept = 0
        self.deleted = 0
        self.keepalive_error: Exception | None = None
        self.create_error: Exception | None = None

    def listen_key_create(self) -> str:
        if self.create_error:
            raise self.create_error
        self.created += 1
        return f"key{self.created}"

    def listen_key_keepalive(self) -> None:
        if self.keepalive_error:
            raise self.keepalive_error
        self.kept += 1

    def listen_key_delete(self) -> None:
        self.deleted += 1


def test_keeper_creates_keeps_alive_and_recreates() -> None:
    clock, rest, keys = SimClock(), FakeRest(), []
    k = ListenKeyKeeper(rest, on_new_key=keys.append, clock=clock, schedule=S)
    assert k.tick() == 1800.0 and keys == ["key1"] and k.key == "key1"
    clock.advance(1800 * 10**9)
    assert k.tick() == 1800.0 and rest.kept == 1
    k.expired()  # listenKeyExpired on the stream
    k.tick()
    assert keys == ["key1", "key2"]
    rest.keepalive_error = RejectedError("This listenKey does not exist.", code=-1125)
    clock.advance(1800 * 10**9)
    assert k.tick() == 0.0  # gone: recreate at once
    k.tick()
    assert keys[-1] == "key3" and rest.created == 3
    assert "key" not in repr(k).replace("<key hidden>", "")


def test_keeper_retries_transient_errors_and_respects_a_ban() -> None:
    clock, rest = SimClock(), FakeRest()
    k = ListenKeyKeeper(rest, clock=clock, schedule=S)
    rest.create_error = RetryableError("503")
    assert k.tick() == 1.0 and k.key is None
    clock.advance(10**9)
    assert k.tick() == 2.0
    now_ms = clock.time_ns() // 1_000_000
    rest.create_error = BannedError("banned", until_ms=now_ms + 120_000)
    clock.advance(2 * 10**9)
    assert k.tick() == 118.0  # nothing before the ban ends
    rest.create_error = None
    clock.advance(118 * 10**9)
    k.tick()
    assert k.key == "key1"
    k.stop(delete=True)
    assert rest.deleted == 1
