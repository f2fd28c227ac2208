"""The gateway's ``orders`` lane against the simulated exchange over real sockets.

When the placement thread is idle and a connection is open, the lane writes the request on the caller's
thread (the OMS's) and the placement thread reads the answer; otherwise the placement is queued, in order.
The lane counts as busy from the write until the answer is read (the shutdown's final cancel-all waits for
it), a stopping gateway still reads an answer already on the wire, and a retired one sends nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import pykka
import pytest

from actors.base import Peers
from actors.clock import WallClock
from actors.context import SymbolContext
from actors.gateway.actor import GatewayActor
from actors.gateway.binance.errors import OrderNotFoundError
from actors.gateway.binance.rest import BinanceRest
from actors.gateway.events import OrderReport, Side
from actors.oms.messages import NewOrder, PlaceOrders
from actors.settings import parse_settings
from actors.timers import Timers
from simex import SimConfig, SimExchange

SYMBOL = "ETHUSDC"


class Recorder(pykka.ThreadingActor):
    """Stands in for the OMS: keeps what the gateway tells it."""

    def __init__(self) -> None:
        super().__init__()
        self.got: list[Any] = []

    def on_receive(self, message: Any) -> Any:
        if message == "got":
            return list(self.got)
        self.got.append(message)
        return None


class Rig:
    def __init__(self, sx: SimExchange, tmp: Path) -> None:
        self.sx = sx
        self.writers: list[str] = []  # the thread that wrote each request (the REST client's pre-send hook)
        self.rest = BinanceRest(sx.rest_url, "simkey", "simsecret",
                                pre_send=lambda _: self.writers.append(threading.current_thread().name))
        self.timers = Timers(WallClock())
        self.peers = Peers()
        self.ins = self.rest.exchange_info().instrument(SYMBOL)
        settings = parse_settings({"store": {"path": str(tmp / "mm.db")}})
        self.ctx = SymbolContext(SYMBOL, "binance-usdm", self.ins, WallClock(), self.timers, self.peers, settings,
                                 self.rest, sx.ws_url, "test")
        self.oms = Recorder.start()
        self.peers.set("oms", self.oms)
        self.gateway = GatewayActor.start(self.ctx, None, user_stream=False)
        self.peers.set("gateway", self.gateway)
        self.bid = Decimal(self.rest.depth(SYMBOL, 5).bids[0][0])
        with pytest.raises(OrderNotFoundError):  # syncs the time
            self.rest.get_order(SYMBOL, client_order_id="warm-up")
        assert wait_for(lambda: self.rest.idle_order_connections() >= 2)  # the gateway opens them at start
        self.writers.clear()

    def place(self, *cids: str) -> PlaceOrders:
        price = (self.bid * Decimal("0.97") / self.ins.tick_size).to_integral_value(ROUND_FLOOR) * self.ins.tick_size
        ticks = self.ins.price_to_ticks(price)
        lots = self.ins.min_lots_for_notional(ticks) + 1
        return PlaceOrders(SYMBOL, tuple(NewOrder(cid, Side.BUY, ticks - i, lots) for i, cid in enumerate(cids)))

    def reports(self) -> list[str]:
        return [m.client_order_id for m in self.oms.ask("got") if isinstance(m, OrderReport)]

    def on_exchange(self) -> set[str]:
        return {o["clientOrderId"] for o in self.sx.state()["accounts"]["simkey"]["open_orders"]}

    def close(self) -> None:
        if self.gateway.is_alive():
            self.gateway.stop(timeout=10)
        self.oms.stop()
        self.timers.stop()
        self.rest.close()


def wait_for(pred, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with SimExchange(SimConfig(seed=5)) as sx:
        r = Rig(sx, tmp_path)
        yield r
        r.close()


def test_an_idle_lane_writes_on_the_callers_thread_and_the_answers_reach_the_oms(rig: Rig) -> None:
    me = threading.current_thread().name
    assert rig.ctx.lanes.submit("orders", rig.place("lane-a"))
    assert rig.writers == [me]  # on the wire before submit returned
    assert wait_for(lambda: rig.reports() == ["lane-a"]) and rig.ctx.lanes.wait_idle("orders", 5)
    assert wait_for(lambda: rig.rest.idle_order_connections() >= 2)
    assert rig.ctx.lanes.submit("orders", rig.place("pair-b", "pair-c"))  # one request each, side by side
    assert rig.writers == [me, me]  # the hook runs once a placement: before its last request is written
    assert wait_for(lambda: rig.reports() == ["lane-a", "pair-b", "pair-c"])
    assert {"lane-a", "pair-b", "pair-c"} <= rig.on_exchange() and rig.ctx.lanes.wait_idle("orders", 5)


def test_a_busy_lane_queues_in_order_and_counts_busy_until_the_answer(rig: Rig) -> None:
    me = threading.current_thread().name
    rig.sx.fault("rest_delay", ms=400, count=1, path="/fapi/v1/order")
    assert rig.ctx.lanes.submit("orders", rig.place("slow-1"))
    assert rig.ctx.lanes.submit("orders", rig.place("then-2"))  # the first is still waiting for its answer
    assert not rig.ctx.lanes.wait_idle("orders", 0.05)
    assert wait_for(lambda: rig.reports() == ["slow-1", "then-2"])
    assert rig.writers[0] == me and rig.writers[1].startswith("orders-")
    assert rig.ctx.lanes.wait_idle("orders", 5)


def test_a_stopping_gateway_reads_the_answer_already_on_the_wire_and_refuses_the_next(rig: Rig) -> None:
    rig.sx.fault("rest_delay", ms=300, count=1, path="/fapi/v1/order")
    assert rig.ctx.lanes.submit("orders", rig.place("in-flight"))
    rig.gateway.stop(timeout=10)  # waits for the placement thread, which reads the answer
    assert rig.reports() == ["in-flight"] and rig.ctx.lanes.wait_idle("orders", 0)
    assert not rig.ctx.lanes.submit("orders", rig.place("after-stop"))
    assert rig.on_exchange() == {"in-flight"}


def test_a_retired_gateway_sends_nothing(rig: Rig) -> None:
    rig.peers.set("gateway", rig.oms)  # a successor took the name
    assert not rig.ctx.lanes.submit("orders", rig.place("retired"))
    time.sleep(0.2)
    assert rig.writers == [] and "retired" not in rig.on_exchange()
