"""The account series fed by the real REST client against the simulated exchange over loopback: the
``RequestStat``s it reports, its rate budget and its clock offset, as the engine will wire them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from actors.clock import WallClock
from actors.gateway.binance.errors import BinanceError
from actors.gateway.binance.rest import BinanceRest
from actors.metrics import Metrics
from simex import SimConfig, SimExchange

EX = "binance-usdm"


@pytest.fixture(scope="module")
def sx() -> Iterator[SimExchange]:
    with SimExchange(SimConfig(seed=3)) as ex:
        yield ex


def values(m: Metrics) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for f in text_string_to_metric_families(m.scrape().decode()) for s in f.samples}


def test_rest_latency_errors_budget_and_offset_from_the_real_client(sx: SimExchange) -> None:
    m = Metrics(WallClock())
    acct = m.account(EX)
    rest = BinanceRest(sx.rest_url, "simkey", "simsecret", on_request=acct.rest_request, max_attempts=1)
    acct.track_rate_budget(rest.budget_snapshot)
    acct.track_clock_offset(lambda: rest.time_offset_ms)
    try:
        rest.sync_time()
        rest.exchange_info()
        rest.open_orders("ETHUSDC")
        with pytest.raises(BinanceError):
            rest.open_orders("NOPEUSDC")  # an unknown symbol: the exchange refuses it
    finally:
        rest.close()
    text = m.scrape().decode()
    assert "simkey" not in text and "simsecret" not in text and "signature" not in text  # paths, never queries
    v = values(m)

    def get(name: str, **labels: str) -> float:
        return v[(name, frozenset({"exchange": EX, **labels}.items()))]

    assert get("mm_rest_latency_seconds_count", endpoint="GET /fapi/v1/time", status_class="2xx") == 1
    assert get("mm_rest_latency_seconds_count", endpoint="GET /fapi/v1/exchangeInfo", status_class="2xx") == 1
    assert get("mm_rest_latency_seconds_count", endpoint="GET /fapi/v1/openOrders", status_class="2xx") == 1
    assert get("mm_rest_latency_seconds_count", endpoint="GET /fapi/v1/openOrders", status_class="4xx") == 1
    assert 0 < get("mm_rest_latency_seconds_sum", endpoint="GET /fapi/v1/time", status_class="2xx") < 5
    errors = {dict(lb)["kind"]: val for (n, lb), val in v.items() if n == "mm_rest_errors_total"}
    assert errors == {"rejected": 1}  # ErrorKind.REJECTED, in lower case like every label value
    # four requests of weight 1 in this minute's window, of a cap of 2400 x 0.85 (or the simulator's limits)
    budget = get("mm_rate_limit_used_ratio", limit="weight_1m")
    assert 0 < budget < 0.05
    assert get("mm_rate_limit_used_ratio", limit="orders_10s") == 0  # no order sent
    assert abs(get("mm_clock_offset_seconds")) < 1  # same machine: well under a second
