#!/usr/bin/env python3
"""The engine's entry point: ``python supervisor.py --symbols ETHUSDC[,BTCUSDC...]``.

With the shipped settings.toml it starts the simulated exchange in-process (no keys, no network).
Foundation stage: it connects the Binance gateway (REST + WebSocket) and keeps a local order book per symbol
in step with the exchange, printing what it sees; the supervised actor tree that trades is the next stage
(docs/architecture.md).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from loguru import logger

from actors.book.feed import MarketFeed
from actors.gateway.binance.rest import BinanceRest
from actors.gateway.binance.ws import WsClient, combined_url
from actors.settings import Settings, SettingsError, credentials, load_settings

REPO = Path(__file__).resolve().parent
EXIT_CONFIG = 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Market-making engine supervisor")
    ap.add_argument("--symbols", default="ETHUSDC", help="comma-separated, e.g. ETHUSDC,BTCUSDC")
    ap.add_argument("--config", default=str(REPO / "settings.toml"), help="settings file")
    ap.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: run until signalled)")
    ap.add_argument("--status-every", type=float, default=5.0, help="seconds between status lines")
    return ap.parse_args(argv)


def start_embedded_exchange(s: Settings):
    from simex import SimConfig, SimExchange

    cfg = SimConfig(seed=s.simex.seed, feed=s.simex.feed or None, feed_symbol=s.simex.feed_symbol or None,
                    speed=s.simex.speed, api_key=s.simex.api_key, api_secret=s.simex.api_secret)
    sx = SimExchange(cfg)
    sx.start()
    logger.info("simulated exchange running in-process: {} {}", sx.rest_url, sx.ws_url)
    return sx


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    symbols = [x.strip().upper() for x in args.symbols.split(",") if x.strip()]
    try:
        settings = load_settings(args.config)
        creds = credentials(settings)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print("nothing was started", file=sys.stderr)
        return EXIT_CONFIG
    logger.remove()
    logger.add(sys.stderr, level=settings.log.level)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    sx = start_embedded_exchange(settings) if settings.embedded_exchange else None
    rest_url = sx.rest_url if sx else settings.exchange.rest_url
    ws_url = sx.ws_url if sx else settings.exchange.ws_url
    rest = BinanceRest(rest_url, creds.api_key, creds.api_secret, stp_mode=settings.exchange.stp_mode,
                       recv_window_ms=settings.exchange.recv_window_ms, rate_safety=settings.exchange.rate_limit_safety)
    try:
        info = rest.exchange_info()
        missing = [s for s in symbols if s not in info.instruments]
        if missing:
            print(f"error: --symbols: not listed on {rest_url}: {', '.join(missing)}", file=sys.stderr)
            return EXIT_CONFIG
        limit = settings.feed.snapshot_limit
        feed = MarketFeed([info.instrument(s) for s in symbols], lambda sym: rest.depth(sym, limit))
        streams = [f"{s.lower()}@{kind}" for s in symbols
                   for kind in (settings.feed.depth_stream, "trade", "bookTicker")]
        ws = WsClient(combined_url(ws_url, streams), name="market", on_message=feed.on_message,
                      on_event=feed.on_event, stale_after_s=settings.feed.stale_after_s, as_bytes=True)
        ws.start()
        t0 = time.monotonic()
        next_status = t0 + args.status_every
        while not stop.is_set():
            if args.duration and time.monotonic() - t0 >= args.duration:
                break
            feed.service(0.2)
            if time.monotonic() >= next_status:
                next_status += args.status_every
                for st in feed.status():
                    logger.info("{} {} mid={} spread={:.2f}bps imbalance={:+.2f} u={} diffs={} trades={} "
                                "gaps={} resyncs={} ticker-checks={} mismatches={}", st.symbol, st.state, st.mid,
                                st.spread_bps, st.imbalance, st.last_id, st.diffs, st.trades, st.gaps, st.resyncs,
                                st.checks, st.mismatches)
        ws.stop()
        for st in feed.status():
            print(f"{st.symbol}: {st.state}, {st.diffs} diffs applied, {st.trades} trades seen, {st.gaps} gaps, "
                  f"{st.resyncs} resyncs, {st.checks} bookTicker checks ({st.mismatches} mismatches), "
                  f"{feed.parser.rejected} bad frames", flush=True)
        return 0
    finally:
        rest.close()
        if sx is not None:
            sx.stop()


if __name__ == "__main__":
    sys.exit(main())
