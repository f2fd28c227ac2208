"""exchangeInfo → Instrument and rate limits, on the real fixture and on mutations."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from actors.gateway.binance.exchange_info import ExchangeInfoError, parse_exchange_info

from .conftest import RES, load

RAW = load(RES / "http_responses/http_futures_market_exchange_info.json")


def test_real_fixture() -> None:
    info = parse_exchange_info(RAW)
    btc = info.instrument("BTCUSDT")
    assert btc.tick_size == Decimal("0.10") and btc.step_size == Decimal("0.001")
    assert btc.min_notional == Decimal("10") and btc.min_qty == Decimal("0.001")
    assert btc.max_price == Decimal("1246396.60") and btc.market_max_qty == Decimal("1000")
    assert info.is_trading("BTCUSDT") and info.meta["BTCUSDT"].contract_type == "PERPETUAL"
    assert "GTX" in info.meta["BTCUSDT"].time_in_force
    assert len(info.rate_limits) == 3 and info.server_time_ms == 1645233611962
    assert btc.price_to_ticks("40000.1") == 400001
    assert len(info.instruments) == len(RAW["symbols"]) and not info.skipped


def test_one_bad_symbol_does_not_spoil_the_rest() -> None:
    raw = copy.deepcopy(RAW)
    raw["symbols"][0]["filters"] = [f for f in raw["symbols"][0]["filters"] if f["filterType"] != "LOT_SIZE"]
    raw["symbols"][1]["filters"][0]["tickSize"] = "NaN"
    info = parse_exchange_info(raw)
    bad0, bad1 = raw["symbols"][0]["symbol"], raw["symbols"][1]["symbol"]
    assert set(info.skipped) == {bad0, bad1}
    with pytest.raises(ExchangeInfoError, match="LOT_SIZE"):
        info.instrument(bad0)
    assert raw["symbols"][2]["symbol"] in info.instruments


def test_not_an_exchange_info() -> None:
    with pytest.raises(ExchangeInfoError):
        parse_exchange_info({"code": -1000})
    with pytest.raises(ExchangeInfoError):
        parse_exchange_info({"symbols": [], "rateLimits": [{"rateLimitType": "ORDERS", "interval": "X"}]})


def test_live_recorded_exchange_info_from_gocryptotrader() -> None:
    from .conftest import DATA

    routes = load(DATA / "gocryptotrader/exchanges/binance/testdata/http.json")["routes"]
    raw = routes["/fapi/v1/exchangeInfo"]["GET"][0]["data"]
    info = parse_exchange_info(raw)
    assert len(info.instruments) == len(raw["symbols"]) and not info.skipped
    eth = info.instrument("ETHUSDT")
    assert (eth.tick_size, eth.step_size) == (Decimal("0.01"), Decimal("0.001"))
    assert eth.min_notional == Decimal("20")
    assert [x.limit for x in info.rate_limits] == [2400, 1200, 300]
