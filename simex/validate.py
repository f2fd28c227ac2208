"""Parameter checks for order requests, in the order Binance applies them, giving its error codes."""

from __future__ import annotations

import re
from collections.abc import Mapping

from simex import errors
from simex.orders import SIDE_OF, STP_MODES, OrderRequest
from simex.symbols import SymbolSpec

CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
ALGO_TYPES = {"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"}
TIFS = {"GTC", "IOC", "FOK", "GTX"}
DEFAULT_STP = "EXPIRE_MAKER"


def spec_for(params: Mapping[str, str], specs: Mapping[str, SymbolSpec]) -> SymbolSpec:
    symbol = params.get("symbol", "")
    if not symbol:
        raise errors.mandatory("symbol")
    spec = specs.get(symbol)
    if spec is None:
        raise errors.bad_symbol()
    return spec


def parse_bool(params: Mapping[str, str], name: str) -> bool:
    raw = params.get(name)
    if raw is None or raw == "":
        return False
    low = str(raw).lower()
    if low not in ("true", "false"):
        raise errors.invalid_param(name)
    return low == "true"


def parse_order(params: Mapping[str, str], specs: Mapping[str, SymbolSpec], new_client_id: str) -> OrderRequest:
    """Validate one order's parameters (single order or one item of batchOrders)."""
    spec = spec_for(params, specs)
    side_raw = params.get("side")
    if not side_raw:
        raise errors.mandatory("side")
    if side_raw not in SIDE_OF:
        raise errors.bad_side()
    otype = params.get("type")
    if not otype:
        raise errors.mandatory("type")
    if otype in ALGO_TYPES:
        raise errors.ApiError(
            -4120,
            "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
        )
    if otype not in ("LIMIT", "MARKET"):
        raise errors.bad_type()
    pos_side = params.get("positionSide")
    if pos_side not in (None, "", "BOTH"):
        if pos_side in ("LONG", "SHORT"):
            raise errors.bad_position_side()
        raise errors.ApiError(-4060, "Invalid position side.")
    tif = params.get("timeInForce")
    if otype == "LIMIT":
        if not tif:
            raise errors.mandatory("timeInForce")
        if tif not in TIFS:
            raise errors.bad_tif()
    else:
        tif = "GTC"
    qty_raw = params.get("quantity")
    if qty_raw is None or qty_raw == "":
        raise errors.mandatory("quantity")
    lots = spec.parse_qty(str(qty_raw), market=otype == "MARKET")
    price_raw = params.get("price")
    if otype == "LIMIT":
        if price_raw is None or price_raw == "":
            raise errors.mandatory("price")
        price = spec.parse_price(str(price_raw))
    else:
        if price_raw not in (None, "") and str(price_raw) not in ("0", "0.0"):
            raise errors.not_required("price")
        price = 0
    reduce_only = parse_bool(params, "reduceOnly")
    cid = params.get("newClientOrderId")
    if cid is None or cid == "":
        cid = new_client_id
    elif not CLIENT_ID.match(str(cid)):
        raise errors.bad_client_id()
    stp = params.get("selfTradePreventionMode") or DEFAULT_STP
    if stp not in STP_MODES:
        raise errors.invalid_param("selfTradePreventionMode")
    resp = params.get("newOrderRespType") or "ACK"
    if resp not in ("ACK", "RESULT"):
        raise errors.bad_resp_type()
    if params.get("priceMatch") not in (None, "", "NONE"):
        raise errors.ApiError(-1128, "Combination of optional parameters invalid.")
    return OrderRequest(
        symbol=spec.symbol,
        side=SIDE_OF[side_raw],
        type=otype,
        tif=tif,
        lots=lots,
        price=price,
        reduce_only=reduce_only,
        client_id=str(cid),
        stp=stp,
        resp_type=resp,
    )


def parse_int(params: Mapping[str, str], name: str, required: bool = False) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise errors.mandatory(name)
        return None
    text = str(raw)
    if not text.lstrip("-").isdigit() or len(text) > 20:
        raise errors.illegal_chars(name)
    return int(text)
