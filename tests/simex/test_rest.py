"""REST over real sockets: signing, order round trips, batch endpoints, queries and Binance's error codes."""

from __future__ import annotations

import json
import time
from decimal import ROUND_FLOOR, Decimal

import pytest
import requests

from simex import SimConfig, SimExchange
from simex.signing import sign, total_params, verify

from .conftest import Client, wait_for

SYM = "ETHUSDC"
DOC_KEY = "dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83"
DOC_SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
DOC_QUERY = (
    "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000&timestamp=1591702613943"
)
DOC_SIG = "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
# Example 3 of the docs signs "...timeInForce=GTCquantity=1&...&timestamp= 1591702613943" (a stray space
# inside its echo), which is what its published signature covers; the curl body it shows has no space.
DOC_MIXED_SIG = "f9d0ae5e813ef6ccf15c2b5a434047a0181cb5a342b903b367ca6d27a66e36f2"
MIXED_SIG_NO_SPACE = "30baaf0fab549bbeda7f5ef201898b34122da25fd23c646cac2c529aebe670a4"


def passive_price(client: Client, symbol: str = SYM, below: str = "0.97", tick: str = "0.01") -> str:
    bid, _ = client.top(symbol)
    return str((bid * Decimal(below) / Decimal(tick)).to_integral_value(ROUND_FLOOR) * Decimal(tick))


def test_signature_verifier_matches_the_documented_examples() -> None:
    # USDⓈ-M general-info page, HMAC examples 1-3 (query string, request body, mixed)
    assert sign(DOC_SECRET, DOC_QUERY) == DOC_SIG
    assert total_params(DOC_QUERY + "&signature=" + DOC_SIG, "") == (DOC_QUERY, DOC_SIG)
    assert total_params("", DOC_QUERY + "&signature=" + DOC_SIG) == (DOC_QUERY, DOC_SIG)
    q, b = (
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC",
        "quantity=1&price=9000&recvWindow=5000&timestamp=1591702613943",
    )
    payload, sig = total_params(q, b + "&signature=" + MIXED_SIG_NO_SPACE)
    assert payload == q + b and verify(DOC_SECRET, payload, sig)  # no '&' between the two parts
    assert verify(DOC_SECRET, payload.replace("timestamp=", "timestamp= "), DOC_MIXED_SIG)
    assert verify(DOC_SECRET, DOC_QUERY, DOC_SIG.upper())  # HMAC signatures are case-insensitive
    assert not verify(DOC_SECRET, DOC_QUERY + "0", DOC_SIG)
    # the spot docs' worked example (apiKey vmPUZE6mv9..., secretKey NhqPtmdSJY...)
    spot_secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    spot_query = (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    )
    assert sign(spot_secret, spot_query) == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


def test_the_documented_curl_requests_are_accepted_verbatim() -> None:
    """The docs' own signed requests (with the docs' key) pass, once the server clock is at the docs' time."""
    cfg = SimConfig(seed=3, extra_accounts=((DOC_KEY, DOC_SECRET),))
    with SimExchange(cfg) as sx:
        skew = 1591702613943 - int(time.time() * 1000) + 200
        sx.fault("clock_skew", ms=skew)
        h = {"X-MBX-APIKEY": DOC_KEY}
        r1 = requests.post(
            f"{sx.rest_url}/fapi/v1/order?{DOC_QUERY}&signature={DOC_SIG}", headers=h, timeout=5
        )
        r2 = requests.post(
            f"{sx.rest_url}/fapi/v1/order",
            data=f"{DOC_QUERY}&signature={DOC_SIG}",
            headers={**h, "Content-Type": "application/x-www-form-urlencoded"},
            timeout=5,
        )
        q = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC"
        b = f"quantity=1&price=9000&recvWindow=5000&timestamp=1591702613943&signature={MIXED_SIG_NO_SPACE}"
        r3 = requests.post(
            f"{sx.rest_url}/fapi/v1/order?{q}",
            data=b,
            headers={**h, "Content-Type": "application/x-www-form-urlencoded"},
            timeout=5,
        )
        bad = requests.post(
            f"{sx.rest_url}/fapi/v1/order?{DOC_QUERY}&signature={DOC_MIXED_SIG}", headers=h, timeout=5
        )
        for r in (r1, r2, r3):
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "NEW" and r.json()["price"] == "9000.00"
        assert (bad.status_code, bad.json()["code"]) == (400, -1022)


def test_auth_and_timing_errors(sx: SimExchange, client: Client) -> None:
    r = requests.get(
        f"{sx.rest_url}/fapi/v2/balance", params={"timestamp": int(time.time() * 1000)}, timeout=5
    )
    assert (r.status_code, r.json()["code"]) == (401, -2014)
    other = Client(sx.rest_url, key="nokey", secret="x")
    assert other.err("GET", "/fapi/v2/balance") == (401, -2015)
    wrong = Client(sx.rest_url, secret="wrong")
    assert wrong.err("GET", "/fapi/v2/balance") == (400, -1022)
    now = int(time.time() * 1000)
    assert client.err("GET", "/fapi/v2/balance", timestamp=now - 6000) == (400, -1021)
    assert client.ok("GET", "/fapi/v2/balance", timestamp=now - 6000, recvWindow=10000)
    r = client.signed("GET", "/fapi/v2/balance", timestamp=now + 3000)
    assert r.json() == {
        "code": -1021,
        "msg": "Timestamp for this request was 1000ms ahead of the server's time.",
    }
    assert client.err("GET", "/fapi/v2/balance", recvWindow=70000)[1] == -1130
    r = client.s.get(f"{sx.rest_url}/fapi/v2/balance", headers={"X-MBX-APIKEY": "simkey"}, timeout=5)
    assert r.json()["code"] == -1102
    assert client.s.get(f"{sx.rest_url}/fapi/v1/nope", timeout=5).status_code == 404


def test_place_query_cancel_round_trip(client: Client) -> None:
    price = passive_price(client)
    placed = client.ok(
        "POST",
        "/fapi/v1/order",
        symbol=SYM,
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.050",
        price=price,
        newClientOrderId="rt-1",
    )
    for k in (
        "orderId",
        "clientOrderId",
        "status",
        "price",
        "origQty",
        "executedQty",
        "cumQuote",
        "avgPrice",
        "timeInForce",
        "type",
        "reduceOnly",
        "side",
        "positionSide",
        "stopPrice",
        "workingType",
        "origType",
        "priceProtect",
        "selfTradePreventionMode",
        "goodTillDate",
        "updateTime",
    ):
        assert k in placed, k
    assert (placed["status"], placed["clientOrderId"], placed["price"]) == ("NEW", "rt-1", price)
    by_id = client.ok("GET", "/fapi/v1/order", symbol=SYM, orderId=placed["orderId"])
    by_cid = client.ok("GET", "/fapi/v1/order", symbol=SYM, origClientOrderId="rt-1")
    assert by_id == by_cid and by_id["time"] > 0
    assert (
        client.ok("GET", "/fapi/v1/openOrder", symbol=SYM, origClientOrderId="rt-1")["orderId"]
        == placed["orderId"]
    )
    assert [o["clientOrderId"] for o in client.ok("GET", "/fapi/v1/openOrders", symbol=SYM)] == ["rt-1"]
    canceled = client.ok("DELETE", "/fapi/v1/order", symbol=SYM, origClientOrderId="rt-1")
    assert canceled["status"] == "CANCELED"
    assert client.ok("GET", "/fapi/v1/order", symbol=SYM, orderId=placed["orderId"])["status"] == "CANCELED"
    assert client.err("DELETE", "/fapi/v1/order", symbol=SYM, orderId=placed["orderId"]) == (400, -2011)
    assert client.err("GET", "/fapi/v1/openOrder", symbol=SYM, orderId=placed["orderId"]) == (400, -2013)
    assert client.err("GET", "/fapi/v1/order", symbol=SYM, orderId=123) == (400, -2013)
    assert client.err("DELETE", "/fapi/v1/order", symbol=SYM, origClientOrderId="never") == (400, -2011)
    assert client.err("GET", "/fapi/v1/order", symbol=SYM)[1] == -1102


def test_batch_orders_and_batch_cancel(client: Client) -> None:
    price = passive_price(client)
    items = [
        {
            "symbol": SYM,
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.050",
            "price": price,
            "newClientOrderId": "b-1",
        },
        {
            "symbol": SYM,
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.050",
            "price": price + "1",
            "newClientOrderId": "b-2",
        },  # too many decimals
        {
            "symbol": SYM,
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": 0.05,
            "price": price,
            "newClientOrderId": "b-3",
        },  # numbers are accepted too
    ]
    r = client.signed("POST", "/fapi/v1/batchOrders", batchOrders=json.dumps(items))
    assert r.status_code == 200
    assert r.headers["X-MBX-ORDER-COUNT-10S"] == "5" and int(r.headers["X-MBX-USED-WEIGHT-1M"]) >= 5
    out = r.json()
    assert out[0]["clientOrderId"] == "b-1" and out[1] == {
        "code": -1111,
        "msg": "Precision is over the maximum defined for this asset.",
    }
    assert out[2]["status"] == "NEW"
    assert client.err("POST", "/fapi/v1/batchOrders", batchOrders=json.dumps(items * 2))[1] == -1130
    cancel = client.ok(
        "DELETE", "/fapi/v1/batchOrders", symbol=SYM, orderIdList=json.dumps([out[0]["orderId"], 42])
    )
    assert cancel[0]["status"] == "CANCELED" and cancel[1]["code"] == -2011
    cancel = client.ok(
        "DELETE", "/fapi/v1/batchOrders", symbol=SYM, origClientOrderIdList=json.dumps(["b-3"])
    )
    assert cancel[0]["clientOrderId"] == "b-3"


def test_open_orders_and_cancel_all(client: Client) -> None:
    price = passive_price(client)
    btc = passive_price(client, "BTCUSDC", tick="0.1")
    for i in range(3):
        client.ok(
            "POST",
            "/fapi/v1/order",
            symbol=SYM,
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.050",
            price=price,
            newClientOrderId=f"oo-{i}",
        )
    client.ok(
        "POST",
        "/fapi/v1/order",
        symbol="BTCUSDC",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.002",
        price=btc,
    )
    r = client.signed("GET", "/fapi/v1/openOrders")
    assert len(r.json()) == 4
    r2 = client.signed("GET", "/fapi/v1/openOrders", symbol=SYM)
    assert len(r2.json()) == 3
    assert client.ok("DELETE", "/fapi/v1/allOpenOrders", symbol=SYM) == {
        "code": 200,
        "msg": "The operation of cancel all open order is done.",
    }
    assert client.ok("GET", "/fapi/v1/openOrders", symbol=SYM) == []
    assert len(client.ok("GET", "/fapi/v1/openOrders")) == 1


def test_request_weights_per_endpoint(sx: SimExchange, client: Client) -> None:
    def used(r: requests.Response) -> int:
        return int(r.headers["X-MBX-USED-WEIGHT-1M"])

    base = used(client.public("/fapi/v1/ping"))
    steps = [
        (client.public("/fapi/v1/depth", symbol=SYM, limit=1000), 20),
        (client.public("/fapi/v1/depth", symbol=SYM, limit=100), 5),
        (client.public("/fapi/v1/depth", symbol=SYM, limit=5), 2),
        (client.public("/fapi/v1/exchangeInfo"), 1),
        (client.signed("GET", "/fapi/v1/openOrders"), 40),
        (client.signed("GET", "/fapi/v1/openOrders", symbol=SYM), 1),
        (client.signed("GET", "/fapi/v1/userTrades", symbol=SYM), 5),
        (client.signed("GET", "/fapi/v2/positionRisk"), 5),
        (client.signed("GET", "/fapi/v3/account"), 5),
        (client.signed("GET", "/fapi/v2/balance"), 5),
    ]
    for r, w in steps:
        assert used(r) - base == w, (r.url, used(r) - base, w)
        base = used(r)
    r = client.order(
        symbol=SYM, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.05", price=passive_price(client)
    )
    assert used(r) - base == 2  # the depth call inside passive_price; placing an order weighs 0 on the IP
    assert r.headers["X-MBX-ORDER-COUNT-1M"] == "1"
    assert client.public("/fapi/v1/depth", symbol=SYM, limit=7).json()["code"] == -4021


def test_order_error_codes(client: Client) -> None:
    price = passive_price(client)
    base = {
        "symbol": SYM,
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.050",
        "price": price,
    }

    def code(**over: str) -> int:
        p = {**base, **over}
        for k in [k for k, v in p.items() if v is None]:
            del p[k]
        r = client.order(**p)
        assert r.status_code == 400, r.text
        return r.json()["code"]

    assert code(symbol="XYZUSDT") == -1121
    assert code(symbol=None) == -1102
    assert code(type="LIMITT") == -1116
    assert code(type="STOP_MARKET") == -4120
    assert code(side="HOLD") == -1117
    assert code(timeInForce="DAY") == -1115
    assert code(timeInForce=None) == -1102
    assert code(quantity=None) == -1102
    assert code(price=None) == -1102
    assert code(price=price + "5") == -1111
    assert code(symbol="BTCUSDC", price="60000.05", quantity="0.002") == -4014
    assert code(quantity="0.0005") == -1111
    assert code(quantity="0") == -4003
    assert code(quantity="0.001") == -4164
    assert code(newClientOrderId="bad id!") == -4015
    assert code(newClientOrderId="x" * 37) == -4015
    assert code(positionSide="LONG") == -4061
    assert code(newOrderRespType="FULL") == -1136
    assert code(quantity="200") == -2019
    assert code(type="MARKET", timeInForce=None, price="100") == -1106
    assert code(reduceOnly="true") == -2022
    _bid, ask = client.top(SYM)
    assert code(timeInForce="GTX", price=str(ask)) == -5022
    client.ok("POST", "/fapi/v1/order", **{**base, "newClientOrderId": "dup-1"})
    assert code(newClientOrderId="dup-1") == -4116
    assert (
        len([o for o in client.ok("GET", "/fapi/v1/openOrders", symbol=SYM) if o["clientOrderId"] == "dup-1"])
        == 1
    )


def test_gtx_rejection_is_not_in_the_order_history(client: Client) -> None:
    _, ask = client.top(SYM)
    r = client.order(
        symbol=SYM,
        side="BUY",
        type="LIMIT",
        timeInForce="GTX",
        quantity="0.050",
        price=str(ask + Decimal("0.50")),
        newClientOrderId="gtx-x",
    )
    assert r.json()["code"] == -5022 and "Post Only order will be rejected" in r.json()["msg"]
    assert client.err("GET", "/fapi/v1/order", symbol=SYM, origClientOrderId="gtx-x") == (400, -2013)


def test_fills_trades_positions_and_account_views(client: Client) -> None:
    r = client.ok(
        "POST",
        "/fapi/v1/order",
        symbol=SYM,
        side="BUY",
        type="MARKET",
        quantity="0.100",
        newOrderRespType="RESULT",
    )
    assert r["status"] == "FILLED" and Decimal(r["avgPrice"]) > 0
    ack = client.ok("POST", "/fapi/v1/order", symbol=SYM, side="SELL", type="MARKET", quantity="0.040")
    assert ack["status"] == "NEW" and ack["executedQty"] == "0.000"  # ACK is the default reply
    assert client.ok("GET", "/fapi/v1/order", symbol=SYM, orderId=ack["orderId"])["status"] == "FILLED"
    trades = client.ok("GET", "/fapi/v1/userTrades", symbol=SYM)
    assert len(trades) >= 2 and [t["id"] for t in trades] == sorted({t["id"] for t in trades})
    for k in (
        "id",
        "orderId",
        "symbol",
        "side",
        "price",
        "qty",
        "realizedPnl",
        "quoteQty",
        "commission",
        "commissionAsset",
        "time",
        "buyer",
        "maker",
        "positionSide",
    ):
        assert k in trades[0], k
    assert trades[0]["commissionAsset"] == "USDC" and trades[0]["maker"] is False
    assert client.ok("GET", "/fapi/v1/userTrades", symbol=SYM, fromId=trades[-1]["id"]) == trades[-1:]
    assert client.ok("GET", "/fapi/v1/userTrades", symbol=SYM, limit=1) == trades[-1:]
    assert (
        client.ok("GET", "/fapi/v1/userTrades", symbol=SYM, orderId=ack["orderId"])[0]["orderId"]
        == ack["orderId"]
    )
    assert client.err("GET", "/fapi/v1/userTrades", symbol=SYM, fromId=1, startTime=1)[1] == -1128
    pos2 = client.ok("GET", "/fapi/v2/positionRisk", symbol=SYM)[0]
    assert pos2["positionAmt"] == "0.060" and pos2["leverage"] == "20" and pos2["marginType"] == "cross"
    pos3 = client.ok("GET", "/fapi/v3/positionRisk")
    assert [p["symbol"] for p in pos3] == [SYM] and "positionInitialMargin" in pos3[0]
    acc = client.ok("GET", "/fapi/v2/account")
    assert {a["asset"] for a in acc["assets"]} == {"USDC", "USDT"} and acc["canTrade"] is True
    assert len(acc["positions"]) == 4
    acc3 = client.ok("GET", "/fapi/v3/account")
    assert [p["symbol"] for p in acc3["positions"]] == [SYM]
    bal = {b["asset"]: b for b in client.ok("GET", "/fapi/v3/balance")}
    assert Decimal(bal["USDC"]["balance"]) < 10000 and bal["USDT"]["balance"] == "10000.00000000"
    assert client.ok("POST", "/fapi/v1/leverage", symbol=SYM, leverage=5)["leverage"] == 5
    assert client.ok("GET", "/fapi/v2/positionRisk", symbol=SYM)[0]["leverage"] == "5"


def test_listen_key_lifecycle(sx: SimExchange, client: Client) -> None:
    k1 = client.listen_key()
    assert len(k1) == 64 and client.listen_key() == k1  # POST returns the live key
    h = {"X-MBX-APIKEY": "simkey"}
    assert client.s.put(f"{sx.rest_url}/fapi/v1/listenKey", headers=h, timeout=5).json() == {"listenKey": k1}
    assert client.s.delete(f"{sx.rest_url}/fapi/v1/listenKey", headers=h, timeout=5).json() == {}
    r = client.s.put(f"{sx.rest_url}/fapi/v1/listenKey", headers=h, timeout=5)
    assert (r.status_code, r.json()) == (400, {"code": -1125, "msg": "This listenKey does not exist."})
    assert client.listen_key() != k1
    assert client.s.post(f"{sx.rest_url}/fapi/v1/listenKey", timeout=5).json()["code"] == -2014


def test_exchange_info_and_market_endpoints(client: Client) -> None:
    info = client.public("/fapi/v1/exchangeInfo").json()
    limits = {(x["rateLimitType"], x["interval"], x["intervalNum"]): x["limit"] for x in info["rateLimits"]}
    assert limits == {
        ("REQUEST_WEIGHT", "MINUTE", 1): 2400,
        ("ORDERS", "MINUTE", 1): 1200,
        ("ORDERS", "SECOND", 10): 300,
    }
    syms = {s["symbol"]: s for s in info["symbols"]}
    assert set(syms) == {"ETHUSDC", "BTCUSDC", "ETHUSDT", "BTCUSDT"}
    f = {x["filterType"]: x for x in syms["BTCUSDT"]["filters"]}
    assert f["PRICE_FILTER"]["tickSize"] == "0.10" and f["LOT_SIZE"]["stepSize"] == "0.001"
    assert f["MARKET_LOT_SIZE"]["stepSize"] == "0.001" and f["MIN_NOTIONAL"]["notional"] == "100"
    assert {x["filterType"]: x for x in syms["ETHUSDC"]["filters"]}["MIN_NOTIONAL"]["notional"] == "20"
    assert "GTX" in syms["ETHUSDC"]["timeInForce"] and syms["ETHUSDC"]["marginAsset"] == "USDC"
    assert syms["ETHUSDC"]["pricePrecision"] == 2 and syms["ETHUSDC"]["quantityPrecision"] == 3
    assert abs(client.public("/fapi/v1/time").json()["serverTime"] - time.time() * 1000) < 2000
    assert client.public("/fapi/v1/ping").json() == {}
    d = client.public("/fapi/v1/depth", symbol=SYM, limit=10).json()
    assert set(d) == {"lastUpdateId", "E", "T", "bids", "asks"} and len(d["bids"]) == 10
    assert Decimal(d["bids"][0][0]) < Decimal(d["asks"][0][0])
    bt = client.public("/fapi/v1/ticker/bookTicker", symbol=SYM).json()
    assert Decimal(bt["bidPrice"]) < Decimal(bt["askPrice"])
    assert wait_for(lambda: client.public("/fapi/v1/premiumIndex", symbol=SYM).json()["markPrice"])


@pytest.mark.parametrize("keepalive", [False, True])
def test_http_keep_alive_and_close(sx: SimExchange, keepalive: bool) -> None:
    s = requests.Session()
    headers = {} if keepalive else {"Connection": "close"}
    for _ in range(3):
        r = s.get(f"{sx.rest_url}/fapi/v1/ping", headers=headers, timeout=5)
        assert r.status_code == 200
        assert r.headers["Connection"] == ("keep-alive" if keepalive else "close")


def test_all_orders_and_commission_rate(client: Client) -> None:
    price = passive_price(client)
    a = client.ok("POST", "/fapi/v1/order", symbol=SYM, side="BUY", type="LIMIT", timeInForce="GTC",
                  quantity="0.050", price=price, newClientOrderId="ao-1")
    client.ok("DELETE", "/fapi/v1/order", symbol=SYM, orderId=a["orderId"])
    b = client.ok("POST", "/fapi/v1/order", symbol=SYM, side="BUY", type="MARKET", quantity="0.010")
    rows = client.ok("GET", "/fapi/v1/allOrders", symbol=SYM)
    assert [(r["orderId"], r["status"]) for r in rows] == [(a["orderId"], "CANCELED"), (b["orderId"], "FILLED")]
    assert client.ok("GET", "/fapi/v1/allOrders", symbol=SYM, orderId=b["orderId"])[0]["orderId"] == b["orderId"]
    assert client.ok("GET", "/fapi/v1/commissionRate", symbol=SYM) == {
        "symbol": SYM, "makerCommissionRate": "0.0002", "takerCommissionRate": "0.0005"}
