"""``GET /fapi/v1/exchangeInfo`` → instruments (tick, step, min notional) and the rate limits to enforce.

One odd symbol (a delisting, a new filter shape) must not stop the engine from trading the others, so a
symbol that cannot be read is listed in ``skipped`` with the reason instead of failing the whole reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from actors.gateway.binance.ratelimit import RateLimit, parse_rate_limits
from actors.instrument import Instrument, InstrumentError, to_decimal


class ExchangeInfoError(ValueError):
    """The reply as a whole is not an exchangeInfo."""


@dataclass(frozen=True, slots=True)
class SymbolMeta:
    status: str  # TRADING, SETTLING, PENDING_TRADING, ...
    contract_type: str  # PERPETUAL, CURRENT_QUARTER, ...
    margin_asset: str
    order_types: tuple[str, ...]
    time_in_force: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExchangeInfo:
    server_time_ms: int
    rate_limits: tuple[RateLimit, ...]
    instruments: Mapping[str, Instrument]
    meta: Mapping[str, SymbolMeta]
    skipped: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def instrument(self, symbol: str) -> Instrument:
        try:
            return self.instruments[symbol]
        except KeyError:
            why = self.skipped.get(symbol, "not listed")
            raise ExchangeInfoError(f"{symbol}: no usable instrument ({why})") from None

    def is_trading(self, symbol: str) -> bool:
        m = self.meta.get(symbol)
        return m is not None and m.status == "TRADING"


def _dec(f: Mapping[str, Any], key: str) -> Decimal:
    v = f.get(key)
    if not isinstance(v, str | int) or isinstance(v, bool):
        raise InstrumentError(f"filter field {key!r} missing or not a string: {v!r}")
    d = to_decimal(v)
    if d < 0:
        raise InstrumentError(f"filter field {key!r} is negative: {v!r}")
    return d


def parse_instrument(sym: Mapping[str, Any]) -> Instrument:
    """One ``symbols[]`` entry → Instrument. Raises InstrumentError when a needed filter is missing."""
    filters = {f.get("filterType"): f for f in sym.get("filters", ()) if isinstance(f, Mapping)}
    price_f, lot_f = filters.get("PRICE_FILTER"), filters.get("LOT_SIZE")
    if price_f is None or lot_f is None:
        raise InstrumentError("PRICE_FILTER or LOT_SIZE missing")
    notional_f = filters.get("MIN_NOTIONAL") or filters.get("NOTIONAL") or {}
    # USDⓈ-M writes "notional", spot "minNotional"
    raw_notional = notional_f.get("notional", notional_f.get("minNotional", "0"))
    market_f = filters.get("MARKET_LOT_SIZE")
    return Instrument(
        symbol=str(sym["symbol"]),
        base_asset=str(sym.get("baseAsset", "")),
        quote_asset=str(sym.get("quoteAsset", "")),
        tick_size=_dec(price_f, "tickSize"),
        step_size=_dec(lot_f, "stepSize"),
        min_qty=_dec(lot_f, "minQty"),
        max_qty=_dec(lot_f, "maxQty"),
        min_notional=_dec({"n": raw_notional}, "n"),
        min_price=_dec(price_f, "minPrice"),
        max_price=_dec(price_f, "maxPrice"),
        market_step_size=_dec(market_f, "stepSize") if market_f else None,
        market_max_qty=_dec(market_f, "maxQty") if market_f else None,
    )


def parse_exchange_info(raw: Mapping[str, Any]) -> ExchangeInfo:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("symbols"), list):
        raise ExchangeInfoError("exchangeInfo without a symbols list")
    try:
        limits = parse_rate_limits(raw.get("rateLimits") or ())
    except (ValueError, AttributeError) as exc:
        raise ExchangeInfoError(f"bad rateLimits: {exc}") from exc
    instruments: dict[str, Instrument] = {}
    meta: dict[str, SymbolMeta] = {}
    skipped: dict[str, str] = {}
    for sym in raw["symbols"]:
        if not isinstance(sym, Mapping) or not isinstance(sym.get("symbol"), str):
            continue
        name = sym["symbol"]
        try:
            instruments[name] = parse_instrument(sym)
        except (InstrumentError, KeyError, TypeError, AttributeError) as exc:
            skipped[name] = str(exc)[:120]
            continue
        meta[name] = SymbolMeta(
            status=str(sym.get("status", "")),
            contract_type=str(sym.get("contractType", "")),
            margin_asset=str(sym.get("marginAsset", "")),
            order_types=tuple(sym.get("orderTypes") or ()),
            time_in_force=tuple(sym.get("timeInForce") or ()),
        )
    server_time = raw.get("serverTime", 0)
    return ExchangeInfo(
        server_time_ms=server_time if type(server_time) is int else 0,
        rate_limits=limits,
        instruments=MappingProxyType(instruments),
        meta=MappingProxyType(meta),
        skipped=MappingProxyType(skipped),
    )
