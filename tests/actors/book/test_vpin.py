"""VPIN: bulk classification and bucket filling by hand, toxicity hysteresis, edges, and numpy on the capture."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from actors.book.vpin import Vpin
from tests.actors.book.test_signal_engine import S, capture_feed

MS = 1_000_000
BUY, SELL = False, True  # buyer_is_maker: False when the buyer took liquidity


def vpin(bucket: float, n: int, *, bulk: bool = True, enter: float = 0.6, exit_: float = 0.5,
         sigma_bars: int = 100) -> Vpin:
    return Vpin(bar_ns=S, bucket_volume=bucket, n_buckets=n, sigma_bars=sigma_bars, toxic_enter=enter,
                toxic_exit=exit_, bulk=bulk)


def test_bulk_classification_by_hand() -> None:
    v = vpin(10.0, 2)
    v.on_trade(0, 100.0, 4.0, BUY)  # bar 0: only the reference price
    v.on_trade(1200 * MS, 101.0, 10.0, SELL)  # closes bar 0
    assert v.buckets == 0
    v.on_trade(2500 * MS, 100.0, 10.0, BUY)  # closes bar 1: ΔP = +1, one change: no σ yet → ½ / ½
    assert v.buckets == 1 and not v.warm and v.value == 0.0  # |V_sell − V_buy| = |5 − 5| = 0
    v.advance(2999 * MS)
    assert v.buckets == 1  # bar 2 runs to 3 s
    v.advance(3 * S)  # closes bar 2: ΔP = −1; σ of (+1, −1) with n − 1: √((1 + 1) / 1) = √2
    # V_buy = 10 · Φ(−1/√2) = 10 · ½(1 + erf(−½)) = 2.39750; |V_sell − V_buy| = 10 · erf(½) = 5.20500
    # VPIN = (0 + 5.20500) / (2 · 10) = 0.260250
    assert v.warm and v.buckets == 2
    assert v.sigma_dp == pytest.approx(math.sqrt(2), rel=1e-15)
    assert v.value == pytest.approx(math.erf(0.5) / 2, rel=1e-12)
    assert not v.toxic


def test_a_bar_splits_across_buckets_by_hand() -> None:
    """Exchange aggressor flags (bulk=False) make the shares plain fractions."""
    v = vpin(10.0, 2, bulk=False)
    v.on_trade(0, 100.0, 1.0, BUY)  # bar 0: reference
    v.on_trade(1 * S, 100.0, 12.0, BUY)  # bar 1: 15 with 12 bought: share 0.8
    v.on_trade(1 * S + 1, 100.0, 3.0, SELL)
    v.on_trade(2 * S, 100.0, 5.0, SELL)  # closes bar 1 → bucket 1 = 10 (buy 8): |2 − 8| = 6; 5 (buy 4) wait
    assert v.buckets == 1 and v.value == 0.0
    v.advance(3 * S)  # bar 2: 5 sold tops up bucket 2 = 5 (buy 4) + 5 (buy 0): |6 − 4| = 2
    assert v.buckets == 2 and v.value == pytest.approx((6 + 2) / (2 * 10), rel=1e-15)  # 0.4


def test_one_bar_filling_many_buckets() -> None:
    v = vpin(1.0, 3, bulk=False)
    v.on_trade(0, 100.0, 1.0, BUY)
    v.on_trade(S, 100.0, 8.0, BUY)
    v.on_trade(S, 100.0, 2.25, SELL)  # 10.25 with 8 bought
    v.advance(2 * S)  # 10 buckets of 1, each |1 − 2 · 8/10.25|; 0.25 left in the open bucket
    assert v.buckets == 10
    assert v.value == pytest.approx(abs(1 - 2 * 8 / 10.25), rel=1e-12)


def test_float_dust_does_not_split_a_bucket() -> None:
    v = vpin(10.0, 1, bulk=False)
    v.on_trade(0, 100.0, 1.0, BUY)
    for i in range(100):  # 100 × 0.1 sums to 9.99999999999998 in floats: still one full bucket
        v.on_trade(S + i, 100.0, 0.1, BUY)
    v.advance(2 * S)
    assert v.buckets == 1 and v.warm and v.value == pytest.approx(1.0)


def test_toxic_hysteresis() -> None:
    """Buckets of 1, n = 2: each one-second bar of volume 1 fills one bucket; toxic from 0.6, cleared at 0.4."""
    v = vpin(1.0, 2, bulk=False, enter=0.6, exit_=0.4)
    v.on_trade(0, 100.0, 1.0, BUY)
    t = [S]

    def bucket(buy_share: float) -> tuple[float, bool]:  # |V_sell − V_buy| = |1 − 2·share|
        if buy_share:
            v.on_trade(t[0], 100.0, buy_share, BUY)
        if buy_share < 1:
            v.on_trade(t[0], 100.0, 1 - buy_share, SELL)
        t[0] += S
        v.advance(t[0])
        return v.value, v.toxic

    assert bucket(1.0) == (0.0, False)  # one bucket: not warm
    assert bucket(0.5) == (0.5, False)  # (1 + 0) / 2: under enter
    assert bucket(1.0) == (0.5, False)  # (0 + 1) / 2
    assert bucket(1.0) == (1.0, True)  # (1 + 1) / 2: toxic
    assert bucket(0.5) == (0.5, True)  # (1 + 0) / 2: between exit and enter, stays toxic
    assert bucket(0.75) == (0.25, False)  # (0 + 0.5) / 2: under exit
    assert bucket(1.0) == (0.75, True)  # (0.5 + 1) / 2
    assert bucket(0.75) == (0.75, True)
    assert bucket(0.5) == (0.25, False)


def test_edges() -> None:
    v = vpin(10.0, 2)
    assert (v.value, v.warm, v.toxic, v.buckets, v.sigma_dp) == (0.0, False, False, 0, 0.0)  # empty
    v.advance(10 * S)  # nothing open: nothing happens
    for price, qty in ((math.nan, 1.0), (-1.0, 1.0), (100.0, 0.0), (100.0, -1.0), (100.0, math.inf),
                       (math.inf, 1.0), (100.0, math.nan)):
        assert not v.on_trade(S, price, qty, BUY)
    assert v.bar_end_ns == 0  # no bar opened by a rejected trade
    v.on_trade(S, 100.0, 30.0, BUY)  # one bar only: the reference, nothing poured
    v.advance(5 * S)
    assert v.buckets == 0
    for i in range(2, 6):  # zero variance: the same price bar after bar → σ = 0 → ½ / ½
        v.on_trade(i * S + 10, 100.0, 10.0, BUY)
    v.advance(10 * S)
    assert v.buckets == 4 and v.warm and v.value == 0.0 and v.sigma_dp == 0.0
    late = vpin(10.0, 2)
    late.on_trade(5 * S, 100.0, 1.0, BUY)
    late.on_trade(3 * S, 101.0, 1.0, BUY)  # stamped before the open bar: counted in it
    assert late.bar_end_ns == 6 * S
    with pytest.raises(ValueError):
        vpin(10.0, 2, enter=0.5, exit_=0.5)
    with pytest.raises(ValueError):
        vpin(0.0, 2)


def test_reset() -> None:
    v = vpin(1.0, 1, bulk=False)
    for i in range(5):
        v.on_trade(i * S, 100.0, 1.0, BUY)
    assert v.warm and v.toxic
    v.reset()
    assert (v.value, v.warm, v.toxic, v.buckets, v.bar_end_ns) == (0.0, False, False, 0, 0)


# ------------------------------------------------------------------ the real capture against numpy


def _erf(x: np.ndarray) -> np.ndarray:
    return np.array([math.erf(float(u)) for u in x])


def _reference(t: np.ndarray, price: np.ndarray, qty: np.ndarray, maker: np.ndarray, bucket: float, n: int,
               sigma_bars: int, bulk: bool) -> tuple[float, int, float]:
    """VPIN, full buckets and σ_ΔP from the trades so far (the last one's bar still open), in numpy: bars by
    reduceat, buckets by interpolating cumulative buy volume at multiples of the bucket volume."""
    ids = t // S
    closed = ids < ids[-1]
    ids, price, qty, maker = ids[closed], price[closed], qty[closed], maker[closed]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], len(ids)] - 1
    vol = np.add.reduceat(qty, starts)[1:]  # the first bar is only the reference price
    buy = np.add.reduceat(np.where(maker, 0.0, qty), starts)[1:]
    dp = np.diff(price[ends])
    sd = np.array([np.std(dp[max(0, i - sigma_bars + 1): i + 1], ddof=1) if i else 0.0 for i in range(len(dp))])
    if bulk:
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(sd > 0, 0.5 * (1 + _erf(dp / (sd * math.sqrt(2)))), 0.5)
    else:
        frac = buy / vol
    cum_v = np.r_[0.0, np.cumsum(vol)]
    cum_b = np.r_[0.0, np.cumsum(vol * frac)]
    full = math.floor(cum_v[-1] / bucket + 1e-9)
    if full < n:
        return 0.0, full, float(sd[-1]) if len(sd) else 0.0
    f = np.interp(np.arange(full - n, full + 1) * bucket, cum_v, cum_b)
    imbalance = np.abs(bucket - 2 * np.diff(f))
    return float(imbalance.sum() / (n * bucket)), full, float(sd[-1])


@pytest.mark.parametrize(("bucket", "n", "sigma_bars", "bulk"), [(50.0, 20, 60, True), (2.0, 10, 300, True),
                                                                  (20.0, 30, 60, False)])
def test_capture_against_numpy(data_dir: Path, bucket: float, n: int, sigma_bars: int, bulk: bool) -> None:
    feed = capture_feed(data_dir)
    v = vpin(bucket, n, bulk=bulk, sigma_bars=sigma_bars)
    nt = len(feed.trade_t)
    checkpoints = set(np.linspace(nt // 10, nt - 1, 8).astype(int).tolist())
    values = []
    for i, (t, p, q, m) in enumerate(zip(feed.trade_t.tolist(), feed.price.tolist(), feed.qty.tolist(),
                                         feed.buyer_is_maker.tolist(), strict=True)):
        v.on_trade(t, p, q, m)
        if i in checkpoints:
            ref, full, sd = _reference(feed.trade_t[: i + 1], feed.price[: i + 1], feed.qty[: i + 1],
                                       feed.buyer_is_maker[: i + 1], bucket, n, sigma_bars, bulk)
            assert v.buckets == full
            assert v.value == pytest.approx(ref, rel=1e-9, abs=0)
            assert v.sigma_dp == pytest.approx(sd, rel=1e-9, abs=0)
            values.append(v.value)
    assert v.warm and len(values) == 8 and all(0.0 <= x < 1.0 for x in values) and values[-1] > 0.0
