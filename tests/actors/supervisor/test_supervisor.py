"""The supervision layer with real pykka actors: start order, rest_for_one / one_for_one restarts, restart
intensity, hung children found by heartbeat, children that cannot start."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pykka
import pytest

from actors.base import EngineActor, Peers, handles
from actors.clock import WallClock
from actors.supervisor.actor import StartTree, SupervisorActor
from actors.supervisor.messages import ChildRestarted, TreeGaveUp
from actors.supervisor.tree import RestartIntensity, Strategy, TreeSpec, to_restart
from actors.timers import Timers


class Crash:
    pass


class Hang:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


class Child(EngineActor):
    def __init__(self, name: str, log: list[str], on_failed, fail_start: bool = False) -> None:
        super().__init__(on_failed)
        self.name = name
        self.log = log
        self.fail_start = fail_start

    def on_start(self) -> None:
        if self.fail_start:
            raise RuntimeError("cannot start")
        self.log.append(f"start {self.name}")

    def on_stop(self) -> None:
        self.log.append(f"stop {self.name}")

    @handles(Crash)
    def _crash(self, _: Crash) -> None:
        raise RuntimeError(f"{self.name} crashed on purpose")

    @handles(Hang)
    def _hang(self, msg: Hang) -> None:
        time.sleep(msg.seconds)


def wait(pred, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


class Tree:
    def __init__(self, strategy: Strategy, max_restarts: int = 3, within_s: float = 10.0,
                 fail_start: frozenset[str] = frozenset(), heartbeat_s: float = 0.2,
                 heartbeat_timeout_s: float = 0.5) -> None:
        self.log: list[str] = []
        self.gave_up: list[TreeGaveUp] = []
        self.restarted: list[ChildRestarted] = []
        self.give_up_calls: list[str] = []
        self.fail_start = set(fail_start)
        self.timers = Timers(WallClock())
        self.peers = Peers()
        spec = TreeSpec("T", ("a", "b", "c"), strategy, max_restarts, within_s)
        factories = {n: (lambda on_failed, n=n: Child.start(n, self.log, on_failed, n in self.fail_start))
                     for n in spec.children}
        self.sup = SupervisorActor.start(spec, factories, self.peers, WallClock(), self.timers,
                                         on_gave_up=self.gave_up.append, on_restarted=self.restarted.append,
                                         give_up=lambda reason, final: final and self.give_up_calls.append(reason),
                                         heartbeat_s=heartbeat_s,
                                         heartbeat_timeout_s=heartbeat_timeout_s)

    def start(self) -> bool:
        return self.sup.ask(StartTree(), timeout=10)

    def urn(self, name: str) -> str:
        ref = self.peers.get(name)
        return ref.actor_urn if ref else ""

    def close(self) -> None:
        if self.sup.is_alive():
            self.sup.stop(timeout=10)
        self.timers.stop()


@pytest.fixture
def tree_factory() -> Iterator:
    made: list[Tree] = []

    def make(*a, **kw) -> Tree:
        t = Tree(*a, **kw)
        made.append(t)
        return t

    yield make
    for t in made:
        t.close()


def test_pure_decisions() -> None:
    spec = TreeSpec("s", ("gateway", "book", "risk", "oms"), Strategy.REST_FOR_ONE, 2, 5)
    assert to_restart(spec, "book") == ("book", "risk", "oms")
    assert to_restart(TreeSpec("s", ("a", "b"), Strategy.ONE_FOR_ONE, 2, 5), "a") == ("a",)
    ri = RestartIntensity(2, 5.0)
    assert not ri.record(0) and not ri.record(1_000_000_000)
    assert ri.record(2_000_000_000)  # third within 5 s
    assert not RestartIntensity(2, 5.0).record(0)
    ri2 = RestartIntensity(1, 1.0)
    assert not ri2.record(0) and not ri2.record(2_000_000_000)  # outside the window: forgotten


def test_children_start_in_order_and_stop_in_reverse(tree_factory) -> None:
    t = tree_factory(Strategy.REST_FOR_ONE)
    assert t.start()
    assert t.log == ["start a", "start b", "start c"]
    t.sup.stop(timeout=10)
    assert t.log[-3:] == ["stop c", "stop b", "stop a"]


def test_rest_for_one_restarts_the_failed_child_and_those_after_it(tree_factory) -> None:
    t = tree_factory(Strategy.REST_FOR_ONE)
    t.start()
    before = {n: t.urn(n) for n in "abc"}
    t.peers.tell("b", Crash())
    assert wait(lambda: len(t.restarted) == 1)
    assert t.restarted[0].children == ("b", "c")
    assert t.urn("a") == before["a"]
    assert t.urn("b") != before["b"] and t.urn("c") != before["c"]
    # the crashed b released its resources in on_failure (pykka gives it no on_stop); then c stopped
    assert t.log[3:] == ["stop b", "stop c", "start b", "start c"]


def test_one_for_one_restarts_only_the_failed_child(tree_factory) -> None:
    t = tree_factory(Strategy.ONE_FOR_ONE)
    t.start()
    before = {n: t.urn(n) for n in "abc"}
    t.peers.tell("b", Crash())
    assert wait(lambda: len(t.restarted) == 1)
    assert t.restarted[0].children == ("b",)
    assert t.urn("a") == before["a"] and t.urn("c") == before["c"] and t.urn("b") != before["b"]


def test_too_many_restarts_give_up_and_escalate(tree_factory) -> None:
    t = tree_factory(Strategy.REST_FOR_ONE, max_restarts=2, within_s=30)
    t.start()
    for _ in range(3):
        n = len(t.restarted)
        t.peers.tell("c", Crash())
        assert wait(lambda n=n: len(t.restarted) > n or t.gave_up)
    assert len(t.restarted) == 2
    assert len(t.gave_up) == 1 and "3 restarts within 30s" in t.gave_up[0].reason
    assert t.give_up_calls == [t.gave_up[0].reason]  # the panicstop hook ran before escalating
    assert all(t.peers.get(n) is None for n in "abc")  # every child stopped


def test_a_hung_child_is_found_by_heartbeat_and_replaced(tree_factory) -> None:
    t = tree_factory(Strategy.REST_FOR_ONE, heartbeat_s=0.2, heartbeat_timeout_s=0.4)
    t.start()
    old = t.urn("b")
    released = threading.Event()
    t.peers.tell("b", Hang(3.0))
    assert wait(lambda: t.restarted and t.urn("b") != old, timeout=5)
    released.set()
    assert t.restarted[0].children[0] == "b"
    assert t.peers.get("b").ask(Hang(0), timeout=2) is None  # the new b answers


def test_a_child_that_cannot_start_counts_as_a_failure(tree_factory) -> None:
    t = tree_factory(Strategy.REST_FOR_ONE, max_restarts=2, within_s=30, fail_start={"b"})
    t.start()
    assert wait(lambda: bool(t.gave_up))
    assert "could not start" in t.gave_up[0].reason


def test_tells_to_a_stopped_child_are_dropped_and_counted() -> None:
    peers = Peers()
    ref = Child.start("x", [], None)
    peers.set("x", ref)
    ref.stop()
    assert not peers.tell("x", Crash())
    assert not peers.tell("nobody", Crash())
    assert peers.dropped == {"x": 1, "nobody": 1}
    pykka.ActorRegistry.stop_all()


class Ping:
    pass


class Pong:
    pass


class Asker(EngineActor):
    """Asks a peer for something in on_start, as the OMS asks the gateway for its first reconciliation."""

    name = "asker"

    def __init__(self, peers: Peers, got: list[str]) -> None:
        super().__init__(None, peers)
        self.got = got

    def on_start(self) -> None:
        assert self._peers is not None
        self._peers.tell("echo", Ping())

    @handles(Pong)
    def _pong(self, _: Pong) -> None:
        self.got.append("pong")


class Echo(EngineActor):
    name = "echo"

    def __init__(self, peers: Peers) -> None:
        super().__init__(None, peers)

    @handles(Ping)
    def _ping(self, _: Ping) -> None:
        assert self._peers is not None
        self._peers.tell("asker", Pong())


def test_an_actor_starts_only_once_named_so_answers_to_its_on_start_are_not_dropped() -> None:
    peers, got = Peers(), []
    try:
        peers.set("echo", Echo.start(peers))
        asker = Asker.start(peers, got)
        time.sleep(0.2)  # the supervisor names it a moment later (a busy machine): the answer must still reach it
        assert got == [] and peers.dropped["asker"] == 0
        peers.set("asker", asker)
        assert wait(lambda: got == ["pong"])
        assert peers.dropped["asker"] == 0
    finally:
        pykka.ActorRegistry.stop_all()
