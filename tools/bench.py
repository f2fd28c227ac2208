#!/usr/bin/env python3
"""Benchmarks that print figures (never timed tests: CI machines are noisy).

    python tools/bench.py [--data DIR] [--repeat N] [--only feed]

feed: every real capture in ../shared/data/hftbacktest replayed through the gateway's frame parser and the
book (the engine's own code, as the live gateway runs it), against bare ``json.loads`` of the same frames.
Frames are read into memory first so that only parsing and book work are timed, in thread CPU time, with
paired chunks (see ``bench_feed``) to read through a noisy machine.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actors.book.replay import BookReplayer
from actors.gateway.binance.capture import read_capture

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# (symbol, files chained in order) — every hftbacktest capture we have
CAPTURES = [
    ("ETHUSDT", ["hftbacktest/examples/usdm/ethusdt_20240808.gz"]),
    ("ETHUSDT", ["hftbacktest/examples/spot/ethusdt_20240808.gz", "hftbacktest/examples/spot/ethusdt_20240809.gz"]),
    ("BTCUSDT", ["hftbacktest/examples/spot/btcusdt_20240808.gz", "hftbacktest/examples/spot/btcusdt_20240809.gz"]),
]


def bench_feed(data: Path, repeat: int) -> dict[str, float]:
    """Paired measurement: the frames go through in chunks, each chunk timed with bare ``json.loads`` and
    then through the pipeline right after, so both see the same machine state; the sums over all chunks give
    the rates, and the median of ``repeat`` full passes is reported (this VM's speed drifts by ±30 %)."""
    streams = []
    for symbol, files in CAPTURES:
        streams.append((symbol, list(read_capture([data / f for f in files]))))
    n = sum(len(f) for _, f in streams)
    gc.collect()
    gc.freeze()  # the loaded frames are not garbage; the engine does the same after start-up
    loads = json.loads
    chunk = 2_000
    passes: list[tuple[float, float]] = []
    for _ in range(repeat):
        t_json = t_pipe = 0.0
        for symbol, frames in streams:
            rp = BookReplayer(symbol)
            for i in range(0, len(frames), chunk):
                part = frames[i:i + chunk]
                t = time.thread_time()
                for _, raw in part:
                    loads(raw)
                t_json += time.thread_time() - t
                t = time.thread_time()
                rp.run(part)
                t_pipe += time.thread_time() - t
            if rp.stats.ticker_mismatches or rp.parser.rejected:
                raise SystemExit(f"pipeline disagrees with the exchange on {symbol}")
        passes.append((t_json, t_pipe))
    passes.sort(key=lambda p: p[0] / p[1])
    t_json, t_pipe = passes[len(passes) // 2]
    return {"frames": n, "json_loads_msgs_per_s": n / t_json, "pipeline_msgs_per_s": n / t_pipe,
            "ratio": t_json / t_pipe, "ratio_min": passes[0][0] / passes[0][1],
            "ratio_max": passes[-1][0] / passes[-1][1]}


def bench_store(n: int = 3000) -> dict[str, float]:
    """Persist-before-send cost: one intent, one fill, one OMS journal step, on a real WAL file."""
    import tempfile
    from decimal import Decimal

    from actors.gateway.events import Fill, Side
    from actors.oms.intents import IntentLog
    from actors.store.store import JournalOrder, Store

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as d, Store.open(Path(d) / "bench.db", autocheckpoint=False) as st:
        st.start_run("bench", symbols=["ETHUSDC"], at_ns=1)

        def timed(name: str, fn: Callable[[int], object]) -> None:
            samples = []
            for i in range(n):
                t = time.perf_counter_ns()
                fn(i)
                samples.append(time.perf_counter_ns() - t)
                if i % 500 == 499:
                    st.checkpoint()  # as the OMS does, off the send path
            samples.sort()
            out[f"{name}_p50_us"] = samples[n // 2] / 1e3
            out[f"{name}_p99_us"] = samples[int(n * 0.99)] / 1e3

        timed("intent", lambda i: st.record_order_intent(
            f"i{i}", venue="binance-usdm", symbol="ETHUSDC", side="BUY", price="2500.10", qty="0.010", tif="GTX",
            reduce_only=False, created_ns=i + 10, run_id="bench"))
        timed("fill", lambda i: st.record_fill(Fill(
            "binance-usdm", "ETHUSDC", i + 1, i, f"i{i}", Side.BUY, Decimal("2500.10"), Decimal("0.010"),
            Decimal("0.001"), "USDC", True, Decimal(0), 1_700_000_000_000 + i), run_id="bench"))
        timed("journal_step", lambda i: st.journal(
            venue="binance-usdm", symbol="ETHUSDC", run_id="bench", at_ns=i + 10,
            orders=[JournalOrder(f"j{i}", "BUY", Decimal("2500.10"), Decimal("0.010"), "GTX", False, i, "INTENT",
                                 None, Decimal(0), False, "{}")]))
        # what the OMS now does before a send: the intent log (the journal follows the send); cleared each step
        log = IntentLog(Path(d) / "intents.log")
        timed("intent_log_append", lambda i: (log.append([JournalOrder(
            f"k{i}", "BUY", Decimal("2500.10"), Decimal("0.010"), "GTX", False, i, "INTENT", None, Decimal(0), False,
            '{"client_order_id":"mmETHUSDC.0mwr8i5uw.0000000024","side":"BUY","price_ticks":250010}')]),
            log.clear()))
        log.close()
    return out


TREE_SETTINGS = """
[exchange]
rest_url = "{rest}"
ws_url = "{ws}"
[store]
path = "{tmp}/mm.db"
[engine]
state_dir = "{tmp}/locks"
[fees]
maker = "0"
[strategy]
min_spread_bps = 2.0
fee_buffer_bps = 0.5
quote_interval_ms = 200
refresh_tolerance_bps = 0.5
[oms]
min_order_lifetime_ms = 100
places_per_min = 1200
cancels_per_min = 1200
places_per_s = 20
cancels_per_s = 20
[log]
level = "WARNING"
"""


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextlib.contextmanager
def _simex_process(speed: float, tmp: Path) -> Iterator[Path]:
    """``tools/simex.py`` as a process of its own, and a settings file in ``tmp`` for an engine against it."""
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    sim = subprocess.Popen([sys.executable, str(repo / "tools/simex.py"), "--seed", "3", "--speed", str(speed),
                            "--maker-fee", "0", "--symbols", "ETHUSDC", "--log-level", "WARNING"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert sim.stdout is not None
        urls = json.loads(sim.stdout.readline())
        cfg = tmp / "settings.toml"
        cfg.write_text(TREE_SETTINGS.format(rest=urls["rest"], ws=urls["ws"], tmp=tmp))
        yield cfg
    finally:
        sim.terminate()
        sim.wait(20)


def bench_tree(minutes: float, speed: float) -> dict[str, Any]:
    """The engine as a process against simex as another (the exchange is remote in real life): tick-to-order
    latency through the whole tree, and resident memory over ``minutes`` of accelerated trading."""
    import subprocess
    import tempfile

    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as d, _simex_process(speed, Path(d)) as cfg:
        env = dict(os.environ, MM_API_KEY="simkey", MM_API_SECRET="simsecret")
        eng = subprocess.Popen([sys.executable, str(repo / "supervisor.py"), "--symbols", "ETHUSDC", "--config",
                                str(cfg), "--duration", str(minutes * 60), "--json-summary"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=repo)
        rss: list[tuple[float, float]] = []
        t0 = time.monotonic()
        while eng.poll() is None:
            rss.append((time.monotonic() - t0, _rss_mb(eng.pid)))
            time.sleep(5)
        out = eng.communicate()[0]
    summary = json.loads(out.strip().splitlines()[-1])
    rss = [r for r in rss if r[1] == r[1]]
    first = next((m for t, m in rss if t >= 60), rss[0][1])
    half = [r for r in rss if r[0] >= rss[-1][0] / 2]
    slope = (half[-1][1] - half[0][1]) / max(1e-9, (half[-1][0] - half[0][0]) / 60) if len(half) > 1 else 0.0
    return {"tick_to_order": summary["tick_to_order"], "rss_1min_mb": first, "rss_end_mb": rss[-1][1],
            "rss_slope_mb_per_min_2nd_half": slope, "fills": summary["symbols"]["ETHUSDC"]["fills_this_run"],
            "open_orders_at_exit": summary["symbols"]["ETHUSDC"]["open_orders"]}


def bench_crash(rounds: int) -> dict[str, Any]:
    """Crash an actor mid-run (alternately the OMS and the gateway, whose restart takes every actor after
    it), and time until quoting again: the OMS reconciled and an order it knows is resting on the exchange."""
    import dataclasses
    import tempfile
    import threading

    from loguru import logger

    from actors.base import Crash
    from actors.settings import credentials, parse_settings
    from actors.supervisor.engine import Engine
    from simex import SimConfig, SimExchange

    logger.remove()
    times: dict[str, list[float]] = {"oms": [], "gateway": []}
    with tempfile.TemporaryDirectory() as d, SimExchange(SimConfig(seed=4, maker_fee="0")) as sx:
        s = parse_settings({"store": {"path": f"{d}/mm.db"}, "engine": {"state_dir": f"{d}/locks"},
                            "fees": {"maker": "0"}, "strategy": {"min_spread_bps": 2.0, "fee_buffer_bps": 0.5},
                            "supervision": {"max_restarts": 1000}, "log": {"level": "ERROR"}})
        s = dataclasses.replace(s)
        eng = Engine(s, ["ETHUSDC"], sx.rest_url, sx.ws_url, credentials(s))
        eng.start()
        stop = threading.Event()
        root = threading.Thread(target=eng.run, args=(stop,), daemon=True)
        root.start()
        tree = eng.trees["ETHUSDC"]

        def quoting() -> bool:
            on_exchange = {o["clientOrderId"] for o in sx.state()["accounts"]["simkey"]["open_orders"]}
            oms = tree.inspect(("oms",)).get("oms") or {}
            return oms.get("mode") == "QUOTING" and bool(on_exchange) and on_exchange <= set(oms.get("live") or ())

        def wait(pred: Callable[[], bool], timeout: float) -> bool:
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                if pred():
                    return True
                time.sleep(0.01)
            return False

        wait(quoting, 30)
        for i in range(rounds):
            name = "oms" if i % 2 == 0 else "gateway"
            n = len(eng.stats.child_restarts)
            t = time.monotonic()
            tree.peers.tell(name, Crash("bench"))
            wait(lambda n=n: len(eng.stats.child_restarts) > n, 10)
            if wait(quoting, 30):
                times[name].append(time.monotonic() - t)
            time.sleep(1.0)
        stop.set()
        root.join(5)
        eng.shutdown("bench")
    out: dict[str, Any] = {}
    for name, ts in times.items():
        ts.sort()
        if ts:
            out[name] = {"n": len(ts), "p50_s": ts[len(ts) // 2], "max_s": ts[-1]}
    return out


def bench_heap(minutes: float, speed: float, top: int = 12) -> dict[str, Any]:
    """Where the engine's memory grows: the engine in-process (simex in another process), ``tracemalloc``
    snapshots at minute 1 and at the end, the largest growth by source line. Not run by default (slow)."""
    import tempfile
    import threading
    import tracemalloc

    from loguru import logger

    from actors.settings import credentials, load_settings
    from actors.supervisor.engine import Engine

    logger.remove()
    repo = Path(__file__).resolve().parents[1]
    tracemalloc.start(1)
    with tempfile.TemporaryDirectory() as d, _simex_process(speed, Path(d)) as cfg:
        s = load_settings(cfg)
        eng = Engine(s, ["ETHUSDC"], s.exchange.rest_url, s.exchange.ws_url,
                     credentials(s, {"MM_API_KEY": "simkey", "MM_API_SECRET": "simsecret"}))
        eng.start()
        runner = threading.Thread(target=eng.run, args=(threading.Event(), minutes * 60))
        runner.start()
        time.sleep(min(60.0, minutes * 30))
        first, first_mb = tracemalloc.take_snapshot(), tracemalloc.get_traced_memory()[0] / 1e6
        runner.join()
        last, last_mb = tracemalloc.take_snapshot(), tracemalloc.get_traced_memory()[0] / 1e6
        eng.shutdown("bench")
    here = str(repo) + "/"
    growth = [(st.size_diff / 1e3, st.count_diff, f"{st.traceback[0].filename.replace(here, '')}:"
               f"{st.traceback[0].lineno}") for st in last.compare_to(first, "lineno")[:top]]
    return {"first_mb": first_mb, "last_mb": last_mb, "growth": growth}


ETH_EXCHANGE_INFO = ("nautilus_trader/tests/integration_tests/adapters/binance/resources/http_responses/"
                     "http_futures_market_exchange_info.json")
BRAIN_CAPTURE = "hftbacktest/examples/usdm/ethusdt_20240808.gz"


def bench_brain(data: Path, repeat: int) -> dict[str, float]:
    """The strategy brain per book event on the real ETHUSDT capture: the signal engine's update and snapshot
    plus the asmm quote (what the book and strategy actors add to each tick), timed per event; and the whole
    replay (parse, book, view, signals on every diff and trade, quote) in messages per second."""
    from decimal import Decimal

    import msgspec

    from actors.book.market_signals import MarketSignals
    from actors.book.signal_engine import SignalEngine
    from actors.book.sync import BookSync
    from actors.book.view import market_view
    from actors.gateway.binance.exchange_info import parse_exchange_info
    from actors.gateway.events import DepthDiff, Trade
    from actors.risk.adaptation import Adaptation
    from actors.risk.messages import RiskState, TradingState
    from actors.strategy import asmm
    from actors.strategy.asmm_params import AsmmParams
    from actors.strategy.params import Fees

    eth = parse_exchange_info(json.loads((data / ETH_EXCHANGE_INFO).read_text())).instrument("ETHUSDT")
    frames = list(read_capture([data / BRAIN_CAPTURE]))
    params, fees = AsmmParams(), Fees()
    risk = RiskState("ETHUSDT", TradingState.ACTIVE, True, False, (), (), "ok", Decimal(0), 0, False, 1, 0,
                     Adaptation(Decimal("0.1"), 1.0))
    stale_ns = 1_500_000_000
    per_event: list[int] = []
    rates: list[float] = []
    quotes = 0
    for _ in range(repeat):
        sig = SignalEngine(None, eth.tick_size, eth.step_size)
        state = asmm.AsmmState()
        samples: list[int] = []

        def on_applied(sync: BookSync, d: DepthDiff, sig: SignalEngine = sig, samples: list[int] = samples) -> None:
            nonlocal state, quotes
            view = market_view(sync.book, eth, d.recv_ns, d.recv_ns, stale_ns)
            if view is None:
                return
            pos = (len(samples) * 7) % 121 - 60  # positions across ±60 lots: skew, soft limit, reduce-only
            t = time.perf_counter_ns()
            sig.on_view(view)
            s: MarketSignals = sig.snapshot(d.recv_ns)
            view = msgspec.structs.replace(view, signals=s)
            dec = asmm.quote(view, s, pos, params, eth, fees, risk, risk.adaptation, state, d.recv_ns)
            samples.append(time.perf_counter_ns() - t)
            state = dec.state
            quotes += bool(dec.target.bids or dec.target.asks)

        def on_trade(t: Trade, sig: SignalEngine = sig) -> None:
            sig.on_trade(float(t.price), float(t.qty), t.buyer_is_maker, t.recv_ns)

        rp = BookReplayer("ETHUSDT", on_applied=on_applied, on_trade=on_trade)
        gc.collect()
        t0 = time.perf_counter()
        rp.run(frames)
        rates.append(len(frames) / (time.perf_counter() - t0))
        per_event = sorted(samples) if not per_event or len(samples) >= len(per_event) else per_event
    n = len(per_event)
    rates.sort()
    return {"frames": len(frames), "book_events": n, "quotes": quotes // repeat,
            "p50_us": per_event[n // 2] / 1e3, "p99_us": per_event[int(n * 0.99)] / 1e3,
            "max_us": per_event[-1] / 1e3, "replay_msgs_per_s": rates[len(rates) // 2]}


def bench_replay(data: Path, speed: float, maker_fee: str | None = None,
                 min_spread_bps: float | None = None) -> dict[str, Any]:
    """The real ETHUSDT capture (345 s) replayed by the embedded simulated exchange at ``speed``, traded by the
    whole engine with the shipped settings (asmm, the shipped fees): the run's fills, net PnL after fees, max
    inventory and markouts, from the engine's own end-of-run summary (its database). ``maker_fee``: instead of the
    shipped one (Binance's USDC books charge makers 0; USDT ones 0.02 % at the base tier); ``min_spread_bps``:
    instead of the shipped [strategy] one."""
    import subprocess
    import tempfile

    repo = Path(__file__).resolve().parents[1]
    capture = data / BRAIN_CAPTURE
    with tempfile.TemporaryDirectory() as d:
        text = (repo / "settings.toml").read_text()
        for old, new in (('path = "var/mm.db"', f'path = "{d}/mm.db"'), ('state_dir = "var"', f'state_dir = "{d}"'),
                         ('path = "var/log/engine.jsonl"', f'path = "{d}/engine.jsonl"'),
                         ('out_dir = "var/reports"', f'out_dir = "{d}/reports"'), ("port = 9464", "port = 0"),
                         ('feed = ""', f'feed = "{capture}"'), ("speed = 1.0", f"speed = {speed}"),
                         *((('maker = "0.0002"', f'maker = "{maker_fee}"'),) if maker_fee is not None else ()),
                         *((("min_spread_bps = 12.0", f"min_spread_bps = {min_spread_bps}"),)
                           if min_spread_bps is not None else ())):
            if text.count(old) != 1:
                raise SystemExit(f"settings.toml changed: {old!r} is not there exactly once")
            text = text.replace(old, new)
        cfg = Path(d) / "settings.toml"
        cfg.write_text(text)
        seconds = 345 / speed
        out = subprocess.run([sys.executable, str(repo / "supervisor.py"), "--symbols", "ETHUSDT", "--config",
                              str(cfg), "--duration", f"{seconds:.0f}", "--json-summary"], cwd=repo, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True,
                             env=dict(os.environ, MM_API_KEY="simkey", MM_API_SECRET="simsecret")).stdout
    s = json.loads(out.strip().splitlines()[-1])["symbols"]["ETHUSDT"]
    return {"seconds": round(seconds), "maker_fee": maker_fee or "as shipped",
            "min_spread_bps": min_spread_bps or "as shipped", "fills": s["fills_this_run"],
            "net_pnl_after_fees": s["net_pnl"],
            "fees": s["fees"], "realized_pnl": s["realized_pnl"], "unrealized_pnl": s["unrealized_pnl"],
            "max_abs_position": s["max_abs_position_this_run"], "markouts": s["markouts_this_run"],
            "open_orders_at_exit": s["open_orders"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("MM_SHARED_DATA", DEFAULT_DATA)))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", choices=["feed", "store", "tree", "crash", "heap", "brain", "replay"], default=None)
    ap.add_argument("--minutes", type=float, default=10.0, help="tree benchmark: minutes of accelerated trading")
    ap.add_argument("--speed", type=float, default=10.0, help="tree benchmark: market speed of the simulator")
    ap.add_argument("--crashes", type=int, default=10, help="crash benchmark: rounds")
    ap.add_argument("--maker-fee", default=None, help="replay benchmark: maker fee instead of the shipped one")
    ap.add_argument("--min-spread-bps", type=float, default=None, help="replay benchmark: [strategy] min_spread_bps")
    args = ap.parse_args(argv)
    print(f"# {platform.python_implementation()} {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} cores, best of {args.repeat}")
    if args.only in (None, "store"):
        st = bench_store()
        print("store (persist before send, WAL, synchronous=NORMAL): " + ", ".join(
            f"{k.replace('_us', '')} {v:,.0f} µs" for k, v in st.items()))
    if args.only in (None, "crash"):
        c = bench_crash(args.crashes)
        print("crash to quoting again (restart, reconcile, an order resting): " + "; ".join(
            f"{k} crashed: p50 {v['p50_s'] * 1000:,.0f} ms, max {v['max_s'] * 1000:,.0f} ms over {v['n']}"
            for k, v in c.items()))
    if args.only in (None, "tree"):
        t = bench_tree(args.minutes, args.speed)
        lat = t["tick_to_order"]
        print(f"tree ({args.minutes:g} min, market at {args.speed:g}x): tick-to-order p50 "
              f"{lat.get('p50_ms', 0):.2f} ms, p99 {lat.get('p99_ms', 0):.2f} ms, max {lat.get('max_ms', 0):.1f} ms "
              f"over {lat.get('n', 0)} placements; {t['fills']} fills; RSS {t['rss_1min_mb']:.0f} MB at 1 min, "
              f"{t['rss_end_mb']:.0f} MB at the end ({t['rss_slope_mb_per_min_2nd_half']:+.2f} MB/min over the "
              f"second half); {t['open_orders_at_exit']} orders open at exit")
    if args.only == "heap":
        h = bench_heap(args.minutes, args.speed)
        print(f"heap ({args.minutes:g} min, market at {args.speed:g}x): traced {h['first_mb']:.1f} MB after the "
              f"first minute, {h['last_mb']:.1f} MB at the end; largest growth by line:")
        for kb, n, where in h["growth"]:
            print(f"  {kb:9.1f} kB {n:+8d} objects  {where}")
    if args.only in (None, "brain"):
        b = bench_brain(args.data, args.repeat)
        print(f"brain (real ETHUSDT capture, {b['book_events']:,} book events, {b['quotes']:,} quoting): signals "
              f"update + asmm quote per book event p50 {b['p50_us']:.1f} µs, p99 {b['p99_us']:.1f} µs, "
              f"max {b['max_us']:.0f} µs (goal p99 <= 200 µs); whole replay through parse, book, signals and strategy "
              f"{b['replay_msgs_per_s']:,.0f} msg/s over {b['frames']:,} messages")
    if args.only == "replay":
        r = bench_replay(args.data, args.speed, args.maker_fee, args.min_spread_bps)
        print(f"replay (real ETHUSDT capture at {args.speed:g}x through the whole engine, asmm as shipped): "
              + json.dumps(r))
    if args.only in ("store", "crash", "tree", "heap", "brain", "replay"):
        return 0
    r = bench_feed(args.data, args.repeat)
    print(f"feed: {r['frames']} frames (every hftbacktest capture): pipeline {r['pipeline_msgs_per_s']:,.0f} msg/s, "
          f"bare json.loads {r['json_loads_msgs_per_s']:,.0f} msg/s, ratio {r['ratio']:.2f} "
          f"(range {r['ratio_min']:.2f}-{r['ratio_max']:.2f} over {args.repeat} passes; "
          f"goal >= 50,000 msg/s and >= 0.60)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
