"""The replayer hands on every public trade of the capture, in order (the market signals are built on them)."""

from __future__ import annotations

from pathlib import Path

from actors.book.replay import BookReplayer
from actors.gateway.binance.capture import read_capture
from actors.gateway.events import Trade

CAPTURE = "hftbacktest/examples/usdm/ethusdt_20240808.gz"


def test_every_trade_of_the_capture_is_handed_on_in_order(data_dir: Path) -> None:
    frames = list(read_capture([data_dir / CAPTURE]))
    expected = sum('@trade"' in raw[:40] for _, raw in frames)
    for feed_all in (False, True):  # feed() frame by frame, and the run() fast path
        trades: list[Trade] = []
        rp = BookReplayer("ETHUSDT", on_trade=trades.append)
        if feed_all:
            rp.run(frames)
        else:
            for ns, raw in frames:
                rp.feed(ns, raw)
        assert len(trades) == expected > 1000
        ids = [t.trade_id for t in trades]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
