"""The supervisor of one tree: starts children in order, restarts per strategy, gives up past its intensity.

It is itself an actor, so failure reports queue up and are handled one at a time. Children are built by
factories (name → function of the failure callback → actor ref); after each (re)start the child must answer a
heartbeat, which proves its ``on_start`` succeeded (pykka reports no ``on_failure`` for ``on_start``).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from typing import Any

import pykka
from loguru import logger

from actors.base import EngineActor, Peers, handles
from actors.clock import Clock
from actors.supervisor.messages import ChildFailed, ChildRestarted, Heartbeat, TreeGaveUp
from actors.supervisor.tree import RestartIntensity, TreeSpec, to_restart
from actors.timers import TimerHandle, Timers

Factory = Callable[[Callable[[str, BaseException], None]], pykka.ActorRef]


class CheckHeartbeats:
    """Timer message: ask every child for a heartbeat."""


class StartTree:
    pass


class SupervisorActor(EngineActor):
    name = "supervisor"

    def __init__(self, spec: TreeSpec, factories: dict[str, Factory], peers: Peers, clock: Clock, timers: Timers,
                 *, on_gave_up: Callable[[TreeGaveUp], None], on_restarted: Callable[[ChildRestarted], None] | None
                 = None, give_up: Callable[[str, bool], None] | None = None, heartbeat_s: float = 1.0,
                 heartbeat_timeout_s: float = 3.0, stop_timeout_s: float = 5.0,
                 on_failed: Callable[[str, BaseException], None] | None = None,
                 on_alive: Callable[[str, int], None] | None = None) -> None:
        super().__init__(on_failed)
        missing = [c for c in spec.children if c not in factories]
        if missing:
            raise ValueError(f"{spec.name}: no factory for {missing}")
        self.spec = spec
        self._factories = factories
        self.peers = peers
        self._clock = clock
        self._timers = timers
        self._on_gave_up = on_gave_up
        self._on_restarted = on_restarted
        self._give_up_action = give_up  # the panicstop: (reason, final) before and after the tree stops
        self._heartbeat_s = heartbeat_s
        self._heartbeat_timeout_s = heartbeat_timeout_s
        self._stop_timeout_s = stop_timeout_s
        self.intensity = RestartIntensity(spec.max_restarts, spec.within_s)
        self._urns: dict[str, str] = {}  # child → urn of its current incarnation
        self._seq = itertools.count(1)
        self._hb_timer: TimerHandle | None = None
        self.gave_up = False
        self.restarts = 0
        self._on_alive = on_alive  # (tree, monotonic ns) after a heartbeat round every child answered

    # ------------------------------------------------------------------ lifecycle
    def on_start(self) -> None:
        self._hb_timer = self._timers.tell_every(self._heartbeat_s, self.actor_ref, CheckHeartbeats())

    def on_stop(self) -> None:
        if self._hb_timer is not None:
            self._hb_timer.cancel()
        self._stop_children(self.spec.children)

    @handles(StartTree)
    def _start_tree(self, _: StartTree) -> bool:
        """Start every child in order; a child that cannot start counts as a failure of that child."""
        for child in self.spec.children:
            if not self._start_child(child):
                self._failed(ChildFailed(self.spec.name, child, "could not start", self._clock.time_ns()))
                return not self.gave_up
        return True

    # ------------------------------------------------------------------ failures
    def report(self, child: str, exc: BaseException, urn: str) -> None:
        """Called on the failing child's thread: hand the failure to this actor's mailbox."""
        with contextlib.suppress(pykka.ActorDeadError):
            self.actor_ref.tell(ChildFailed(self.spec.name, child, f"{type(exc).__name__}: {exc}",
                                            self._clock.time_ns(), urn=urn))

    @handles(ChildFailed)
    def _failed(self, msg: ChildFailed) -> None:
        if self.gave_up or msg.tree != self.spec.name:
            return
        if msg.urn != self._urns.get(msg.child) and msg.error != "could not start":
            return  # about an incarnation that was already replaced
        logger.error("{}/{} failed{}: {}", self.spec.name, msg.child, " (hung)" if msg.hung else "", msg.error)
        if self.intensity.record(msg.at_ns):
            self._give_up(f"{self.intensity.recent} restarts within {self.spec.within_s:g}s, last: "
                          f"{msg.child}: {msg.error}")
            return
        names = to_restart(self.spec, msg.child)
        self._stop_children(names)
        self.restarts += 1
        for child in names:
            if not self._start_child(child):
                # counts against the intensity like any other failure
                self.actor_ref.tell(ChildFailed(self.spec.name, child, "could not start", self._clock.time_ns()))
                return
        logger.warning("{}: restarted {}", self.spec.name, ", ".join(names))
        if self._on_restarted is not None:
            self._on_restarted(ChildRestarted(self.spec.name, names, self._clock.time_ns()))

    def _give_up(self, reason: str) -> None:
        """Panicstop first (orders must not rest unmanaged while children take seconds to stop), stop the
        tree, then panicstop again to confirm; only then escalate."""
        self.gave_up = True
        logger.critical("{}: giving up: {}", self.spec.name, reason)
        if self._hb_timer is not None:
            self._hb_timer.cancel()
        self._panicstop(reason, final=False)
        self._stop_children(self.spec.children)
        self._panicstop(reason, final=True)
        self._on_gave_up(TreeGaveUp(self.spec.name, reason, self._clock.time_ns()))

    def _panicstop(self, reason: str, final: bool) -> None:
        if self._give_up_action is None:
            return
        try:
            self._give_up_action(reason, final)
        except Exception as exc:  # the escalation must happen whatever the panicstop did
            logger.exception("{}: panicstop failed: {}", self.spec.name, exc)

    # ------------------------------------------------------------------ heartbeats
    @handles(CheckHeartbeats)
    def _check(self, _: CheckHeartbeats) -> None:
        if self.gave_up:
            return
        seq = next(self._seq)
        futures: list[tuple[str, Any]] = []
        for child in self.spec.children:
            ref = self.peers.get(child)
            if ref is None:
                continue
            try:
                futures.append((child, ref.ask(Heartbeat(seq), block=False)))
            except pykka.ActorDeadError:
                futures.append((child, None))
        deadline = self._clock.monotonic_ns() + int(self._heartbeat_timeout_s * 1e9)
        for child, fut in futures:
            hung = fut is None
            if fut is not None:
                left = max(0.0, (deadline - self._clock.monotonic_ns()) / 1e9)
                try:
                    fut.get(timeout=left)
                except pykka.Timeout:
                    hung = True
                except pykka.ActorDeadError:
                    hung = True
                except Exception:  # the heartbeat handler itself failed: that child is broken
                    hung = True
            if hung:
                self._failed(ChildFailed(self.spec.name, child, "no heartbeat", self._clock.time_ns(), hung=True,
                                         urn=self._urns.get(child, "")))
                return  # the restart replaced the refs: the next round checks the new ones
        if self._on_alive is not None and len(futures) == len(self.spec.children):
            self._on_alive(self.spec.name, self._clock.monotonic_ns())

    # ------------------------------------------------------------------ children
    def _start_child(self, child: str) -> bool:
        def on_failed(urn: str, exc: BaseException) -> None:
            self.report(child, exc, urn)

        ref: pykka.ActorRef | None = None
        try:
            ref = self._factories[child](on_failed)
            # registered at once, so that replies to what its on_start asked for can reach it
            self._urns[child] = ref.actor_urn
            self.peers.set(child, ref)
            ref.ask(Heartbeat(0), timeout=self._heartbeat_timeout_s)  # proves on_start completed
        except Exception as exc:
            logger.error("{}/{} could not start: {}: {}", self.spec.name, child, type(exc).__name__, exc)
            self.peers.set(child, None)  # retires it: a late on_start must not leave a second one working
            self._urns.pop(child, None)
            if ref is not None:
                with contextlib.suppress(pykka.ActorDeadError):
                    ref.stop(block=False)
            return False
        return True

    def _stop_children(self, names: tuple[str, ...]) -> None:
        for child in reversed(names):
            ref = self.peers.get(child)
            self.peers.set(child, None)
            self._urns.pop(child, None)
            if ref is None:
                continue
            try:
                ref.stop(block=True, timeout=self._stop_timeout_s)
            except pykka.Timeout:
                logger.error("{}/{} did not stop within {}s: abandoned", self.spec.name, child, self._stop_timeout_s)
            except pykka.ActorDeadError:
                pass
