#!/usr/bin/env python3
"""Look into the engine's database, read-only (it never takes a lock the running engine could wait on).

    python tools/query.py summary [--symbol S] [--json | --csv]
    python tools/query.py orders [--id CID] [--symbol S] [--status ST] [--since T] [--limit N]
    python tools/query.py fills [--symbol S] [--order CID] [--since T] [--limit N]
    python tools/query.py pnl --by day|hour [--symbol S] [--since T]
    python tools/query.py inventory [--by day|hour] [--symbol S] [--since T] [--limit N]
    python tools/query.py config [--version N] [--limit N]
    python tools/query.py risk | audit | runs [--since T] [--limit N]

The database is ``--db PATH``, else ``[store] path`` of the settings file (``--config``, default the repo's
settings.toml), else ``var/mm.db``; relative paths are relative to the working directory. Output is a table
(default), ``--csv`` or ``--json``; numbers are exact decimal strings, times UTC. ``--since`` takes an ISO
date or time (UTC) such as ``2024-08-08`` or ``2024-08-08T13:00``. ``orders --id`` shows the order, its
event history and its fills (as CSV: one timeline row per event and fill); ``config`` one row per changed key
(``--version`` one version with its whole configuration). Exit 0 on success, 1 when ``--id`` names no order
or ``--version`` no version, 2 on a usage or database error.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actors.settings import SettingsError, load_settings
from actors.store import Store, StoreError
from actors.store.reports import (
    PERIODS,
    config_changes,
    flatten_config,
    inventory_by,
    markout_stats,
    order_history,
    pnl_by,
    summary,
)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DB = Path("var/mm.db")
DEFAULT_LIMIT = 50
JSON_TEXT_COLUMNS = ("detail", "diff", "config")  # stored as JSON text: embedded as objects in --json output

# What a table shows (CSV and JSON always carry every column).
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "orders": ("created_at", "client_order_id", "symbol", "side", "price", "qty", "tif", "reduce_only", "status",
               "executed_qty", "avg_price", "exchange_order_id", "origin", "tag"),
    "events": ("seq", "recorded_at", "status", "applied", "executed_qty", "avg_price", "exchange_order_id", "code",
               "reason", "source"),
    "fills": ("trade_at", "symbol", "trade_id", "client_order_id", "side", "price", "qty", "commission",
              "commission_asset", "is_maker", "realized_pnl"),
    "risk": ("at", "venue", "symbol", "kind", "severity", "state", "detail"),
    "audit": ("at", "who", "action", "detail"),
    "runs": ("run_id", "started_at", "ended_at", "end_reason", "symbols", "host", "pid", "code_version",
             "config_version"),
    "config": ("version", "at", "applied_by", "key", "old", "new", "comment"),
    "inventory": ("at", "symbol", "position", "open_buy_qty", "open_sell_qty", "worst_long", "worst_short",
                  "entry_price", "source"),
}


class UsageError(Exception):
    pass


# ---------------------------------------------------------------------------------------------- values


def _since_ns(text: str | None) -> int | None:
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since: not an ISO date or time: {text!r}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000


def _since_ms(text: str | None) -> int | None:
    ns = _since_ns(text)
    return None if ns is None else ns // 1_000_000


def _plain(v: Any) -> Any:
    """A value for JSON: Decimals as exact strings, everything else as JSON has it."""
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


def _text(v: Any) -> str:
    """A value for a table cell or a CSV field."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, dict | list):
        return json.dumps(_plain(v), sort_keys=True, separators=(",", ":"))
    return str(v)


def _record(row: Any) -> dict[str, Any]:
    return dataclasses.asdict(row) if dataclasses.is_dataclass(row) else dict(row)


def _for_json(rec: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in rec.items():
        out[k] = json.loads(v) if k in JSON_TEXT_COLUMNS and isinstance(v, str) else _plain(v)
    return out


def _flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.extend(_flatten(v, f"{prefix}{k}."))
        elif isinstance(v, list):
            out.append((prefix + k, ",".join(map(str, v))))
        else:
            out.append((prefix + k, v))
    return out


# ---------------------------------------------------------------------------------------------- output


def write_table(out: TextIO, rows: Sequence[dict[str, Any]], cols: Sequence[str] | None = None) -> None:
    if not rows:
        out.write("(no rows)\n")
        return
    cols = list(cols or rows[0].keys())
    cells = [[_text(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    out.write("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")


def write_csv(out: TextIO, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    w = csv.writer(out, lineterminator="\n")
    w.writerow(list(rows[0].keys()))
    for r in rows:
        w.writerow([_text(v) for v in r.values()])


def write_json(out: TextIO, obj: Any) -> None:
    out.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def emit_rows(args: argparse.Namespace, out: TextIO, rows: Sequence[dict[str, Any]], table: str) -> None:
    if args.json:
        write_json(out, [_for_json(r) for r in rows])
    elif args.csv:
        write_csv(out, rows)
    else:
        write_table(out, rows, TABLE_COLUMNS.get(table))


# ---------------------------------------------------------------------------------------------- commands


def cmd_summary(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    s = summary(store, symbol=args.symbol)
    s = {"db": str(store.path), **s}
    if args.json:
        write_json(out, s)
    elif args.csv:
        write_csv(out, [{"key": k, "value": _text(v)} for k, v in _flatten(s)])
    else:
        write_table(out, [{"key": k, "value": v} for k, v in _flatten(s)])
    return 0


def cmd_orders(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    if not args.id:
        rows = store.orders(symbol=args.symbol, status=args.status, since_ns=_since_ns(args.since), limit=args.limit)
        emit_rows(args, out, [_record(r) for r in rows], "orders")
        return 0
    found = order_history(store, args.id)
    if found is None:
        sys.stderr.write(f"no order with client order id {args.id!r}\n")
        return 1
    order, events, fills = found["order"], found["events"], found["fills"]
    if args.json:
        write_json(out, {"order": _for_json(order), "events": [_for_json(e) for e in events],
                         "fills": [_for_json(f) for f in fills]})
    elif args.csv:  # one flat file: the order's fixed fields repeated on each event and fill, in recorded order
        write_csv(out, found["timeline"])
    else:
        write_table(out, [{"key": k, "value": v} for k, v in order.items()])
        out.write("\nevents\n")
        write_table(out, events, TABLE_COLUMNS["events"])
        out.write("\nfills\n")
        write_table(out, fills, TABLE_COLUMNS["fills"])
    return 0


def cmd_fills(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    rows = store.fills(symbol=args.symbol, client_order_id=args.order, since_ms=_since_ms(args.since),
                       limit=args.limit)
    emit_rows(args, out, [_record(r) for r in rows], "fills")
    return 0


def cmd_pnl(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    rows = pnl_by(store, args.by, symbol=args.symbol, since_ms=_since_ms(args.since), limit=args.limit)
    emit_rows(args, out, rows, "pnl")
    if rows and not (args.json or args.csv):
        out.write("\nnet_pnl = realized_pnl - fees + funding, in pnl_asset (net_of says whether funding is recorded "
                  "for the symbol); other_fees are paid in another asset and not netted.\n")
    return 0


def cmd_risk(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    rows = store.risk_events(symbol=args.symbol, since_ns=_since_ns(args.since), limit=args.limit)
    emit_rows(args, out, [_record(r) for r in rows], "risk")
    return 0


def cmd_audit(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    emit_rows(args, out, [_record(r) for r in store.audit(since_ns=_since_ns(args.since), limit=args.limit)], "audit")
    return 0


def cmd_runs(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    emit_rows(args, out, [_record(r) for r in store.runs(limit=args.limit)], "runs")
    return 0


def cmd_config(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    if args.version is not None:
        return _config_version(store, args, out)
    versions = store.config_versions(limit=args.limit)
    if args.json:
        write_json(out, [_for_json(_record(v)) for v in versions])
    else:
        emit_rows(args, out, config_changes(versions), "config")
    return 0


def _config_version(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    """One version: when, who, what changed, and the whole configuration it made (changed keys marked)."""
    found = [v for v in store.config_versions() if v.version == args.version]
    if not found:
        sys.stderr.write(f"no configuration version {args.version}\n")
        return 1
    v = found[0]
    changes = config_changes([v])
    old = {c["key"]: c["old"] for c in changes if c["key"]}
    config = json.loads(v.config) if v.config else None
    settings = [{"key": k, "value": val, "changed": k in old, "old": old.get(k)} for k, val in flatten_config(config)]
    if args.json:
        write_json(out, _for_json(_record(v)))
    elif args.csv:
        write_csv(out, settings)
    else:
        write_table(out, [{"key": k, "value": _record(v)[k]} for k in ("version", "at", "applied_by", "comment")])
        out.write("\nchanges\n")
        write_table(out, changes, ("key", "old", "new"))
        out.write("\nconfiguration\n")
        if config is None:
            out.write("(not recorded)\n")
        else:
            write_table(out, settings)
    return 0


def cmd_inventory(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    if args.by:
        rows = inventory_by(store, args.by, symbol=args.symbol, since_ns=_since_ns(args.since), limit=args.limit)
        emit_rows(args, out, rows, "inventory_by")
        return 0
    rows = store.inventory(symbol=args.symbol, since_ns=_since_ns(args.since), limit=args.limit)
    emit_rows(args, out, [_record(r) for r in rows], "inventory")
    return 0


def cmd_markouts(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    rows = markout_stats(store, symbol=args.symbol, since_ns=_since_ns(args.since), by=args.by.split(","))
    emit_rows(args, out, rows[-args.limit:] if args.limit else rows, "markouts")
    return 0


COMMANDS: dict[str, tuple[Callable[[Store, argparse.Namespace, TextIO], int], str]] = {
    "summary": (cmd_summary, "counts, position, realized PnL, fees, funding; overall and per symbol"),
    "orders": (cmd_orders, "orders, or one order (--id) with its event history and fills"),
    "fills": (cmd_fills, "executions, newest last"),
    "pnl": (cmd_pnl, "PnL per UTC day or hour, net of fees and funding"),
    "risk": (cmd_risk, "risk events"),
    "audit": (cmd_audit, "who did what"),
    "runs": (cmd_runs, "engine runs (a run without an end crashed)"),
    "config": (cmd_config, "configuration versions: one row per changed key, or one version (--version)"),
    "inventory": (cmd_inventory, "position and resting quantity over time, with the worst cases (--by: per bucket)"),
    "markouts": (cmd_markouts, "markouts per horizon (1 s, 5 s, 30 s): overall, per side and per regime"),
}


# ---------------------------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", help="database file (default: [store] path of the settings, else var/mm.db)")
    common.add_argument("--config", help="settings file to take [store] path from (default: the repo's)")
    fmt = common.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="JSON output")
    fmt.add_argument("--csv", action="store_true", help="CSV output")
    ap = argparse.ArgumentParser(prog="query.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    for name, (_, help_) in COMMANDS.items():
        p = sub.add_parser(name, parents=[common], help=help_, description=help_)
        if name not in ("audit", "runs", "config"):
            p.add_argument("--symbol", help="only this symbol")
        if name != "summary":
            p.add_argument("--limit", type=int, default=DEFAULT_LIMIT,
                           help=f"the newest N rows (default {DEFAULT_LIMIT}; 0: all)")
        if name not in ("summary", "runs", "config"):
            p.add_argument("--since", help="only from this UTC date/time on (ISO: 2024-08-08 or 2024-08-08T13:00)")
        if name == "orders":
            p.add_argument("--id", help="one client order id: the order, its event history and its fills")
            p.add_argument("--status", help="only orders in this status (e.g. NEW, FILLED, INTENT)")
        if name == "fills":
            p.add_argument("--order", help="only fills of this client order id")
        if name == "pnl":
            p.add_argument("--by", choices=tuple(PERIODS), default="day", help="bucket (UTC)")
        if name == "inventory":
            p.add_argument("--by", choices=tuple(PERIODS), help="per UTC day or hour: first, last, min, max, worst")
        if name == "markouts":
            p.add_argument("--by", default="side,regime", help="groups besides the whole: side, regime, maker")
        if name == "config":
            p.add_argument("--version", type=int, help="one version: its changes and its whole configuration")
    return ap


def resolve_db(args: argparse.Namespace) -> Path:
    """--db, else [store] path of the settings (when the settings have that key), else var/mm.db."""
    if args.db:
        return Path(args.db)
    cfg = Path(args.config) if args.config else REPO / "settings.toml"
    if args.config or cfg.is_file():
        try:
            settings = load_settings(cfg)
        except SettingsError as exc:
            raise UsageError(f"{exc} (or pass --db)") from None
        path = getattr(getattr(settings, "store", None), "path", "")
        if path:
            return Path(path)
    return DEFAULT_DB


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = out or sys.stdout
    if getattr(args, "limit", None) == 0:
        args.limit = None
    db: Path | None = None
    try:
        db = resolve_db(args)
        with Store.open_readonly(db) as store:
            return COMMANDS[args.command][0](store, args, out)
    except (UsageError, StoreError) as exc:
        sys.stderr.write(f"query.py: {exc}\n")
        return 2
    except sqlite3.Error as exc:  # "file is not a database": say which
        sys.stderr.write(f"query.py: {db}: {exc}\n")
        return 2
    except BrokenPipeError:  # `| head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
