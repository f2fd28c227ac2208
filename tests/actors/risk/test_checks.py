"""The pre-trade check: unit cases, and lesson 1 as a property over random order/fill/cancel sequences."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest

from actors.gateway.events import Side
from actors.instrument import Instrument
from actors.risk.checks import Check, Decision, Exposure, OrderIntent, headroom_lots, pre_trade
from actors.risk.messages import TradingState
from actors.risk.params import Limits, RiskParams

A, R, H = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED
BUY, SELL = Side.BUY, Side.SELL
LIM = Limits(max_inventory_lots=1500, max_order_lots=500)  # 1.5 ETH and 0.5 ETH in 0.001 lots


def buy(q: int, **kw: object) -> OrderIntent:
    return OrderIntent(BUY, q, **kw)  # type: ignore[arg-type]


def sell(q: int, **kw: object) -> OrderIntent:
    return OrderIntent(SELL, q, **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- unit cases

CASES: list[tuple[str, OrderIntent, Exposure, TradingState, Check]] = [
    ("plain buy", buy(100), Exposure(0, 0, 0), A, Check.OK),
    ("buy up to the limit exactly", buy(500), Exposure(500, 500, 0), A, Check.OK),
    ("buy one lot past it", buy(500), Exposure(501, 500, 0), A, Check.INVENTORY),
    # lesson 1: the filled position alone (0.5) looks fine; the open buys make the worst case 1.6
    ("open buys count", buy(100), Exposure(500, 1000, 0), A, Check.INVENTORY),
    ("open sells do not offset buys", buy(100), Exposure(500, 1000, 5000), A, Check.INVENTORY),
    ("sell up to the short limit", sell(300), Exposure(-1000, 0, 200), A, Check.OK),
    ("sell past the short limit", sell(301), Exposure(-1000, 0, 200), A, Check.INVENTORY),
    ("a sell while long past the limit is fine", sell(500), Exposure(2000, 0, 0), A, Check.OK),
    ("a buy while long past the limit is not", buy(1), Exposure(2000, 0, 0), A, Check.INVENTORY),
    ("single order max", buy(501), Exposure(0, 0, 0), A, Check.ORDER_TOO_LARGE),
    ("zero qty", buy(0), Exposure(0, 0, 0), A, Check.BAD_ORDER),
    ("negative price", buy(1, price_ticks=-5), Exposure(0, 0, 0), A, Check.BAD_ORDER),
    ("halted refuses", buy(1), Exposure(0, 0, 0), H, Check.HALTED),
    ("halted refuses reduce-only quotes", sell(1, reduce_only=True), Exposure(10, 0, 0), H, Check.HALTED),
    ("halted allows a reduce-only flatten", sell(10, reduce_only=True, flatten=True), Exposure(10, 0, 0), H,
     Check.OK),
    ("halted refuses a flatten not reduce-only", sell(10, flatten=True), Exposure(10, 0, 0), H, Check.HALTED),
    ("reducing refuses plain orders", sell(5), Exposure(10, 0, 0), R, Check.REDUCING),
    ("reducing allows reduce-only", sell(5, reduce_only=True), Exposure(10, 0, 0), R, Check.OK),
    ("reduce-only on the adding side", buy(5, reduce_only=True), Exposure(10, 0, 0), R, Check.REDUCE_ONLY_INVALID),
    ("reduce-only when flat", buy(5, reduce_only=True), Exposure(0, 0, 0), A, Check.REDUCE_ONLY_INVALID),
    ("reduce-only larger than the position", buy(11, reduce_only=True), Exposure(-10, 0, 0), A,
     Check.REDUCE_ONLY_INVALID),
    # a reduce-only sell that fills first lets the other open sells take the position short past the limit
    ("reduce-only still counts in the worst case", sell(500, reduce_only=True), Exposure(500, 0, 1600), A,
     Check.INVENTORY),
]


@pytest.mark.parametrize(("name", "order", "exposure", "state", "check"), CASES, ids=[c[0] for c in CASES])
def test_cases(name: str, order: OrderIntent, exposure: Exposure, state: TradingState, check: Check) -> None:
    d = pre_trade(order, exposure, LIM, state)
    assert d.check is check, d.reason
    assert d.ok is (check is Check.OK)


def test_headroom() -> None:
    e = Exposure(300, 400, 200)
    assert headroom_lots(BUY, e, LIM) == 800 and headroom_lots(SELL, e, LIM) == 1600
    assert pre_trade(buy(500), e, LIM, A).ok and not pre_trade(buy(500), Exposure(300, 701, 0), LIM, A).ok
    assert headroom_lots(BUY, Exposure(2000, 0, 0), LIM) == 0


def test_exchange_filters_of_ethusdt(eth: Instrument) -> None:
    lim = Limits.from_params(RiskParams(max_inventory=Decimal("1.5"), max_order_qty=Decimal("0.5")), eth)
    assert (lim.max_inventory_lots, lim.max_order_lots) == (1500, 500)
    e = Exposure(0, 0, 0)
    px = eth.price_to_ticks("2500.00")
    # MIN_NOTIONAL 10: 0.004 ETH x 2500 = 10 passes, 0.003 (7.5) would be -4164
    assert pre_trade(buy(4, price_ticks=px), e, lim, A, instrument=eth).ok
    d = pre_trade(buy(3, price_ticks=px), e, lim, A, instrument=eth)
    assert d.check is Check.MIN_NOTIONAL and "7.5" in d.reason
    # reduce-only orders are exempt from min notional
    assert pre_trade(sell(3, price_ticks=px, reduce_only=True), Exposure(3, 0, 0), lim, A, instrument=eth).ok
    # a market order is priced at the reference mid
    mid_x2 = 2 * px
    assert pre_trade(buy(3), e, lim, A, instrument=eth, ref_mid_x2_ticks=mid_x2).check is Check.MIN_NOTIONAL
    # fat finger: 4 % away from mid > 300 bps
    far = eth.price_to_ticks("2600.00")
    assert pre_trade(buy(4, price_ticks=far), e, lim, A, instrument=eth, ref_mid_x2_ticks=mid_x2).check \
        is Check.PRICE_DEVIATION


def test_limits_round_down(eth: Instrument) -> None:
    lim = Limits.from_params(RiskParams(max_inventory=Decimal("0.0159"), max_order_qty=Decimal("0.0099")), eth)
    assert (lim.max_inventory_lots, lim.max_order_lots) == (15, 9)
    with pytest.raises(ValueError, match="below one step"):
        Limits.from_params(RiskParams(max_inventory=Decimal("0.1"), max_order_qty=Decimal("0.0001")), eth)


# ---------------------------------------------------------------------------------------------- the property


@dataclass
class SimOrder:
    side: Side
    remaining: int
    reduce_only: bool
    status: str  # pending_new | open | pending_cancel | unknown


class Sim:
    """An OMS and an exchange in miniature: every order that could still fill counts in the exposure."""

    def __init__(self) -> None:
        self.position = 0
        self.orders: dict[int, SimOrder] = {}
        self.next_id = 0
        self.fills = self.rejected = self.accepted = self.max_abs = 0

    def exposure(self) -> Exposure:
        b = sum(o.remaining for o in self.orders.values() if o.side is BUY)
        s = sum(o.remaining for o in self.orders.values() if o.side is SELL)
        return Exposure(self.position, b, s)

    def fill(self, oid: int, q: int) -> None:
        o = self.orders[oid]
        if o.reduce_only:  # the exchange never lets it add: capped at what reduces, the rest expires
            reducible = max(0, -self.position if o.side is BUY else self.position)
            q = min(q, reducible)
        self.position += q if o.side is BUY else -q
        o.remaining -= q
        self.fills += q > 0
        if o.remaining == 0 or (o.reduce_only and q == 0):
            del self.orders[oid]
        if self.position == 0:  # reduce-only orders are cancelled when the position closes
            for k in [k for k, x in self.orders.items() if x.reduce_only]:
                del self.orders[k]
        self.max_abs = max(self.max_abs, abs(self.position))


Checker = Callable[[OrderIntent, Exposure, Limits, TradingState], Decision]


def run(seed: int, steps: int, checker: Checker, lim: Limits = LIM) -> Sim:
    rnd = random.Random(seed)
    sim = Sim()
    for _ in range(steps):
        op = rnd.random()
        live = list(sim.orders)
        if op < 0.40 or not live:  # a new order
            side = rnd.choice((BUY, SELL))
            state = rnd.choices((A, R, H), (0.85, 0.1, 0.05))[0]
            reduce_only = rnd.random() < 0.2
            order = OrderIntent(side, rnd.randint(1, lim.max_order_lots + 100), None, reduce_only,
                                flatten=reduce_only and rnd.random() < 0.5)
            if checker(order, sim.exposure(), lim, state).ok:
                sim.accepted += 1
                sim.orders[sim.next_id] = SimOrder(side, order.qty_lots, reduce_only, "pending_new")
                sim.next_id += 1
            else:
                sim.rejected += 1
        elif op < 0.70:  # a fill, partial or full, in any status that can still fill
            oid = rnd.choice(live)
            sim.fill(oid, rnd.randint(1, sim.orders[oid].remaining))
        elif op < 0.80:
            oid = rnd.choice(live)
            o = sim.orders[oid]
            o.status = {"pending_new": rnd.choice(("open", "unknown")), "open": "pending_cancel"}.get(o.status,
                                                                                                     o.status)
        elif op < 0.90:  # a cancel confirmed, a reject, or an unknown outcome resolved as "never existed"
            oid = rnd.choice(live)
            if sim.orders[oid].status in ("pending_cancel", "pending_new", "unknown"):
                del sim.orders[oid]
        else:  # a burst: every open order fills at once (the worst case happening)
            for oid in live:
                if oid in sim.orders:
                    sim.fill(oid, sim.orders[oid].remaining)
        e = sim.exposure()
        assert abs(sim.position) <= lim.max_inventory_lots, f"seed {seed}: position {sim.position}"
        assert e.worst_long <= lim.max_inventory_lots and e.worst_short >= -lim.max_inventory_lots, (seed, e)
    return sim


@pytest.mark.parametrize("seed", range(20))
def test_worst_case_never_exceeds_the_limit(seed: int) -> None:
    sim = run(seed, 5000, pre_trade)
    assert sim.fills > 500 and sim.accepted > 500 and sim.rejected > 50  # not vacuous
    assert sim.max_abs >= LIM.max_inventory_lots * 0.8  # the limit was approached, often reached


def test_the_limit_is_reached_exactly_somewhere() -> None:
    assert any(run(seed, 3000, pre_trade).max_abs == LIM.max_inventory_lots for seed in range(20))


def test_a_position_only_check_would_breach() -> None:
    """The predecessor's check (lesson 1): the same sequences break the limit, so the property has teeth."""

    def naive(order: OrderIntent, e: Exposure, lim: Limits, state: TradingState) -> Decision:
        signed = order.qty_lots if order.side is BUY else -order.qty_lots
        ok = abs(e.position_lots + signed) <= lim.max_inventory_lots and order.qty_lots <= lim.max_order_lots
        return Decision(ok, Check.OK if ok else Check.INVENTORY, "")

    breaches = 0
    for seed in range(5):
        with pytest.raises(AssertionError):
            run(seed, 5000, naive)
        breaches += 1
    assert breaches == 5


def test_exposure_from_the_oms_per_side_figures() -> None:
    @dataclass(frozen=True)
    class Sides:
        buy_lots: int
        sell_lots: int

    e = Exposure.of(-20, Sides(30, 5))
    assert (e.worst_long, e.worst_short) == (10, -25)
    with pytest.raises(ValueError, match="negative"):
        Exposure(0, -1, 0)
