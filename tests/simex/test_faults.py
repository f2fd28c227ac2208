"""Every fault has an effect a client can observe, through the admin endpoint and the in-process API."""

from __future__ import annotations

import itertools
import time

import requests
import websocket

from simex import SimConfig, SimExchange

from .conftest import Client, WsReader, wait_for

SYM = "ETHUSDC"


def admin_fault(sx: SimExchange, **body: object) -> requests.Response:
    return requests.post(f"{sx.rest_url}/admin/fault", json=body, timeout=5)


def test_admin_endpoints_report_and_clear_faults(sx: SimExchange) -> None:
    r = admin_fault(sx, fault="rest_delay", ms=10, seconds=30)
    assert r.status_code == 200 and "rest_delay" in r.json()["active"]
    assert admin_fault(sx, fault="nope").status_code == 400
    assert admin_fault(sx, fault="ws_drop", mode="explode").status_code == 400
    state = requests.get(f"{sx.rest_url}/admin/state", timeout=5).json()
    assert "rest_delay" in state["faults"]["active"] and "rest_delay" in sx.state()["faults"]["active"]
    assert set(state) >= {"faults", "rate_limits", "symbols", "accounts", "ws", "listen_keys"}
    assert state["rate_limits"]["count_418"] == 0
    assert state["symbols"]["ETHUSDC"]["best_bid"] and state["accounts"]["simkey"]["balances"]["USDC"]
    assert sx.fault("clear")["active"] == {}
    r = requests.post(f"{sx.rest_url}/admin/regime", json={"symbol": "BTCUSDC", "regime": "high_vol"}, timeout=5)
    assert r.status_code == 200 and sx.state()["symbols"]["BTCUSDC"]["regime"] == "high_vol"
    r = requests.post(f"{sx.rest_url}/admin/regime", json={"symbol": "BTCUSDC", "regime": "moon"}, timeout=5)
    assert r.status_code == 400


def test_ws_drop_close_reset_and_scope(sx: SimExchange, client: Client) -> None:
    market = websocket.create_connection(f"{sx.ws_url}/ws/ethusdc@depth@0ms", timeout=5)
    user = websocket.create_connection(f"{sx.ws_url}/ws/{client.listen_key()}", timeout=5)
    market.recv()
    assert sx.fault("ws_drop", mode="close", scope="user")["connections"] == 1
    op, _frame = user.recv_data_frame(control_frame=True)
    assert op == websocket.ABNF.OPCODE_CLOSE
    market.recv()                                               # market connection untouched
    sx.fault("ws_drop", mode="reset", scope="market")
    try:
        while True:
            market.recv()
    except (ConnectionResetError, websocket.WebSocketConnectionClosedException) as exc:
        err = exc
    assert isinstance(err, (ConnectionResetError, websocket.WebSocketConnectionClosedException))
    assert wait_for(lambda: sx.state()["ws"]["connections"] == 0)


def test_ws_stall_sends_nothing_then_resumes_with_a_gap(sx: SimExchange) -> None:
    reader = WsReader(f"{sx.ws_url}/stream?streams=ethusdc@depth@0ms")
    try:
        assert wait_for(lambda: len(reader.msgs) >= 3)
        sx.fault("ws_stall", seconds=1.2)
        time.sleep(0.15)                                         # let frames already in flight arrive
        n = len(reader.msgs)
        time.sleep(0.7)
        assert len(reader.msgs) == n                             # silence, yet the connection stays open
        assert not reader.closed.is_set()
        assert wait_for(lambda: len(reader.msgs) > n + 2, timeout=3)
        evs = reader.of("ethusdc@depth@0ms")
        gaps = [b for a, b in itertools.pairwise(evs) if b["pu"] != a["u"]]
        assert len(gaps) == 1                                    # what was not sent is lost: a pu gap
        assert sx.state()["ws"]["dropped_while_stalled"] > 0
    finally:
        reader.close()


def test_depth_gap_breaks_the_chain_once(sx: SimExchange) -> None:
    reader = WsReader(f"{sx.ws_url}/stream?streams=btcusdc@depth@0ms/btcusdc@depth@100ms")
    try:
        assert wait_for(lambda: len(reader.of("btcusdc@depth@100ms")) >= 2)
        sx.fault("depth_gap", symbol="BTCUSDC")
        n = len(reader.of("btcusdc@depth@0ms"))
        assert wait_for(lambda: len(reader.of("btcusdc@depth@0ms")) > n + 3)
        time.sleep(0.3)
        for name in ("btcusdc@depth@0ms", "btcusdc@depth@100ms"):
            evs = reader.of(name)
            assert sum(b["pu"] != a["u"] for a, b in itertools.pairwise(evs)) == 1, name
    finally:
        reader.close()


def test_rest_delay_and_5xx(sx: SimExchange, client: Client) -> None:
    sx.fault("rest_delay", ms=300, count=1, path="/fapi/v1/time")
    t0 = time.monotonic()
    client.public("/fapi/v1/ping")
    assert time.monotonic() - t0 < 0.25                          # other paths are not delayed
    client.public("/fapi/v1/time")
    assert time.monotonic() - t0 >= 0.3
    sx.fault("rest_5xx", count=2, status=503)
    assert [client.public("/fapi/v1/ping").status_code for _ in range(3)] == [503, 503, 200]
    sx.fault("rest_5xx", count=1, status=502)
    r = client.public("/fapi/v1/ping")
    assert r.status_code == 502 and r.headers["Content-Type"].startswith("text/html")
    bid, _ = client.top(SYM)
    sx.fault("rest_5xx", after_execute=True)
    r = client.order(symbol=SYM, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.050",
                     price=str(bid - 40), newClientOrderId="lost-reply")
    assert r.status_code == 503 and r.json()["code"] == -1007
    got = client.ok("GET", "/fapi/v1/order", symbol=SYM, origClientOrderId="lost-reply")
    assert got["status"] == "NEW"                                 # it was executed: look it up, don't resend


def test_rate_limit_storm_then_ban_for_a_client_that_ignores_it() -> None:
    with SimExchange(SimConfig(seed=1, ban_after_requests=3, ban_seconds=30)) as sx:
        client = Client(sx.rest_url)
        sx.fault("rate_limit_storm", seconds=2)
        r = client.public("/fapi/v1/ping")
        assert r.status_code == 429 and r.json()["code"] == -1003 and 1 <= int(r.headers["Retry-After"]) <= 2
        codes = [client.public("/fapi/v1/ping").status_code for _ in range(4)]
        assert codes == [429, 429, 429, 418]
        r = client.public("/fapi/v1/ping")
        assert r.status_code == 418 and "banned until" in r.json()["msg"] and int(r.headers["Retry-After"]) > 20
        st = sx.state()["rate_limits"]
        assert st["count_429"] == 4 and st["count_418"] == 2


def test_rate_limit_storm_waited_out_gets_no_ban() -> None:
    with SimExchange(SimConfig(seed=1, ban_after_requests=3)) as sx:
        client = Client(sx.rest_url)
        sx.fault("rate_limit_storm", seconds=1)
        r = client.public("/fapi/v1/ping")
        assert r.status_code == 429
        time.sleep(int(r.headers["Retry-After"]))
        assert client.public("/fapi/v1/ping").status_code == 200
        assert sx.state()["rate_limits"]["count_418"] == 0


def test_random_rejects_clock_skew_and_clear(sx: SimExchange, client: Client) -> None:
    sx.fault("random_rejects", p=1.0, code=-2010)
    bid, _ = client.top(SYM)
    params = dict(symbol=SYM, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.050", price=str(bid - 40))
    r = client.order(**params)
    assert r.json() == {"code": -2010, "msg": "NEW_ORDER_REJECTED"}
    sx.fault("clear")
    assert client.order(**params).status_code == 200
    sx.fault("clock_skew", ms=-3000)
    server = client.public("/fapi/v1/time").json()["serverTime"]
    assert abs(server - (time.time() * 1000 - 3000)) < 500
    assert client.err("GET", "/fapi/v2/balance") == (400, -1021)         # we are 3 s ahead of the server
    client.offset_ms = -3000
    assert client.ok("GET", "/fapi/v2/balance")
    reader = WsReader(f"{sx.ws_url}/ws/ethusdc@depth@0ms")
    try:
        assert wait_for(lambda: reader.msgs)
        assert abs(reader.msgs[0][1]["E"] - (time.time() * 1000 - 3000)) < 1000
    finally:
        reader.close()


def test_listenkey_expire_user_dup_and_user_reorder(sx: SimExchange, client: Client) -> None:
    key = client.listen_key()
    reader = WsReader(f"{sx.ws_url}/ws/{key}")
    try:
        sx.fault("user_dup", p=1.0, seconds=5)
        client.ok("POST", "/fapi/v1/order", symbol=SYM, side="BUY", type="MARKET", quantity="0.010",
                  newClientOrderId="dup-a")
        assert wait_for(lambda: len(reader.user("ACCOUNT_UPDATE")) >= 2)
        seq = reader.user()
        assert all(a == b for a, b in zip(seq[::2], seq[1::2], strict=False)) and len(seq) % 2 == 0
        sx.fault("clear")
        sx.fault("user_reorder", p=1.0, seconds=5)
        with reader.lock:
            reader.msgs.clear()
        client.ok("POST", "/fapi/v1/order", symbol=SYM, side="SELL", type="MARKET", quantity="0.010",
                  newClientOrderId="dup-b")
        assert wait_for(lambda: len(reader.user()) >= 3, timeout=3)
        kinds = [(e["e"], e["o"]["x"] if "o" in e else "") for e in reader.user()]
        assert kinds[0] == ("ORDER_TRADE_UPDATE", "TRADE") and kinds[1] == ("ORDER_TRADE_UPDATE", "NEW")
        sx.fault("clear")
        sx.fault("listenkey_expire")
        assert wait_for(lambda: reader.user("listenKeyExpired"))
        assert client.s.put(f"{sx.rest_url}/fapi/v1/listenKey", headers={"X-MBX-APIKEY": "simkey"},
                            timeout=5).json()["code"] == -1125
    finally:
        reader.close()
