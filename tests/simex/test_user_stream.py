"""User data stream: ORDER_TRADE_UPDATE / ACCOUNT_UPDATE after fills, cancels and expiries; listenKey expiry."""

from __future__ import annotations

import time

from simex import SimConfig, SimExchange

from .conftest import Client, WsReader, wait_for

ORDER_FIELDS = {"s", "c", "S", "o", "f", "q", "p", "ap", "sp", "x", "X", "i", "l", "z", "L", "N", "n", "T", "t",
                "b", "a", "m", "R", "wt", "ot", "ps", "cp", "rp", "pP", "si", "ss", "V", "pm", "gtd"}


def test_events_after_a_fill_a_cancel_and_an_expiry(sx: SimExchange, client: Client) -> None:
    key = client.listen_key()
    reader = WsReader(f"{sx.ws_url}/ws/{key}")
    try:
        client.ok("POST", "/fapi/v1/order", symbol="ETHUSDC", side="BUY", type="MARKET", quantity="0.020",
                  newClientOrderId="u-1")
        assert wait_for(lambda: len(reader.user("ACCOUNT_UPDATE")) >= 1)
        orders = [e for e in reader.user("ORDER_TRADE_UPDATE") if e["o"]["c"] == "u-1"]
        assert wait_for(lambda: [e for e in reader.user("ORDER_TRADE_UPDATE") if e["o"]["X"] == "FILLED"])
        orders = [e for e in reader.user("ORDER_TRADE_UPDATE") if e["o"]["c"] == "u-1"]
        assert orders[0]["o"]["x"] == "NEW" and (orders[-1]["o"]["x"], orders[-1]["o"]["X"]) == ("TRADE", "FILLED")
        trade = next(e for e in orders if e["o"]["x"] == "TRADE")
        assert set(trade["o"]) == ORDER_FIELDS and trade["o"]["N"] == "USDC" and trade["o"]["m"] is False
        assert set(orders[0]["o"]) == ORDER_FIELDS - {"N", "n"}           # no commission on NEW
        acct = reader.user("ACCOUNT_UPDATE")[0]
        assert acct["a"]["m"] == "ORDER" and acct["a"]["B"][0]["a"] == "USDC"
        assert acct["a"]["P"][0]["s"] == "ETHUSDC" and acct["a"]["P"][0]["ps"] == "BOTH"
        rows = client.ok("GET", "/fapi/v1/userTrades", symbol="ETHUSDC")
        assert sum(int(r["qty"].replace(".", "")) for r in rows) == 20
        assert trade["o"]["t"] in {r["id"] for r in rows}
        bid, _ = client.top("ETHUSDC")
        client.ok("POST", "/fapi/v1/order", symbol="ETHUSDC", side="BUY", type="LIMIT", timeInForce="GTC",
                  quantity="0.050", price=str(bid - 30), newClientOrderId="u-2")
        client.ok("DELETE", "/fapi/v1/order", symbol="ETHUSDC", origClientOrderId="u-2")
        client.ok("POST", "/fapi/v1/order", symbol="ETHUSDC", side="BUY", type="LIMIT", timeInForce="IOC",
                  quantity="0.050", price=str(bid - 30), newClientOrderId="u-3")
        assert wait_for(lambda: {("u-2", "CANCELED"), ("u-3", "EXPIRED")} <= {
            (e["o"]["c"], e["o"]["x"]) for e in reader.user("ORDER_TRADE_UPDATE")})
    finally:
        reader.close()


def test_listen_key_expiry_stops_the_stream_and_keepalive_extends_it() -> None:
    with SimExchange(SimConfig(seed=5, listen_key_ttl_s=1.5)) as sx:
        client = Client(sx.rest_url)
        key = client.listen_key()
        reader = WsReader(f"{sx.ws_url}/stream?streams={key}")
        try:
            h = {"X-MBX-APIKEY": "simkey"}
            time.sleep(0.75)
            assert client.s.put(f"{sx.rest_url}/fapi/v1/listenKey", headers=h, timeout=5).status_code == 200
            time.sleep(0.85)                       # 1.6 s after creation, alive thanks to the keepalive
            assert not reader.user("listenKeyExpired")
            assert wait_for(lambda: reader.user("listenKeyExpired"), timeout=3)
            ev = reader.user("listenKeyExpired")[0]
            assert ev["listenKey"] == key and ev["E"] > 0
            r = client.s.put(f"{sx.rest_url}/fapi/v1/listenKey", headers=h, timeout=5)
            assert r.json()["code"] == -1125
            client.ok("POST", "/fapi/v1/order", symbol="ETHUSDC", side="BUY", type="MARKET", quantity="0.010")
            time.sleep(0.3)
            assert not reader.user("ORDER_TRADE_UPDATE")   # nothing is pushed on an expired key
            new = client.listen_key()
            assert new != key
            r2 = WsReader(f"{sx.ws_url}/ws/{new}")
            client.ok("POST", "/fapi/v1/order", symbol="ETHUSDC", side="SELL", type="MARKET", quantity="0.010")
            assert wait_for(lambda: r2.user("ORDER_TRADE_UPDATE"))
            r2.close()
        finally:
            reader.close()


def test_funding_fee_is_settled_on_schedule() -> None:
    with SimExchange(SimConfig(seed=6, funding_rate="0.001", funding_interval_s=0.5)) as sx:
        client = Client(sx.rest_url)
        reader = WsReader(f"{sx.ws_url}/ws/{client.listen_key()}")
        try:
            client.ok("POST", "/fapi/v1/order", symbol="ETHUSDC", side="BUY", type="MARKET", quantity="0.100")
            assert wait_for(lambda: [e for e in reader.user("ACCOUNT_UPDATE") if e["a"]["m"] == "FUNDING_FEE"])
            fee = next(e for e in reader.user("ACCOUNT_UPDATE") if e["a"]["m"] == "FUNDING_FEE")["a"]
            assert fee["B"][0]["a"] == "USDC" and fee["B"][0]["bc"].startswith("-") and "P" not in fee
            assert sx.state()["accounts"]["simkey"]["funding"].startswith("-")
        finally:
            reader.close()
