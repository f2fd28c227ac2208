"""The local book against the simulated exchange over real sockets: it stays equal to the exchange's own
bookTicker, and every way the feed can break (a sequence gap, a dropped socket, a silent stall) ends in a
detected fault, a resync, and a book that is right again."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from actors.book.feed import MarketFeed
from actors.book.sync import SyncState
from actors.gateway.binance.rest import BinanceRest
from actors.gateway.binance.ws import WsClient, combined_url
from actors.gateway.events import StreamEvent, StreamStalled
from simex import SimConfig, SimExchange

SYMBOLS = ("ETHUSDC", "BTCUSDC")


class Live:
    def __init__(self, sx: SimExchange, stale_after_s: float) -> None:
        self.sx = sx
        self.rest = BinanceRest(sx.rest_url, "simkey", "simsecret")
        info = self.rest.exchange_info()
        self.feed = MarketFeed([info.instrument(s) for s in SYMBOLS], lambda s: self.rest.depth(s, 1000))
        self.events: list[StreamEvent] = []

        def on_event(ev: StreamEvent) -> None:
            self.events.append(ev)
            self.feed.on_event(ev)

        streams = [f"{s.lower()}@{k}" for s in SYMBOLS for k in ("depth@0ms", "bookTicker")]
        self.ws = WsClient(combined_url(sx.ws_url, streams), name="market", on_message=self.feed.on_message,
                           on_event=on_event, stale_after_s=stale_after_s, as_bytes=True,
                           backoff_initial_s=0.05, backoff_max_s=0.2)
        self._stop = threading.Event()
        self._svc = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            self.feed.service(0.05)

    def __enter__(self) -> Live:
        self.ws.start()
        self._svc.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.ws.stop()
        self._svc.join(5)
        self.rest.close()

    def status(self, symbol: str):
        return next(s for s in self.feed.status() if s.symbol == symbol)

    def wait(self, pred, timeout: float = 10.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred():
                return True
            time.sleep(0.02)
        return pred()

    def checked(self, symbol: str, more: int, timeout: float = 10.0) -> bool:
        """``more`` further bookTicker checks pass for ``symbol`` while synced."""
        start = self.status(symbol).checks
        return self.wait(lambda: self.status(symbol).state == SyncState.SYNCED
                         and self.status(symbol).checks >= start + more, timeout)


@pytest.fixture
def sx() -> Iterator[SimExchange]:
    with SimExchange(SimConfig(seed=11, synth_step_ms=20)) as ex:
        yield ex


def test_book_equals_every_book_ticker(sx: SimExchange) -> None:
    with Live(sx, stale_after_s=2.0) as live:
        for s in SYMBOLS:
            assert live.checked(s, 30), live.status(s)
        for s in SYMBOLS:
            st = live.status(s)
            assert st.mismatches == 0 and st.gaps == 0 and st.resyncs == 1
        assert live.feed.parser.rejected == 0


def test_sequence_gap_is_detected_and_resynced(sx: SimExchange) -> None:
    with Live(sx, stale_after_s=2.0) as live:
        assert live.checked("ETHUSDC", 5)
        sx.fault("depth_gap", symbol="ETHUSDC")
        assert live.wait(lambda: live.status("ETHUSDC").gaps == 1)
        assert live.wait(lambda: live.status("ETHUSDC").resyncs == 2)
        assert live.checked("ETHUSDC", 10)
        assert live.status("ETHUSDC").mismatches == 0
        assert live.status("BTCUSDC").gaps == 0  # the other symbol on the same socket is unaffected


def test_dropped_socket_reconnects_and_resyncs(sx: SimExchange) -> None:
    with Live(sx, stale_after_s=2.0) as live:
        assert live.checked("BTCUSDC", 5)
        sx.fault("ws_drop", mode="reset")
        assert live.wait(lambda: all(live.status(s).resyncs >= 2 for s in SYMBOLS))
        for s in SYMBOLS:
            assert live.checked(s, 10)
            assert live.status(s).mismatches == 0


def test_silent_stall_is_detected_within_the_stale_timeout(sx: SimExchange) -> None:
    stale = 0.8
    with Live(sx, stale_after_s=stale) as live:
        assert live.checked("ETHUSDC", 5)
        t0 = time.monotonic()
        sx.fault("ws_stall", seconds=30)  # open, silent: no data and no pings
        assert live.wait(lambda: any(isinstance(e, StreamStalled) for e in live.events), timeout=5)
        detected = time.monotonic() - t0
        assert detected < stale + 1.0, detected
        sx.fault("clear")
        assert live.wait(lambda: live.status("ETHUSDC").resyncs >= 2)
        assert live.checked("ETHUSDC", 10)
        assert live.status("ETHUSDC").mismatches == 0
