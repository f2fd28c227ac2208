"""End-to-end harness: the real engine (every actor, real sockets) against the simulated exchange.

The exchange is the source of truth for every assertion: its open orders, its positions, its fills. A hook
on the exchange's own fill routine checks the inventory worst case (position + every open order on the
adding side) at the instant of every fill it makes.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from actors.risk.messages import Notify
from actors.settings import Settings, credentials, load_settings, parse_settings
from actors.supervisor.engine import Engine
from simex import SimConfig, SimExchange
from simex.orders import BUY

KEY = "simkey"


def wait_until(pred: Callable[[], Any], timeout: float = 20.0, step: float = 0.05) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def test_settings(tmp: Path, **tables: dict[str, Any]) -> Settings:
    """Fast, fill-friendly settings: zero maker fee (as on Binance's USDC books) so a 2 bps spread clears
    the fee floor; quick timers; everything else as shipped."""
    raw: dict[str, Any] = {
        "store": {"path": str(tmp / "mm.db")},
        "engine": {"state_dir": str(tmp / "locks")},
        "fees": {"maker": "0", "taker": "0.0005"},
        "strategy": {"min_spread_bps": 2.0, "fee_buffer_bps": 0.5, "quote_interval_ms": 500,
                     "refresh_tolerance_bps": 1.0, "base_size": "0.01", "inventory_threshold": "0.05"},
        "risk": {"max_inventory": "0.1", "max_order_qty": "0.05", "stale_after_ms": 1500},
        "oms": {"tick_s": 0.2, "min_order_lifetime_ms": 300, "cancels_per_min": 300, "places_per_min": 300},
        "feed": {"stale_after_s": 3.0},
        "supervision": {"heartbeat_s": 0.5, "heartbeat_timeout_s": 2.0},
    }
    for name, values in tables.items():
        if name == "strategy" and values.get("type", "fixed_spread") != "fixed_spread":
            raw[name] = dict(values)  # another strategy's table: the phase-1 keys above are not its keys
        else:
            raw.setdefault(name, {}).update(values)
    return parse_settings(raw, "test-settings")


class Live:
    """One simulated exchange and one engine trading on it."""

    def __init__(self, tmp: Path, *, symbols: tuple[str, ...] = ("ETHUSDC",), sim: dict[str, Any] | None = None,
                 config: Path | None = None, engine_kw: dict[str, Any] | None = None,
                 **tables: dict[str, Any]) -> None:
        """``config``: a settings file (hot-reloaded by the engine) instead of ``tables``; ``engine_kw``: more
        arguments for the ``Engine`` (e.g. an sd_notify ``notifier``)."""
        self.engine_kw = engine_kw or {}
        self.tmp = tmp
        self.symbols = list(symbols)
        self.config = config
        self.settings = load_settings(config) if config is not None else test_settings(tmp, **tables)
        self.sx = SimExchange(SimConfig(**{"seed": 11, "maker_fee": "0", "taker_fee": "0.0005", **(sim or {})}))
        self.alerts: list[Notify] = []
        self.engine: Engine | None = None
        self.stop = threading.Event()
        self._root: threading.Thread | None = None
        self.exit_code: int | None = None
        self.worst: list[tuple[int, int]] = []  # (worst long lots, worst short lots) at every exchange fill

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Live:
        self.sx.start()
        self.sx.call(self._install_fill_hook)
        self.start_engine()
        return self

    def start_engine(self, resume: tuple[str, ...] = ()) -> Engine:
        self.stop.clear()
        self.engine = Engine(self.settings, self.symbols, self.sx.rest_url, self.sx.ws_url,
                             credentials(self.settings), on_alert=self.alerts.append, config_path=self.config,
                             **self.engine_kw)
        self.engine.start(resume=resume)
        self._root = threading.Thread(target=self._run_root, daemon=True)
        self._root.start()
        return self.engine

    def _run_root(self) -> None:
        assert self.engine is not None
        self.exit_code = self.engine.run(self.stop)

    def stop_engine(self) -> dict[str, Any]:
        assert self.engine is not None
        self.stop.set()
        if self._root is not None:
            self._root.join(10)
        return self.engine.shutdown("test")

    def __exit__(self, *exc: object) -> None:
        try:
            if self.engine is not None and self._root is not None and self._root.is_alive():
                self.stop_engine()
        finally:
            self.sx.stop()

    # ------------------------------------------------------------------ the exchange's truth
    def _install_fill_hook(self, rt: Any) -> None:
        core = rt.core
        original = core._fill
        live = self

        def checked_fill(o: Any, ticks: int, lots: int, maker: bool, tid: int, now: int) -> None:
            original(o, ticks, lots, maker, tid, now)
            acct = core.accounts[KEY]
            for sym in live.symbols:
                pos = acct.position(sym).lots
                buys = sum(x.remaining for x in acct.open_in(sym) if x.side == BUY)
                sells = sum(x.remaining for x in acct.open_in(sym) if x.side != BUY)
                live.worst.append((pos + buys, pos - sells))

        core._fill = checked_fill

    def exchange_open_orders(self, symbol: str = "ETHUSDC") -> list[str]:
        acct = self.sx.state()["accounts"][KEY]
        return [o["clientOrderId"] for o in acct["open_orders"] if o["symbol"] == symbol]

    def exchange_position(self, symbol: str = "ETHUSDC") -> Decimal:
        pos = self.sx.state()["accounts"][KEY]["positions"].get(symbol)
        return Decimal(pos["qty"]) if pos else Decimal(0)

    def exchange_fills(self, symbol: str = "ETHUSDC") -> int:
        return self.sx.state()["accounts"][KEY]["fills"]

    # ------------------------------------------------------------------ the engine's view
    def tree(self, symbol: str = "ETHUSDC") -> dict[str, Any]:
        assert self.engine is not None
        return self.engine.trees[symbol].inspect()

    def oms(self, symbol: str = "ETHUSDC") -> dict[str, Any]:
        assert self.engine is not None
        return self.engine.trees[symbol].inspect(("oms",)).get("oms") or {}

    def quoting(self, symbol: str = "ETHUSDC") -> bool:
        """Quotes rest on the exchange, and every order the exchange holds is one the OMS tracks as live (no
        orphan). The exchange is read first: an order placed in between is then known to the OMS only."""
        on_exchange = set(self.exchange_open_orders(symbol))
        oms = self.oms(symbol)
        return oms.get("mode") == "QUOTING" and bool(on_exchange) and on_exchange <= set(oms.get("live") or ())

    def peers(self, symbol: str = "ETHUSDC") -> Any:
        assert self.engine is not None
        return self.engine.trees[symbol].peers


def replace_table(s: Settings, table: str, **values: Any) -> Settings:
    return dataclasses.replace(s, **{table: dataclasses.replace(getattr(s, table), **values)})
