"""Binance USDⓈ-M account data (user stream and REST replies) → the venue-neutral events of ``events.py``.

Account data is rare and it is money, so it is checked hard: every number becomes an exact Decimal (a JSON
float, "NaN", "Infinity" or a negative price/quantity is refused), and anything malformed raises
``ParseError`` with a short reason. Nothing deeper ever sees a half-parsed order.

Liquidation, ADL and settlement executions arrive as ``x=CALCULATED`` (not TRADE); they change the position
as much as any trade, so they carry a ``Fill`` too whenever a quantity was executed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from actors.gateway.binance.market_parse import VENUE
from actors.gateway.binance.market_parse import ParseError as _MarketParseError
from actors.gateway.events import (
    AccountUpdate,
    BalanceReport,
    Fill,
    ListenKeyExpired,
    OrderReport,
    OrderStatus,
    OrderUpdate,
    PositionReport,
    Side,
    UserEvent,
)

__all__ = [
    "IGNORED_USER_EVENTS",
    "USER_EVENTS",
    "VENUE",
    "AccountSnapshot",
    "ParseError",
    "parse_account",
    "parse_balances",
    "parse_order",
    "parse_orders",
    "parse_position_risk",
    "parse_user_event",
    "parse_user_trades",
]


class ParseError(_MarketParseError):
    """Account data that does not have the shape or the values its type promises."""


ZERO = Decimal(0)

# User-stream events we recognise but do not turn into events (TRADE_LITE duplicates ORDER_TRADE_UPDATE
# without the commission; the rest are about features we do not use).
IGNORED_USER_EVENTS = frozenset({
    "TRADE_LITE", "ALGO_UPDATE", "MARGIN_CALL", "ACCOUNT_CONFIG_UPDATE", "STRATEGY_UPDATE", "GRID_UPDATE",
    "CONDITIONAL_ORDER_TRIGGER_REJECT",
})

_FILL_EXEC_TYPES = frozenset({"TRADE", "CALCULATED"})
_STATUSES = {s.value: s for s in OrderStatus}
# Exchange-generated liquidation orders report these; they are filled to the extent of ``z``.
_LIQUIDATION_STATUSES = frozenset({"NEW_INSURANCE", "NEW_ADL"})


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """``GET /fapi/v2/account`` (or v3): the balances and positions in one consistent reply."""

    balances: tuple[BalanceReport, ...]
    positions: tuple[PositionReport, ...]


# ---------------------------------------------------------------- field readers


def _get(d: Mapping[str, Any], key: str) -> Any:
    try:
        return d[key]
    except KeyError:
        raise ParseError(f"missing field {key!r}") from None
    except TypeError:
        raise ParseError(f"expected an object, got {type(d).__name__}") from None


def _obj(v: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise ParseError(f"{what} must be an object, got {type(v).__name__}")
    return v


def _dec(d: Mapping[str, Any], key: str, *, signed: bool = False, default: Decimal | None = None) -> Decimal:
    """Exact Decimal from a string (or int). ``default`` is used when the field is absent or null."""
    v = d.get(key) if isinstance(d, Mapping) else _get(d, key)
    if v is None:
        if default is not None:
            return default
        raise ParseError(f"missing number {key!r}")
    if isinstance(v, bool) or not isinstance(v, str | int):
        raise ParseError(f"field {key!r} must be a decimal string, got {type(v).__name__} {v!r}")
    try:
        out = Decimal(v)
    except (InvalidOperation, ValueError):
        raise ParseError(f"field {key!r} is not a number: {str(v)[:30]!r}") from None
    if not out.is_finite():
        raise ParseError(f"field {key!r} is not finite: {v!r}")
    if not signed and out < 0:
        raise ParseError(f"field {key!r} is negative: {v!r}")
    return out


def _int(d: Mapping[str, Any], key: str, *, default: int | None = None) -> int:
    v = d.get(key) if isinstance(d, Mapping) else _get(d, key)
    if v is None:
        if default is not None:
            return default
        raise ParseError(f"missing integer {key!r}")
    if type(v) is int:
        return v
    if type(v) is str and v.isdigit():  # listenKeyExpired writes "E" as a string
        return int(v)
    raise ParseError(f"field {key!r} must be an integer, got {type(v).__name__} {v!r}")


def _str(d: Mapping[str, Any], key: str, *, default: str | None = None) -> str:
    v = d.get(key) if isinstance(d, Mapping) else _get(d, key)
    if v is None:
        if default is not None:
            return default
        raise ParseError(f"missing string {key!r}")
    if type(v) is not str:
        raise ParseError(f"field {key!r} must be a string, got {type(v).__name__} {v!r}")
    return v


def _bool(d: Mapping[str, Any], key: str, *, default: bool | None = None) -> bool:
    v = d.get(key) if isinstance(d, Mapping) else _get(d, key)
    if v is None:
        if default is not None:
            return default
        raise ParseError(f"missing boolean {key!r}")
    if type(v) is not bool:
        raise ParseError(f"field {key!r} must be a boolean, got {type(v).__name__} {v!r}")
    return v


def _side(d: Mapping[str, Any], key: str) -> Side:
    v = _str(d, key)
    if v == "BUY":
        return Side.BUY
    if v == "SELL":
        return Side.SELL
    raise ParseError(f"field {key!r} is not a side: {v!r}")


def _status(raw: str, executed: Decimal, orig: Decimal) -> OrderStatus:
    s = _STATUSES.get(raw)
    if s is not None:
        return s
    if raw in _LIQUIDATION_STATUSES:
        if executed > 0 and executed >= orig:
            return OrderStatus.FILLED
        return OrderStatus.PARTIALLY_FILLED if executed > 0 else OrderStatus.NEW
    raise ParseError(f"unknown order status {raw!r}")


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Any structural surprise inside a parser becomes a ParseError (never a KeyError/TypeError deeper in)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ParseError:
            raise
        except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
            raise ParseError(f"{fn.__name__}: {type(exc).__name__}: {str(exc)[:80]}") from exc

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


# ---------------------------------------------------------------- user stream


@_guard
def order_trade_update(d: Mapping[str, Any], recv_ns: int) -> OrderUpdate:
    """``ORDER_TRADE_UPDATE`` → OrderUpdate; a Fill whenever ``x`` is TRADE/CALCULATED and ``l`` > 0."""
    o = _obj(_get(d, "o"), "'o'")
    event_ms = _int(d, "E")
    trade_ms = _int(o, "T", default=_int(d, "T", default=event_ms))
    orig, executed = _dec(o, "q"), _dec(o, "z")
    symbol, cid, oid, side = _str(o, "s"), _str(o, "c"), _int(o, "i"), _side(o, "S")
    report = OrderReport(
        venue=VENUE,
        symbol=symbol,
        client_order_id=cid,
        order_id=oid,
        side=side,
        order_type=_str(o, "o"),
        time_in_force=_str(o, "f"),
        price=_dec(o, "p"),
        orig_qty=orig,
        executed_qty=executed,
        avg_price=_dec(o, "ap", default=ZERO),
        status=_status(_str(o, "X"), executed, orig),
        reduce_only=_bool(o, "R", default=False),
        update_ms=trade_ms,
    )
    exec_type = _str(o, "x")
    fill = None
    last_qty = _dec(o, "l", default=ZERO)
    if exec_type in _FILL_EXEC_TYPES and last_qty > 0:
        trade_id = _int(o, "t")
        price = _dec(o, "L")
        if trade_id <= 0 or price <= 0:
            raise ParseError(f"execution of {last_qty} without a trade id or price (t={trade_id}, L={price})")
        fill = Fill(
            venue=VENUE,
            symbol=symbol,
            trade_id=trade_id,
            order_id=oid,
            client_order_id=cid,
            side=side,
            price=price,
            qty=last_qty,
            commission=_dec(o, "n", signed=True, default=ZERO),  # a maker rebate is negative
            commission_asset=_str(o, "N", default=""),
            is_maker=_bool(o, "m", default=False),
            realized_pnl=_dec(o, "rp", signed=True, default=ZERO),
            trade_ms=trade_ms,
        )
    return OrderUpdate(report=report, exec_type=exec_type, fill=fill, event_ms=event_ms, recv_ns=recv_ns)


@_guard
def account_update(d: Mapping[str, Any], recv_ns: int) -> AccountUpdate:
    """``ACCOUNT_UPDATE`` → AccountUpdate (balances carry no available balance on the stream)."""
    a = _obj(_get(d, "a"), "'a'")
    event_ms = _int(d, "E")
    tx_ms = _int(d, "T", default=event_ms)
    raw_b = a.get("B") if a.get("B") is not None else []
    raw_p = a.get("P") if a.get("P") is not None else []
    if not isinstance(raw_b, list) or not isinstance(raw_p, list):
        raise ParseError("ACCOUNT_UPDATE 'B'/'P' must be lists")
    balances = tuple(
        BalanceReport(VENUE, _str(b, "a"), _dec(b, "wb", signed=True), _dec(b, "cw", signed=True), None,
                      tx_ms)
        for b in (_obj(x, "balance") for x in raw_b)
    )
    positions = tuple(
        PositionReport(VENUE, _str(p, "s"), _dec(p, "pa", signed=True), _dec(p, "ep"),
                       _dec(p, "up", signed=True, default=ZERO), tx_ms)
        for p in (_obj(x, "position") for x in raw_p)
    )
    return AccountUpdate(VENUE, _str(a, "m"), balances, positions, event_ms, recv_ns)


@_guard
def listen_key_expired(d: Mapping[str, Any], recv_ns: int) -> ListenKeyExpired:
    return ListenKeyExpired(VENUE, _int(d, "E"), recv_ns)


_USER_PARSERS: dict[str, Callable[[Mapping[str, Any], int], UserEvent]] = {
    "ORDER_TRADE_UPDATE": order_trade_update,
    "ACCOUNT_UPDATE": account_update,
    "listenKeyExpired": listen_key_expired,
}
USER_EVENTS = frozenset(_USER_PARSERS)


def parse_user_event(data: Mapping[str, Any], recv_ns: int) -> UserEvent | None:
    """One decoded user-stream payload → event; None for recognised events we do not use.

    A combined-stream envelope (``{"stream", "data"}``) is unwrapped. An unknown ``e`` is a ParseError.
    """
    if not isinstance(data, Mapping):
        raise ParseError(f"user event must be an object, got {type(data).__name__}")
    if "e" not in data and isinstance(data.get("data"), Mapping):
        data = data["data"]
    e = data.get("e")
    parser = _USER_PARSERS.get(e) if isinstance(e, str) else None
    if parser is not None:
        return parser(data, recv_ns)
    if e in IGNORED_USER_EVENTS:
        return None
    raise ParseError(f"unknown user event {str(e)[:40]!r}")


# ---------------------------------------------------------------- REST replies


def _update_ms(d: Mapping[str, Any]) -> int:
    for key in ("updateTime", "time", "transactTime"):
        if d.get(key) is not None:
            return _int(d, key)
    return 0


@_guard
def parse_order(d: Mapping[str, Any]) -> OrderReport:
    """A REST order (place with RESULT, query, cancel, openOrders item) → OrderReport."""
    d = _obj(d, "order")
    orig, executed = _dec(d, "origQty"), _dec(d, "executedQty")
    return OrderReport(
        venue=VENUE,
        symbol=_str(d, "symbol"),
        client_order_id=_str(d, "clientOrderId"),
        order_id=_int(d, "orderId"),
        side=_side(d, "side"),
        order_type=_str(d, "type"),
        time_in_force=_str(d, "timeInForce", default=""),
        price=_dec(d, "price"),
        orig_qty=orig,
        executed_qty=executed,
        avg_price=_dec(d, "avgPrice", default=ZERO),  # the cancel reply has none
        status=_status(_str(d, "status"), executed, orig),
        reduce_only=_bool(d, "reduceOnly", default=False),
        update_ms=_update_ms(d),
    )


def _list(raw: Any, what: str) -> list:
    if not isinstance(raw, list):
        raise ParseError(f"{what} must be a list, got {type(raw).__name__}")
    return raw


def parse_orders(raw: Any) -> list[OrderReport]:
    return [parse_order(x) for x in _list(raw, "orders")]


@_guard
def parse_user_trade(d: Mapping[str, Any]) -> Fill:
    """One ``GET /fapi/v1/userTrades`` item → Fill (the reply carries no client order id)."""
    d = _obj(d, "trade")
    qty, price = _dec(d, "qty"), _dec(d, "price")
    if qty <= 0 or price <= 0:
        raise ParseError(f"trade with non-positive price/qty: {price} x {qty}")
    return Fill(
        venue=VENUE,
        symbol=_str(d, "symbol"),
        trade_id=_int(d, "id"),
        order_id=_int(d, "orderId"),
        client_order_id="",
        side=_side(d, "side"),
        price=price,
        qty=qty,
        commission=_dec(d, "commission", signed=True),
        commission_asset=_str(d, "commissionAsset"),
        is_maker=_bool(d, "maker"),
        realized_pnl=_dec(d, "realizedPnl", signed=True, default=ZERO),
        trade_ms=_int(d, "time"),
    )


def parse_user_trades(raw: Any) -> list[Fill]:
    return [parse_user_trade(x) for x in _list(raw, "userTrades")]


@_guard
def _position(d: Mapping[str, Any], *, entry_optional: bool = False) -> PositionReport:
    d = _obj(d, "position")
    upnl_key = "unRealizedProfit" if "unRealizedProfit" in d else "unrealizedProfit"
    return PositionReport(
        venue=VENUE,
        symbol=_str(d, "symbol"),
        qty=_dec(d, "positionAmt", signed=True),
        entry_price=_dec(d, "entryPrice", default=ZERO if entry_optional else None),
        unrealized_pnl=_dec(d, upnl_key, signed=True, default=ZERO),
        update_ms=_int(d, "updateTime", default=0),
    )


def parse_position_risk(raw: Any) -> list[PositionReport]:
    """``GET /fapi/v2|v3/positionRisk`` → one PositionReport per entry (hedge mode: one per side)."""
    return [_position(x) for x in _list(raw, "positionRisk")]


@_guard
def _balance(d: Mapping[str, Any]) -> BalanceReport:
    d = _obj(d, "balance")
    wallet_key = "balance" if "balance" in d else "walletBalance"
    return BalanceReport(
        venue=VENUE,
        asset=_str(d, "asset"),
        wallet_balance=_dec(d, wallet_key, signed=True),
        cross_wallet_balance=_dec(d, "crossWalletBalance", signed=True),
        available_balance=_dec(d, "availableBalance", signed=True),
        update_ms=_int(d, "updateTime", default=0),
    )


def parse_balances(raw: Any) -> list[BalanceReport]:
    """``GET /fapi/v2|v3/balance`` → BalanceReports."""
    return [_balance(x) for x in _list(raw, "balance")]


@_guard
def parse_account(raw: Any) -> AccountSnapshot:
    """``GET /fapi/v2|v3/account`` → balances (``assets``) and positions (v3's carry no entry price)."""
    d = _obj(raw, "account")
    return AccountSnapshot(
        balances=tuple(_balance(x) for x in _list(d.get("assets", []), "assets")),
        positions=tuple(
            _position(x, entry_optional=True) for x in _list(d.get("positions", []), "positions")
        ),
    )
