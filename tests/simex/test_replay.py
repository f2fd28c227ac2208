"""Replay of the real USDⓈ-M and spot captures: exact book reconstruction, re-quantisation onto another
symbol's grid, and an unbroken update-id chain across the loop restart."""

from __future__ import annotations

import gzip
import itertools
import json
import time
from decimal import Decimal
from pathlib import Path

import pytest

from simex import SimConfig, SimExchange
from simex.exchange import Exchange
from simex.replay import ReplayFeed, capture_symbol
from simex.symbols import DEFAULT_SPECS

from .conftest import Client, LocalBook, WsReader, wait_for

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "hftbacktest" / "examples"
USDM = DATA / "usdm" / "ethusdt_20240808.gz"
SPOT = DATA / "spot" / "btcusdt_20240808.gz"


def head_of(src: Path, dst: Path, lines: int) -> Path:
    """The first ``lines`` lines of a capture (it includes the REST snapshot line)."""
    with gzip.open(src, "rb") as f, gzip.open(dst, "wb") as out:
        out.writelines(itertools.islice(f, lines))
    return dst


@pytest.fixture(scope="module")
def short_usdm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return head_of(USDM, tmp_path_factory.mktemp("cap") / "usdm_head.gz", 3000)


def independent_book(path: Path) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
    """The capture's book at its last line, rebuilt with plain Decimal dicts (the documented procedure)."""
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    buffered, snap = [], None
    with gzip.open(path, "rt") as f:
        for line in f:
            msg = json.loads(line.split(" ", 1)[1])
            if "stream" not in msg:
                snap = msg
                bids = {Decimal(p): Decimal(q) for p, q in msg["bids"]}
                asks = {Decimal(p): Decimal(q) for p, q in msg["asks"]}
                diffs = [d for d in buffered if d["u"] >= snap["lastUpdateId"]]
            elif "@depth" in msg["stream"]:
                if snap is None:
                    buffered.append(msg["data"])
                    continue
                diffs = [msg["data"]]
            else:
                continue
            for d in diffs:
                for book, key in ((bids, "b"), (asks, "a")):
                    for p, q in d[key]:
                        if Decimal(q) == 0:
                            book.pop(Decimal(p), None)
                        else:
                            book[Decimal(p)] = Decimal(q)
    return bids, asks


def test_replayed_book_equals_the_capture_exactly(short_usdm: Path) -> None:
    assert capture_symbol(str(short_usdm)) == "ETHUSDT"
    spec = DEFAULT_SPECS["ETHUSDT"]
    feed = ReplayFeed(str(short_usdm), spec)
    ex = Exchange({"ETHUSDT": spec}, ["a"])
    applied, t = 0, 0
    while not feed.loops:                  # exactly one pass: events of the next pass start at offset_ms
        t += 1000
        for ev in feed.advance(t):
            if feed.loops and ev.t_ms >= feed.offset_ms:
                break
            ex.feed_step(ev.symbol, ev.items, 0)
            applied += 1
    assert applied > 500
    bids, asks = independent_book(short_usdm)
    snap = ex.snapshot("ETHUSDT", 100_000, 0)
    assert {Decimal(p): Decimal(q) for p, q in snap["bids"]} == bids
    assert {Decimal(p): Decimal(q) for p, q in snap["asks"]} == asks
    assert ex.state()["symbols"]["ETHUSDT"]["public_trades"] > 100


def test_requantised_onto_a_coarser_grid_and_from_a_spot_capture(tmp_path: Path) -> None:
    for src, target in ((USDM, "BTCUSDC"), (SPOT, "BTCUSDT")):
        cap = head_of(src, tmp_path / f"{target}.gz", 1500)
        spec = DEFAULT_SPECS[target]
        feed = ReplayFeed(str(cap), spec)
        ex = Exchange({target: spec}, ["a"])
        n = 0
        for ev in feed.advance(10_000):
            ex.feed_step(ev.symbol, ev.items, 0)
            n += 1
        snap = ex.snapshot(target, 1000, 0)
        assert n > 10 and snap["bids"] and snap["asks"]
        assert Decimal(snap["bids"][0][0]) < Decimal(snap["asks"][0][0])
        for p, q in snap["bids"] + snap["asks"]:
            assert Decimal(p) % Decimal("0.10") == 0 and Decimal(q) % Decimal("0.001") == 0 and Decimal(q) > 0


def test_replay_loops_with_an_unbroken_chain_consistent_with_book_ticker(short_usdm: Path) -> None:
    with SimExchange(SimConfig(seed=1, feed=str(short_usdm), speed=25.0, symbols=("ETHUSDT",))) as sx:
        client = Client(sx.rest_url)
        reader = WsReader(f"{sx.ws_url}/stream?streams=ethusdt@depth@0ms/ethusdt@bookTicker/ethusdt@trade")
        try:
            assert wait_for(lambda: reader.of("ethusdt@depth@0ms"))
            book = LocalBook()
            book.load(client.public("/fapi/v1/depth", symbol="ETHUSDT", limit=1000).json())
            checks = applied = 0
            i = 0
            loops_at_start = sx.state()["replay"]["loops"]
            end = time.monotonic() + 6
            while time.monotonic() < end and (sx.state()["replay"]["loops"] < loops_at_start + 2 or checks < 20):
                with reader.lock:
                    batch = reader.msgs[i:]
                i += len(batch)
                for stream, data in batch:
                    if stream.endswith("@depth@0ms"):
                        assert book.apply(data), "gap in the replayed chain"
                        applied += int(book.synced)
                    elif stream.endswith("@bookTicker") and book.synced and data["u"] == book.last_u:
                        assert book.top() == (Decimal(data["b"]), Decimal(data["B"]), Decimal(data["a"]),
                                              Decimal(data["A"]))
                        checks += 1
                time.sleep(0.02)
            assert sx.state()["replay"]["loops"] >= loops_at_start + 2, "did not loop twice"
            assert checks >= 20 and applied >= 100 and book.gaps == 0
            trades = reader.of("ethusdt@trade")
            assert all(b["t"] > a["t"] for a, b in itertools.pairwise(trades))
            assert sx.state()["symbols"]["ETHUSDT"]["source"] == "replay"
        finally:
            reader.close()
