#!/usr/bin/env python3
"""The daily report: one UTC day as markdown with an equity and an inventory chart, for people and for the
P2 daily alert (which attaches the files and uses the summary as its body).

    python tools/report.py daily [--db PATH | --config settings.toml] [--day YYYY-MM-DD] [--out DIR]

The day defaults to yesterday (UTC); the files go to ``--out``, else ``[report] out_dir`` of the settings,
else ``var/reports``: ``report-DAY.md``, ``equity-DAY.png``, ``inventory-DAY.png``. Their paths and the summary
are printed as one JSON line. The database is opened read-only, so the report can run beside the engine.
Exit 0 on success, 2 on a usage or database error.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import sqlite3
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actors.clock import Clock, WallClock
from actors.settings import SettingsError, load_settings
from actors.store import Store, StoreError
from actors.store.codec import iso_ns
from actors.store.reports import DayFigures, ReportSettings, Series, daily_figures
from tools.png import BLACK, PALETTE, Chart, lighter, line_chart, write_png
from tools.png import Series as Line

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DB = Path("var/mm.db")
HOUR_NS = 3600 * 1_000_000_000
X_TICKS = tuple((float(h), f"{h:02d}") for h in range(0, 25, 3))


class UsageError(Exception):
    pass


@dataclass(frozen=True)
class DailyReport:
    day: date
    markdown_path: Path
    equity_png: Path
    inventory_png: Path
    summary: str  # a few plain lines: the body of the P2 daily alert

    @property
    def attachments(self) -> tuple[Path, ...]:
        return (self.markdown_path, self.equity_png, self.inventory_png)


def build_daily_report(db_path: Path, day: date, out_dir: Path, *, settings: ReportSettings | None = None,
                       clock: Clock | None = None) -> DailyReport:
    """Write the report of one UTC day into ``out_dir`` (each file replaced atomically) and return its paths.

    Read-only on the database and safe beside the running engine. Raises ``StoreError`` (or
    ``sqlite3.Error``) when the database cannot be read. ``clock`` decides where a day not over yet ends.
    """
    settings = settings or ReportSettings()
    now = (clock or WallClock()).time_ns()
    with Store.open_readonly(db_path) as store:
        fig = daily_figures(store, day, now_ns=now)
        schema_version = store.schema_version
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = day.isoformat()
    equity = write_png(out_dir / f"equity-{stamp}.png", equity_chart(fig).pixels)
    inventory = write_png(out_dir / f"inventory-{stamp}.png", inventory_chart(fig).pixels)
    text = render_markdown(fig, equity_name=equity.name, inventory_name=inventory.name, db=str(db_path),
                           generated_ns=now, schema_version=schema_version, max_rows=settings.max_rows)
    md = _write_text(out_dir / f"report-{stamp}.md", text)
    return DailyReport(day, md, equity, inventory, summary_text(fig))


def _write_text(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------------------------- numbers


def num(d: Decimal | None) -> str:
    """Exact, without trailing zeros (``35.00400`` → ``35.004``); empty for unknown."""
    if d is None:
        return ""
    if d == 0:
        return "0"
    return format(d.normalize(), "f")


def signed(d: Decimal | None) -> str:
    return "" if d is None else ("+" if d > 0 else "") + num(d)


def plain(d: Decimal | None) -> str:
    """As stored (a price keeps its tick's decimals)."""
    return "" if d is None else format(d, "f")


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def pct(share: Decimal | None) -> str:
    return "" if share is None else f"{(share * 100).quantize(Decimal('0.1'))}%"


def _hours(points: Series, start_ns: int) -> tuple[list[float], list[float]]:
    return [(t - start_ns) / HOUR_NS for t, _ in points], [float(v) for _, v in points]


def sum_steps(series: Sequence[Series]) -> Series:
    """The sum of step functions, at every time any of them changes (a function is 0 before its first point)."""
    times = sorted({t for s in series for t, _ in s})
    keyed = [([t for t, _ in s], s) for s in series if s]
    out = []
    for t in times:
        total = Decimal(0)
        for ts, s in keyed:
            i = bisect.bisect_right(ts, t) - 1
            if i >= 0:
                total += s[i][1]
        out.append((t, total))
    return tuple(out)


# ---------------------------------------------------------------------------------------------- charts


def equity_chart(fig: DayFigures) -> Chart:
    """Cumulative net PnL over the day per symbol (fills and funding), its mark-to-market companion where PnL
    snapshots exist, and a total per PnL asset when several symbols share it."""
    mtm: list[Line] = []  # drawn first, under the lines they accompany
    lines: list[Line] = []
    for i, s in enumerate(fig.symbols):
        color = PALETTE[i % len(PALETTE)]
        if s.fills or s.funding:
            lines.append(Line(s.symbol, *_hours(s.equity, fig.start_ns), color=color, step=True))
        if s.equity_mtm:
            mtm.append(Line(f"{s.symbol} MTM", *_hours(s.equity_mtm, fig.start_ns), color=lighter(color)))
    lines = mtm + lines
    assets = sorted({s.pnl_asset for s in fig.symbols})
    for asset in assets:
        members = [s for s in fig.symbols if s.pnl_asset == asset and (s.fills or s.funding)]
        if len(members) > 1:
            lines.append(Line(f"TOTAL {asset}", *_hours(sum_steps([s.equity for s in members]), fig.start_ns),
                              color=BLACK, step=True))
    title = f"NET PNL {assets[0]}" if len(assets) == 1 and assets[0] else "NET PNL"
    return line_chart(lines, title=f"{title} {fig.day.isoformat()}", x_range=(0.0, 24.0), x_ticks=X_TICKS)


def inventory_chart(fig: DayFigures) -> Chart:
    """Position over the day per symbol, in the base asset."""
    lines = [Line(s.symbol, *_hours(s.inventory, fig.start_ns), color=PALETTE[i % len(PALETTE)], step=True)
             for i, s in enumerate(fig.symbols) if s.inventory]
    return line_chart(lines, title=f"POSITION {fig.day.isoformat()}", x_range=(0.0, 24.0), x_ticks=X_TICKS)


# ---------------------------------------------------------------------------------------------- text


def summary_text(fig: DayFigures) -> str:
    """A few lines for an alert body: money per asset, then one line per symbol, then risk and runs."""
    lines = []
    for asset, t in sorted(fig.totals().items()):
        unit = f" {asset}" if asset else ""
        head = (f"{fig.day.isoformat()} UTC: net PnL {signed(t['net_pnl'])}{unit} (realized {num(t['realized_pnl'])},"
                f" fees {num(t['fees'])}, funding {num(t['funding']) if fig.funding_recorded else 'not recorded'})")
        mtm = [s.net_pnl_mtm for s in fig.symbols if s.pnl_asset == asset and s.net_pnl_mtm is not None]
        if mtm:
            head += f"; with the change in unrealized: {signed(sum(mtm, Decimal(0)))}{unit}"
        lines.append(head)
    if not fig.symbols:
        lines.append(f"{fig.day.isoformat()} UTC: no trading activity recorded")
    for s in fig.symbols:
        line = f"{s.symbol}: {plural(s.fills, 'fill')}"
        if s.fills:
            line += f" ({pct(s.maker_share)} maker), volume {num(s.volume)} {s.pnl_asset}".rstrip()
        if s.max_abs_position is not None:
            line += f", max |position| {num(s.max_abs_position)}, end {num(s.position_end)}"
        line += f", {plural(s.open_orders_at_end, 'open order')} at end"
        lines.append(line)
    sev = Counter(e.severity for e in fig.risk_events)
    risk = ", ".join(f"{k} {sev[k]}" for k in ("P0", "P1", "P2", "INFO") if sev[k])
    lines.append(f"{plural(len(fig.risk_events), 'risk event')}{f' ({risk})' if risk else ''}; "
                 f"{plural(len(fig.runs), 'run')}, {plural(fig.starts, 'start')}, "
                 f"{len(fig.crashed_runs)} without a clean stop")
    return "\n".join(lines)


def _cell(v: Any, limit: int = 160) -> str:
    text = "" if v is None else str(v)
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[:limit - 1] + "…"


def md_table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(_cell(v) for v in r) + " |" for r in rows]
    return out


def _capped(rows: Sequence[Any], max_rows: int, hint: str) -> tuple[Sequence[Any], list[str]]:
    if len(rows) <= max_rows:
        return rows, []
    return rows[:max_rows], ["", f"… and {len(rows) - max_rows} more: `{hint}`"]


def render_markdown(fig: DayFigures, *, equity_name: str, inventory_name: str, db: str, generated_ns: int,
                    schema_version: int, max_rows: int = 50) -> str:
    day = fig.day.isoformat()
    partial = fig.until_ns < fig.end_ns
    out = [f"# Daily report {day} (UTC)", "",
           f"Database `{db}` (schema {schema_version}), generated {iso_ns(generated_ns)}"
           + (f"; the day is not over: figures up to {iso_ns(fig.until_ns)}" if partial else "") + ".", "",
           "## Summary", "", *(f"- {line}" for line in summary_text(fig).splitlines()), ""]

    out += ["## PnL", ""]
    pnl_rows = [[s.symbol, s.pnl_asset, s.fills, s.maker_fills, pct(s.maker_share), num(s.volume),
                 num(s.realized_pnl), num(s.fees), num(s.funding), signed(s.net_pnl), signed(s.unrealized_change),
                 signed(s.net_pnl_mtm), " ".join(f"{a}:{num(v)}" for a, v in s.other_fees)] for s in fig.symbols]
    totals = fig.totals()
    if len(fig.symbols) > 1:
        for asset, t in sorted(totals.items()):
            pnl_rows.append([f"**total {asset}**", asset, "", "", "", num(t["volume"]), num(t["realized_pnl"]),
                             num(t["fees"]), num(t["funding"]) if fig.funding_recorded else "", signed(t["net_pnl"]),
                             "", "", ""])
    out += md_table(["symbol", "asset", "fills", "maker fills", "maker share", "volume", "realized PnL", "fees",
                     "funding", "net PnL", "Δ unrealized", "net + Δ unrealized", "fees in other assets"], pnl_rows)
    out += ["", "Net PnL = realized − fees + funding, from the exchange's fills and income, in the symbol's quote "
            "asset; maker share is by notional. "
            + ("Funding is included where the income table has it; an empty funding cell means none is recorded "
               "for that symbol (net of fees only). " if fig.funding_recorded else
               "No funding is recorded in the database: net PnL is net of fees only. ")
            + "Δ unrealized is the change in unrealized PnL over the day from the engine's PnL snapshots (from the "
            "last one before the day, else from zero); fees paid in another asset (BNB) are listed, not converted.",
            "", f"![equity curve]({equity_name})", ""]

    out += ["## Inventory and risk", ""]
    out += md_table(["symbol", "position at start", "at end", "max abs", "max worst long", "min worst short",
                     "from", "risk events", "open orders at end"],
                    [[s.symbol, num(s.position_start), num(s.position_end), num(s.max_abs_position),
                      num(s.max_worst_long), num(s.min_worst_short), s.position_source, s.risk_events,
                      s.open_orders_at_end] for s in fig.symbols])
    out += ["", "Worst long/short = position + every open order on the adding side: what the inventory limit "
            "bounds. Positions come from the engine's inventory records, or are summed from fills where it has "
            "none.", "", f"![position]({inventory_name})", ""]

    out += [f"## Risk events ({len(fig.risk_events)})", ""]
    if fig.risk_events:
        kinds = Counter((e.severity, e.kind) for e in fig.risk_events)
        out += md_table(["severity", "kind", "count"], [[s, k, n] for (s, k), n in sorted(kinds.items())])
        rows, more = _capped(fig.risk_events, max_rows, f"python tools/query.py risk --since {day} --limit 0")
        out += ["", *md_table(["at", "symbol", "kind", "severity", "state", "detail"],
                              [[e.at, e.symbol, e.kind, e.severity, e.state, e.detail] for e in rows]), *more]
    else:
        out.append("None.")

    out += ["", f"## Runs ({len(fig.runs)}; {fig.starts} started this day)", ""]
    if fig.runs:
        last = fig.runs[-1].run_id
        out += md_table(["run", "started", "ended", "end reason", "symbols", "code", "note"],
                        [[r.run_id, r.started_at, r.ended_at, r.end_reason, r.symbols, r.code_version,
                          "no clean stop recorded (crash or kill)" if r.run_id in fig.crashed_runs else
                          ("running" if r.ended_ns is None and r.run_id == last else "")] for r in fig.runs])
    else:
        out.append("The engine did not run.")

    out += ["", f"## Open orders at the end of the day ({len(fig.open_orders)})", ""]
    if fig.open_orders:
        rows, more = _capped(fig.open_orders, max_rows, "python tools/query.py orders --limit 0")
        out += md_table(["symbol", "client order id", "side", "price", "qty", "executed", "status", "created"],
                        [[o.symbol, o.client_order_id, o.side, plain(o.price), plain(o.qty), plain(o.executed_qty),
                          o.status, o.created_at] for o in rows]) + more
        out += ["", "INTENT and UNKNOWN: sent or about to be, with no answer yet: counted as open until reconciled."]
    else:
        out.append("None.")

    out += ["", f"## Configuration changes ({len(fig.config_changes)})", ""]
    if fig.config_changes:
        rows, more = _capped(fig.config_changes, max_rows, "python tools/query.py config --limit 0")
        out += md_table(["version", "at", "by", "key", "old", "new", "comment"],
                        [[c["version"], c["at"], c["applied_by"], c["key"], c["old"], c["new"], c["comment"]]
                         for c in rows]) + more
    else:
        out.append("None.")

    out += ["", f"## Audit ({len(fig.audit)})", ""]
    if fig.audit:
        rows, more = _capped(fig.audit, max_rows, f"python tools/query.py audit --since {day} --limit 0")
        out += md_table(["at", "who", "action", "detail"], [[a.at, a.who, a.action, a.detail] for a in rows]) + more
    else:
        out.append("None.")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="report.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("daily", help="one UTC day: markdown, equity and inventory charts")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--db", help="database file (default: [store] path of the settings, else var/mm.db)")
    src.add_argument("--config", help="settings file to take [store] path and [report] out_dir from")
    p.add_argument("--day", help="the UTC day, YYYY-MM-DD (default: yesterday)")
    p.add_argument("--out", help="output directory (default: [report] out_dir of the settings, else var/reports)")
    return ap


def resolve(args: argparse.Namespace) -> tuple[Path, Path, ReportSettings]:
    """The database, the output directory and the report settings, from the arguments and settings file."""
    cfg = Path(args.config) if args.config else REPO / "settings.toml"
    settings: Any = None
    if args.config or (not (args.db and args.out) and cfg.is_file()):
        try:
            settings = load_settings(cfg)
        except SettingsError as exc:
            raise UsageError(f"{exc} (or pass --db and --out)") from None
    report = getattr(settings, "report", None)
    report = report if isinstance(report, ReportSettings) else ReportSettings()
    db = Path(args.db) if args.db else Path(getattr(getattr(settings, "store", None), "path", "") or DEFAULT_DB)
    out = Path(args.out) if args.out else Path(report.out_dir)
    return db, out, report


def parse_day(text: str | None, now_ns: int) -> date:
    today = datetime.fromtimestamp(now_ns // 1_000_000_000, UTC).date()
    if not text:
        return today - timedelta(days=1)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--day: not a date (YYYY-MM-DD): {text!r}") from None
    if day > today:
        raise UsageError(f"--day: {day} has not begun yet (today is {today} UTC)")
    return day


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, clock: Clock | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = out or sys.stdout
    clock = clock or WallClock()
    db: Path | None = None
    try:
        db, out_dir, settings = resolve(args)
        day = parse_day(args.day, clock.time_ns())
        report = build_daily_report(db, day, out_dir, settings=settings, clock=clock)
    except (UsageError, StoreError) as exc:
        sys.stderr.write(f"report.py: {exc}\n")
        return 2
    except sqlite3.Error as exc:  # "file is not a database": say which
        sys.stderr.write(f"report.py: {db}: {exc}\n")
        return 2
    out.write(json.dumps({"day": report.day.isoformat(), "markdown": str(report.markdown_path),
                          "equity_png": str(report.equity_png), "inventory_png": str(report.inventory_png),
                          "summary": report.summary}, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
