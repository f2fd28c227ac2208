"""What every engine actor shares: typed dispatch, heartbeats, failure reporting, and its peers.

Actors are thin: receive a message, call the pure core, tell the results. Handlers are declared with
``@handles(MessageType)``; an unknown message is logged and counted, never a crash.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any, ClassVar

import msgspec
import pykka
from loguru import logger

from actors.logs import bind_context
from actors.supervisor.messages import Heartbeat

Handler = Callable[[Any, Any], Any]


class Inspect(msgspec.Struct, frozen=True):
    """Ask any actor for a summary of its state (tests, the shutdown summary, an operator)."""


class Crash(msgspec.Struct, frozen=True):
    """Fault drill: the actor raises out of its handler, as a bug would (supervision is tested with it)."""

    reason: str = "drill"


class Hang(msgspec.Struct, frozen=True):
    """Fault drill: the actor blocks for ``seconds``, as a hung call would (heartbeats must catch it)."""

    seconds: float


def handles(*types: type) -> Callable[[Handler], Handler]:
    """Mark a method as the handler of these message types."""

    def mark(fn: Handler) -> Handler:
        fn.__dict__.setdefault("_handles", []).extend(types)
        return fn

    return mark


REGISTER_WAIT_S = 5.0  # a starting actor waits this long to be named in its tree (the supervisor does it at once)


class Peers:
    """The current actor of each name in one tree. A restart replaces the ref here, so a peer's next tell
    finds the successor; a tell to a missing or dead actor is dropped and counted (its successor resyncs)."""

    def __init__(self) -> None:
        self._refs: dict[str, pykka.ActorRef] = {}
        self._changed = threading.Condition()
        self.dropped: Counter[str] = Counter()

    def set(self, name: str, ref: pykka.ActorRef | None) -> None:
        with self._changed:
            if ref is None:
                self._refs.pop(name, None)
            else:
                self._refs[name] = ref
            self._changed.notify_all()

    def await_named(self, name: str, ref: pykka.ActorRef, timeout_s: float) -> bool:
        """Wait until ``ref`` is the current actor of ``name``: an actor does so before its ``on_start``, so
        that the answers to what it asks for there (the OMS's first reconciliation) cannot reach the registry
        before it does and be dropped."""
        with self._changed:
            return self._changed.wait_for(lambda: self._refs.get(name) is ref, timeout_s)

    def get(self, name: str) -> pykka.ActorRef | None:
        return self._refs.get(name)

    def tell(self, name: str, msg: object) -> bool:
        ref = self._refs.get(name)
        if ref is not None:
            try:
                ref.tell(msg)
                return True
            except pykka.ActorDeadError:
                pass
        self.dropped[name] += 1
        return False

    def names(self) -> list[str]:
        return list(self._refs)


class EngineActor(pykka.ThreadingActor):
    """Base of every actor in a tree. ``on_failed(urn, exc)`` reports a crash to the tree's supervisor; with
    ``peers``, an actor that is no longer the current one of its name ignores every message."""

    name: ClassVar[str] = "actor"
    _dispatch: ClassVar[dict[type, Handler]] = {}

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        table: dict[type, Handler] = {}
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                for t in getattr(attr, "_handles", ()):
                    table[t] = attr
        cls._dispatch = table

    def __init__(self, on_failed: Callable[[str, BaseException], None] | None = None,
                 peers: Peers | None = None) -> None:
        super().__init__()
        self._on_failed = on_failed  # (this incarnation's urn, the exception)
        self._peers = peers
        self.unhandled: Counter[str] = Counter()
        self.retired_drops = 0

    def _actor_loop(self) -> None:
        # the body of the actor's own thread (pykka 4.5, pinned): from here every line it logs carries its
        # symbol and name, and no call site has to pass them
        bind_context(*self.log_context())
        if self._peers is not None and not self._peers.await_named(self.name, self.actor_ref, REGISTER_WAIT_S):
            logger.warning("{}: starting unregistered (not named within {} s)", self.name, REGISTER_WAIT_S)
        super()._actor_loop()

    def log_context(self) -> tuple[str | None, str]:
        """(symbol, actor) for this actor's log lines."""
        return getattr(getattr(self, "ctx", None), "symbol", None), self.name

    def on_receive(self, message: Any) -> Any:
        peers = self._peers
        if peers is not None and peers.get(self.name) is not self.actor_ref:
            # Retired: replaced by a successor (this one hung, or never answered its start heartbeat) or being
            # stopped. Whatever it still has queued must not act: two OMSs planning at once would break the
            # inventory limit, and a gateway could place after a panicstop reported "nothing open".
            self.retired_drops += 1
            return None
        handler = self._dispatch.get(type(message))
        if handler is not None:
            return handler(self, message)
        t = type(message)
        if t is Heartbeat:
            return message.seq
        if t is Inspect:
            return self.describe()
        if t is Crash:
            raise RuntimeError(f"{self.name}: crash drill ({message.reason})")
        if t is Hang:
            import time

            time.sleep(message.seconds)  # a drill of exactly what must never happen in an actor
            return None
        self.unhandled[type(message).__name__] += 1
        if self.unhandled[type(message).__name__] <= 3:
            logger.warning("{}: no handler for {}", self.name, type(message).__name__)
        return None

    def describe(self) -> dict[str, Any]:
        """A summary of this actor's state; actors add what matters about them."""
        return {"name": self.name}

    def on_failure(self, exception_type: type[BaseException] | None, exception_value: BaseException | None,
                   traceback: Any) -> None:
        logger.opt(exception=(exception_type, exception_value, traceback)).error("{} crashed", self.name)
        # pykka stops a crashed actor without on_stop: release its sockets, threads, timers and files here,
        # or a crashed gateway would go on streaming beside its successor
        try:
            self.on_stop()
        except Exception as exc:
            logger.error("{}: cleanup after the crash failed: {}", self.name, exc)
        if self._on_failed is not None and exception_value is not None:
            self._on_failed(self.actor_urn, exception_value)
