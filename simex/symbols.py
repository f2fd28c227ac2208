"""The listed contracts: their grids, filters, and exact string <-> integer conversions.

Prices are integer ticks and sizes integer lots inside the exchange; money (balances, fees, PnL) is integer
units of 1e-8 of the quote asset ("e8"). Client strings are parsed with Decimal and checked the way Binance
checks them: too many decimals is -1111, off-grid is -4014/-4023.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from simex import errors

E8 = 100_000_000
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    symbol: str
    base: str
    quote: str
    tick: Decimal
    step: Decimal
    min_price: Decimal
    max_price: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_max_qty: Decimal
    min_notional: Decimal
    price_precision: int
    qty_precision: int
    percent_up: Decimal = Decimal("1.0500")
    percent_down: Decimal = Decimal("0.9500")
    max_num_orders: int = 200

    @property
    def unit_e8(self) -> int:
        """Quote e8 units in one tick x one lot: the notional of price_ticks * lots."""
        return int(self.tick * self.step * E8)

    @property
    def min_qty_lots(self) -> int:
        return int(self.min_qty / self.step)

    @property
    def max_qty_lots(self) -> int:
        return int(self.max_qty / self.step)

    @property
    def market_max_qty_lots(self) -> int:
        return int(self.market_max_qty / self.step)

    @property
    def min_price_ticks(self) -> int:
        return int(self.min_price / self.tick)

    @property
    def max_price_ticks(self) -> int:
        return int(self.max_price / self.tick)

    @property
    def min_notional_e8(self) -> int:
        return int(self.min_notional * E8)

    # ---- formatting (edges only) ----
    def price_str(self, ticks: int) -> str:
        return format((self.tick * ticks).quantize(Decimal(1).scaleb(-self.price_precision)), "f")

    def qty_str(self, lots: int) -> str:
        return format((self.step * lots).quantize(Decimal(1).scaleb(-self.qty_precision)), "f")

    def ratio_price_str(self, ticks: Fraction) -> str:
        """An average or entry price (a ratio of ticks) to at most 8 decimals, never fewer than the grid's."""
        return fraction_str(ticks * Fraction(self.tick), 8, self.price_precision)

    def notional_str(self, tick_lots: int) -> str:
        return format(Decimal(tick_lots) * self.tick * self.step, "f")

    # ---- parsing ----
    def parse_price(self, raw: str, name: str = "price") -> int:
        d = _parse_decimal(raw, name)
        if d <= 0:
            raise errors.price_le_zero()
        if _decimals(d) > self.price_precision:
            raise errors.bad_precision()
        n = d / self.tick
        if n != n.to_integral_value():
            raise errors.price_not_tick()
        ticks = int(n)
        if ticks < self.min_price_ticks:
            raise errors.price_below_min()
        if ticks > self.max_price_ticks:
            raise errors.price_above_max()
        return ticks

    def parse_qty(self, raw: str, market: bool = False) -> int:
        d = _parse_decimal(raw, "quantity")
        if d <= 0:
            raise errors.qty_le_zero()
        if _decimals(d) > self.qty_precision:
            raise errors.bad_precision()
        n = d / self.step
        if n != n.to_integral_value():
            raise errors.qty_not_step()
        lots = int(n)
        if lots < self.min_qty_lots:
            raise errors.qty_below_min()
        if lots > (self.market_max_qty_lots if market else self.max_qty_lots):
            raise errors.qty_above_max()
        return lots


class Grid:
    """Fast integer formatting of ticks and lots for the hot publishing path."""

    __slots__ = ("_p_cache", "_p_div", "_p_dp", "_p_mul", "_q_cache", "_q_div", "_q_dp", "_q_mul")

    def __init__(self, spec: SymbolSpec) -> None:
        self._p_dp, self._q_dp = spec.price_precision, spec.qty_precision
        self._p_mul = int(spec.tick * 10**spec.price_precision)
        self._q_mul = int(spec.step * 10**spec.qty_precision)
        self._p_div, self._q_div = 10**spec.price_precision, 10**spec.qty_precision
        self._p_cache: dict[int, str] = {}
        self._q_cache: dict[int, str] = {}

    def px(self, ticks: int) -> str:
        text = self._p_cache.get(ticks)
        if text is None:
            v = ticks * self._p_mul
            text = f"{v // self._p_div}.{v % self._p_div:0{self._p_dp}d}" if self._p_dp else str(v)
            if len(self._p_cache) > 200_000:
                self._p_cache.clear()
            self._p_cache[ticks] = text
        return text

    def qty(self, lots: int) -> str:
        text = self._q_cache.get(lots)
        if text is None:
            v = lots * self._q_mul
            text = f"{v // self._q_div}.{v % self._q_div:0{self._q_dp}d}" if self._q_dp else str(v)
            if len(self._q_cache) > 200_000:
                self._q_cache.clear()
            self._q_cache[lots] = text
        return text


def _parse_decimal(raw: str, name: str) -> Decimal:
    if not isinstance(raw, str) or not _NUMBER.match(raw.strip()):
        raise errors.mandatory(name)
    return Decimal(raw.strip())


def _decimals(d: Decimal) -> int:
    exp = d.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def fraction_str(value: Fraction, max_dp: int, min_dp: int = 0) -> str:
    """Exact-to-``max_dp`` decimal string (half-even) keeping at least ``min_dp`` decimals."""
    scaled = round(value * 10**max_dp)
    d = Decimal(scaled).scaleb(-max_dp)
    text = format(d.normalize(), "f") if scaled else "0"
    whole, _, frac = text.partition(".")
    frac = frac.ljust(min_dp, "0")
    return f"{whole}.{frac}" if frac else whole


def e8_str(units: int, dp: int = 8) -> str:
    """Money in 1e-8 units as Binance prints balances: fixed ``dp`` decimals."""
    sign = "-" if units < 0 else ""
    units = abs(units)
    whole, frac = divmod(units, E8)
    text = f"{frac:08d}"[:dp]
    return f"{sign}{whole}.{text}" if dp else f"{sign}{whole}"


def _eth(symbol: str, quote: str) -> SymbolSpec:
    return SymbolSpec(
        symbol=symbol,
        base="ETH",
        quote=quote,
        tick=Decimal("0.01"),
        step=Decimal("0.001"),
        min_price=Decimal("39.86"),
        max_price=Decimal("306177"),
        min_qty=Decimal("0.001"),
        max_qty=Decimal("10000"),
        market_max_qty=Decimal("2000"),
        min_notional=Decimal("20"),
        price_precision=2,
        qty_precision=3,
    )


def _btc(symbol: str, quote: str) -> SymbolSpec:
    return SymbolSpec(
        symbol=symbol,
        base="BTC",
        quote=quote,
        tick=Decimal("0.10"),
        step=Decimal("0.001"),
        min_price=Decimal("556.80"),
        max_price=Decimal("4529764"),
        min_qty=Decimal("0.001"),
        max_qty=Decimal("1000"),
        market_max_qty=Decimal("120"),
        min_notional=Decimal("100"),
        price_precision=2,
        qty_precision=3,
    )


DEFAULT_SPECS: dict[str, SymbolSpec] = {
    "ETHUSDC": _eth("ETHUSDC", "USDC"),
    "BTCUSDC": _btc("BTCUSDC", "USDC"),
    "ETHUSDT": _eth("ETHUSDT", "USDT"),
    "BTCUSDT": _btc("BTCUSDT", "USDT"),
}

ORDER_TYPES = [
    "LIMIT",
    "MARKET",
    "STOP",
    "STOP_MARKET",
    "TAKE_PROFIT",
    "TAKE_PROFIT_MARKET",
    "TRAILING_STOP_MARKET",
]
TIME_IN_FORCE = ["GTC", "IOC", "FOK", "GTX", "GTD"]


def symbol_info(spec: SymbolSpec) -> dict[str, object]:
    """One ``symbols[]`` entry of /fapi/v1/exchangeInfo, shaped like Binance's."""
    return {
        "symbol": spec.symbol,
        "pair": spec.symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": spec.base,
        "quoteAsset": spec.quote,
        "marginAsset": spec.quote,
        "pricePrecision": spec.price_precision,
        "quantityPrecision": spec.qty_precision,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": ["Layer-1"],
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": format(spec.min_price, "f"),
                "maxPrice": format(spec.max_price, "f"),
                "tickSize": format(spec.tick, "f"),
            },
            {
                "filterType": "LOT_SIZE",
                "stepSize": format(spec.step, "f"),
                "minQty": format(spec.min_qty, "f"),
                "maxQty": format(spec.max_qty, "f"),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "stepSize": format(spec.step, "f"),
                "minQty": format(spec.min_qty, "f"),
                "maxQty": format(spec.market_max_qty, "f"),
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": spec.max_num_orders},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": format(spec.min_notional, "f")},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": format(spec.percent_up, "f"),
                "multiplierDown": format(spec.percent_down, "f"),
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": ORDER_TYPES,
        "timeInForce": TIME_IN_FORCE,
    }


def exchange_info(
    specs: dict[str, SymbolSpec], server_ms: int, weight_1m: int, orders_1m: int, orders_10s: int
) -> dict[str, object]:
    quotes = sorted({s.quote for s in specs.values()})
    return {
        "timezone": "UTC",
        "serverTime": server_ms,
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": weight_1m},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": orders_1m},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": orders_10s},
        ],
        "exchangeFilters": [],
        "assets": [{"asset": q, "marginAvailable": True, "autoAssetExchange": "-10000"} for q in quotes],
        "symbols": [symbol_info(s) for s in specs.values()],
    }
