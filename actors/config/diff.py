"""What changed between two configurations, how it reads, and whether it may be applied without a restart.

Pure: no files, no clock. The diff is ``{"table.key": (old, new)}`` with every value rendered as text (a
Decimal exactly as written, a bool as TOML spells it), nested tables flattened with dots
(``log.modules.urllib3``) and ``None`` for a side where the key is absent. Anything that could be a secret is
``"<redacted>"`` on both sides, so a diff can go to the database, the logs and an alert as it is.

Which tables hot-reload (``HOT_TABLES``), and why:

* ``strategy``, ``risk``, ``oms``: the parameters an operator tunes while trading; each is read by the actors
  of one symbol's tree, which take the whole new ``Settings`` in one ``SettingsChanged`` message.
* ``signals`` (and its per-symbol ``signals_symbols``): read by the book, which rebuilds its signal engine
  (the windows warm up again) when its symbol's parameters change.
* ``fees``: read only by the strategy, for the minimum spread (lesson 6). An account's fee tier changes while
  the engine runs; a higher maker fee must widen the quotes without waiting for a restart.
* not ``alerts``: the notifier is shared by every tree, its sender threads, folding windows and URL list are
  built at start (partly from the environment, which a reload does not re-read), and none of its values
  protects the account. ``hot_tables`` is a parameter: add it once the notifier can swap its settings.
* everything else (exchange, simex, feed, log, store, engine, supervision, metrics, systemd, report) shapes
  connections, threads, files and sockets that exist once per process: a change needs a restart.

Within a hot table, ``RESTART_KEYS`` names what the actors only read when they start (a timer's period):
refused rather than accepted and silently ignored.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

REDACTED = "<redacted>"

HOT_TABLES: frozenset[str] = frozenset({"strategy", "strategy_symbols", "signals", "signals_symbols", "risk", "oms",
                                        "fees"})

RESTART_KEYS: Mapping[str, str] = MappingProxyType({
    "oms.tick_s": "the OMS timer is armed when the actor starts; needs a restart",
})

Change = tuple[str | None, str | None]
Diff = dict[str, Change]

# Under [alerts] and [exchange] anything named like a key, secret or URL (apprise URLs carry tokens; an
# exchange URL may carry credentials); anywhere, whatever is named like a credential.
_CAREFUL_TABLES = ("alerts", "exchange")
_CAREFUL = re.compile(r"key|secret|url|token|passw", re.IGNORECASE)
_ANYWHERE = re.compile(r"secret|token|passw|api_?key|credential|private", re.IGNORECASE)
_NOT_CONFIG = ("source",)  # Settings fields that are not keys of the file


def is_redacted(path: str) -> bool:
    """Whether the value at a dotted path (``exchange.rest_url``) is withheld from diffs and snapshots."""
    table, _, rest = path.partition(".")
    if not rest:
        return False
    if table in _CAREFUL_TABLES and _CAREFUL.search(rest):
        return True
    return bool(_ANYWHERE.search(rest))


def render(value: Any) -> str:
    """A value as text, exact: ``Decimal("0.00020")`` stays ``0.00020`` (never through a float)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return value
    if isinstance(value, tuple | list):
        return json.dumps([render(v) for v in value], ensure_ascii=False)
    return str(value)


def flatten(settings: Any) -> dict[str, Any]:
    """Every key of a settings object as ``{"table.key": value}``, free tables (``[log.modules]``) flattened."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(settings):
        if f.name not in _NOT_CONFIG:
            _walk(getattr(settings, f.name), f.name, out)
    return out


def _walk(value: Any, path: str, out: dict[str, Any]) -> None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            _walk(getattr(value, f.name), f"{path}.{f.name}", out)
    elif isinstance(value, Mapping):  # a free table: its keys (an empty one has none to compare)
        for k, v in value.items():
            _walk(v, f"{path}.{k}", out)
    else:
        out[path] = value


def _shown(path: str, value: Any) -> str:
    return REDACTED if is_redacted(path) else render(value)


def settings_diff(old: Any, new: Any) -> Diff:
    """The keys whose values differ (compared as values: ``0.1`` and ``0.10`` are the same Decimal)."""
    a, b = flatten(old), flatten(new)
    out: Diff = {}
    for path in sorted(a.keys() | b.keys()):
        if path in a and path in b and a[path] == b[path]:
            continue
        out[path] = (_shown(path, a[path]) if path in a else None, _shown(path, b[path]) if path in b else None)
    return out


def snapshot(settings: Any) -> dict[str, Any]:
    """The whole configuration as nested tables of rendered text, secrets redacted (what the store keeps).
    A free table's keys stay whole (``[log.modules] "actors.gateway"``)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(settings):
        if f.name not in _NOT_CONFIG:
            out[f.name] = _snap(getattr(settings, f.name), f.name)
    return out


def _snap(value: Any, path: str) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _snap(getattr(value, f.name), f"{path}.{f.name}") for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _snap(v, f"{path}.{k}") for k, v in value.items()}
    return _shown(path, value)


def flatten_snapshot(snap: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A stored snapshot back to dotted keys (nested tables may hold dotted names themselves)."""
    out: dict[str, Any] = {}
    for k, v in snap.items():
        path = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten_snapshot(v, f"{path}."))
        else:
            out[path] = v
    return out


def snapshot_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> Diff:
    """The difference between two stored snapshots, as text (used at start: what changed while stopped)."""
    a, b = flatten_snapshot(old), flatten_snapshot(new)
    out: Diff = {}
    for path in sorted(a.keys() | b.keys()):
        va, vb = a.get(path), b.get(path)
        if va != vb:
            out[path] = (None if va is None else str(va), None if vb is None else str(vb))
    return out


def refused(diff: Mapping[str, Change], hot_tables: frozenset[str] = HOT_TABLES,
            restart_keys: Mapping[str, str] = RESTART_KEYS) -> dict[str, str]:
    """The changed keys a hot reload may not apply, each with the reason."""
    out: dict[str, str] = {}
    for path in diff:
        table = path.partition(".")[0]
        if table not in hot_tables:
            out[path] = "needs a restart"
        elif path in restart_keys:
            out[path] = restart_keys[path]
    return out


def toml_name(path: str) -> str:
    """``exchange.rest_url`` → ``[exchange] rest_url``, as a SettingsError names a key."""
    table, _, rest = path.partition(".")
    return f"[{table}] {rest}" if rest else f"[{table}]"


def describe_refused(reasons: Mapping[str, str]) -> str:
    """``[exchange] rest_url: needs a restart; [feed] depth_stream: needs a restart``."""
    return "; ".join(f"{toml_name(p)}: {why}" for p, why in sorted(reasons.items()))


def describe(diff: Mapping[str, Change]) -> str:
    """``[strategy] min_spread_bps: 10.0 → 12.0; ...`` for a log line or an alert."""
    def side(v: str | None) -> str:
        return "(absent)" if v is None else v

    return "; ".join(f"{toml_name(p)}: {side(o)} → {side(n)}" for p, (o, n) in sorted(diff.items()))
