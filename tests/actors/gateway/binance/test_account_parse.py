"""Account parsers on every USDⓈ-M order/trade/position/balance fixture, and on mutated variants."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import pytest

from actors.gateway.binance.account_parse import (
    ParseError,
    parse_account,
    parse_balances,
    parse_order,
    parse_orders,
    parse_position_risk,
    parse_user_event,
    parse_user_trades,
)
from actors.gateway.binance.market_parse import ParseError as MarketParseError
from actors.gateway.events import (
    AccountUpdate,
    ListenKeyExpired,
    OrderStatus,
    OrderUpdate,
    Side,
)

from .conftest import FUT, ISSUES, RES, load

USER_FILES = sorted((FUT / "user_data_json").glob("*.json")) + sorted(
    p for p in (RES / "ws_messages").glob("ws_futures_*.json")
    if any(k in p.name for k in ("order_update", "trade_lite", "algo_update"))
)
OTU_FILES = [p for p in USER_FILES if "order_update" in p.name]


def _data(path: Path) -> dict:
    d = load(path)
    return d["data"] if "data" in d and "e" not in d else d


def test_fixture_inventory() -> None:
    assert len(USER_FILES) >= 14 + 14 and len(OTU_FILES) >= 19


@pytest.mark.parametrize("path", USER_FILES, ids=lambda p: p.name)
def test_every_user_fixture_parses(path: Path) -> None:
    ev = parse_user_event(load(path), 123)
    e = _data(path)["e"]
    if e == "ORDER_TRADE_UPDATE":
        assert isinstance(ev, OrderUpdate) and ev.recv_ns == 123
        o = _data(path)["o"]
        assert ev.report.client_order_id == o["c"] and ev.report.order_id == o["i"]
        assert ev.report.orig_qty == Decimal(o["q"]) and ev.report.executed_qty == Decimal(o["z"])
        executed = Decimal(o["l"]) > 0 and o["x"] in ("TRADE", "CALCULATED")
        assert (ev.fill is not None) == executed
        if ev.fill:
            assert ev.fill.qty == Decimal(o["l"]) and ev.fill.price == Decimal(o["L"])
            assert ev.fill.trade_id == o["t"] and ev.fill.realized_pnl == Decimal(o["rp"])
    elif e == "ACCOUNT_UPDATE":
        assert isinstance(ev, AccountUpdate)
    else:
        assert ev is None  # TRADE_LITE, ALGO_UPDATE: recognised, not used


def test_trade_details() -> None:
    ev = parse_user_event(load(FUT / "user_data_json/order_update_trade.json"), 5)
    assert ev.exec_type == "TRADE" and ev.event_ms == 1568879465651
    r, f = ev.report, ev.fill
    assert (r.symbol, r.side, r.order_type, r.time_in_force) == ("BTCUSDT", Side.BUY, "LIMIT", "GTC")
    assert r.price == Decimal("7100.50") and r.status is OrderStatus.PARTIALLY_FILLED and not r.reduce_only
    assert f.commission == Decimal("0.01") and f.commission_asset == "USDT" and f.is_maker
    assert f.client_order_id == "TEST" and f.order_id == 8886774


def test_liquidation_statuses_map_by_executed_quantity() -> None:
    for name in ("order_update_adl.json", "order_update_insurance.json"):
        ev = parse_user_event(load(FUT / "user_data_json" / name), 0)
        assert ev.report.status is OrderStatus.FILLED and ev.fill is not None


def test_delivery_without_commission_fields() -> None:
    ev = parse_user_event(load(FUT / "user_data_json/order_update_delivery.json"), 0)
    assert ev.fill.commission == 0 and ev.fill.commission_asset == ""


def test_account_update() -> None:
    ev = parse_user_event(load(FUT / "user_data_json/account_update.json"), 9)
    assert ev.reason == "ORDER" and ev.event_ms == 1564745798939 and ev.recv_ns == 9
    (b,) = ev.balances
    assert b.asset == "USDT" and b.wallet_balance == Decimal("122624.12345678")
    assert b.available_balance is None
    assert [p.qty for p in ev.positions] == [Decimal(0), Decimal(20), Decimal(-10)]
    assert ev.positions[2].unrealized_pnl == Decimal("-1423.15600")


def test_listen_key_expired_with_string_time() -> None:
    ev = parse_user_event({"e": "listenKeyExpired", "E": "1576653824250", "listenKey": "k"}, 1)
    assert ev == ListenKeyExpired("binance", 1576653824250, 1)


def test_live_order_trade_update_from_a_github_issue() -> None:
    rows = [line for line in ISSUES.read_text().splitlines() if "ORDER_TRADE_UPDATE" in line]
    payload = json.loads(rows[0])["payload"]
    ev = parse_user_event(payload, 0)
    assert ev.report.client_order_id.startswith("bot-") and ev.report.reduce_only
    assert ev.report.price == Decimal("85.67") and ev.fill is None


# ---------------------------------------------------------------- REST replies


def test_rest_order_reply() -> None:
    r = parse_order(load(FUT / "http_json/order_response.json"))
    assert (r.order_id, r.client_order_id, r.status) == (12345678, "testOrder123", OrderStatus.NEW)
    assert r.price == Decimal("50000.00") and r.orig_qty == Decimal("0.001") and r.update_ms == 1625474304765
    (o,) = parse_orders(load(RES / "http_responses/http_futures_account_orders.json"))
    assert o.order_type == "TRAILING_STOP_MARKET" and o.side is Side.BUY and o.avg_price == 0


def test_cancel_reply_without_avg_price() -> None:
    raw = load(FUT / "http_json/order_response.json")
    del raw["avgPrice"]
    raw["status"] = "CANCELED"
    assert parse_order(raw).status is OrderStatus.CANCELED


def test_rest_user_trades() -> None:
    fills = parse_user_trades(load(RES / "http_responses/http_futures_account_trades.json"))
    assert [f.trade_id for f in fills] == [82357626, 82357629]
    assert fills[1].realized_pnl == Decimal("-0.00325000") and fills[1].side is Side.BUY
    assert fills[0].client_order_id == "" and not fills[0].is_maker


def test_rest_positions() -> None:
    (p,) = parse_position_risk(load(FUT / "http_json/position_risk.json"))
    assert p.qty == Decimal("0.001") and p.entry_price == Decimal("50000.0") and p.unrealized_pnl == 1
    hedge = parse_position_risk(load(RES / "http_responses/http_futures_account_positions_hedge.json"))
    assert [h.qty for h in hedge] == [Decimal("20.000"), Decimal("-10.000")]
    (one,) = parse_position_risk(load(RES / "http_responses/http_futures_account_positions_one_way.json"))
    assert one.qty == 0


def test_rest_balance_and_account() -> None:
    (b,) = parse_balances(load(FUT / "http_json/balance.json"))
    assert b.wallet_balance == Decimal("122.12345678") and b.available_balance == Decimal("122.12345678")
    acc = parse_account(load(FUT / "http_json/account_info_v2.json"))
    assert acc.balances[0].asset == "USDT" and acc.balances[0].update_ms == 1625474304765
    assert acc.positions[0].symbol == "BTCUSDT" and acc.positions[0].qty == 0
    v3 = load(FUT / "http_json/account_info_v2.json")
    del v3["positions"][0]["entryPrice"]  # the v3 shape
    assert parse_account(v3).positions[0].entry_price == 0


# ---------------------------------------------------------------- mutations


TRADES = load(RES / "http_responses/http_futures_account_trades.json")
OTU = _data(FUT / "user_data_json/order_update_trade.json")


def _mut(path: tuple[str, ...], value=..., base: dict = OTU) -> dict:
    d = copy.deepcopy(base)
    node = d
    for k in path[:-1]:
        node = node[k]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return d


@pytest.mark.parametrize("field", ["s", "c", "S", "o", "f", "q", "p", "X", "i", "x", "z", "L", "t"])
def test_missing_order_field(field: str) -> None:
    with pytest.raises(ParseError):
        parse_user_event(_mut(("o", field)), 0)


@pytest.mark.parametrize(
    ("field", "value"),
    [("p", "NaN"), ("p", "Infinity"), ("p", "-1"), ("q", "-0.001"), ("l", "-0.001"), ("L", "nan"),
     ("p", 7100.5), ("q", None), ("i", "8886774x"), ("i", 1.5), ("S", "LONG"), ("X", "WEIRD"), ("R", "true"),
     ("m", 1), ("z", "abc"), ("n", "NaN"), ("t", 0), ("L", "0")],
)
def test_bad_order_values(field: str, value) -> None:
    with pytest.raises(ParseError):
        parse_user_event(_mut(("o", field), value), 0)


def test_negative_commission_and_pnl_are_allowed() -> None:
    ev = parse_user_event(_mut(("o", "n"), "-0.002"), 0)
    assert ev.fill.commission == Decimal("-0.002")


@pytest.mark.parametrize(
    "data",
    [
        {"e": "SOMETHING_NEW", "E": 1},
        {"E": 1},
        {"e": 5},
        [],
        "ORDER_TRADE_UPDATE",
        {"e": "ORDER_TRADE_UPDATE", "E": 1, "o": []},
        {"e": "ORDER_TRADE_UPDATE", "E": 1},
        {"e": "ACCOUNT_UPDATE", "E": 1, "T": 1, "a": {"m": "ORDER", "B": {}, "P": []}},
        {"e": "ACCOUNT_UPDATE", "E": 1, "a": {"m": "ORDER", "B": [{"a": "USDT", "wb": "NaN", "cw": "1"}]}},
        {"e": "ACCOUNT_UPDATE", "E": 1, "a": {"m": "ORDER", "P": [{"s": "X", "pa": "1", "ep": "-5"}]}},
        {"e": "ACCOUNT_UPDATE", "E": 1, "T": 1, "a": {"m": "ORDER", "P": ["x"]}},
        {"e": "listenKeyExpired"},
        {"e": "listenKeyExpired", "E": "soon"},
    ],
)
def test_malformed_user_events(data) -> None:
    with pytest.raises(ParseError):
        parse_user_event(data, 0)


def test_parse_error_is_the_feed_parse_error() -> None:
    # the lead's frame dispatcher counts market_parse.ParseError as "malformed"; ours is one of those
    assert issubclass(ParseError, MarketParseError)


@pytest.mark.parametrize(
    ("fn", "raw"),
    [
        (parse_orders, {"not": "a list"}),
        (parse_order, {"orderId": 1}),
        (parse_order, _mut(("executedQty",), "-1", load(FUT / "http_json/order_response.json"))),
        (parse_order, _mut(("status",), "NEW_THING", load(FUT / "http_json/order_response.json"))),
        (parse_user_trades, [{"id": 1}]),
        (parse_user_trades, [_mut(("qty",), "0", TRADES[1])]),
        (parse_position_risk, [_mut(("positionAmt",), "NaN", load(FUT / "http_json/position_risk.json")[0])]),
        (parse_balances, [_mut(("balance",), 12.5, load(FUT / "http_json/balance.json")[0])]),
        (parse_account, []),
        (parse_account, {"assets": {}, "positions": []}),
    ],
)
def test_malformed_rest_replies(fn, raw) -> None:
    with pytest.raises(ParseError):
        fn(raw)


def test_algo_orders_are_not_order_reports() -> None:
    # conditional (algo) orders have their own shape; they must never pass for ordinary orders
    with pytest.raises(ParseError):
        parse_orders(load(FUT / "http_json/open_algo_orders.json"))
