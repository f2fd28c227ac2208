"""settings.toml → validated, frozen settings. A mistake names the file, the key and what is wrong, and
nothing starts.

The schema is the dataclasses below: every field has a type, a default and (where it matters) bounds.
Unknown keys are errors, not ignored: a misspelt risk limit must never silently fall back to a default.
Secrets are never read from the TOML itself: only from the environment or a key file it names.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from actors.book.signal_params import SignalParams
from actors.fields import num
from actors.metrics.settings import MetricsSettings
from actors.notifier.settings import AlertSettings
from actors.risk.params import RiskParams
from actors.store.reports import ReportSettings
from actors.strategy.asmm_params import AsmmParams
from actors.strategy.params import FixedSpreadParams
from actors.supervisor.sdnotify import SystemdSettings

StrategyParams = FixedSpreadParams | AsmmParams
# ``[strategy] type`` → its parameters (phase 1's fixed spread, or the Avellaneda–Stoikov market maker)
STRATEGY_TYPES: dict[str, type[FixedSpreadParams] | type[AsmmParams]] = {
    "fixed_spread": FixedSpreadParams, "asmm": AsmmParams}


class SettingsError(ValueError):
    """What is wrong, where: ``settings.toml: [risk] max_inventory: must be > 0, got -1``."""


# ---------------------------------------------------------------------------------------------- schema


@dataclass(frozen=True)
class SimexSettings:
    """The embedded simulated exchange, used when [exchange] has no rest_url/ws_url."""

    seed: int = 7
    feed: str = ""  # a raw capture to replay (hftbacktest gzip format); empty: the synthetic generator
    feed_symbol: str = ""  # which listed symbol the capture drives (default: the capture's own)
    speed: float = num(1.0, 0.0, lo_open=True)
    api_key: str = "simkey"  # the simulator's own demo credentials, not secrets
    api_secret: str = "simsecret"


@dataclass(frozen=True)
class ExchangeSettings:
    venue: str = "binance-usdm"
    rest_url: str = ""  # both empty: start the simulated exchange in-process
    ws_url: str = ""
    api_key_env: str = "MM_API_KEY"
    api_secret_env: str = "MM_API_SECRET"
    key_file: str = ""  # optional file with two lines: key, secret (mode 0600); never the keys themselves
    recv_window_ms: int = num(5000, 1, 60000)
    stp_mode: str = "EXPIRE_MAKER"
    rest_timeout_s: float = num(5.0, 0.1, 60.0)
    rate_limit_safety: float = num(0.8, 0.1, 1.0)  # use at most this share of each exchange limit


@dataclass(frozen=True)
class FeedSettings:
    depth_stream: str = "depth@0ms"  # depth@0ms | depth@100ms | depth
    snapshot_limit: int = num(1000, 5, 1000)
    stale_after_s: float = num(3.0, 0.2, 60.0)  # no market data for this long: stalled, reconnect


@dataclass(frozen=True)
class LogSettings:
    """Logs (``actors/logs.py``): JSON lines to a rotating file, readable lines on stderr. A line is written to
    a sink when its level reaches both its module's level (``level``, or the longest dotted prefix in
    ``modules``) and that sink's own level; so ``level = "DEBUG"`` with the defaults puts DEBUG in the file
    and keeps the console at INFO."""

    level: str = "INFO"  # every module's level, unless [log.modules] names it
    modules: dict[str, str] = field(default_factory=dict)  # [log.modules] "actors.gateway" = "DEBUG"
    console_level: str = "INFO"
    file_level: str = "DEBUG"
    path: str = "var/log/engine.jsonl"  # JSON lines, from the working directory; "{symbols}": ETHUSDC-BTCUSDC
    rotation_mb: float = num(64.0, 0.0, 65_536.0, lo_open=True)  # the file is rotated before it passes this
    retention_days: float = num(14.0, 0.0, 3650.0, lo_open=True)  # rotated files older than this are deleted
    retention_files: int = num(50, 1, 100_000)  # ... and all but the newest this many
    compression: str = ""  # "" | "gz": rotated files are gzipped (by the writer thread, never an actor)
    backlog_lines: int = num(100_000, 100, 10_000_000)  # lines waiting for the disk before new ones are dropped

    def __post_init__(self) -> None:
        levels = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")
        for key in ("level", "console_level", "file_level"):
            if getattr(self, key) not in levels:
                raise ValueError(f"[log] {key}: must be one of {', '.join(levels)}, got {getattr(self, key)!r}")
        for module, level in self.modules.items():
            if not module or module != module.strip() or " " in module:
                raise ValueError(f"[log.modules] {module!r}: must be a dotted module name like \"actors.gateway\"")
            if level not in levels:
                raise ValueError(f"[log.modules] {module!r}: must be one of {', '.join(levels)}, got {level!r}")
        if self.compression not in ("", "gz"):
            raise ValueError(f"[log] compression: must be \"\" or \"gz\", got {self.compression!r}")


@dataclass(frozen=True)
class StoreSettings:
    path: str = "var/mm.db"  # SQLite (WAL); relative paths are from the working directory


@dataclass(frozen=True)
class EngineSettings:
    state_dir: str = "var"  # instance locks and other local state
    switch_interval_ms: float = num(0.2, 0.01, 5.0)  # the GIL hand-off interval (CPython's default: 5 ms)


@dataclass(frozen=True)
class SupervisionSettings:
    """Erlang/OTP restart intensity: more than ``max_restarts`` within ``within_s`` and the tree gives up."""

    max_restarts: int = num(5, 0, 1000)
    within_s: float = num(60.0, 1.0, 86400.0)
    root_max_restarts: int = num(3, 0, 1000)  # symbol trees giving up before the process exits non-zero
    root_within_s: float = num(600.0, 1.0, 86400.0)
    heartbeat_s: float = num(1.0, 0.05, 60.0)
    heartbeat_timeout_s: float = num(3.0, 0.05, 120.0)


@dataclass(frozen=True)
class OmsSettings:
    """Order management: refresh tolerance, the order/cancel rate budget (lesson 3), reconciliation."""

    refresh_tolerance_ticks: int = num(1, 0, 10_000)  # a live order this close to the wanted price is kept
    refresh_tolerance_qty: float = num(0.25, 0.0, 1.0)  # ... and this close (share) to the wanted size
    places_per_s: int = num(5, 1, 300)
    places_per_min: int = num(120, 1, 1200)
    cancels_per_s: int = num(5, 1, 300)
    cancels_per_min: int = num(100, 1, 1200)  # the predecessor's cancel storm was 402 a minute
    min_order_lifetime_ms: int = num(1000, 0, 600_000)  # a quote is not replaced for a requote before this
    orphans: str = "cancel"  # open orders found on the exchange that we do not know: cancel | adopt
    followup_after_ms: int = num(6000, 500, 600_000)  # unanswered order: look it up (> recv window)
    reconcile_every_s: float = num(60.0, 1.0, 86_400.0)
    tick_s: float = num(0.5, 0.05, 10.0)  # the OMS's timer: follow-ups, pruning, reconciliation


@dataclass(frozen=True)
class FeeSettings:
    """Commission rates (fractions) used for the minimum spread and PnL estimates before fills arrive."""

    maker: Decimal = num(Decimal("0.0002"), -0.001, 0.01)  # noqa: RUF009  negative: a rebate
    taker: Decimal = num(Decimal("0.0005"), 0, 0.01)  # noqa: RUF009


@dataclass(frozen=True)
class Settings:
    exchange: ExchangeSettings = field(default_factory=ExchangeSettings)
    simex: SimexSettings = field(default_factory=SimexSettings)
    feed: FeedSettings = field(default_factory=FeedSettings)
    log: LogSettings = field(default_factory=LogSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)
    supervision: SupervisionSettings = field(default_factory=SupervisionSettings)
    risk: RiskParams = field(default_factory=RiskParams)
    strategy: StrategyParams = field(default_factory=FixedSpreadParams)
    # per-symbol overrides of [strategy]: [strategy_symbols.BTCUSDC] (its own type, or the base's keys + these)
    strategy_symbols: dict[str, StrategyParams] = field(default_factory=dict)
    signals: SignalParams = field(default_factory=SignalParams)
    # per-symbol overrides of [signals]: [signals_symbols.BTCUSDC] (the base's keys + these). VPIN buckets and
    # the intensity grid are in the symbol's own units (10 ETH is not 10 BTC)
    signals_symbols: dict[str, SignalParams] = field(default_factory=dict)
    oms: OmsSettings = field(default_factory=OmsSettings)
    fees: FeeSettings = field(default_factory=FeeSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    systemd: SystemdSettings = field(default_factory=SystemdSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    source: str = "<defaults>"

    def strategy_for(self, symbol: str) -> StrategyParams:
        """The strategy parameters of one symbol: its [strategy_symbols.X] table, else [strategy]."""
        return self.strategy_symbols.get(symbol, self.strategy)

    def signals_for(self, symbol: str) -> SignalParams:
        """The signal parameters of one symbol: its [signals_symbols.X] table, else [signals]."""
        return self.signals_symbols.get(symbol, self.signals)

    @property
    def embedded_exchange(self) -> bool:
        return not self.exchange.rest_url and not self.exchange.ws_url


_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("exchange", "venue"): ("binance-usdm",),
    ("exchange", "stp_mode"): ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"),
    ("feed", "depth_stream"): ("depth@0ms", "depth@100ms", "depth"),
    ("log", "level"): ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"),
    ("oms", "orphans"): ("cancel", "adopt"),
    ("risk", "mismatch_action"): ("reducing", "halted"),
    ("strategy", "type"): tuple(STRATEGY_TYPES),
    ("strategy_symbols", "type"): tuple(STRATEGY_TYPES),
}


# ---------------------------------------------------------------------------------------------- loading


def load_settings(path: str | Path | None) -> Settings:
    """Read and validate; ``None`` gives the defaults (the embedded simulated exchange)."""
    if path is None:
        return Settings()
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"{p}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{p}: not valid TOML: {exc}") from None
    return parse_settings(raw, str(p))


def parse_settings(raw: dict[str, Any], source: str = "settings.toml") -> Settings:
    rest = {k: v for k, v in raw.items() if k not in ("strategy", "strategy_symbols", "signals_symbols")}
    s = _build(Settings, rest, source, "", skip={"source", "strategy", "strategy_symbols", "signals_symbols"})
    base_raw = raw.get("strategy", {})
    strategy = _strategy(base_raw, source, "strategy")
    per_symbol: dict[str, StrategyParams] = {}
    for sym, over in _symbol_tables(raw, "strategy_symbols", source).items():
        same_type = over.get("type", _type_of(base_raw)) == _type_of(base_raw)
        merged = {**base_raw, **over} if same_type else dict(over)
        per_symbol[sym] = _strategy(merged, source, f"strategy_symbols.{sym}")
    signals_raw = raw.get("signals", {})
    per_symbol_signals = {sym: _build(SignalParams, {**signals_raw, **over}, source, f"signals_symbols.{sym}")
                          for sym, over in _symbol_tables(raw, "signals_symbols", source).items()}
    s = dataclasses.replace(s, source=source, strategy=strategy, strategy_symbols=per_symbol,
                            signals_symbols=per_symbol_signals)
    _cross_checks(s, source)
    return s


def _symbol_tables(raw: dict[str, Any], table: str, source: str) -> dict[str, dict[str, Any]]:
    """A table of per-symbol tables (``[signals_symbols.BTCUSDC]``), each checked to be a table."""
    tables = raw.get(table, {})
    if not isinstance(tables, dict):
        raise SettingsError(f"{source}: [{table}]: must be a table of symbols, got {tables!r}")
    for sym, over in tables.items():
        if not isinstance(over, dict):
            raise SettingsError(f"{source}: [{table}.{sym}]: must be a table, got {over!r}")
    return tables


def _build(cls: type, raw: Any, source: str, where: str, skip: frozenset[str] | set[str] = frozenset()) -> Any:
    if not isinstance(raw, dict):
        raise SettingsError(f"{source}: [{where}]: must be a table, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in skip}
    for key in raw:
        if key not in fields:
            near = difflib.get_close_matches(key, list(fields), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else f" (known: {', '.join(sorted(fields))})"
            raise SettingsError(f"{source}: {_where(where, key)}: unknown key{hint}")
    values: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in raw:
            continue
        tp = hints[name]
        loc = _where(where, name)
        if dataclasses.is_dataclass(tp):
            values[name] = _build(tp, raw[name], source, name if not where else f"{where}.{name}")
        else:
            values[name] = _coerce(tp, raw[name], source, loc, f, (where.split(".")[0], name))
    try:
        return cls(**values)
    except ValueError as exc:  # a rule across several keys (the class's own check)
        msg = str(exc)
        raise SettingsError(f"{source}: {msg if msg.startswith('[') else f'[{where}]: {msg}'}") from None


def _type_of(raw: Any) -> Any:
    return raw.get("type", "fixed_spread") if isinstance(raw, dict) else None


def _strategy(raw: Any, source: str, where: str) -> StrategyParams:
    """A strategy table, built as the parameters its ``type`` names (unknown keys name the type's own)."""
    if not isinstance(raw, dict):
        raise SettingsError(f"{source}: [{where}]: must be a table, got {type(raw).__name__}")
    typ = _type_of(raw)
    if typ not in STRATEGY_TYPES:
        raise SettingsError(f"{source}: [{where}] type: must be one of {', '.join(STRATEGY_TYPES)}, got {typ!r}")
    cls = STRATEGY_TYPES[typ]
    if "type" not in {f.name for f in dataclasses.fields(cls)}:
        raw = {k: v for k, v in raw.items() if k != "type"}
    return _build(cls, raw, source, where)


def _where(table: str, key: str) -> str:
    return f"[{table}] {key}" if table else key


def _coerce(tp: Any, value: Any, source: str, loc: str, f: dataclasses.Field, choice_key: tuple[str, str]) -> Any:
    def bad(why: str) -> SettingsError:
        return SettingsError(f"{source}: {loc}: {why}, got {value!r}")

    origin = typing.get_origin(tp)
    if tp is bool:
        if not isinstance(value, bool):
            raise bad("must be true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("must be an integer")
        out: Any = value
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad("must be a number")
        out = float(value)
        if out != out or out in (float("inf"), float("-inf")):
            raise bad("must be a finite number")
    elif tp is Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise bad("must be a decimal number (a string like \"0.01\" keeps it exact)")
        try:
            out = Decimal(str(value))
        except InvalidOperation:
            raise bad("must be a decimal number") from None
        if not out.is_finite():
            raise bad("must be a finite number")
    elif tp is str:
        if not isinstance(value, str):
            raise bad("must be a string")
        choices = _CHOICES.get(choice_key)
        if choices and value not in choices:
            raise bad(f"must be one of {', '.join(choices)}")
        return value
    elif origin is dict:  # a table of free keys, e.g. [log.modules]
        if not isinstance(value, dict):
            raise bad("must be a table")
        inner = typing.get_args(tp)[1]
        return {k: _coerce(inner, v, source, f'{loc} "{k}"', f, choice_key) for k, v in value.items()}
    elif origin in (tuple, list) or (origin is types.UnionType):
        args = typing.get_args(tp)
        if not isinstance(value, list):
            raise bad("must be a list")
        inner = args[0]
        return tuple(_coerce(inner, v, source, loc, f, choice_key) for v in value)
    else:  # pragma: no cover - a schema mistake, not a user mistake
        raise TypeError(f"unsupported settings type {tp!r} for {loc}")
    lo, hi, lo_open = f.metadata.get("lo"), f.metadata.get("hi"), f.metadata.get("lo_open", False)
    if lo is not None and (out <= lo if lo_open else out < lo):
        raise bad(f"must be {'>' if lo_open else '>='} {lo}")
    if hi is not None and out > hi:
        raise bad(f"must be <= {hi}")
    return out


def _cross_checks(s: Settings, source: str) -> None:
    if s.risk.panic_flatten:
        raise SettingsError(f"{source}: [risk] panic_flatten: flattening after a panicstop is not supported yet; "
                            "set it to false (a panicstop cancels every order and confirms none is left)")
    ex = s.exchange
    if bool(ex.rest_url) != bool(ex.ws_url):
        raise SettingsError(f"{source}: [exchange] rest_url and ws_url: set both (a real exchange) or neither "
                            "(the embedded simulated exchange)")
    for key in ("rest_url", "ws_url"):
        url = getattr(ex, key)
        schemes = ("http://", "https://") if key == "rest_url" else ("ws://", "wss://")
        if url and not url.startswith(schemes):
            raise SettingsError(f"{source}: [exchange] {key}: must start with {' or '.join(schemes)}, got {url!r}")
    sv = s.supervision
    if s.systemd.proof_max_age_s <= sv.heartbeat_s + sv.heartbeat_timeout_s:
        raise SettingsError(f"{source}: [systemd] proof_max_age_s: must exceed [supervision] heartbeat_s + "
                            f"heartbeat_timeout_s ({sv.heartbeat_s + sv.heartbeat_timeout_s:g}), or a healthy tree "
                            "would hold back the watchdog")
    for where, sp in (("strategy", s.strategy), *((f"strategy_symbols.{k}", v) for k, v in s.strategy_symbols.items())):
        if isinstance(sp, AsmmParams) and sp.inv_hard_limit > s.risk.max_inventory:
            raise SettingsError(f"{source}: [{where}] inv_hard_limit: must not exceed [risk] max_inventory "
                                f"({s.risk.max_inventory}): the strategy would plan quotes risk refuses")
        if sp.base_size > s.risk.max_order_qty:
            raise SettingsError(f"{source}: [{where}] base_size: must not exceed [risk] max_order_qty "
                                f"({s.risk.max_order_qty})")
    if s.simex.feed and not Path(s.simex.feed).is_file():
        raise SettingsError(f"{source}: [simex] feed: no such file {s.simex.feed!r}")


# ---------------------------------------------------------------------------------------------- secrets


@dataclass(frozen=True, repr=False)
class Credentials:
    api_key: str
    api_secret: str

    def __repr__(self) -> str:  # never print a secret, not even by accident
        return "Credentials(<redacted>)"


def credentials(s: Settings, env: dict[str, str] | None = None) -> Credentials:
    """Keys for the configured exchange: the simulator's demo pair, else the environment or the key file."""
    if s.embedded_exchange:
        return Credentials(s.simex.api_key, s.simex.api_secret)
    env = dict(os.environ) if env is None else env
    key, secret = env.get(s.exchange.api_key_env, ""), env.get(s.exchange.api_secret_env, "")
    if not (key and secret) and s.exchange.key_file:
        kf = Path(s.exchange.key_file)
        try:
            lines = [ln.strip() for ln in kf.read_text(encoding="utf-8").splitlines() if ln.strip()]
        except OSError as exc:
            raise SettingsError(f"{s.source}: [exchange] key_file: cannot read {kf}: {exc.strerror}") from None
        if len(lines) != 2:
            raise SettingsError(f"{s.source}: [exchange] key_file: {kf} must hold two lines, the key and the secret")
        key, secret = lines
    if not (key and secret):
        raise SettingsError(f"{s.source}: [exchange]: no API keys: set {s.exchange.api_key_env} and "
                            f"{s.exchange.api_secret_env}, or key_file")
    return Credentials(key, secret)
