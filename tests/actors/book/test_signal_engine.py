"""The signal engine: hand-checked snapshots, bad inputs, time handling, synthetic regimes, the real capture.

Also home of ``capture_feed``: the real USDⓈ-M capture as one arrival-ordered list of book tops and trades
(parsed once per session), which the volatility, regime, VPIN and intensity tests use for their numpy references.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from actors.book.book import OrderBook
from actors.book.intensity import TradeIntensity
from actors.book.market_signals import MarketSignals, Regime
from actors.book.replay import BookReplayer
from actors.book.signal_engine import SignalEngine
from actors.book.signal_params import SignalParams
from actors.book.signals import imbalance
from actors.book.sync import BookSync
from actors.book.view import MarketView, market_view
from actors.book.volatility import RealizedVol
from actors.book.vpin import Vpin
from actors.gateway.binance.capture import read_capture
from actors.gateway.binance.frames import FrameParser
from actors.gateway.events import DepthDiff, Trade
from actors.instrument import Instrument

S = 1_000_000_000
MS = 1_000_000
USDM = "hftbacktest/examples/usdm/ethusdt_20240808.gz"
T0 = 1_723_161_255 * S  # a plausible epoch time: the engine must not care


# ------------------------------------------------------------------ the real capture as a feed


@dataclass(frozen=True)
class Feed:
    """Book tops (after each applied diff, stamped with the frame that applied it) and trades, in arrival order."""

    events: tuple[tuple, ...]  # ("b", t, bid, ask, bid_qty, ask_qty, imbalance) | ("t", t, price, qty, maker)
    book_t: np.ndarray  # int64 ns
    mid: np.ndarray  # (bid + ask) * 0.5, as the engine computes it
    trade_t: np.ndarray
    price: np.ndarray
    qty: np.ndarray
    buyer_is_maker: np.ndarray
    trade_mid: np.ndarray  # the mid of the last book top before each trade; nan before the first


@functools.cache
def _load(path: str) -> Feed:
    events: list[tuple] = []
    now = [0]

    def on_applied(sync: BookSync, _d: DepthDiff) -> None:
        bid, ask = sync.book.best_bid(), sync.book.best_ask()
        assert bid is not None and ask is not None
        events.append(("b", now[0], float(bid[0]), float(ask[0]), float(bid[1]), float(ask[1]),
                       imbalance(sync.book, 5)))

    rp = BookReplayer("ETHUSDT", on_applied=on_applied)
    parser = FrameParser(user_parser=lambda d, ns: None)
    for ns, raw in read_capture([path]):
        now[0] = ns
        if raw.startswith('{"stream":"ethusdt@trade"'):
            ev = parser.parse(raw, ns)
            assert isinstance(ev, Trade)
            events.append(("t", ns, float(ev.price), float(ev.qty), ev.buyer_is_maker))
        else:
            rp.feed(ns, raw)
    books = [e for e in events if e[0] == "b"]
    trades = [e for e in events if e[0] == "t"]
    trade_mid, mid = [], math.nan
    for e in events:
        if e[0] == "b":
            mid = (e[2] + e[3]) * 0.5
        else:
            trade_mid.append(mid)
    return Feed(
        events=tuple(events),
        book_t=np.array([e[1] for e in books], dtype=np.int64),
        mid=np.array([(e[2] + e[3]) * 0.5 for e in books]),
        trade_t=np.array([e[1] for e in trades], dtype=np.int64),
        price=np.array([e[2] for e in trades]),
        qty=np.array([e[3] for e in trades]),
        buyer_is_maker=np.array([e[4] for e in trades], dtype=bool),
        trade_mid=np.array(trade_mid),
    )


def capture_feed(data_dir: Path) -> Feed:
    return _load(str(data_dir / USDM))


def run(engine: SignalEngine, events: tuple[tuple, ...] | list[tuple]) -> list[MarketSignals]:
    """Feed events; one snapshot per book event (as the book actor would)."""
    out = []
    for e in events:
        if e[0] == "b":
            engine.on_book(e[2], e[3], e[4], e[5], e[6], e[1])
            out.append(engine.snapshot(e[1]))
        else:
            engine.on_trade(e[2], e[3], e[4], e[1])
    return out


# ------------------------------------------------------------------ the output type and the parameters


def test_market_signals_field_order_is_what_snapshot_builds() -> None:
    """``snapshot`` builds MarketSignals positionally (half the cost of keywords): the order is pinned here."""
    assert MarketSignals.__struct_fields__ == (
        "made_ns", "mid", "microprice", "spread_bps", "imbalance", "sigma", "sigma_bps", "vol_warm", "drift_bps",
        "regime", "vpin", "vpin_warm", "toxic", "intensity_a", "intensity_k", "intensity_fitted", "trade_rate",
        "age_ms")


def test_params_defaults_and_cross_checks() -> None:
    p = SignalParams()
    assert p.vol_window_ns == 30 * S and p.vol_sample_ns == 100 * MS and p.trend_window_ns == 30 * S
    assert p.vpin_bar_ns == S and p.intensity_window_ns == 60 * S and p.regime_min_dwell_ns == 5 * S
    for f in dataclasses.fields(SignalParams):  # every number is bounded for the settings loader
        assert f.type == "bool" or "lo" in f.metadata, f.name
    for bad in ({"trend_exit_z": 3.0}, {"high_vol_exit_bps": 4.0}, {"vpin_toxic_exit": 0.6},
                {"vol_window_s": 30.05}, {"trend_window_s": 0.5}, {"max_gap_ms": 150},
                {"intensity_refit_ms": 61_000}):
        with pytest.raises(ValueError, match=r"^\[signals\] "):
            SignalParams(**bad)


# ------------------------------------------------------------------ hand-checked snapshots and inputs


def test_snapshot_before_any_book() -> None:
    e = SignalEngine()
    s = e.snapshot(T0)
    assert s.mid == 0.0 and s.age_ms == math.inf and s.regime is Regime.CALM and not s.vol_warm
    e.on_trade(100.0, 1.0, False, T0)  # counted by VPIN; no mid yet, so not by the intensity window
    assert e.snapshot(T0).made_ns == T0 and e.intensity.counts()[0] == 0


def test_snapshot_hand_computed() -> None:
    e = SignalEngine()
    assert e.on_book(100.00, 100.02, 1.0, 3.0, 0.5, T0)
    s = e.snapshot(T0 + 2_500_000)
    assert s.mid == pytest.approx(100.01)
    # microprice = (bid·ask_qty + ask·bid_qty) / (bid_qty + ask_qty) = (300 + 100.02) / 4 = 100.005
    assert s.microprice == pytest.approx(100.005, rel=1e-15)
    assert s.spread_bps == pytest.approx(0.02 / 100.01 * 1e4, rel=1e-12)  # 1.99980 bps
    assert (s.imbalance, s.age_ms, s.made_ns) == (0.5, 2.5, T0)
    assert (s.sigma, s.vol_warm, s.vpin, s.vpin_warm, s.toxic, s.intensity_fitted) == (0.0, False, 0.0, False,
                                                                                       False, False)
    e.on_book(100.00, 100.02, 0.0, 0.0, 0.0, T0 + MS)
    assert e.snapshot(T0).microprice == pytest.approx(100.01)  # no sizes: the mid
    assert e.snapshot(T0).age_ms == 0.0  # a clock behind the book does not give a negative age


@pytest.mark.parametrize("bad", [
    (100.02, 100.00, 1.0, 1.0, 0.0),  # crossed
    (100.00, 100.00, 1.0, 1.0, 0.0),  # locked
    (math.nan, 100.0, 1.0, 1.0, 0.0),
    (0.0, 100.0, 1.0, 1.0, 0.0),
    (100.0, math.inf, 1.0, 1.0, 0.0),
    (100.0, 100.02, -1.0, 1.0, 0.0),
    (100.0, 100.02, 1.0, math.nan, 0.0),
    (100.0, 100.02, 1.0, 1.0, 1.5),
    (100.0, 100.02, 1.0, 1.0, math.nan),
])
def test_bad_book_is_ignored_and_counted(bad: tuple[float, ...]) -> None:
    e = SignalEngine()
    e.on_book(100.0, 100.02, 1.0, 1.0, 0.0, T0)
    before = e.snapshot(T0 + S)
    assert not e.on_book(*bad, T0 + MS)
    assert e.rejected == 1 and e.snapshot(T0 + S) == before


@pytest.mark.parametrize("bad", [(math.nan, 1.0), (-1.0, 1.0), (100.0, 0.0), (100.0, -2.0), (100.0, math.inf)])
def test_bad_trade_is_ignored_and_counted(bad: tuple[float, float]) -> None:
    e = SignalEngine()
    e.on_book(100.0, 100.02, 1.0, 1.0, 0.0, T0)
    assert not e.on_trade(*bad, True, T0 + MS)
    assert e.rejected == 1 and e.snapshot(T0).made_ns == T0


def test_time_never_runs_backwards() -> None:
    e = SignalEngine()
    e.on_book(100.0, 100.02, 1.0, 1.0, 0.0, T0 + S)
    e.on_trade(100.02, 1.0, False, T0 + 2 * S)
    e.on_book(100.0, 100.04, 1.0, 1.0, 0.0, T0)  # stamped before both: counts as of T0 + 2 s
    s = e.snapshot(T0 + 3 * S)
    assert s.made_ns == T0 + 2 * S and s.age_ms == 1000.0


def test_on_view_is_on_book_in_ticks_and_lots() -> None:
    inst = Instrument("ETHUSDC", "ETH", "USDC", Decimal("0.01"), Decimal("0.001"), Decimal("0.001"),
                      Decimal("1000"), Decimal("20"))
    book = OrderBook("ETHUSDC", 2, 3)
    book.load([("2681.61", "1.500"), ("2681.60", "2.000")], [("2681.63", "0.500")])
    view = market_view(book, inst, T0, T0, 1500 * MS)
    assert isinstance(view, MarketView)
    a, b = SignalEngine(tick_size=Decimal("0.01"), lot_size="0.001"), SignalEngine()
    assert a.on_view(view)
    b.on_book(2681.61, 2681.63, 1.5, 0.5, view.imbalance, T0)
    sa, sb = a.snapshot(T0), b.snapshot(T0)
    assert sa.mid == pytest.approx(sb.mid, rel=1e-15) and sa.microprice == pytest.approx(sb.microprice, rel=1e-15)
    assert sa.imbalance == pytest.approx((3.5 - 0.5) / 4.0)


def test_a_silent_book_restarts_volatility_but_keeps_trade_signals() -> None:
    p = SignalParams(vol_window_s=1.0, trend_window_s=1.0, max_gap_ms=2000, vpin_bucket_volume=1.0,
                     vpin_buckets=2)
    e = SignalEngine(p)
    for i in range(30):
        e.on_book(100.0 + 0.01 * (i % 3), 100.05 + 0.01 * (i % 3), 1.0, 1.0, 0.0, T0 + i * 100 * MS)
        e.on_trade(100.05, 1.0, False, T0 + i * 100 * MS)
    s = e.snapshot(T0 + 3 * S)
    assert s.vol_warm and s.vpin_warm
    e.on_book(100.0, 100.05, 1.0, 1.0, 0.0, T0 + 3 * S + 2001 * MS)  # 2.001 s after the last book change
    s = e.snapshot(T0 + 6 * S)
    assert not s.vol_warm and s.sigma == 0.0 and s.regime is Regime.CALM
    assert s.vpin_warm  # trades are another stream: VPIN keeps its buckets


def test_book_path_closes_bars_and_refits_when_trades_stop() -> None:
    p = SignalParams(vpin_bucket_volume=1.0, vpin_buckets=2, intensity_refit_ms=1000)
    e = SignalEngine(p)
    e.on_book(100.0, 100.02, 1.0, 1.0, 0.0, T0)
    for i in range(3):  # three bars of 1 s, one trade each: bar 0 is the reference, bars 1 and 2 wait
        e.on_trade(100.02 + i * 0.01, 1.0, False, T0 + i * S)
    assert e.vpin.buckets == 1  # bar 1 closed by the trade of bar 2; bar 2 still open
    assert e.intensity.last_fit_ns == T0 + 2 * S  # the trade path refits (at most once per second)
    e.on_book(100.0, 100.02, 1.0, 1.0, 0.0, T0 + 3 * S + 500 * MS)  # bar 2 ended at 3 s: not a full bar late
    assert e.vpin.buckets == 1
    assert e.intensity.last_fit_ns == T0 + 2 * S  # 1.5 s: under two refit intervals, left to the trades
    e.on_book(100.0, 100.02, 1.0, 1.0, 0.0, T0 + 4 * S)  # a full bar late, two refit intervals: trades stopped
    assert e.vpin.buckets == 2 and e.snapshot(T0 + 4 * S).vpin_warm
    assert e.intensity.last_fit_ns == T0 + 4 * S


# ------------------------------------------------------------------ synthetic markets: regimes and toxicity


def _walk(e: SignalEngine, seconds: float, t0: int, mid: float, drift_bps_s: float, vol_bps_sqrt_s: float,
          rng: random.Random, step_ms: int = 50) -> tuple[int, float, list[MarketSignals]]:
    """A random walk of the mid on a 0.01 tick grid, one book change every ``step_ms``."""
    out, t, dt = [], t0, step_ms / 1000
    for _ in range(int(seconds / dt)):
        t += step_ms * MS
        mid *= math.exp(drift_bps_s * 1e-4 * dt + vol_bps_sqrt_s * 1e-4 * math.sqrt(dt) * rng.gauss(0, 1))
        bid = math.floor(mid * 100) / 100
        e.on_book(bid, bid + 0.01, 1.0, 1.0, 0.0, t)
        out.append(e.snapshot(t))
    return t, mid, out


def test_synthetic_regimes() -> None:
    e = SignalEngine()
    rng = random.Random(11)
    t, mid, calm = _walk(e, 120, T0, 3000.0, 0.0, 1.0, rng)
    assert all(s.regime is Regime.CALM for s in calm)
    assert calm[-1].vol_warm and 0.7 < calm[-1].sigma_bps < 1.3
    t, mid, trend = _walk(e, 60, t, mid, 3.0, 1.0, rng)
    assert trend[-1].regime is Regime.TREND_UP and trend[-1].drift_bps > 60  # 3 bps/s over 30 s: ~90
    t, mid, hot = _walk(e, 60, t, mid, 3.0, 5.0, rng)
    assert hot[-1].regime is Regime.HIGH_VOL  # precedence over the trend
    t, mid, down = _walk(e, 120, t, mid, -3.0, 1.0, rng)
    assert down[-1].regime is Regime.TREND_DOWN
    t, mid, calm2 = _walk(e, 120, t, mid, 0.0, 1.0, rng)
    assert calm2[-1].regime is Regime.CALM
    changes = sum(a.regime is not b.regime for a, b in itertools.pairwise([*calm, *trend, *hot, *down, *calm2]))
    assert changes <= 8  # no flicker: a handful of changes over 6 minutes and five phases


def test_synthetic_one_sided_flow_turns_toxic_and_recovers() -> None:
    p = SignalParams(vpin_bucket_volume=10.0, vpin_buckets=20)  # 2 ETH/s: 5 bars a bucket, 100 s a window
    e = SignalEngine(p)
    rng = random.Random(5)
    t, price = T0, 3000.0
    e.on_book(2999.99, 3000.01, 1.0, 1.0, 0.0, t)

    def trades(seconds: int, buy_share: float, drift: float) -> list[bool]:
        nonlocal t, price
        toxic = []
        for _ in range(seconds * 10):
            t += 100 * MS
            buy = rng.random() < buy_share
            price += drift * 0.1 + rng.choice((-0.01, 0.0, 0.01))
            e.on_trade(price, 0.2, not buy, t)
            toxic.append(e.snapshot(t).toxic)
        return toxic

    assert not any(trades(300, 0.5, 0.0))  # balanced flow: VPIN low (a random walk splits ~evenly)
    assert e.snapshot(t).vpin < 0.5
    assert trades(120, 0.95, 0.5)[-1]  # the price runs one way with the flow: toxic
    assert e.snapshot(t).vpin > 0.6
    assert not trades(300, 0.5, 0.0)[-1]  # balanced again: no longer toxic


# ------------------------------------------------------------------ the real capture


def test_capture_end_to_end(data_dir: Path) -> None:
    feed = capture_feed(data_dir)
    e = SignalEngine()
    snaps = run(e, feed.events)
    assert e.rejected == 0 and len(snaps) == len(feed.book_t) == 6581
    assert snaps == run(SignalEngine(), feed.events)  # deterministic: the same inputs, the same signals
    last = snaps[-1]
    assert last.vol_warm and last.vpin_warm and last.intensity_fitted
    assert all(s.regime is Regime.CALM for s in snaps)  # ~1 bps/√s and no run of 3σ: a calm evening
    assert 0.5 < last.sigma_bps < 3.0 and 20 < last.trade_rate < 80 and 1.0 < last.intensity_k < 20.0
    assert all(s.age_ms < 500 for s in snaps) and all(0.0 <= s.vpin <= 1.0 for s in snaps)


def test_capture_engine_equals_its_parts(data_dir: Path) -> None:
    """The engine's signals are exactly its modules' (each checked against numpy in its own test file)."""
    feed = capture_feed(data_dir)
    p = SignalParams()
    e = SignalEngine(p)
    vol = RealizedVol(p.vol_window_ns, p.vol_sample_ns)
    vpin = Vpin(p.vpin_bar_ns, p.vpin_bucket_volume, p.vpin_buckets, p.vpin_sigma_bars, p.vpin_toxic_enter,
                p.vpin_toxic_exit)
    it = TradeIntensity(p.intensity_window_ns, p.intensity_step, p.intensity_points, p.intensity_min_trades)
    mid, fits, checked = math.nan, 0, 0
    for i, ev in enumerate(feed.events):
        if ev[0] == "b":
            e.on_book(*ev[2:], ev[1])
            mid = (ev[2] + ev[3]) * 0.5
            vol.update(ev[1], mid)
            s = e.snapshot(ev[1])
            assert (s.sigma, s.sigma_bps) == ((vol.sigma, vol.sigma_bps) if vol.warm else (0.0, 0.0))
        else:
            e.on_trade(*ev[2:], ev[1])
            vpin.on_trade(ev[1], ev[2], ev[3], ev[4])
            if mid == mid:
                it.on_trade(ev[1], ev[2], mid)
            if i % 100 == 0:  # right after a trade, the bars closed are the same whoever closed them
                s = e.snapshot(ev[1])
                assert (s.vpin, s.vpin_warm, s.toxic) == (vpin.value, vpin.warm, vpin.toxic)
                checked += 1
        if e.intensity.last_fit_ns != it.last_fit_ns:  # the same trades, fitted at the same times
            it.fit(e.intensity.last_fit_ns)
            s = e.snapshot(ev[1])
            assert (s.intensity_a, s.intensity_k, s.intensity_fitted, s.trade_rate) == (it.a, it.k, it.fitted,
                                                                                        it.trade_rate)
            fits += it.fitted
    assert checked >= 100 and fits >= 200  # ~ once a second once the first 60 s window is full
