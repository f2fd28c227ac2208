"""Every ``mm_*`` series the engine exports, in one registry of its own.

Conventions: seconds for durations (histograms), base-asset quantities for sizes, quote-asset amounts for
money, ``_total`` counters. Per-symbol series carry ``symbol`` and ``exchange`` (the venue); account-wide
ones (REST, rate budget, equity, clock offset) only ``exchange``.

Fill rate is *not* a gauge: it is ``rate(mm_fills_total) / rate(mm_orders_placed_total)`` in PromQL. A gauge
would fix the window in the engine, restart at zero with the process and could not be summed across symbols;
the two counters give any window, survive restarts (``rate`` handles counter resets) and aggregate. It counts
executions, so partial fills can take it past 1 (``mm_fill_volume_total`` has the quantities).

Hot paths never call ``.labels()``: ``Metrics.symbol()`` returns a view with its children bound once, and
children keyed by a per-call label (fill side, reject code, stream kind...) are cached in plain dicts.
Gauges are bound on their first value, so a gauge nobody sets (a strategy that does not compute VPIN) is
absent rather than a misleading 0; counters are bound at 0 up front, so ``rate``/``increase`` see their
first increment.
"""

from __future__ import annotations

import importlib.metadata
import math
import platform
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Protocol

from loguru import logger
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from actors.clock import Clock
from actors.risk.messages import TradingState
from actors.risk.monitor import DAILY_LOSS_WARNING, MARKET_STALE, STREAM_DOWN
from actors.risk.state import Cause
from actors.supervisor.tree import SYMBOL_CHILDREN

Number = float | int | Decimal


def log_buckets(first: float, last: float, steps: Sequence[float] = (1, 1.5, 2, 3, 5, 7)) -> tuple[float, ...]:
    """Bucket bounds from ``first`` to ``last``, ``steps`` per decade (exact decimals: 1.5e-4, not 0.000150001)."""
    out: list[float] = []
    exp = math.floor(math.log10(first))
    while True:
        for m in steps:
            v = float(f"{m}e{exp}")
            if v > last * (1 + 1e-9):
                return tuple(out)
            if v >= first * (1 - 1e-9):
                out.append(v)
        exp += 1


TICK_TO_ORDER_BUCKETS = log_buckets(1e-4, 1.0)  # 100 µs .. 1 s
OMS_LATENCY_BUCKETS = log_buckets(1e-5, 1.0)  # 10 µs .. 1 s: a plan, a journal write, a pre-trade check
REST_LATENCY_BUCKETS = log_buckets(1e-3, 10.0)  # 1 ms .. 10 s (the client's read timeout)
WS_LAG_BUCKETS = log_buckets(5e-4, 10.0)  # 0.5 ms .. 10 s

# Enum-like gauges: the number is the severity, so ``max`` across series is the worst and ``== 2`` pages.
TRADING_STATE_VALUES: Mapping[str, int] = MappingProxyType({TradingState.ACTIVE: 0, TradingState.REDUCING: 1,
                                                              TradingState.HALTED: 2})
VOLATILITY_REGIME_VALUES: Mapping[str, int] = MappingProxyType({"Calm": 0, "TrendUp": 1, "TrendDown": 2,
                                                                  "HighVol": 3})

# Risk trigger kinds (``RiskTriggered.kind``) known in advance; others still count, bound on first use.
RISK_TRIGGER_KINDS: tuple[str, ...] = (*(c.value for c in Cause), DAILY_LOSS_WARNING, MARKET_STALE, STREAM_DOWN)
MARKET_STREAM_KINDS = frozenset({"depth", "trade", "bookTicker"})  # sampled (see MetricsSettings)
SIDES = ("BUY", "SELL")


def _doc(text: str, values: Mapping[str, int]) -> str:
    return f"{text} ({', '.join(f'{v} = {k}' for k, v in values.items())})"


class RequestStatLike(Protocol):
    """``actors.gateway.binance.rest.RequestStat``: one HTTP attempt."""

    method: str
    path: str
    http_status: int | None
    latency_ms: float
    outcome: str


class LimitUsageLike(Protocol):
    """``actors.gateway.binance.ratelimit.LimitUsage``."""

    kind: str
    interval_ms: int
    used: int
    cap: int


def status_class(http_status: int | None) -> str:
    """``2xx`` .. ``5xx``; ``none`` when no HTTP answer came (timeout, refused, broken connection)."""
    return f"{http_status // 100}xx" if http_status else "none"


def limit_label(kind: str, interval_ms: int) -> str:
    """``REQUEST_WEIGHT``/60 000 ms → ``weight_1m``; ``ORDERS``/10 000 ms → ``orders_10s``."""
    what = "weight" if kind == "REQUEST_WEIGHT" else kind.lower()
    for unit, ms in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)):
        if interval_ms % ms == 0:
            return f"{what}_{interval_ms // ms}{unit}"
    return f"{what}_{interval_ms}ms"


class _Refresh:
    """A collector that yields nothing but runs callbacks first: values read at scrape time (the rate budget)
    are fresh when the registry collects the metrics that follow it."""

    def __init__(self) -> None:
        self.callbacks: list[Callable[[], None]] = []

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> list[Any]:
        for fn in tuple(self.callbacks):
            try:
                fn()
            except Exception as exc:  # a failing source must not fail the scrape of everything else
                logger.warning("metrics refresh {} failed: {}", getattr(fn, "__name__", fn), exc)
        return []


class _LazyGauge:
    """A gauge child bound on its first value (absent until then)."""

    __slots__ = ("_child", "_gauge", "_labels")

    def __init__(self, gauge: Gauge, *labels: str) -> None:
        self._gauge, self._labels, self._child = gauge, labels, None

    def set(self, value: Number) -> None:
        child = self._child
        if child is None:
            child = self._child = self._gauge.labels(*self._labels)
        child.set(float(value))


class Metrics:
    """The engine's registry. Thread-safe: actors on their own threads record into shared views."""

    def __init__(self, clock: Clock, *, version: str | None = None, commit: str = "",
                 ws_lag_sample_every: int = 1) -> None:
        if ws_lag_sample_every < 1:
            raise ValueError("ws_lag_sample_every must be >= 1")
        self.clock = clock
        self.ws_lag_sample_every = ws_lag_sample_every
        self.registry = CollectorRegistry(auto_describe=True)
        self._refresh = _Refresh()
        self.registry.register(self._refresh)  # first: collected (run) before every metric below
        self._lock = threading.Lock()
        self._symbols: dict[tuple[str, str], SymbolMetrics] = {}
        self._accounts: dict[str, AccountMetrics] = {}
        r, sym, acct = self.registry, ("symbol", "exchange"), ("exchange",)

        # ---- the process
        self.build_info = Gauge("mm_build_info", "Always 1; the labels say which build is running",
                                ("version", "commit", "python"), registry=r)
        self.config_version = Gauge("mm_config_version", "Version number of the settings in force (config "
                                    "service; 0 until one is applied)", registry=r)
        self.config_reloads = Counter("mm_config_reloads_total", "Settings reloads by result (applied, rejected)",
                                      ("result",), registry=r)

        # ---- account-wide
        self.rest_latency = Histogram("mm_rest_latency_seconds", "REST round trip per HTTP attempt (retries are "
                                      "attempts), by endpoint (METHOD path) and status class (none: no answer)",
                                      (*acct, "endpoint", "status_class"), buckets=REST_LATENCY_BUCKETS, registry=r)
        self.rest_errors = Counter("mm_rest_errors_total", "REST attempts that failed, by endpoint and error kind "
                                   "(ErrorKind in lower case: rejected, rate_limited, banned, clock_skew, "
                                   "unknown_state, retryable, auth)",
                                   (*acct, "endpoint", "kind"), registry=r)
        self.rate_limit_used = Gauge("mm_rate_limit_used_ratio", "Share of our own rate budget (the exchange's "
                                     "limit x [exchange] rate_limit_safety) used in the current window, by limit "
                                     "(weight_1m, orders_10s, orders_1m)", (*acct, "limit"), registry=r)
        self.clock_offset = Gauge("mm_clock_offset_seconds", "Exchange server time minus local time, as measured "
                                  "by the REST client (lesson 5: timestamps are corrected by it)", acct, registry=r)
        self.equity = Gauge("mm_equity", "Account equity: wallet balance plus unrealized PnL, in the asset",
                            (*acct, "asset"), registry=r)

        # ---- per symbol: latency
        self.ws_lag = Histogram("mm_ws_lag_seconds", "Exchange event time to local receipt, clock offset "
                                "corrected, by event kind (depth, trade, bookTicker: sampled; order, account)",
                                (*sym, "kind"), buckets=WS_LAG_BUCKETS, registry=r)
        self.oms_latency = Histogram("mm_oms_latency_seconds", "OMS internal latency: a message taken from the "
                                     "mailbox to its last command told to the gateway, by the message that "
                                     "prompted it", (*sym, "trigger"), buckets=OMS_LATENCY_BUCKETS, registry=r)
        self.tick_to_order = Histogram("mm_tick_to_order_seconds", "Market frame received to the order request "
                                       "handed to the socket, per placement a market update prompted", sym,
                                       buckets=TICK_TO_ORDER_BUCKETS, registry=r)
        # ---- per symbol: orders
        self.orders_placed = Counter("mm_orders_placed_total", "New orders sent to the exchange", sym, registry=r)
        self.cancels_sent = Counter("mm_cancels_sent_total", "Cancel requests sent to the exchange", sym,
                                    registry=r)
        self.fills = Counter("mm_fills_total", "Executions of our orders, by side and liquidity (maker, taker)",
                             (*sym, "side", "liquidity"), registry=r)
        self.fill_volume = Counter("mm_fill_volume_total", "Executed quantity in the base asset, by side and "
                                   "liquidity", (*sym, "side", "liquidity"), registry=r)
        self.rejects = Counter("mm_order_rejects_total", "Orders refused, by exchange error code (none: no code, "
                               "e.g. our own pre-trade check) and kind in lower case; -5022 is a post-only order "
                               "that would have taken", (*sym, "code", "kind"), registry=r)
        # ---- per symbol: risk and supervision
        self.risk_triggers = Counter("mm_risk_triggers_total", "Risk rules that fired, by kind (a cause of "
                                     "actors/risk/state.py, daily_loss_warning, market_stale, stream_down)",
                                     (*sym, "kind"), registry=r)
        self.trading_state = Gauge("mm_trading_state", _doc("Trading state", TRADING_STATE_VALUES), sym,
                                   registry=r)
        self.actor_restarts = Counter("mm_actor_restarts_total", "Actors restarted by their tree's supervisor "
                                      "(rest_for_one: the failed one and those after it), by actor",
                                      (*sym, "actor"), registry=r)
        self.tree_restarts = Counter("mm_tree_restarts_total", "Times the symbol's tree gave up (panicstop) and "
                                     "the root restarted it", sym, registry=r)
        self.ws_connected = Gauge("mm_ws_connected", "1 while the WebSocket is connected, by stream (market, "
                                  "user)", (*sym, "stream"), registry=r)
        self.book_staleness = Gauge("mm_book_staleness_seconds", "Seconds since the local book last applied an "
                                    "update (since start, before the first)", sym, registry=r)
        # ---- per symbol: position and money
        self.position = Gauge("mm_position", "Position in the base asset, signed (long > 0)", sym, registry=r)
        self.pnl_realized = Gauge("mm_pnl_realized", "Realized PnL gross of fees, quote asset", sym, registry=r)
        self.pnl_unrealized = Gauge("mm_pnl_unrealized", "Unrealized PnL at the mid, quote asset", sym, registry=r)
        self.fees = Gauge("mm_fees", "Commissions paid in the quote asset (negative: rebates)", sym, registry=r)
        self.pnl_daily = Gauge("mm_pnl_daily", "Net PnL since 00:00 UTC as risk's loss limit sees it, quote asset",
                               sym, registry=r)
        # ---- per symbol: the strategy brain (BRIEF section 3), where the strategy provides them
        self.vpin = Gauge("mm_vpin_current", "VPIN order-flow toxicity of the last buckets, 0..1", sym, registry=r)
        self.volatility_regime = Gauge("mm_volatility_regime", _doc("Market regime", VOLATILITY_REGIME_VALUES),
                                       sym, registry=r)
        self.adverse_selection = Gauge("mm_adverse_selection_rate", "Share of recent fills the mid moved against "
                                       "after the markout horizon, 0..1", sym, registry=r)
        self.inventory_net = Gauge("mm_inventory_net", "Net inventory the strategy quotes around, base asset",
                                   sym, registry=r)
        self.reservation_price = Gauge("mm_reservation_price", "Reservation price (mid shifted by inventory), "
                                       "quote asset", sym, registry=r)
        self.inventory_skew = Gauge("mm_inventory_skew_bps", "Quote skew from inventory, basis points of the mid",
                                    sym, registry=r)
        self.quote_spread = Gauge("mm_quote_spread_bps", "The strategy's quoted spread (best ask - best bid of "
                                  "its target), basis points of the mid", sym, registry=r)
        self.adaptive_netmax = Gauge("mm_adaptive_netmax", "Effective net position limit after the adaptive "
                                     "risk shrinks it, base asset", sym, registry=r)

        if version is None:
            try:
                version = importlib.metadata.version("mm-engine")
            except importlib.metadata.PackageNotFoundError:
                version = "unknown"
        self.build_info.labels(version, commit or "unknown", platform.python_version()).set(1)
        self.config_version.set(0)
        for result in ("applied", "rejected"):
            self.config_reloads.labels(result)

    # ------------------------------------------------------------------ views
    def symbol(self, symbol: str, exchange: str) -> SymbolMetrics:
        """The symbol's view, the same object every call (a restarted actor keeps counting where it was)."""
        key = (symbol, exchange)
        view = self._symbols.get(key)
        if view is None:
            account = self.account(exchange)  # before taking the lock: it takes it too
            with self._lock:
                view = self._symbols.get(key)
                if view is None:
                    view = self._symbols[key] = SymbolMetrics(self, symbol, exchange, account)
        return view

    def account(self, exchange: str) -> AccountMetrics:
        view = self._accounts.get(exchange)
        if view is None:
            with self._lock:
                view = self._accounts.get(exchange)
                if view is None:
                    view = self._accounts[exchange] = AccountMetrics(self, exchange)
        return view

    # ------------------------------------------------------------------ the process
    def set_config_version(self, version: int) -> None:
        self.config_version.set(version)

    def config_reload(self, applied: bool) -> None:
        self.config_reloads.labels("applied" if applied else "rejected").inc()

    def on_scrape(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` before every collection (for values cheaper to read than to push). It must be quick and
        must not block on the exchange; an exception is logged and the scrape goes on."""
        self._refresh.callbacks.append(fn)

    # ------------------------------------------------------------------ reads
    def scrape(self) -> bytes:
        """The text exposition, as ``/metrics`` serves it."""
        return generate_latest(self.registry)

    def series_names(self) -> frozenset[str]:
        """Every series name a query can use: counters as ``*_total``, histograms as ``_bucket``/``_sum``/
        ``_count``, gauges as they are (``_created`` samples left out: nothing should query them)."""
        out: set[str] = set()
        for fam in self.registry.collect():
            if fam.type == "counter":
                out.add(f"{fam.name}_total")
            elif fam.type == "histogram":
                out.update(f"{fam.name}{s}" for s in ("_bucket", "_sum", "_count"))
            else:
                out.add(fam.name)
        return frozenset(out)


class AccountMetrics:
    """Account-wide series of one exchange: the REST client, its rate budget, equity, the clock offset."""

    def __init__(self, m: Metrics, exchange: str) -> None:
        self._m = m
        self.exchange = exchange
        self._rest: dict[tuple[str, str, str], Any] = {}
        self._errors: dict[tuple[str, str, str], Any] = {}
        self._limits: dict[str, Any] = {}
        self._equity: dict[str, _LazyGauge] = {}
        self._offset_ms: Callable[[], int] = lambda: 0

    def rest_request(self, stat: RequestStatLike) -> None:
        """``BinanceRest(on_request=...)``: one HTTP attempt."""
        sc = status_class(stat.http_status)
        key = (stat.method, stat.path, sc)
        child = self._rest.get(key)
        if child is None:
            child = self._rest[key] = self._m.rest_latency.labels(self.exchange, f"{stat.method} {stat.path}", sc)
        child.observe(stat.latency_ms / 1000)
        if stat.outcome != "ok":
            ekey = (stat.method, stat.path, stat.outcome)
            err = self._errors.get(ekey)
            if err is None:
                err = self._errors[ekey] = self._m.rest_errors.labels(self.exchange, f"{stat.method} {stat.path}",
                                                                      stat.outcome.lower())
            err.inc()

    def set_rate_budget(self, usage: Iterable[LimitUsageLike]) -> None:
        """``BudgetSnapshot.usage``: used / cap of every window."""
        for u in usage:
            name = limit_label(u.kind, u.interval_ms)
            child = self._limits.get(name)
            if child is None:
                child = self._limits[name] = self._m.rate_limit_used.labels(self.exchange, name)
            child.set(u.used / u.cap if u.cap > 0 else 0.0)

    def track_rate_budget(self, snapshot: Callable[[], Any]) -> None:
        """Read the budget at every scrape: ``snapshot`` is ``BinanceRest.budget_snapshot``."""

        def refresh() -> None:
            self.set_rate_budget(snapshot().usage)

        self._m.on_scrape(refresh)

    def track_clock_offset(self, offset_ms: Callable[[], int]) -> None:
        """The server-minus-local offset (``lambda: rest.time_offset_ms``): exported, and used to correct the
        WebSocket lag of this exchange's symbols."""
        self._offset_ms = offset_ms
        self._m.clock_offset.labels(self.exchange).set_function(lambda: offset_ms() / 1000)

    def offset_ms(self) -> int:
        return self._offset_ms()

    def set_equity(self, asset: str, value: Number) -> None:
        g = self._equity.get(asset)
        if g is None:
            g = self._equity[asset] = _LazyGauge(self._m.equity, self.exchange, asset)
        g.set(value)


class SymbolMetrics:
    """One symbol's series with their label children bound: what the actors call on their hot paths."""

    def __init__(self, m: Metrics, symbol: str, exchange: str, account: AccountMetrics) -> None:
        self._m = m
        self.symbol, self.exchange, self.account = symbol, exchange, account
        lb = (symbol, exchange)
        self._placed = m.orders_placed.labels(*lb)
        self._cancels = m.cancels_sent.labels(*lb)
        self._tick = m.tick_to_order.labels(*lb)
        self._tree = m.tree_restarts.labels(*lb)
        self._fills = {(s, mk): (m.fills.labels(*lb, s, liq), m.fill_volume.labels(*lb, s, liq))
                       for s in SIDES for mk, liq in ((True, "maker"), (False, "taker"))}
        self._triggers = {k: m.risk_triggers.labels(*lb, k) for k in RISK_TRIGGER_KINDS}
        self._restarts = {a: m.actor_restarts.labels(*lb, a) for a in SYMBOL_CHILDREN}
        self._rejects: dict[tuple[str, str], Any] = {}
        self._oms: dict[str, Any] = {}
        self._lag: dict[str, Any] = {}
        self._lag_seen: dict[str, int] = {}
        self._ws_up: dict[str, _LazyGauge] = {}
        self._state = _LazyGauge(m.trading_state, *lb)
        self._position = _LazyGauge(m.position, *lb)
        self._realized = _LazyGauge(m.pnl_realized, *lb)
        self._unrealized = _LazyGauge(m.pnl_unrealized, *lb)
        self._fees = _LazyGauge(m.fees, *lb)
        self._daily = _LazyGauge(m.pnl_daily, *lb)
        self._vpin = _LazyGauge(m.vpin, *lb)
        self._regime = _LazyGauge(m.volatility_regime, *lb)
        self._adverse = _LazyGauge(m.adverse_selection, *lb)
        self._inv_net = _LazyGauge(m.inventory_net, *lb)
        self._reservation = _LazyGauge(m.reservation_price, *lb)
        self._skew = _LazyGauge(m.inventory_skew, *lb)
        self._quote_spread = _LazyGauge(m.quote_spread, *lb)
        self._netmax = _LazyGauge(m.adaptive_netmax, *lb)
        clock = m.clock
        self._book_ns = clock.time_ns()  # before the first update: stale since the view was made
        m.book_staleness.labels(*lb).set_function(lambda: max(0.0, (clock.time_ns() - self._book_ns) / 1e9))

    # ------------------------------------------------------------------ latency
    def tick_to_order(self, seconds: float) -> None:
        self._tick.observe(seconds)

    def oms_latency(self, trigger: str, seconds: float) -> None:
        child = self._oms.get(trigger)
        if child is None:
            child = self._oms[trigger] = self._m.oms_latency.labels(self.symbol, self.exchange, trigger)
        child.observe(seconds)

    def ws_event(self, kind: str, event_ms: int, recv_ns: int) -> None:
        """A stream event with the exchange's event time; market kinds are sampled (one in ``every``)."""
        if kind in MARKET_STREAM_KINDS:
            every = self._m.ws_lag_sample_every
            if every > 1:
                seen = self._lag_seen.get(kind, 0) + 1
                if seen < every:
                    self._lag_seen[kind] = seen
                    return
                self._lag_seen[kind] = 0
        child = self._lag.get(kind)
        if child is None:
            child = self._lag[kind] = self._m.ws_lag.labels(self.symbol, self.exchange, kind)
        lag_ns = recv_ns + (self.account.offset_ms() - event_ms) * 1_000_000  # integers: exact to the ns
        child.observe(max(0, lag_ns) / 1e9)  # below 0 only through residual clock error

    # ------------------------------------------------------------------ orders
    def order_placed(self, n: int = 1) -> None:
        self._placed.inc(n)

    def cancel_sent(self, n: int = 1) -> None:
        self._cancels.inc(n)

    def fill(self, side: str, maker: bool, qty: Number) -> None:
        try:
            count, volume = self._fills[(side, bool(maker))]
        except KeyError:
            raise ValueError(f"fill side must be BUY or SELL, got {side!r}") from None
        count.inc()
        volume.inc(float(qty))

    def reject(self, code: int | None, kind: str = "") -> None:
        key = ("none" if code is None else str(code), kind.lower() or "unknown")
        child = self._rejects.get(key)
        if child is None:
            child = self._rejects[key] = self._m.rejects.labels(self.symbol, self.exchange, *key)
        child.inc()

    # ------------------------------------------------------------------ risk and supervision
    def risk_trigger(self, kind: str) -> None:
        child = self._triggers.get(kind)
        if child is None:
            child = self._triggers[kind] = self._m.risk_triggers.labels(self.symbol, self.exchange, kind)
        child.inc()

    def set_trading_state(self, state: str) -> None:
        try:
            value = TRADING_STATE_VALUES[state]
        except KeyError:
            raise ValueError(f"unknown trading state {state!r}") from None
        self._state.set(value)

    def actor_restarted(self, actor: str) -> None:
        child = self._restarts.get(actor)
        if child is None:
            child = self._restarts[actor] = self._m.actor_restarts.labels(self.symbol, self.exchange, actor)
        child.inc()

    def tree_restarted(self) -> None:
        self._tree.inc()

    def set_ws_connected(self, stream: str, up: bool) -> None:
        g = self._ws_up.get(stream)
        if g is None:
            g = self._ws_up[stream] = _LazyGauge(self._m.ws_connected, self.symbol, self.exchange, stream)
        g.set(1 if up else 0)

    def book_updated(self, recv_ns: int) -> None:
        """The book applied an update received at ``recv_ns`` (the engine clock's ``time_ns``)."""
        self._book_ns = recv_ns

    # ------------------------------------------------------------------ position and money
    def set_position(self, qty: Number) -> None:
        self._position.set(qty)

    def set_pnl(self, *, realized: Number, unrealized: Number, fees: Number) -> None:
        self._realized.set(realized)
        self._unrealized.set(unrealized)
        self._fees.set(fees)

    def set_daily_pnl(self, value: Number) -> None:
        self._daily.set(value)

    # ------------------------------------------------------------------ the strategy brain
    def set_vpin(self, value: Number) -> None:
        self._vpin.set(value)

    def set_volatility_regime(self, regime: str) -> None:
        try:
            value = VOLATILITY_REGIME_VALUES[regime]
        except KeyError:
            raise ValueError(f"unknown volatility regime {regime!r}") from None
        self._regime.set(value)

    def set_adverse_selection_rate(self, value: Number) -> None:
        self._adverse.set(value)

    def set_inventory_net(self, qty: Number) -> None:
        self._inv_net.set(qty)

    def set_reservation_price(self, price: Number) -> None:
        self._reservation.set(price)

    def set_inventory_skew_bps(self, bps: Number) -> None:
        self._skew.set(bps)

    def set_quote_spread_bps(self, bps: Number) -> None:
        self._quote_spread.set(bps)

    def set_adaptive_netmax(self, qty: Number) -> None:
        self._netmax.set(qty)
