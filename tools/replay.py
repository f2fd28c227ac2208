#!/usr/bin/env python3
"""Replay recorded exchange data through the engine's own parser and book.

    python tools/replay.py book --file F [--file F2 ...] --symbol S --depth N [--rule auto|futures|spot]

Prints one JSON line per applied diff: {"u": <last update id>, "bids": [[price, qty], ...], "asks": [...]}
(strings exactly as the exchange wrote them, best first). On a sequence gap prints {"event": "gap", ...} and
exits 3. With --check-ticker, also compares the book with every bookTicker of the same update id and exits 4
on a mismatch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actors.book.replay import BookReplayer
from actors.book.sync import BookSync, Gap, SeqRule
from actors.gateway.binance.capture import read_capture
from actors.gateway.events import DepthDiff

EXIT_GAP = 3
EXIT_TICKER_MISMATCH = 4


class _GapFound(Exception):
    def __init__(self, gap: Gap) -> None:
        self.gap = gap


def cmd_book(args: argparse.Namespace) -> int:
    out = sys.stdout.buffer
    depth = args.depth

    def emit(sync: BookSync, d: DepthDiff) -> None:
        book = sync.book
        out.write(msgspec.json.encode({"u": d.last_id, "bids": book.bids(depth), "asks": book.asks(depth)}))
        out.write(b"\n")

    def gap(g: Gap) -> None:
        raise _GapFound(g)

    rule = None if args.rule == "auto" else SeqRule(args.rule)
    rp = BookReplayer(args.symbol.upper(), rule, on_applied=emit, on_gap=gap)
    try:
        stats = rp.run(read_capture(args.file))
    except _GapFound as exc:
        g = exc.gap
        out.write(msgspec.json.encode({"event": "gap", "reason": g.reason, "expected": g.expected,
                                       "U": g.got_first, "pu": g.got_prev, "u": g.got_last}))
        out.write(b"\n")
        out.flush()
        return EXIT_GAP
    out.flush()
    bad = rp.parser.rejected
    print(f"replayed {stats.frames} frames: {stats.diffs_applied} diffs applied, "
          f"{stats.snapshots} snapshot(s), "
          f"{stats.ticker_checks} bookTicker checks, {len(stats.ticker_mismatches)} mismatches, "
          f"{bad} frames rejected", file=sys.stderr)
    if args.check_ticker and stats.ticker_mismatches:
        for u, what in stats.ticker_mismatches[:10]:
            print(f"mismatch at u={u}: {what}", file=sys.stderr)
        return EXIT_TICKER_MISMATCH
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="replay.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("book", help="rebuild the order book from a capture, one JSON line per applied diff")
    b.add_argument("--file", action="append", required=True, help="capture file; repeat to chain files")
    b.add_argument("--symbol", required=True)
    b.add_argument("--depth", type=int, default=5, help="levels per side to print")
    b.add_argument("--rule", choices=["auto", "futures", "spot"], default="auto")
    b.add_argument("--check-ticker", action="store_true", help="exit 4 if a bookTicker disagrees")
    args = ap.parse_args(argv)
    if args.cmd == "book":
        return cmd_book(args)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        sys.exit(0)
