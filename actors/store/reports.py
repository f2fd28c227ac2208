"""Aggregates over the store for people: the summary and PnL per day or hour, net of fees and funding.

Money is summed exactly (``dsum`` over the TEXT columns), never through SQLite's REAL ``SUM``. Binance
USDⓈ-M reports realized PnL per fill in the margin asset, which is the symbol's quote asset; fees paid in
that asset are netted, fees paid in another asset (BNB) are listed per asset and not converted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from actors.store import schema
from actors.store.codec import dec
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
            "net_pnl": dec(m.realized - fees + funding), "fees_by_asset": _by_asset(m.fees_by_asset),
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

    out_rows = []
    for (bucket, sym) in sorted(rows):
        r, m, asset = rows[(bucket, sym)], money[(bucket, sym)], pnl_asset(sym)
        fees, funding = m.fees_in(asset), m.funding_in(asset)
        other = {a: v for a, v in m.fees_by_asset.items() if a != asset}
        out_rows.append({
            period: bucket, "symbol": sym, "fills": r["fills"], "maker_fills": r["maker_fills"],
            "volume": dec(r["volume"]), "realized_pnl": dec(m.realized), "fees": dec(fees), "funding": dec(funding),
            "net_pnl": dec(m.realized - fees + funding), "pnl_asset": asset,
            "other_fees": " ".join(f"{a}:{dec(v)}" for a, v in sorted(other.items())),
        })
    return out_rows[-limit:] if limit else out_rows
