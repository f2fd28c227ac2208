"""The asyncio shell: owns the clocks, the market sources, the listeners and the pump that feeds the core.

Everything here runs on one event loop thread. The pump advances market time, hands due market events to
the exchange core, flushes aggregated depth windows, settles funding, expires listen keys and sends what
the core produced. REST requests run to completion on the same loop, so the core is never re-entered.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from fractions import Fraction
from typing import Any

from loguru import logger

from simex.config import SimConfig
from simex.exchange import Exchange
from simex.faults import FaultError, Faults
from simex.httpserver import HttpServer
from simex.listenkeys import ListenKeys
from simex.ratelimit import RateLimiter
from simex.replay import ReplayFeed, capture_symbol
from simex.rest import RestApi
from simex.symbols import DEFAULT_SPECS, exchange_info
from simex.synth import REGIMES, SyntheticMarket
from simex.wshub import Hub

PUMP_MAX_SLEEP = 0.02
PUMP_MIN_SLEEP = 0.001
TICK_BUDGET_S = 0.025  # at most this much market work per pump turn before yielding to I/O
SOURCE_BATCH = 32  # market events taken from one source per round


class Runtime:
    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg
        specs = {s: DEFAULT_SPECS[s] for s in cfg.symbols}
        self.secrets = cfg.accounts()
        self.core = Exchange(
            specs,
            self.secrets,
            wallet=cfg.wallet,
            leverage=cfg.leverage,
            maker_fee=cfg.maker_fee,
            taker_fee=cfg.taker_fee,
            queue_model=cfg.queue_model,
            seed=cfg.seed,
        )
        self.limiter = RateLimiter(
            cfg.weight_limit_1m,
            cfg.orders_limit_10s,
            cfg.orders_limit_1m,
            cfg.ban_after_requests,
            int(cfg.ban_seconds * 1000),
        )
        fault_seed = cfg.user_fault_seed if cfg.user_fault_seed is not None else cfg.seed + 1
        self.faults = Faults(fault_seed)
        self.keys = ListenKeys(int(cfg.listen_key_ttl_s * 1000), cfg.seed)
        self.hub = Hub(self)
        self.core.set_wanted(self.hub.wanted)  # build payloads only for streams someone subscribed to
        self.rest = RestApi(self)
        self.http = HttpServer(self.rest.handle)
        self.replay: ReplayFeed | None = None
        self.synth: dict[str, SyntheticMarket] = {}
        if cfg.feed:
            sym = cfg.feed_symbol or capture_symbol(cfg.feed)
            if sym not in specs:
                raise ValueError(f"feed symbol {sym} is not listed ({list(specs)}); pass --feed-symbol")
            self.replay = ReplayFeed(cfg.feed, specs[sym])
        for i, sym in enumerate(specs):
            if self.replay is None or sym != self.replay.symbol:
                self.synth[sym] = SyntheticMarket(specs[sym], cfg.seed, i, cfg.synth_step_ms)
        for sym, regime in cfg.regimes:
            self._generator(sym).set_regime(regime, 0)
        for at_s, sym, regime, secs in cfg.regime_schedule:
            self._generator(sym).schedule_regime(int(at_s * 1000), regime, secs)
        self.funding_rate = Fraction(cfg.funding_rate)
        self.funding_ms = int(cfg.funding_interval_s * 1000)
        self.next_funding_market = self.funding_ms
        self.t0 = time.monotonic()
        self.rest_port = 0
        self.ws_port = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = asyncio.Event()
        self.pump_busy_s = 0.0
        self.market_events = 0
        self.behind = False

    # ---- clocks ----
    def now(self) -> int:
        """Server time (epoch ms), including any injected clock skew."""
        wall = int(time.time() * 1000)
        return wall + self.faults.skew_ms(wall)

    def market_ms(self) -> int:
        return int((time.monotonic() - self.t0) * 1000 * self.cfg.speed)

    # ---- lifecycle ----
    async def start(self) -> None:
        now = self.now()
        for name, params in self.cfg.faults:
            self.apply_fault(name, dict(params))
        self.core.funding_rate = self.funding_rate
        self.core.next_funding_ms = now + int(self.funding_ms / self.cfg.speed)
        self.tick()
        self.rest_port = await self.http.start(self.cfg.host, self.cfg.rest_port)
        self.ws_port = await self.hub.start(self.cfg.host, self.cfg.ws_port)
        self._tasks = [
            asyncio.create_task(self._pump(), name="simex-pump"),
            asyncio.create_task(self._housekeeping(), name="simex-housekeeping"),
        ]
        logger.info("simex listening: rest {} ws {}", self.rest_port, self.ws_port)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await self.hub.stop()
        await self.http.stop()
        self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    # ---- the pump ----
    def tick(self) -> None:
        t = time.perf_counter()
        now = self.now()
        m = self.market_ms()
        sources: list[ReplayFeed | SyntheticMarket] = list(self.synth.values())
        if self.replay is not None:
            sources.append(self.replay)
        deadline = t + TICK_BUDGET_S
        busy = True
        while busy and time.perf_counter() < deadline:  # round-robin, bounded: never starve the loop
            busy = False
            for src in sources:
                events = src.advance(m, SOURCE_BATCH)
                for ev in events:
                    self.core.feed_step(ev.symbol, ev.items, now)
                busy = busy or len(events) == SOURCE_BATCH
                self.market_events += len(events)
        self.behind = busy
        self.core.flush(now)
        if self.funding_rate and m >= self.next_funding_market:
            self.core.apply_funding(self.funding_rate, now)
            self.next_funding_market += self.funding_ms
            self.core.next_funding_ms = now + int(self.funding_ms / self.cfg.speed)
        for key, _acct in self.keys.due(now):
            self.hub.key_expired(key, now)
        self.dispatch()
        self.pump_busy_s += time.perf_counter() - t

    def dispatch(self) -> None:
        market, user = self.core.drain()
        if not market and not user:
            return
        now = self.now()
        for stream, payload in market:
            self.hub.publish_market(stream, payload, now)
        for account, payload in user:
            self.hub.publish_user(account, payload, now)

    def _sleep_s(self) -> float:
        if self.behind:
            return 0.0
        m = self.market_ms()
        nxt = [g.next_time() for g in self.synth.values()]
        if self.replay is not None and self.replay.next_time() is not None:
            nxt.append(self.replay.next_time())  # type: ignore[arg-type]
        wait = PUMP_MAX_SLEEP
        if nxt:
            wait = min(wait, max(0, min(nxt) - m) / 1000 / self.cfg.speed)
        deadlines = [d for d in (p.next_deadline() for p in self.core.pubs.values()) if d is not None]
        if deadlines:
            wait = min(wait, max(0, min(deadlines) - self.now()) / 1000)
        return max(PUMP_MIN_SLEEP, wait)

    async def _pump(self) -> None:
        while True:
            try:
                self.tick()
            except Exception:
                logger.exception("simex pump failed; continuing")
            await asyncio.sleep(self._sleep_s())

    async def _housekeeping(self) -> None:
        last_prune = 0.0
        while True:
            try:
                self.hub.housekeeping(self.now())
                if time.monotonic() - last_prune >= 10:
                    last_prune = time.monotonic()
                    self.core.prune(self.now(), int(self.cfg.order_retention_s * 1000))
            except Exception:
                logger.exception("simex housekeeping failed; continuing")
            await asyncio.sleep(min(0.2, max(0.01, self.cfg.ws_ping_interval_s / 4)))

    # ---- control ----
    def _generator(self, symbol: str) -> SyntheticMarket:
        gen = self.synth.get(symbol)
        if gen is None:
            raise FaultError(f"{symbol} has no synthetic market (unknown symbol or replayed from a capture)")
        return gen

    def set_regime(self, symbol: str, regime: str, seconds: float | None = None) -> dict[str, Any]:
        if regime not in REGIMES:
            raise FaultError(f"unknown regime {regime!r}; known: {sorted(REGIMES)}")
        gen = self._generator(symbol)
        gen.set_regime(regime, gen.next_time(), seconds)
        return {"symbol": symbol, "regime": regime, "seconds": seconds, "from_market_ms": gen.next_time()}

    def apply_fault(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        now = self.now()
        p = self.faults.add(name, params, now)
        result: dict[str, Any] = {"applied": name, "params": p}
        if name == "ws_drop":
            result["connections"] = self.hub.drop(p["mode"], p["scope"])
        elif name == "depth_gap":
            syms = [p["symbol"]] if "symbol" in p else list(self.core.pubs)
            for s in syms:
                if s not in self.core.pubs:
                    raise FaultError(f"depth_gap: unknown symbol {s}")
                self.core.pubs[s].skip_next += int(p["count"])
        elif name == "listenkey_expire":
            for key, _acct in self.keys.expire_now(p.get("listenKey"), now):
                self.hub.key_expired(key, now)
        result.update(self.faults.state(now))
        return result

    def exchange_info(self, now: int) -> dict[str, Any]:
        return exchange_info(
            self.core.specs,
            now,
            self.cfg.weight_limit_1m,
            self.cfg.orders_limit_1m,
            self.cfg.orders_limit_10s,
        )

    def state(self) -> dict[str, Any]:
        now = self.now()
        core = self.core.state()
        for sym, info in core["symbols"].items():
            gen = self.synth.get(sym)
            info["source"] = "synthetic" if gen is not None else "replay"
            info["regime"] = gen.regime_name if gen is not None else None
        elapsed = max(1e-9, time.monotonic() - self.t0)
        return {
            "server_time": now,
            "market_time_ms": self.market_ms(),
            "speed": self.cfg.speed,
            "faults": self.faults.state(now),
            "rate_limits": self.limiter.state(now),
            "ws": self.hub.state(),
            "listen_keys": self.keys.state(now),
            "replay": None
            if self.replay is None
            else {"symbol": self.replay.symbol, "loops": self.replay.loops, "lines": self.replay.lines},
            "pump": {
                "market_events": self.market_events,
                "busy_s": round(self.pump_busy_s, 3),
                "busy_fraction": round(self.pump_busy_s / elapsed, 4),
                "behind": self.behind,
            },
            **core,
        }
