"""The notifier delivers through apprise (json://) to real HTTP receivers on loopback.

Sequencing is by events and queues, never by sleeping: a receiver can hold a request until the test
releases it, and ``wait_for`` only bounds how long a test waits for something that must happen.
"""

from __future__ import annotations

import base64
import json
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pykka
import pytest
from loguru import logger

from actors.base import Inspect
from actors.clock import SimClock
from actors.notifier.actor import NotifierActor
from actors.notifier.messages import NotifierTick, NotifyWithFiles
from actors.notifier.settings import AlertSettings
from actors.notifier.targets import resolve_targets
from actors.risk.messages import Notify
from actors.timers import Timers

S = 1_000_000_000
SECRET = "s3cr3t-pw-in-url"


@dataclass
class Received:
    path: str
    payload: dict[str, Any]
    auth: str | None


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 recording what apprise posts. ``statuses[path]``: the answers to give, in
    order (then 200); ``gates[path]``: an event each request to that path waits for before answering."""

    server: ThreadingHTTPServer
    got: queue.Queue[Received] = field(default_factory=queue.Queue)
    statuses: dict[str, list[int]] = field(default_factory=dict)
    gates: dict[str, threading.Event] = field(default_factory=dict)
    arrived: dict[str, threading.Event] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"json://alerts:{SECRET}@127.0.0.1:{self.server.server_address[1]}{path}"

    def gate(self, path: str) -> threading.Event:
        self.arrived[path] = threading.Event()
        return self.gates.setdefault(path, threading.Event())

    def next(self, timeout: float = 5.0) -> Received:
        return self.got.get(timeout=timeout)

    def release_all(self) -> None:
        for g in self.gates.values():
            g.set()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rx: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            n = int(self.headers.get("Content-Length", 0))
            rx.got.put(Received(self.path, json.loads(self.rfile.read(n)), self.headers.get("Authorization")))
            if self.path in rx.arrived:
                rx.arrived[self.path].set()
            if self.path in rx.gates:
                rx.gates[self.path].wait(15)
            script = rx.statuses.get(self.path)
            status = script.pop(0) if script else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    rx = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="receiver", daemon=True)
    thread.start()
    yield rx
    rx.release_all()
    server.shutdown()
    server.server_close()


@pytest.fixture
def logs() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="DEBUG", format="{level} {message}")
    yield lines
    logger.remove(sink)


@pytest.fixture
def start(receiver: Receiver) -> Iterator[Callable[..., pykka.ActorRef]]:
    refs: list[pykka.ActorRef] = []

    def _start(clock: SimClock | None = None, timers: Timers | None = None, **kw: Any) -> pykka.ActorRef:
        s = AlertSettings(**{"timeout_s": 10.0, "p0_urls_env": "", "p1_urls_env": "", "p2_urls_env": "", **kw})
        ref = NotifierActor.start(s, resolve_targets(s, {}), clock or SimClock(), timers)
        refs.append(ref)
        return ref

    yield _start
    receiver.release_all()  # a held request must not hold up the stop
    for ref in refs:
        if ref.is_alive():
            ref.stop()


def counters(ref: pykka.ActorRef) -> dict[str, Any]:
    return ref.ask(Inspect(), timeout=5)


def wait_for(what: Callable[[], Any], timeout: float = 5.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = what()
        if v:
            return v
        threading.Event().wait(0.01)
    raise AssertionError("condition not reached")


def now() -> int:
    return 1_700_000_000 * S


# ---------------------------------------------------------------------------------------------- delivery


def test_each_priority_goes_to_its_own_receiver_with_title_body_and_type(receiver: Receiver, start: Any) -> None:
    ref = start(p0_urls=(receiver.url("/p0"),), p1_urls=(receiver.url("/p1"),), p2_urls=(receiver.url("/p2"),))
    ref.tell(Notify("P0", "ETHUSDC panicstop", "risk: daily loss; no order left open", now()))
    got = receiver.next()
    assert (got.path, got.payload["title"], got.payload["message"], got.payload["type"]) == (
        "/p0", "ETHUSDC panicstop", "risk: daily loss; no order left open", "failure")
    assert got.auth == "Basic " + base64.b64encode(f"alerts:{SECRET}".encode()).decode()  # the URL's credentials
    ref.tell(Notify("P1", "ETHUSDC: user stream down", "down for 30 s", now()))
    got = receiver.next()
    assert (got.path, got.payload["title"], got.payload["type"]) == ("/p1", "ETHUSDC: user stream down", "warning")
    ref.tell(Notify("P2", "config applied", "v7", now()))
    got = receiver.next()
    assert (got.path, got.payload["title"], got.payload["type"]) == ("/p2", "config applied", "info")
    c = wait_for(lambda: (c := counters(ref))["sent"] == {"P0": 1, "P1": 1, "P2": 1} and c)
    assert c["failed"] == {"P0": 0, "P1": 0, "P2": 0}
    assert c["destinations"] == {"P0": ["P0#0 json"], "P1": ["P1#0 json"], "P2": ["P2#0 json"]}
    assert SECRET not in repr(c)


def test_one_priority_can_page_several_destinations(receiver: Receiver, start: Any) -> None:
    ref = start(p0_urls=(receiver.url("/phone"), receiver.url("/chat")))
    ref.tell(Notify("P0", "engine escalation", "exiting", now()))
    assert sorted(receiver.next().path for _ in range(2)) == ["/chat", "/phone"]
    wait_for(lambda: counters(ref)["sent"]["P0"] == 2)


def test_duplicates_are_folded_and_the_tick_sends_their_count(receiver: Receiver, start: Any) -> None:
    clock = SimClock()
    timers = Timers(clock, threaded=False)  # the timer wiring, fired by hand on the simulated clock
    ref = start(clock, timers, p1_urls=(receiver.url("/p1"),), fold_window_s=60, tick_s=5)
    for i in range(4):
        ref.tell(Notify("P1", "ETHUSDC: order reject spike", f"{21 + i} rejects", now()))
    assert receiver.next().payload["message"] == "21 rejects"
    assert counters(ref)["folded"]["P1"] == 3 and counters(ref)["pending"]["P1"] == 3
    clock.advance(60 * S)
    assert timers.run_due() >= 1  # NotifierTick told
    got = receiver.next()
    assert (got.payload["title"], got.payload["message"]) == (
        "ETHUSDC: order reject spike", "24 rejects\n(+3 similar in the last 60 s)")
    c = wait_for(lambda: (c := counters(ref))["sent"]["P1"] == 2 and c)
    assert c["pending"]["P1"] == 0
    assert receiver.got.empty()


def test_past_the_rate_limit_alerts_are_held_then_summarised(receiver: Receiver, start: Any) -> None:
    clock = SimClock()
    ref = start(clock, p2_urls=(receiver.url("/p2"),), p2_per_window=2, rate_window_s=60)
    for title in ("daily summary", "config applied v7", "config applied v8", "config applied v9"):
        ref.tell(Notify("P2", title, "x", now()))
    assert counters(ref)["suppressed"]["P2"] == 2  # decided as each was told: two never reached a sender
    assert [receiver.next().payload["title"] for _ in range(2)] == ["daily summary", "config applied v7"]
    wait_for(lambda: counters(ref)["sent"]["P2"] == 2)
    assert receiver.got.empty()
    clock.advance(60 * S)
    ref.tell(NotifierTick())
    got = receiver.next()
    assert (got.payload["title"], got.payload["message"]) == (
        "P2 alerts held back by the rate limit",
        "2 P2 alerts were not sent on their own: config applied v8 ×1, config applied v9 ×1")


def test_a_p1_flood_does_not_use_up_what_p0_needs(receiver: Receiver, start: Any) -> None:
    ref = start(p0_urls=(receiver.url("/p0"),), p1_urls=(receiver.url("/p1"),), p1_per_window=1, p0_per_window=1)
    for i in range(50):
        ref.tell(Notify("P1", f"noise {i}", "x", now()))
    ref.tell(Notify("P0", "ETHUSDC panicstop", "now", now()))
    paths = {receiver.next().path, receiver.next().path}
    assert paths == {"/p0", "/p1"}
    assert counters(ref)["suppressed"] == {"P0": 0, "P1": 49, "P2": 0}


# ---------------------------------------------------------------------------------------------- failures


def test_a_failing_receiver_is_counted_logged_without_its_url_and_the_next_alert_goes_out(
        receiver: Receiver, start: Any, logs: list[str]) -> None:
    receiver.statuses["/p1"] = [500]
    ref = start(p1_urls=(receiver.url("/p1"),))
    ref.tell(Notify("P1", "ETHUSDC: user stream down", "down for 30 s", now()))
    assert receiver.next().payload["title"] == "ETHUSDC: user stream down"  # it was asked, and answered 500
    wait_for(lambda: counters(ref)["failed"]["P1"] == 1)
    assert ref.is_alive()
    ref.tell(Notify("P1", "ETHUSDC: user stream back", "reconnected", now()))
    assert receiver.next().payload["title"] == "ETHUSDC: user stream back"
    c = wait_for(lambda: (c := counters(ref))["sent"]["P1"] == 1 and c)
    assert c["failed"]["P1"] == 1
    assert c["by_destination"]["P1#0 json"] == {"sent": 1, "failed": 1, "dropped": 0, "queued": 0}
    assert any("'ETHUSDC: user stream down' not delivered to P1#0 json: failure" in line for line in logs)
    text = "\n".join(logs)
    assert SECRET not in text and str(receiver.server.server_address[1]) not in text  # not even host:port


def test_a_slow_receiver_holds_only_its_own_sender(receiver: Receiver, start: Any) -> None:
    release = receiver.gate("/slow")
    ref = start(p0_urls=(receiver.url("/p0"),), p1_urls=(receiver.url("/slow"),), timeout_s=30)
    ref.tell(Notify("P1", "ETHUSDC: order reject spike", "25 rejects", now()))
    assert receiver.arrived["/slow"].wait(5)  # the P1 request is in and held
    ref.tell(Notify("P0", "ETHUSDC panicstop", "risk: error rate", now()))
    got = receiver.next()
    assert got.path == "/slow"
    got = receiver.next()
    assert (got.path, got.payload["title"]) == ("/p0", "ETHUSDC panicstop")  # delivered while P1 is held
    c = wait_for(lambda: (c := counters(ref))["sent"]["P0"] == 1 and c)  # the actor answers meanwhile
    assert c["sent"]["P1"] == 0 and c["by_destination"]["P1#0 json"]["queued"] == 1
    release.set()
    wait_for(lambda: counters(ref)["sent"]["P1"] == 1)


def test_a_p0_to_the_same_slow_service_is_not_queued_behind_a_p1(receiver: Receiver, start: Any) -> None:
    receiver.gate("/shared")
    ref = start(p0_urls=(receiver.url("/shared"),), p1_urls=(receiver.url("/shared"),), timeout_s=30)
    ref.tell(Notify("P1", "ETHUSDC: user stream down", "x", now()))
    assert receiver.arrived["/shared"].wait(5)
    ref.tell(Notify("P0", "ETHUSDC panicstop", "y", now()))
    titles = {receiver.next().payload["title"], receiver.next().payload["title"]}  # both requests are in at once
    assert titles == {"ETHUSDC: user stream down", "ETHUSDC panicstop"}


def test_a_receiver_that_never_answers_times_out_as_failed(receiver: Receiver, start: Any, logs: list[str]) -> None:
    receiver.gate("/hang")
    ref = start(p1_urls=(receiver.url("/hang"),), timeout_s=0.5)
    ref.tell(Notify("P1", "ETHUSDC: daily loss warning", "x", now()))
    assert receiver.arrived["/hang"].wait(5)
    wait_for(lambda: counters(ref)["failed"]["P1"] == 1)
    # the socket's read timeout or apprise's own time limit, whichever ends it first
    assert any(re.search(r"not delivered to P1#0 json: (failure|timeout)$", line.strip()) for line in logs)


def test_a_full_backlog_drops_the_oldest_waiting_and_counts_it(receiver: Receiver, start: Any) -> None:
    release = receiver.gate("/slow")
    ref = start(p1_urls=(receiver.url("/slow"),), queue_max=2, timeout_s=30)
    ref.tell(Notify("P1", "a", "x", now()))
    assert receiver.arrived["/slow"].wait(5)  # "a" is being sent; "b", "c" wait; "d" pushes "b" out
    for title in ("b", "c", "d"):
        ref.tell(Notify("P1", title, "x", now()))
    c = counters(ref)
    assert c["dropped"]["P1"] == 1 and c["by_destination"]["P1#0 json"]["queued"] == 3
    release.set()
    assert [receiver.next().payload["title"] for _ in range(3)] == ["a", "c", "d"]
    wait_for(lambda: counters(ref)["sent"]["P1"] == 3)


# ---------------------------------------------------------------------------------------------- the rest


def test_attachments_are_posted_and_a_missing_one_is_named(receiver: Receiver, start: Any, tmp_path: Path) -> None:
    report = tmp_path / "2024-08-08.md"
    report.write_text("# daily report\nnet PnL 12.5 USDC\n", encoding="utf-8")
    chart = tmp_path / "equity.png"
    chart.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    ref = start(p2_urls=(receiver.url("/p2"),))
    ref.tell(NotifyWithFiles("P2", "ETHUSDC daily report", "net PnL 12.5 USDC", now(),
                             (str(report), str(chart), str(tmp_path / "inventory.png"))))
    got = receiver.next()
    files = {a["filename"]: base64.b64decode(a["base64"]) for a in got.payload["attachments"]}
    assert files == {"2024-08-08.md": report.read_bytes(), "equity.png": chart.read_bytes()}
    assert got.payload["message"] == "net PnL 12.5 USDC\n(attachment missing: inventory.png)"


def test_with_no_destination_alerts_are_counted_as_unrouted(start: Any) -> None:
    ref = start()
    ref.tell(Notify("P0", "ETHUSDC panicstop", "x", now()))
    ref.tell(Notify("P7", "odd level", "x", now()))  # an unknown level is sent as P1
    c = counters(ref)
    assert c["unrouted"] == {"P0": 1, "P1": 1, "P2": 0} and c["errors"] == 0


def test_stopping_sends_what_is_still_folded_before_it_returns(receiver: Receiver, start: Any) -> None:
    ref = start(p0_urls=(receiver.url("/p0"),))
    for body in ("first", "second", "third"):
        ref.tell(Notify("P0", "BTCUSDC: orders may be open after shutdown", body, now()))
    assert receiver.next().payload["message"] == "first"
    ref.stop()
    got = receiver.got.get_nowait()  # already there: the stop waited for the sender to drain
    assert got.payload["message"] == "third\n(+2 similar in the last 0 s)"
