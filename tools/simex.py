"""Run the simulated Binance USDⓈ-M exchange (simex) as a process.

Prints exactly one JSON line on stdout once both listeners accept connections:
    {"rest": "http://127.0.0.1:PORT", "ws": "ws://127.0.0.1:PORT2"}
Logs go to stderr. SIGINT/SIGTERM stop it cleanly. See docs/simex.md.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loguru import logger

from simex import SimConfig, SimExchange
from simex.faults import PARAMS
from simex.synth import REGIMES


def parse_fault(text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """``name:k=v,k2=v2`` -> (name, ((k, v), ...))."""
    name, _, rest = text.partition(":")
    if name not in PARAMS:
        raise argparse.ArgumentTypeError(f"unknown fault {name!r}; known: {', '.join(sorted(PARAMS))}")
    pairs = []
    for item in filter(None, rest.split(",")):
        k, sep, v = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"fault parameter {item!r} is not key=value")
        pairs.append((k.strip(), v.strip()))
    return name, tuple(pairs)


def parse_regime(text: str) -> tuple[str, str]:
    sym, sep, regime = text.partition("=")
    if not sep or regime not in REGIMES:
        raise argparse.ArgumentTypeError(f"expected SYMBOL=REGIME with REGIME in {', '.join(sorted(REGIMES))}")
    return sym.upper(), regime


def config_from(args: argparse.Namespace) -> SimConfig:
    return SimConfig(
        seed=args.seed,
        symbols=tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip()),
        feed=args.feed,
        feed_symbol=args.feed_symbol,
        speed=args.speed,
        api_key=args.api_key,
        api_secret=args.api_secret,
        host=args.host,
        rest_port=args.rest_port,
        ws_port=args.ws_port,
        faults=tuple(args.fault),
        regimes=tuple(args.regime),
        funding_rate=args.funding_rate,
        maker_fee=args.maker_fee,
        taker_fee=args.taker_fee,
        funding_interval_s=args.funding_interval_s,
        listen_key_ttl_s=args.listen_key_ttl_s,
        ws_ping_interval_s=args.ws_ping_interval_s,
        ws_max_lifetime_s=args.ws_max_lifetime_s,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--feed", help="raw capture to replay (hftbacktest gzip format); default: synthetic market")
    p.add_argument("--feed-symbol", help="symbol the capture is published as (default: the capture's own)")
    p.add_argument("--speed", type=float, default=1.0, help="market time multiplier (default 1)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--api-key", default="simkey")
    p.add_argument("--api-secret", default="simsecret")
    p.add_argument("--symbols", default=",".join(SimConfig().symbols), help="comma-separated listed symbols")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--rest-port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--ws-port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--fault", action="append", type=parse_fault, default=[], metavar="NAME:k=v,...")
    p.add_argument("--regime", action="append", type=parse_regime, default=[], metavar="SYM=NAME")
    p.add_argument("--maker-fee", default="0.0002", help="maker commission rate (default 0.0002)")
    p.add_argument("--taker-fee", default="0.0005", help="taker commission rate (default 0.0005)")
    p.add_argument("--funding-rate", default="0", help="funding rate applied every --funding-interval-s")
    p.add_argument("--funding-interval-s", type=float, default=8 * 3600)
    p.add_argument("--listen-key-ttl-s", type=float, default=3600.0)
    p.add_argument("--ws-ping-interval-s", type=float, default=180.0)
    p.add_argument("--ws-max-lifetime-s", type=float, default=24 * 3600.0)
    p.add_argument("--log-level", default="INFO")
    args = p.parse_args(argv)

    logger.remove()
    logger.add(sys.stderr, level=args.log_level.upper())
    try:
        cfg = config_from(args)
    except (ValueError, TypeError) as exc:
        logger.error("bad configuration: {}", exc)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    sx = SimExchange(cfg)
    try:
        sx.start()
    except Exception as exc:
        logger.error("simex failed to start: {}", exc)
        return 2
    sys.stdout.write(json.dumps({"rest": sx.rest_url, "ws": sx.ws_url}) + "\n")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        logger.info("simex stopping")
        sx.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
