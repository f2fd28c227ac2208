"""The seeded synthetic market: determinism in market time, and regimes that do what their names say."""

from __future__ import annotations

import math
import time
from decimal import Decimal

import numpy as np

from simex import SimConfig, SimExchange
from simex.exchange import Exchange
from simex.market import DepthSet, TradePrint
from simex.orders import BUY
from simex.symbols import DEFAULT_SPECS
from simex.synth import SyntheticMarket

from .conftest import Client, wait_for

SPEC = DEFAULT_SPECS["ETHUSDC"]


def mids(gen: SyntheticMarket, until_ms: int, every_ms: int = 100) -> list[float]:
    out = []
    for t in range(gen.next_time(), until_ms + 1, every_ms):
        gen.advance(t)
        bids, asks = gen.book
        assert max(bids) < min(asks), "the synthetic book crossed"
        out.append((max(bids) + min(asks)) / 2)
    return out


def test_same_seed_same_events_however_time_is_sliced() -> None:
    a = SyntheticMarket(SPEC, seed=7, index=0).advance(30_000)
    b_gen = SyntheticMarket(SPEC, seed=7, index=0)
    b = []
    t = 0
    while t < 30_000:
        t = min(30_000, t + 37)
        b.extend(b_gen.advance(t))
    assert a == b and len(a) == 301
    assert any(isinstance(i, TradePrint) for e in a for i in e.items)
    assert SyntheticMarket(SPEC, seed=8, index=0).advance(30_000) != a
    assert SyntheticMarket(SPEC, seed=7, index=1).advance(30_000) != a


def test_same_seed_same_published_market_data() -> None:
    def run() -> list[tuple[str, dict]]:
        ex = Exchange({"ETHUSDC": SPEC}, ["a"])
        out = []
        for ev in SyntheticMarket(SPEC, seed=7, index=0).advance(10_000):
            ex.feed_step(ev.symbol, ev.items, 1_000_000 + ev.t_ms)
            ex.flush(1_000_000 + ev.t_ms)
            out.extend(ex.drain()[0])
        return out

    first, second = run(), run()
    assert first == second and len(first) > 200


def test_regimes_move_the_market_as_named() -> None:
    def returns(regime: str, seconds: int = 60) -> tuple[float, float, list[float]]:
        gen = SyntheticMarket(SPEC, seed=3, index=0)
        gen.set_regime(regime, 0)
        m = mids(gen, seconds * 1000)
        r = np.diff(np.log(m))
        return math.log(m[-1] / m[0]), float(np.std(r)), m

    calm = returns("calm")
    up, down, hv = returns("trend_up"), returns("trend_down"), returns("high_vol")
    assert up[0] > 0.005 and down[0] < -0.005 and abs(calm[0]) < abs(up[0])
    assert hv[1] > 2.5 * calm[1]
    toxic = SyntheticMarket(SPEC, seed=3, index=0)
    toxic.set_regime("toxic_buy", 0)
    events = toxic.advance(20_000)
    prints = [i for e in events for i in e.items if isinstance(i, TradePrint)]
    assert sum(p.taker_side == BUY for p in prints) > 0.8 * len(prints)
    assert max(len({p.ticks for p in e.items if isinstance(p, TradePrint)}) for e in events) >= 3  # walks the book


def test_flash_crash_drops_thins_recovers_and_ends() -> None:
    gen = SyntheticMarket(SPEC, seed=5, index=0)
    gen.advance(2_000)
    start = (max(gen.book[0]) + min(gen.book[1])) / 2
    touch_before = gen.book[0][max(gen.book[0])]
    gen.set_regime("flash_crash", gen.next_time(), seconds=12)
    m = mids(gen, 2_000 + 3_100)
    bottom = min(m)
    assert bottom < start * 0.96                                         # several percent down in seconds
    assert gen.book[0][max(gen.book[0])] < touch_before                  # thin book
    m2 = mids(gen, 2_000 + 8_500)
    assert m2[-1] > bottom + 0.3 * (start - bottom)                      # partial recovery
    mids(gen, 2_000 + 13_000)
    assert gen.regime_name == "calm"


def test_regime_schedule_and_live_regime_change() -> None:
    gen = SyntheticMarket(SPEC, seed=5, index=0)
    gen.schedule_regime(1_000, "high_vol", 2.0)
    gen.advance(1_500)
    assert gen.regime_name == "high_vol"
    gen.advance(3_100)
    assert gen.regime_name == "calm"
    cfg = SimConfig(seed=9, speed=5.0, regimes=(("BTCUSDC", "trend_up"),))
    with SimExchange(cfg) as sx:
        assert sx.state()["symbols"]["BTCUSDC"]["regime"] == "trend_up"
        client = Client(sx.rest_url)
        bid0, ask0 = client.top("ETHUSDC")
        sx.set_regime("ETHUSDC", "flash_crash", seconds=10)
        mid0 = (bid0 + ask0) / 2

        def crashed() -> bool:
            bid, ask = client.top("ETHUSDC")
            return (bid + ask) / 2 < mid0 * Decimal("0.97")

        assert wait_for(crashed, timeout=3)
        time.sleep(0.1)
        assert sx.state()["symbols"]["ETHUSDC"]["regime"] == "flash_crash"


def test_generator_events_are_on_the_grid() -> None:
    for sym in ("ETHUSDC", "BTCUSDT"):
        for ev in SyntheticMarket(DEFAULT_SPECS[sym], seed=1, index=2).advance(5_000):
            for item in ev.items:
                if isinstance(item, DepthSet):
                    assert all(isinstance(p, int) and isinstance(q, int) and q >= 0 for _, p, q in item.levels)
                else:
                    assert item.lots > 0 and isinstance(item.ticks, int)
