"""The gateway and book actors against the simulated exchange over real sockets: the book stays equal to
the exchange's own bookTicker, and every way the feed can break (a sequence gap, a dropped socket, a silent
stall) ends in a detected fault, a resync through the gateway, and a book that is right again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pykka
import pytest

from actors.base import Inspect, Peers
from actors.book.actor import BookActor
from actors.clock import WallClock
from actors.context import SymbolContext
from actors.gateway.actor import GatewayActor
from actors.gateway.binance.rest import BinanceRest
from actors.settings import parse_settings
from actors.timers import Timers
from simex import SimConfig, SimExchange


class Feed:
    def __init__(self, sx: SimExchange, tmp: Path, symbol: str, stale_after_s: float) -> None:
        self.rest = BinanceRest(sx.rest_url, "simkey", "simsecret")
        settings = parse_settings({"feed": {"stale_after_s": stale_after_s},
                                   "store": {"path": str(tmp / "mm.db")}})
        self.timers = Timers(WallClock())
        self.peers = Peers()
        ins = self.rest.exchange_info().instrument(symbol)
        self.ctx = SymbolContext(symbol, "binance-usdm", ins, WallClock(), self.timers, self.peers, settings,
                                 self.rest, sx.ws_url, "test")
        self.peers.set("gateway", GatewayActor.start(self.ctx, None, user_stream=False))
        self.peers.set("book", BookActor.start(self.ctx, None))

    def book(self) -> dict[str, Any]:
        ref = self.peers.get("book")
        assert ref is not None
        return ref.ask(Inspect(), timeout=5)

    def wait(self, pred, timeout: float = 10.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred(self.book()):
                return True
            time.sleep(0.05)
        return pred(self.book())

    def checked(self, more: int, timeout: float = 10.0) -> bool:
        start = self.book()["ticker_checks"]
        return self.wait(lambda b: b["state"] == "synced" and b["ticker_checks"] >= start + more, timeout)

    def close(self) -> None:
        for name in ("book", "gateway"):
            ref = self.peers.get(name)
            if ref is not None:
                ref.stop(timeout=10)
        self.timers.stop()
        self.rest.close()


@pytest.fixture
def sx() -> Iterator[SimExchange]:
    with SimExchange(SimConfig(seed=11, synth_step_ms=20)) as ex:
        yield ex


@pytest.fixture
def feed(sx: SimExchange, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Feed]:
    f = Feed(sx, tmp_path, "ETHUSDC", getattr(request, "param", 2.0))
    yield f
    f.close()
    pykka.ActorRegistry.stop_all()


def test_book_equals_every_book_ticker(feed: Feed) -> None:
    assert feed.checked(30)
    b = feed.book()
    assert b["ticker_mismatches"] == 0 and b["gaps"] == 0


def test_sequence_gap_is_detected_and_resynced(sx: SimExchange, feed: Feed) -> None:
    assert feed.checked(5)
    resyncs = feed.book()["resyncs"]
    sx.fault("depth_gap", symbol="ETHUSDC")
    assert feed.wait(lambda b: b["gaps"] == 1)
    assert feed.wait(lambda b: b["resyncs"] == resyncs + 1)
    assert feed.checked(10)
    assert feed.book()["ticker_mismatches"] == 0


def test_dropped_socket_reconnects_and_resyncs(sx: SimExchange, feed: Feed) -> None:
    assert feed.checked(5)
    resyncs = feed.book()["resyncs"]
    sx.fault("ws_drop", mode="reset")
    assert feed.wait(lambda b: b["resyncs"] > resyncs)
    assert feed.checked(10)
    assert feed.book()["ticker_mismatches"] == 0


@pytest.mark.parametrize("feed", [0.8], indirect=True)
def test_silent_stall_is_detected_within_the_stale_timeout(sx: SimExchange, feed: Feed) -> None:
    assert feed.checked(5)
    resyncs = feed.book()["resyncs"]
    t0 = time.monotonic()
    sx.fault("ws_stall", seconds=30)  # open, silent: no data and no pings
    assert feed.wait(lambda b: b["state"] != "synced", timeout=5)  # the watchdog fired: the book is distrusted
    assert time.monotonic() - t0 < 0.8 + 1.0
    sx.fault("clear")
    assert feed.wait(lambda b: b["resyncs"] > resyncs)
    assert feed.checked(10)
    assert feed.book()["ticker_mismatches"] == 0
