"""ETHUSDT as Binance USDⓈ-M lists it (tick 0.01, step 0.001, min notional 10), from the real exchangeInfo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from actors.gateway.binance.exchange_info import parse_exchange_info
from actors.instrument import Instrument

EXCHANGE_INFO = ("nautilus_trader/tests/integration_tests/adapters/binance/resources/http_responses/"
                 "http_futures_market_exchange_info.json")


@pytest.fixture(scope="session")
def eth(data_dir: Path) -> Instrument:
    raw = json.loads((data_dir / EXCHANGE_INFO).read_text(encoding="utf-8"))
    return parse_exchange_info(raw).instrument("ETHUSDT")
