"""Book sequencing: Binance's rules on crafted sequences and on the real captures, positive and negative."""

from __future__ import annotations

import gzip
from pathlib import Path

import msgspec
import pytest

from actors.book.book import OrderBook
from actors.book.replay import BookReplayer
from actors.book.sync import Applied, BookSync, Buffered, Dropped, Gap, Resynced, SeqRule, SyncState
from actors.gateway.binance.capture import is_snapshot, read_capture
from actors.gateway.events import DepthDiff, DepthSnapshot

USDM = "hftbacktest/examples/usdm/ethusdt_20240808.gz"
SPOT_ETH = ["hftbacktest/examples/spot/ethusdt_20240808.gz", "hftbacktest/examples/spot/ethusdt_20240809.gz"]
SPOT_BTC = ["hftbacktest/examples/spot/btcusdt_20240808.gz", "hftbacktest/examples/spot/btcusdt_20240809.gz"]


def diff(first: int, last: int, prev: int, bids=(), asks=()) -> DepthDiff:
    return DepthDiff("binance", "X", first, last, prev, 0, 0, tuple(bids), tuple(asks))


def snap(last: int) -> DepthSnapshot:
    return DepthSnapshot("binance", "X", last, 0, 0, (("10.00", "1.0"),), (("10.10", "1.0"),))


def new_sync(rule: SeqRule = SeqRule.FUTURES) -> BookSync:
    return BookSync(OrderBook("X", 2, 1), rule)


# ------------------------------------------------------------------ crafted sequences


def test_futures_buffer_bridge_and_chain() -> None:
    s = new_sync()
    assert isinstance(s.on_diff(diff(90, 95, 89)), Buffered)  # older than the snapshot: dropped at sync
    assert isinstance(s.on_diff(diff(96, 105, 95, bids=[("10.05", "2.0")])), Buffered)  # bridges L=100
    out = s.on_snapshot(snap(100))
    assert out == Resynced(100, 1, 105)
    assert s.book.best_bid() == ("10.05", "2.0")
    assert isinstance(s.on_diff(diff(106, 110, 105)), Applied)
    assert isinstance(s.on_diff(diff(106, 110, 105)), Dropped)  # a duplicated frame
    gap = s.on_diff(diff(115, 120, 112))
    assert isinstance(gap, Gap) and gap.expected == 110 and s.state is SyncState.WAITING
    assert s.book.empty  # nobody may read an untrusted book


def test_futures_first_diff_after_snapshot_must_straddle_it() -> None:
    s = new_sync()
    assert isinstance(s.on_snapshot(snap(100)), Resynced)  # nothing buffered yet
    assert isinstance(s.on_diff(diff(80, 99, 79)), Dropped)  # u < L
    assert isinstance(s.on_diff(diff(100, 104, 99)), Applied)  # U <= L <= u (u == L edge included)
    s2 = new_sync()
    s2.on_snapshot(snap(100))
    assert isinstance(s2.on_diff(diff(101, 104, 100)), Gap)  # U > L: the snapshot is stale


def test_stale_snapshot_is_a_gap_and_a_fresher_one_recovers() -> None:
    s = new_sync()
    s.on_diff(diff(200, 210, 199))
    s.on_diff(diff(211, 220, 210))
    out = s.on_snapshot(snap(150))
    assert isinstance(out, Gap) and "stale" in out.reason
    assert s.state is SyncState.WAITING
    s.on_diff(diff(221, 230, 220))
    assert isinstance(s.on_snapshot(snap(225)), Resynced)
    assert s.last_id == 230


def test_spot_rule() -> None:
    s = new_sync(SeqRule.SPOT)
    s.on_diff(diff(95, 100, -1))  # u <= L: dropped
    s.on_diff(diff(101, 103, -1))  # U <= L+1 <= u
    assert s.on_snapshot(snap(100)) == Resynced(100, 1, 103)
    assert isinstance(s.on_diff(diff(104, 104, -1)), Applied)
    assert isinstance(s.on_diff(diff(106, 107, -1)), Gap)


def test_bad_number_in_a_diff_is_a_gap_not_a_crash() -> None:
    s = new_sync()
    s.on_snapshot(snap(100))
    s.on_diff(diff(100, 101, 99))
    out = s.on_diff(diff(102, 103, 101, bids=[("NaN", "1.0")]))
    assert isinstance(out, Gap) and "unusable" in out.reason


def test_crossed_snapshot_is_rejected() -> None:
    s = new_sync()
    bad = DepthSnapshot("binance", "X", 100, 0, 0, (("10.20", "1.0"),), (("10.10", "1.0"),))
    assert isinstance(s.on_snapshot(bad), Gap)
    assert s.state is SyncState.WAITING


# ------------------------------------------------------------------ real captures


def replay(paths: list[Path], symbol: str) -> tuple[BookReplayer, list[Gap]]:
    gaps: list[Gap] = []
    rp = BookReplayer(symbol, on_gap=gaps.append)
    rp.run(read_capture(paths))
    return rp, gaps


def test_usdm_capture_rebuilds_every_book_ticker_exactly(data_dir: Path) -> None:
    rp, gaps = replay([data_dir / USDM], "ETHUSDT")
    assert gaps == []
    assert rp.sync is not None and rp.sync.rule is SeqRule.FUTURES
    assert rp.stats.diffs_applied == 6581  # 6,586 diffs, the ones before the snapshot dropped
    assert rp.stats.ticker_checks == 80
    assert rp.stats.ticker_mismatches == []
    assert rp.parser.rejected == 0


@pytest.mark.parametrize(("files", "symbol", "applied"), [(SPOT_ETH, "ETHUSDT", 6468),
                                                           (SPOT_BTC, "BTCUSDT", 6493)])
def test_spot_captures_chain_across_files(data_dir: Path, files: list[str], symbol: str,
                                          applied: int) -> None:
    rp, gaps = replay([data_dir / f for f in files], symbol)
    assert gaps == []
    assert rp.sync is not None and rp.sync.rule is SeqRule.SPOT
    assert rp.stats.diffs_applied == applied
    assert not rp.sync.book.is_crossed()


def _edited(data_dir: Path, tmp_path: Path, rel: str, edit) -> Path:
    with gzip.open(data_dir / rel, "rt") as fh:
        lines = fh.read().splitlines()
    out = tmp_path / Path(rel).name
    with gzip.open(out, "wt") as fh:
        fh.write("\n".join(edit(lines)) + "\n")
    return out


def _depth_line_indexes(lines: list[str]) -> list[int]:
    return [i for i, ln in enumerate(lines) if '@depth' in ln.split(" ", 1)[1][:40]]


def _snapshot_index(lines: list[str]) -> int:
    return next(i for i, ln in enumerate(lines) if is_snapshot(ln.split(" ", 1)[1]))


@pytest.mark.parametrize("rel", [USDM, SPOT_ETH[0]])
def test_dropped_diff_in_real_capture_is_detected(data_dir: Path, tmp_path: Path, rel: str) -> None:
    dropped: dict = {}

    def drop(lines: list[str]) -> list[str]:
        s = _snapshot_index(lines)
        victim = [i for i in _depth_line_indexes(lines) if i > s][500]
        dropped.update(msgspec.json.decode(lines[victim].split(" ", 1)[1])["data"])
        return lines[:victim] + lines[victim + 1:]

    _rp, gaps = replay([_edited(data_dir, tmp_path, rel, drop)], "ETHUSDT")
    assert len(gaps) == 1
    gap = gaps[0]
    if rel == USDM:  # the next diff's pu names the missing diff's u
        assert gap.reason == "pu does not chain" and gap.got_prev == dropped["u"]
    else:  # the next diff does not start right after the previous one
        assert gap.reason == "U does not follow previous u" and gap.expected == dropped["U"]


def test_reordered_diffs_in_real_capture_are_detected(data_dir: Path, tmp_path: Path) -> None:
    def swap(lines: list[str]) -> list[str]:
        s = _snapshot_index(lines)
        a, b = [i for i in _depth_line_indexes(lines) if i > s][300:302]
        lines = list(lines)
        lines[a], lines[b] = lines[b], lines[a]
        return lines

    _rp, gaps = replay([_edited(data_dir, tmp_path, USDM, swap)], "ETHUSDT")
    assert len(gaps) >= 1
    assert gaps[0].reason == "pu does not chain"


def test_stale_snapshot_in_real_capture_is_detected(data_dir: Path, tmp_path: Path) -> None:
    def stale(lines: list[str]) -> list[str]:
        i = _snapshot_index(lines)
        ts, raw = lines[i].split(" ", 1)
        snap_obj = msgspec.json.decode(raw)
        first_u = min(msgspec.json.decode(lines[j].split(" ", 1)[1])["data"]["U"]
                      for j in _depth_line_indexes(lines)[:3])
        snap_obj["lastUpdateId"] = first_u - 1000  # taken well before the diffs we buffered
        lines = list(lines)
        lines[i] = f"{ts} {msgspec.json.encode(snap_obj).decode()}"
        return lines

    rp, gaps = replay([_edited(data_dir, tmp_path, USDM, stale)], "ETHUSDT")
    assert gaps and "stale" in gaps[0].reason
    assert rp.stats.diffs_applied == 0
