"""Aggregates over the store for people: the summary, PnL per day or hour net of fees and funding, one order's
history, inventory over time, configuration changes, and the figures of one UTC day for the daily report.

Money is summed exactly (``dsum`` over the TEXT columns), never through SQLite's REAL ``SUM``. Binance
USDⓈ-M reports realized PnL per fill in the margin asset, which is the symbol's quote asset; fees paid in
that asset are netted, fees paid in another asset (BNB) are listed per asset and not converted. Funding
comes from the ``income`` table; a symbol with no funding recorded at all shows funding as unknown (empty),
not as zero, and its net PnL says it is net of fees only.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from actors.fields import num
from actors.store import schema
from actors.store.codec import dec, iso_ms, iso_ns
from actors.store.models import OPEN_STATUSES, AuditRow, ConfigVersionRow, RiskEventRow, RunRow
from actors.store.store import Store

QUOTE_ASSETS = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD")
PERIODS = {"day": "%Y-%m-%d", "hour": "%Y-%m-%dT%H:00Z"}


def pnl_asset(symbol: str) -> str:
    """The asset a perpetual's PnL is counted in: its quote asset (``ETHUSDC`` → ``USDC``); "" if unknown."""
    base = symbol.split("_", 1)[0].upper()
    return next((q for q in QUOTE_ASSETS if base.endswith(q) and len(base) > len(q)), "")


def _d(text: str | None) -> Decimal:
    return Decimal(text) if text is not None else Decimal(0)


@dataclass
class _Money:
    realized: Decimal = Decimal(0)
    fees_by_asset: dict[str, Decimal] = field(default_factory=dict)
    funding_by_asset: dict[str, Decimal] = field(default_factory=dict)

    def fees_in(self, asset: str) -> Decimal:
        return self.fees_by_asset.get(asset, Decimal(0))

    def funding_in(self, asset: str) -> Decimal:
        return self.funding_by_asset.get(asset, Decimal(0))


def _by_asset(d: dict[str, Decimal]) -> dict[str, str]:
    return {k: dec(v) for k, v in sorted(d.items())}


def summary(store: Store, *, symbol: str | None = None) -> dict[str, Any]:
    """Counts, position, realized PnL, fees and funding, overall and per symbol."""
    sym_where, sym_args = ("symbol = ?", (symbol,)) if symbol else ("", ())

    per: dict[str, dict[str, Any]] = {}
    money: dict[str, _Money] = defaultdict(_Money)
    for r in store.query(f"SELECT symbol, count(*) AS n, sum(is_maker) AS maker, dsum(realized_pnl) AS realized, "
                         f"dsum(CASE side WHEN 'BUY' THEN qty ELSE '-' || qty END) AS signed, "
                         f"max(trade_at) AS last_at FROM fills {_w(sym_where)} GROUP BY symbol", sym_args):
        per.setdefault(r["symbol"], {}).update(fills=r["n"], maker_fills=r["maker"], last_fill_at=r["last_at"],
                                               position_from_fills=dec(_d(r["signed"])))
        money[r["symbol"]].realized = _d(r["realized"])
    for r in store.query(f"SELECT symbol, commission_asset AS asset, dsum(commission) AS fee FROM fills "
                         f"{_w(sym_where)} GROUP BY symbol, commission_asset", sym_args):
        money[r["symbol"]].fees_by_asset[r["asset"]] = _d(r["fee"])
    if store.has_table("income"):
        funding_where = _w(sym_where, "kind = 'FUNDING_FEE'")
        for r in store.query(f"SELECT symbol, asset, dsum(amount) AS amount FROM income {funding_where} "
                             "GROUP BY symbol, asset", sym_args):
            money[r["symbol"]].funding_by_asset[r["asset"]] = _d(r["amount"])
            per.setdefault(r["symbol"], {})  # a symbol with funding but no fills still gets its entry
    for r in store.query(f"SELECT symbol, count(*) AS n FROM orders {_w(sym_where)} GROUP BY symbol", sym_args):
        per.setdefault(r["symbol"], {})["orders"] = r["n"]
    for r in store.query(f"SELECT symbol, count(*) AS n FROM orders {_w(sym_where, schema.OPEN_STATUS_SQL)} "
                         "GROUP BY symbol", sym_args):
        per.setdefault(r["symbol"], {})["open_orders"] = r["n"]
    latest_inventory = {}
    latest = "at_ns = (SELECT max(at_ns) FROM inventory j WHERE j.symbol = i.symbol)"
    for r in store.query(f"SELECT symbol, position, at FROM inventory i {_w(sym_where, latest)}", sym_args):
        latest_inventory[r["symbol"]] = r
        per.setdefault(r["symbol"], {})

    funded = funded_symbols(store)
    symbols: dict[str, Any] = {}
    total_realized = total_fees = total_funding = Decimal(0)
    fees_all: dict[str, Decimal] = defaultdict(Decimal)
    funding_all: dict[str, Decimal] = defaultdict(Decimal)
    for sym in sorted(per):
        m, asset, p = money[sym], pnl_asset(sym), per[sym]
        inv = latest_inventory.get(sym)
        fees, funding = m.fees_in(asset), m.funding_in(asset)
        total_realized += m.realized
        total_fees += fees
        total_funding += funding
        for a, v in m.fees_by_asset.items():
            fees_all[a] += v
        for a, v in m.funding_by_asset.items():
            funding_all[a] += v
        symbols[sym] = {
            "orders": p.get("orders", 0), "open_orders": p.get("open_orders", 0), "fills": p.get("fills", 0),
            "maker_fills": p.get("maker_fills", 0),
            "position": inv["position"] if inv else p.get("position_from_fills", "0"),
            "position_source": "inventory" if inv else "fills",
            "position_at": inv["at"] if inv else p.get("last_fill_at"),
            "position_from_fills": p.get("position_from_fills", "0"),
            "pnl_asset": asset, "realized_pnl": dec(m.realized), "fees": dec(fees), "funding": dec(funding),
            "net_pnl": dec(m.realized - fees + funding), "net_of": NET_OF[sym in funded],
            "fees_by_asset": _by_asset(m.fees_by_asset),
        }

    if len(symbols) == 1:
        position = next(iter(symbols.values()))["position"]
    elif not symbols:
        position = "0"
    else:  # quantities of different instruments do not add up: name each
        position = " ".join(f"{s}:{v['position']}" for s, v in symbols.items())
    runs = store.runs(limit=1)
    last = runs[-1] if runs else None
    return {
        "orders": sum(v["orders"] for v in symbols.values()),
        "fills": sum(v["fills"] for v in symbols.values()),
        "open_orders": sum(v["open_orders"] for v in symbols.values()),
        "position": position,
        "realized_pnl": dec(total_realized),
        "fees": dec(total_fees),
        "funding": dec(total_funding),
        "net_pnl": dec(total_realized - total_fees + total_funding),
        "pnl_assets": sorted({v["pnl_asset"] for v in symbols.values()}),
        "fees_by_asset": _by_asset(fees_all),
        "runs": store.count("runs"),
        "last_run": None if last is None else {
            "run_id": last.run_id, "started_at": last.started_at, "ended_at": last.ended_at,
            "end_reason": last.end_reason, "symbols": last.symbols},
        "risk_events": store.count("risk_events", *(("symbol = ?", (symbol,)) if symbol else ())),
        "config_version": _latest_config_version(store),
        "schema_version": store.schema_version,
        "symbols": symbols,
    }


NET_OF = {True: "realized-fees+funding", False: "realized-fees (no funding recorded)"}


def funded_symbols(store: Store) -> set[str]:
    """Symbols with any funding in the income table: for the others funding is unknown, not zero."""
    if not store.has_table("income"):
        return set()
    return {r[0] for r in store.query("SELECT DISTINCT symbol FROM income WHERE kind = 'FUNDING_FEE'")}


def _latest_config_version(store: Store) -> int | None:
    rows = store.config_versions(limit=1)
    return rows[-1].version if rows else None


def _w(*clauses: str) -> str:
    parts = [c for c in clauses if c]
    return ("WHERE " + " AND ".join(parts)) if parts else ""


def pnl_by(store: Store, period: str, *, symbol: str | None = None, since_ms: int | None = None,
           limit: int | None = None) -> list[dict[str, Any]]:
    """One row per (UTC day or hour, symbol): fills, volume, realized PnL, fees, funding, net PnL."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
    fmt = PERIODS[period]
    where = _w("symbol = ?" if symbol else "", "trade_ms >= ?" if since_ms is not None else "")
    args: list[Any] = [fmt, *([symbol] if symbol else []), *([since_ms] if since_ms is not None else [])]
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    money: dict[tuple[str, str], _Money] = defaultdict(_Money)

    def row(key: tuple[str, str]) -> dict[str, Any]:
        return rows.setdefault(key, {"fills": 0, "maker_fills": 0, "volume": Decimal(0)})

    for r in store.query(f"SELECT strftime(?, trade_ms / 1000, 'unixepoch') AS bucket, symbol, commission_asset, "
                         "count(*) AS n, sum(is_maker) AS maker, dsum(dmul(price, qty)) AS volume, "
                         f"dsum(realized_pnl) AS realized, dsum(commission) AS fee FROM fills {where} "
                         "GROUP BY bucket, symbol, commission_asset", args):
        key = (r["bucket"], r["symbol"])
        out = row(key)
        out["fills"] += r["n"]
        out["maker_fills"] += r["maker"]
        out["volume"] += _d(r["volume"])
        money[key].realized += _d(r["realized"])
        money[key].fees_by_asset[r["commission_asset"]] = _d(r["fee"])
    if store.has_table("income"):
        iwhere = _w("kind = 'FUNDING_FEE'", "symbol = ?" if symbol else "",
                    "at_ms >= ?" if since_ms is not None else "")
        for r in store.query(f"SELECT strftime(?, at_ms / 1000, 'unixepoch') AS bucket, symbol, asset, "
                             f"dsum(amount) AS amount FROM income {iwhere} GROUP BY bucket, symbol, asset", args):
            key = (r["bucket"], r["symbol"])
            row(key)
            money[key].funding_by_asset[r["asset"]] = _d(r["amount"])

    funded = funded_symbols(store)
    out_rows = []
    for (bucket, sym) in sorted(rows):
        r, m, asset = rows[(bucket, sym)], money[(bucket, sym)], pnl_asset(sym)
        fees, funding = m.fees_in(asset), m.funding_in(asset)
        other = {a: v for a, v in m.fees_by_asset.items() if a != asset}
        out_rows.append({
            period: bucket, "symbol": sym, "fills": r["fills"], "maker_fills": r["maker_fills"],
            "volume": dec(r["volume"]), "realized_pnl": dec(m.realized), "fees": dec(fees),
            "funding": dec(funding) if sym in funded else None,
            "net_pnl": dec(m.realized - fees + funding), "net_of": NET_OF[sym in funded], "pnl_asset": asset,
            "other_fees": " ".join(f"{a}:{dec(v)}" for a, v in sorted(other.items())),
        })
    return out_rows[-limit:] if limit else out_rows


# ---------------------------------------------------------------------------------------------- one order


def order_history(store: Store, client_order_id: str) -> dict[str, Any] | None:
    """An order, its events (led by its intent, or by its discovery on the exchange) and its fills; None if
    unknown. ``timeline`` interleaves events and fills by when the engine recorded them."""
    order = store.order(client_order_id)
    if order is None:
        return None
    o = dataclasses.asdict(order)
    first = {"client_order_id": client_order_id, "seq": 0,
             "status": "INTENT" if order.origin == "intent" else "FOUND", "applied": True,
             "exchange_order_id": None, "executed_qty": None, "avg_price": None, "price": order.price,
             "qty": order.qty, "reason": "", "code": None, "source": order.origin, "exchange_ms": None,
             "event_key": "", "recorded_ns": order.created_ns, "recorded_at": order.created_at,
             "run_id": order.run_id}
    events = [first, *(dataclasses.asdict(e) for e in store.order_events(client_order_id))]
    fills = [dataclasses.asdict(f) for f in store.fills(client_order_id=client_order_id)]
    timeline = sorted([("event", e["recorded_ns"], e) for e in events] + [("fill", f["recorded_ns"], f) for f in fills],
                      key=lambda x: (x[1], x[0] == "fill"))
    order_cols = {f"order_{k}": o[k] for k in ("symbol", "side", "order_type", "tif", "reduce_only", "origin", "tag",
                                                "status")}
    rows = []
    for kind, at_ns, r in timeline:
        ev, fl = (r, {}) if kind == "event" else ({}, r)
        rows.append({
            "client_order_id": client_order_id, "kind": kind, "recorded_at": iso_ns(at_ns),
            "exchange_at": fl.get("trade_at") or (iso_ms(ev["exchange_ms"]) if ev.get("exchange_ms") else None),
            "seq": ev.get("seq"), "status": ev.get("status"), "applied": ev.get("applied"),
            "executed_qty": ev.get("executed_qty"), "avg_price": ev.get("avg_price"), "price": r.get("price"),
            "qty": r.get("qty"), "code": ev.get("code"), "reason": ev.get("reason"), "source": ev.get("source"),
            "exchange_order_id": ev.get("exchange_order_id", fl.get("order_id")), "trade_id": fl.get("trade_id"),
            "commission": fl.get("commission"), "commission_asset": fl.get("commission_asset"),
            "is_maker": fl.get("is_maker"), "realized_pnl": fl.get("realized_pnl"), **order_cols,
        })
    return {"order": o, "events": events, "fills": fills, "timeline": rows}


# ---------------------------------------------------------------------------------------------- inventory


def inventory_by(store: Store, period: str, *, symbol: str | None = None, since_ns: int | None = None,
                 limit: int | None = None) -> list[dict[str, Any]]:
    """Inventory per UTC day or hour and symbol: first, last, lowest, highest and largest absolute position,
    and the worst cases (position + every open order on the adding side) that the inventory limit bounds."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
    where = _w("symbol = ?" if symbol else "", "at_ns >= ?" if since_ns is not None else "")
    args = [*([symbol] if symbol else []), *([since_ns] if since_ns is not None else [])]
    buckets: dict[tuple[str, str], dict[str, Any]] = {}
    for r in store.query("SELECT symbol, at_ns, at, position, worst_long, worst_short FROM inventory "
                         f"{where} ORDER BY at_ns, id", args):
        key = (_bucket(period, r["at_ns"]), r["symbol"])
        pos, wl, ws = Decimal(r["position"]), Decimal(r["worst_long"]), Decimal(r["worst_short"])
        b = buckets.get(key)
        if b is None:
            buckets[key] = {"samples": 1, "first_at": r["at"], "last_at": r["at"], "first": pos, "last": pos,
                            "min": pos, "max": pos, "max_abs": abs(pos), "max_worst_long": wl, "min_worst_short": ws}
            continue
        b["samples"] += 1
        b["last_at"], b["last"] = r["at"], pos
        b["min"], b["max"], b["max_abs"] = min(b["min"], pos), max(b["max"], pos), max(b["max_abs"], abs(pos))
        b["max_worst_long"], b["min_worst_short"] = max(b["max_worst_long"], wl), min(b["min_worst_short"], ws)
    rows = [{period: bucket, "symbol": sym, **{k: dec(v) if isinstance(v, Decimal) else v for k, v in b.items()}}
            for (bucket, sym), b in sorted(buckets.items())]
    return rows[-limit:] if limit else rows


def markout_stats(store: Store, *, symbol: str | None = None, since_ns: int | None = None,
                  by: Sequence[str] = ("side", "regime")) -> list[dict[str, Any]]:
    """Markouts per horizon, overall and grouped by each of ``by`` (side, regime, maker): fills, mean and
    quantity-weighted bps (positive: good for us) and the adverse-selection rate (share below zero)."""
    cols = {"side", "regime", "maker"}
    if not set(by) <= cols:
        raise ValueError(f"group by {', '.join(sorted(cols))}")
    where = _w("symbol = ?" if symbol else "", "fill_ns >= ?" if since_ns is not None else "")
    args = [*([symbol] if symbol else []), *([since_ns] if since_ns is not None else [])]
    rows: list[dict[str, Any]] = []
    for group in ("all", *by):
        key = "'all'" if group == "all" else group
        for r in store.query(
                f"SELECT horizon_ms, {key} AS k, count(*) AS n, avg(bps) AS mean, "
                "sum(bps * CAST(qty AS REAL)) / sum(CAST(qty AS REAL)) AS weighted, avg(bps < 0) AS adverse "
                f"FROM markouts {where} GROUP BY horizon_ms, k ORDER BY horizon_ms, k", args):
            rows.append({"horizon_ms": r["horizon_ms"], "group": group, "key": str(r["k"]), "fills": r["n"],
                         "mean_bps": round(r["mean"], 4), "weighted_bps": round(r["weighted"], 4),
                         "adverse_rate": round(r["adverse"], 4)})
    return rows


def _bucket(period: str, at_ns: int) -> str:
    return time.strftime(PERIODS[period], time.gmtime(at_ns // 1_000_000_000))  # the formats SQLite's strftime uses


# ---------------------------------------------------------------------------------------------- config


def config_changes(rows: Sequence[ConfigVersionRow]) -> list[dict[str, Any]]:
    """One row per changed key of each version: ``{"risk.max_inventory": [old, new]}`` becomes key, old, new."""
    out = []
    for v in rows:
        head = {"version": v.version, "at": v.at, "applied_by": v.applied_by, "comment": v.comment}
        try:
            diff = json.loads(v.diff)
        except ValueError:
            diff = v.diff
        if isinstance(diff, dict) and diff:
            for key, change in sorted(diff.items()):
                if isinstance(change, list) and len(change) == 2:
                    old, new = change
                else:  # not the [old, new] shape: show it whole
                    old, new = None, change
                out.append({**head, "key": key, "old": _scalar(old), "new": _scalar(new)})
        else:
            out.append({**head, "key": "", "old": None, "new": _scalar(diff) if diff else None})
    return out


def _scalar(v: Any) -> Any:
    return json.dumps(v, sort_keys=True, separators=(",", ":")) if isinstance(v, dict | list) else v


def flatten_config(config: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """A nested configuration as dotted keys, sorted (``risk.max_inventory``)."""
    if not isinstance(config, dict):
        return [(prefix.rstrip("."), config)] if prefix else []
    out: list[tuple[str, Any]] = []
    for k in sorted(config):
        v = config[k]
        if isinstance(v, dict) and v:
            out.extend(flatten_config(v, f"{prefix}{k}."))
        else:
            out.append((prefix + k, _scalar(v)))
    return out


# ---------------------------------------------------------------------------------------------- one UTC day


@dataclass(frozen=True)
class ReportSettings:
    """``[report]``: the daily report the engine writes after each UTC midnight and attaches to its P2 alert."""

    enabled: bool = True
    out_dir: str = "var/reports"  # relative paths are from the working directory
    after_midnight_s: float = num(300.0, 0.0, 21_600.0)  # wait for the day's late fills and funding to land
    max_rows: int = num(50, 1, 10_000)  # rows per table in the markdown (the rest: tools/query.py)


def day_bounds(day: date) -> tuple[int, int]:
    """[start, end) of a UTC day in ns."""
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1_000_000_000
    return start, start + DAY_NS


DAY_NS = 86_400 * 1_000_000_000
Series = tuple[tuple[int, Decimal], ...]  # (at_ns, value) points; a step function: each value holds until the next


@dataclass(frozen=True)
class OpenOrderAtEnd:
    """An order that may still have been resting when the day ended, as the engine knew it then."""

    symbol: str
    client_order_id: str
    side: str
    price: Decimal | None
    qty: Decimal
    executed_qty: Decimal
    status: str  # at the end of the day (it may have changed since)
    created_at: str


@dataclass(frozen=True)
class SymbolDay:
    """One symbol's day. Money is in ``pnl_asset``; fees in other assets are in ``other_fees``, not netted."""

    symbol: str
    pnl_asset: str
    fills: int = 0
    maker_fills: int = 0
    base_volume: Decimal = Decimal(0)
    volume: Decimal = Decimal(0)  # notional, in the quote asset
    maker_volume: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    other_fees: tuple[tuple[str, Decimal], ...] = ()
    funding: Decimal | None = None  # None: no funding is recorded for this symbol (the income table is empty)
    unrealized_change: Decimal | None = None  # from the PnL snapshots; None without any that day
    position_source: str = ""  # "inventory" (the engine's records), "fills" (summed fills) or "" (none)
    position_start: Decimal | None = None
    position_end: Decimal | None = None
    max_abs_position: Decimal | None = None
    max_worst_long: Decimal | None = None
    min_worst_short: Decimal | None = None
    risk_events: int = 0
    open_orders_at_end: int = 0
    equity: Series = ()  # cumulative net PnL from fills and funding
    equity_mtm: Series = ()  # the same plus the change in unrealized PnL, at each PnL snapshot
    inventory: Series = ()

    @property
    def net_pnl(self) -> Decimal:
        """Realized − fees + funding: what the wallet gained."""
        return self.realized_pnl - self.fees + (self.funding or 0)

    @property
    def net_pnl_mtm(self) -> Decimal | None:
        """Net PnL plus the change in unrealized PnL: what the equity gained."""
        return None if self.unrealized_change is None else self.net_pnl + self.unrealized_change

    @property
    def maker_share(self) -> Decimal | None:
        """The share of notional traded as maker."""
        return self.maker_volume / self.volume if self.volume else None


@dataclass(frozen=True)
class DayFigures:
    day: date
    start_ns: int
    end_ns: int
    until_ns: int  # where the series end: the end of the day, or now for a day not over yet
    symbols: tuple[SymbolDay, ...]
    risk_events: tuple[RiskEventRow, ...]
    runs: tuple[RunRow, ...]  # every run that was up at some time of the day
    crashed_runs: tuple[str, ...]  # of those, the ones that never recorded an end although a later run started
    open_orders: tuple[OpenOrderAtEnd, ...]
    config_changes: tuple[dict[str, Any], ...]
    audit: tuple[AuditRow, ...]
    funding_recorded: bool  # any funding in the income table at all: else funding is simply unknown

    @property
    def starts(self) -> int:
        """Process starts during the day."""
        return sum(1 for r in self.runs if r.started_ns >= self.start_ns)

    def totals(self) -> dict[str, dict[str, Decimal]]:
        """Per PnL asset: realized, fees, funding, net (and net with the unrealized change where known)."""
        out: dict[str, dict[str, Decimal]] = {}
        for s in self.symbols:
            t = out.setdefault(s.pnl_asset, defaultdict(Decimal))
            t["realized_pnl"] += s.realized_pnl
            t["fees"] += s.fees
            t["funding"] += s.funding or 0
            t["net_pnl"] += s.net_pnl
            t["volume"] += s.volume
            t["unrealized_change"] += s.unrealized_change or 0
        return {a: dict(t) for a, t in out.items()}


@contextmanager
def read_snapshot(store: Store) -> Iterator[Store]:
    """One read transaction: every figure comes from the same state while the engine keeps writing."""
    store.query("BEGIN")
    try:
        yield store
    finally:
        store.query("ROLLBACK")


def daily_figures(store: Store, day: date, *, now_ns: int | None = None) -> DayFigures:
    """Everything the daily report shows about one UTC day, exact (Decimal), from one consistent read."""
    start, end = day_bounds(day)
    until = end if now_ns is None else max(start, min(end, now_ns))
    with read_snapshot(store):
        return _daily(store, day, start, end, until)


def _daily(store: Store, day: date, start: int, end: int, until: int) -> DayFigures:
    ms0, ms1 = start // 1_000_000, end // 1_000_000
    fills = store.query("SELECT symbol, trade_ms, side, price, qty, commission, commission_asset, is_maker, "
                        "realized_pnl FROM fills WHERE trade_ms >= ? AND trade_ms < ? ORDER BY trade_ms, id",
                        (ms0, ms1))
    has_income = store.has_table("income")
    funding = store.query("SELECT symbol, asset, amount, at_ms FROM income WHERE kind = 'FUNDING_FEE' AND "
                          "at_ms >= ? AND at_ms < ? ORDER BY at_ms, id", (ms0, ms1)) if has_income else []
    funded = funded_symbols(store)
    risk = [e for e in store.risk_events(since_ns=start) if e.at_ns < end]
    runs = [r for r in store.runs() if r.started_ns < end and (r.ended_ns is None or r.ended_ns >= start)]
    latest = store.runs(limit=1)
    crashed = tuple(r.run_id for r in runs if r.ended_ns is None and latest and r.run_id != latest[-1].run_id)
    open_orders = _open_at(store, end)
    snaps = store.query("SELECT symbol, at_ns, unrealized_pnl FROM pnl_snapshots WHERE at_ns >= ? AND at_ns < ? "
                        "ORDER BY at_ns, id", (start, end))

    symbols = {r["symbol"] for r in fills} | {r["symbol"] for r in funding} | {e.symbol for e in risk if e.symbol}
    symbols |= {o.symbol for o in open_orders} | {r["symbol"] for r in snaps}
    symbols |= {s for r in runs for s in r.symbols.split(",") if s}
    symbols |= {r["symbol"] for r in store.query("SELECT DISTINCT symbol FROM inventory WHERE at_ns >= ? AND "
                                                 "at_ns < ?", (start, end))}
    out = []
    for sym in sorted(symbols):
        asset = pnl_asset(sym)
        sym_fills = [r for r in fills if r["symbol"] == sym]
        sym_funding = [r for r in funding if r["symbol"] == sym and r["asset"] == asset]
        fig = _money(sym, asset, sym_fills, sym_funding, funded_ever=sym in funded, start=start, until=until)
        fig = _with_inventory(store, fig, sym_fills, start, end, until)
        fig = _with_mtm(store, fig, [r for r in snaps if r["symbol"] == sym], start)
        out.append(dataclasses.replace(fig, risk_events=sum(1 for e in risk if e.symbol == sym),
                                       open_orders_at_end=sum(1 for o in open_orders if o.symbol == sym)))
    changes = [c for c in config_changes(store.config_versions()) if _iso_in(c["at"], start, end)]
    audit = [a for a in store.audit(since_ns=start) if a.at_ns < end]
    return DayFigures(day, start, end, until, tuple(out), tuple(risk), tuple(runs), crashed, tuple(open_orders),
                      tuple(changes), tuple(audit), funding_recorded=bool(funded))


def _iso_in(at: str, start: int, end: int) -> bool:
    lo, hi = iso_ns(start), iso_ns(end)  # ISO text in one format sorts as time does
    return lo <= at < hi


def _money(sym: str, asset: str, fills: Sequence[Any], funding: Sequence[Any], *, funded_ever: bool, start: int,
           until: int) -> SymbolDay:
    realized = fees = base = volume = maker_volume = Decimal(0)
    maker = 0
    other: dict[str, Decimal] = defaultdict(Decimal)
    steps: list[tuple[int, Decimal]] = []
    for r in fills:
        qty, notional = Decimal(r["qty"]), Decimal(r["price"]) * Decimal(r["qty"])
        pnl, fee = Decimal(r["realized_pnl"]), Decimal(r["commission"])
        base += qty
        volume += notional
        if r["is_maker"]:
            maker += 1
            maker_volume += notional
        realized += pnl
        if r["commission_asset"] == asset:
            fees += fee
        else:
            other[r["commission_asset"]] += fee
            fee = Decimal(0)
        steps.append((r["trade_ms"] * 1_000_000, pnl - fee))
    paid = Decimal(0)
    for r in funding:
        paid += Decimal(r["amount"])
        steps.append((r["at_ms"] * 1_000_000, Decimal(r["amount"])))
    return SymbolDay(sym, asset, fills=len(fills), maker_fills=maker, base_volume=base, volume=volume,
                     maker_volume=maker_volume, realized_pnl=realized, fees=fees,
                     other_fees=tuple(sorted(other.items())), funding=paid if funded_ever else None,
                     equity=_cumulative(steps, start, until))


def _cumulative(steps: list[tuple[int, Decimal]], start: int, until: int) -> Series:
    points, total = [(start, Decimal(0))], Decimal(0)
    for at, delta in sorted(steps, key=lambda s: s[0]):
        total += delta
        points.append((at, total))
    points.append((max(until, points[-1][0]), total))
    return tuple(points)


def _with_inventory(store: Store, fig: SymbolDay, fills: Sequence[Any], start: int, end: int,
                    until: int) -> SymbolDay:
    """Position over the day from the engine's inventory records, else summed from fills."""
    sym = fig.symbol
    before = store.query("SELECT position FROM inventory WHERE symbol = ? AND at_ns < ? "
                         "ORDER BY at_ns DESC, id DESC LIMIT 1", (sym, start))
    rows = store.query("SELECT at_ns, position, worst_long, worst_short FROM inventory WHERE symbol = ? AND "
                       "at_ns >= ? AND at_ns < ? ORDER BY at_ns, id", (sym, start, end))
    points: list[tuple[int, Decimal]] = []
    if before or rows:
        source = "inventory"
        if before:
            points.append((start, Decimal(before[0]["position"])))
        points.extend((r["at_ns"], Decimal(r["position"])) for r in rows)
        worst_long = max((Decimal(r["worst_long"]) for r in rows), default=None)
        worst_short = min((Decimal(r["worst_short"]) for r in rows), default=None)
    else:
        source, worst_long, worst_short = "fills", None, None
        prior = store.query("SELECT dsum(CASE side WHEN 'BUY' THEN qty ELSE '-' || qty END) AS q FROM fills "
                            "WHERE symbol = ? AND trade_ms < ?", (sym, start // 1_000_000))
        pos = _d(prior[0]["q"]) if prior else Decimal(0)
        if (prior and prior[0]["q"] is not None) or fills:
            points.append((start, pos))
        for r in fills:
            pos += Decimal(r["qty"]) if r["side"] == "BUY" else -Decimal(r["qty"])
            points.append((r["trade_ms"] * 1_000_000, pos))
    if not points:
        return fig
    points.append((max(until, points[-1][0]), points[-1][1]))
    at_start = points[0][1] if points[0][0] == start else None  # None: no record from before the day
    return dataclasses.replace(fig, position_source=source, position_start=at_start, position_end=points[-1][1],
                               max_abs_position=max(abs(v) for _, v in points), max_worst_long=worst_long,
                               min_worst_short=worst_short, inventory=tuple(points))


def _with_mtm(store: Store, fig: SymbolDay, snaps: Sequence[Any], start: int) -> SymbolDay:
    """Add the change in unrealized PnL since the day began (the last snapshot before it, else zero)."""
    if not snaps:
        return fig
    before = store.query("SELECT unrealized_pnl FROM pnl_snapshots WHERE symbol = ? AND at_ns < ? "
                         "ORDER BY at_ns DESC, id DESC LIMIT 1", (fig.symbol, start))
    base = Decimal(before[0]["unrealized_pnl"]) if before else Decimal(0)
    times = [t for t, _ in fig.equity]
    points = [(start, Decimal(0))] if before else []
    for r in snaps:
        i = bisect.bisect_right(times, r["at_ns"]) - 1
        points.append((r["at_ns"], fig.equity[max(i, 0)][1] + Decimal(r["unrealized_pnl"]) - base))
    return dataclasses.replace(fig, unrealized_change=Decimal(snaps[-1]["unrealized_pnl"]) - base,
                               equity_mtm=tuple(points))


def _open_at(store: Store, end: int) -> list[OpenOrderAtEnd]:
    """Orders open at ``end`` as the engine knew them then: the last applied event recorded before it decides."""
    rows = store.query(
        "SELECT o.symbol, o.client_order_id, o.side, o.price, o.qty, o.created_at, o.origin, "
        "(SELECT e.status FROM order_events e WHERE e.client_order_id = o.client_order_id AND e.applied = 1 "
        " AND e.recorded_ns < ?1 ORDER BY e.seq DESC LIMIT 1) AS status_then, "
        "(SELECT e.executed_qty FROM order_events e WHERE e.client_order_id = o.client_order_id "
        " AND e.applied = 1 AND e.recorded_ns < ?1 AND e.executed_qty IS NOT NULL ORDER BY e.seq DESC LIMIT 1) "
        "AS executed_then "
        f"FROM orders o WHERE o.created_ns < ?1 AND ({schema.OPEN_STATUS_SQL} OR o.updated_ns >= ?1) "
        "ORDER BY o.symbol, o.created_ns, o.client_order_id", (end,))
    out = []
    for r in rows:
        status = r["status_then"] or "INTENT"
        if status in OPEN_STATUSES:
            out.append(OpenOrderAtEnd(r["symbol"], r["client_order_id"], r["side"],
                                      None if r["price"] is None else Decimal(r["price"]), Decimal(r["qty"]),
                                      _d(r["executed_then"]), status, r["created_at"]))
    return out
