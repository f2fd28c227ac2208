"""Binance JSON shapes for orders, fills and account events: strings for every number, as the venue sends.

Pure functions of the exchange's integer state; kept apart from the matching logic so the field lists can
be checked against Binance's documentation in one place.
"""

from __future__ import annotations

from fractions import Fraction

from simex.orders import SIDE_NAME, Order
from simex.symbols import SymbolSpec, e8_str


def order_json(o: Order, spec: SymbolSpec, with_time: bool = True) -> dict[str, object]:
    d: dict[str, object] = {
        "orderId": o.order_id,
        "symbol": o.symbol,
        "status": o.status,
        "clientOrderId": o.client_id,
        "price": spec.price_str(o.price) if o.price else "0",
        "avgPrice": spec.ratio_price_str(o.avg_ticks),
        "origQty": spec.qty_str(o.lots),
        "executedQty": spec.qty_str(o.filled),
        "cumQty": spec.qty_str(o.filled),
        "cumQuote": spec.notional_str(o.notional),
        "timeInForce": o.tif,
        "type": o.type,
        "reduceOnly": o.reduce_only,
        "closePosition": False,
        "side": SIDE_NAME[o.side],
        "positionSide": "BOTH",
        "stopPrice": "0",
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "origType": o.type,
        "priceMatch": "NONE",
        "selfTradePreventionMode": o.stp,
        "goodTillDate": 0,
    }
    if with_time:
        d["time"] = o.time
    d["updateTime"] = o.update_time
    return d


def order_update(
    o: Order,
    spec: SymbolSpec,
    exec_type: str,
    now: int,
    *,
    last_lots: int = 0,
    last_ticks: int = 0,
    fee_e8: int = 0,
    trade_id: int = 0,
    maker: bool = False,
    realized_e8: int = 0,
    bid_notional: int = 0,
    ask_notional: int = 0,
) -> dict[str, object]:
    """An ORDER_TRADE_UPDATE event (USDⓈ-M user data stream)."""
    body: dict[str, object] = {
        "s": o.symbol,
        "c": o.client_id,
        "S": SIDE_NAME[o.side],
        "o": o.type,
        "f": o.tif,
        "q": spec.qty_str(o.lots),
        "p": spec.price_str(o.price) if o.price else "0",
        "ap": spec.ratio_price_str(o.avg_ticks),
        "sp": "0",
        "x": exec_type,
        "X": o.status,
        "i": o.order_id,
        "l": spec.qty_str(last_lots),
        "z": spec.qty_str(o.filled),
        "L": spec.price_str(last_ticks) if last_ticks else "0",
    }
    if exec_type == "TRADE":
        body["N"] = spec.quote
        body["n"] = e8_str(fee_e8)
    body.update(
        {
            "T": now,
            "t": trade_id,
            "b": spec.notional_str(bid_notional),
            "a": spec.notional_str(ask_notional),
            "m": maker,
            "R": o.reduce_only,
            "wt": "CONTRACT_PRICE",
            "ot": o.type,
            "ps": "BOTH",
            "cp": False,
            "rp": e8_str(realized_e8),
            "pP": False,
            "si": 0,
            "ss": 0,
            "V": o.stp,
            "pm": "NONE",
            "gtd": 0,
        }
    )
    return {"e": "ORDER_TRADE_UPDATE", "E": now, "T": now, "o": body}


def position_entry(
    spec: SymbolSpec,
    symbol: str,
    lots: int,
    entry: Fraction,
    cum_realized_e8: int,
    upnl_e8: int,
    bep: Fraction,
) -> dict[str, object]:
    return {
        "s": symbol,
        "pa": signed_qty(spec, lots),
        "ep": spec.ratio_price_str(entry),
        "bep": spec.ratio_price_str(bep),
        "cr": e8_str(cum_realized_e8),
        "up": e8_str(upnl_e8),
        "mt": "cross",
        "iw": "0",
        "ps": "BOTH",
    }


def account_update(
    reason: str, now: int, balances: list[dict[str, object]], positions: list[dict[str, object]]
) -> dict[str, object]:
    a: dict[str, object] = {"m": reason, "B": balances}
    if positions or reason != "FUNDING_FEE":
        a["P"] = positions
    return {"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": a}


def signed_qty(spec: SymbolSpec, lots: int) -> str:
    return spec.qty_str(lots) if lots >= 0 else "-" + spec.qty_str(-lots)
