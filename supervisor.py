#!/usr/bin/env python3
"""The engine's entry point: ``python supervisor.py --symbols ETHUSDC[,BTCUSDC...]``.

With the shipped settings.toml it starts the simulated exchange in-process (no keys, no network) and trades
on it at once; with ``[exchange] rest_url``/``ws_url`` it trades there. SIGINT/SIGTERM or the end of
``--duration``: cancel all, confirm, flush, print a one-screen summary, exit 0. Exit 1: the root supervisor
gave up (systemd restarts the process); 2: bad settings or arguments (nothing started); 3: another instance
already trades this account and symbol.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import signal
import sys
import threading
from pathlib import Path

from loguru import logger

from actors.config.watcher import ReloadRequest, install_reload_signal
from actors.logs import configure as configure_logs
from actors.logs import url_secrets
from actors.notifier.settings import LEVELS
from actors.settings import Settings, SettingsError, credentials, load_settings
from actors.supervisor.engine import EXIT_ESCALATED, EXIT_OK, Engine
from actors.supervisor.lock import InstanceLocked
from actors.supervisor.sdnotify import Notifier

REPO = Path(__file__).resolve().parent
EXIT_CONFIG = 2
EXIT_LOCKED = 3


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Market-making engine supervisor")
    ap.add_argument("--symbols", default="ETHUSDC", help="comma-separated, e.g. ETHUSDC,BTCUSDC")
    ap.add_argument("--config", default=str(REPO / "settings.toml"), help="settings file")
    ap.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: run until signalled)")
    ap.add_argument("--json-summary", action="store_true", help="print the final summary as one JSON line")
    ap.add_argument("--resume", default="", metavar="SYMBOLS",
                    help="operator: lift the halt these symbols were left in (a panicstop survives restarts)")
    return ap.parse_args(argv)


def start_embedded_exchange(s: Settings):
    from simex import SimConfig, SimExchange

    cfg = SimConfig(seed=s.simex.seed, feed=s.simex.feed or None, feed_symbol=s.simex.feed_symbol or None,
                    speed=s.simex.speed, api_key=s.simex.api_key, api_secret=s.simex.api_secret,
                    maker_fee=s.fees.maker, taker_fee=s.fees.taker)
    sx = SimExchange(cfg)
    sx.start()
    logger.info("simulated exchange running in-process: {} {}", sx.rest_url, sx.ws_url)
    return sx


def print_summary(summary: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary), flush=True)
        return
    lat = summary.get("tick_to_order", {})
    lat_txt = (f", tick-to-order p50 {lat['p50_ms']:.2f} ms p99 {lat['p99_ms']:.2f} ms over {lat['n']} placements"
               if lat.get("n") else "")
    print(f"run {summary['run_id']}: {summary.get('child_restarts', 0)} actor restarts{lat_txt}", flush=True)
    for sym, s in summary["symbols"].items():
        print(f"{sym}: {s['open_orders']} open orders, position {s['position']}, {s.get('fills_this_run', 0)} fills "
              f"this run ({s.get('fills_total', 0)} in all), realized {s.get('realized_pnl', '?')}, fees "
              f"{s.get('fees', '?')}, net {s.get('net_pnl', '?')}, unrealized {s['unrealized_pnl']}", flush=True)
        mk = s.get("markouts_this_run") or {}
        if s.get("fills_this_run"):
            marks = ", ".join(f"{h} {m['mean_bps']:+.2f} bps ({m['adverse_rate']:.0%} adverse, {m['fills']})"
                              for h, m in mk.items()) or "none resolved yet"
            print(f"{sym}: max |position| this run {s.get('max_abs_position_this_run', '?')}; markouts {marks}",
                  flush=True)


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
    try:  # JSON file + console, std logging routed in, the credentials scrubbed; what is queued is written at exit
        logs = configure_logs(settings.log, secrets=(creds.api_key, creds.api_secret), symbols=symbols)
        atexit.register(logs.close)
    except OSError as exc:
        print(f"error: {settings.source}: [log] path: {exc}", file=sys.stderr)
        print("nothing was started", file=sys.stderr)
        return EXIT_CONFIG

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    reload_request = ReloadRequest()  # SIGHUP (systemctl reload): re-read the settings file
    install_reload_signal(reload_request)

    sx = start_embedded_exchange(settings) if settings.embedded_exchange else None
    rest_url = sx.rest_url if sx else settings.exchange.rest_url
    ws_url = sx.ws_url if sx else settings.exchange.ws_url
    notifier = Notifier.from_env(os.environ, pid=os.getpid(), send_timeout_s=settings.systemd.send_timeout_s)
    try:
        engine = Engine(settings, symbols, rest_url, ws_url, creds, notifier=notifier, config_path=args.config,
                        reload_request=reload_request)
    except SettingsError as exc:  # e.g. an alert URL apprise cannot use (the message never quotes it)
        print(f"error: {exc}", file=sys.stderr)
        print("nothing was started", file=sys.stderr)
        if sx is not None:
            sx.stop()
        return EXIT_CONFIG
    # alert URLs carry tokens: scrubbed from every log line like the API keys
    logs.add_secrets(url_secrets(d.url for lv in LEVELS for d in engine.ops.targets.of(lv)))
    resume = [x.strip().upper() for x in args.resume.split(",") if x.strip()]
    code, reason = EXIT_ESCALATED, "crashed"
    try:
        try:
            engine.start(resume=resume)
        except InstanceLocked as exc:
            print(f"error: {exc}", file=sys.stderr)
            code, reason = EXIT_LOCKED, "refused to start"
        except ValueError as exc:
            print(f"error: --symbols: {exc}", file=sys.stderr)
            code, reason = EXIT_CONFIG, "refused to start"
        except OSError as exc:  # the metrics port is taken (another instance, or one still stopping)
            print(f"error: {exc}", file=sys.stderr)
            code, reason = EXIT_ESCALATED, "refused to start"
        else:
            code = engine.run(stop, args.duration)
            reason = "escalated" if code else "stopped"
    finally:
        # whatever happened above: cancel all, confirm, flush (live actor threads would otherwise trade on)
        summary = engine.shutdown(reason)
        if sx is not None:
            sx.stop()
    if code in (EXIT_LOCKED, EXIT_CONFIG):
        return code
    print_summary(summary, args.json_summary)
    if code == EXIT_OK and any(s["open_orders"] for s in summary["symbols"].values()):
        return EXIT_ESCALATED  # the final cancel-all could not confirm that nothing is left open
    return code


if __name__ == "__main__":
    sys.exit(main())
