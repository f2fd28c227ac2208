"""Trade intensity λ(δ) = A·e^(−kδ): a hand-made exponential, the fit's conditions, edges, numpy on the capture."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from actors.book.intensity import TradeIntensity
from tests.actors.book.test_signal_engine import S, capture_feed


def exponential_window() -> TradeIntensity:
    """Window 10 s, grid d = 1, 2, 3, 4 (step 1.0), mid 100; trades reaching d_1..d_4: 8, 4, 2, 1."""
    it = TradeIntensity(window_ns=10 * S, step=1.0, points=4, min_trades=1)
    it.fit(0)  # the first input: the window has been watched from t = 0
    prices = [100.5] * 5 + [98.5] * 4 + [102.5] * 2 + [96.5] + [107.0]  # δ 0.5 ×5, 1.5 ×4, 2.5 ×2, 3.5, 7.0
    for i, p in enumerate(prices):
        assert it.on_trade((i + 1) * S // 2, p, 100.0)
    return it


def test_hand_made_exponential() -> None:
    it = exponential_window()
    assert it.counts() == [8, 4, 2, 1]  # δ 7.0 reaches every point (clamped to the last)
    assert it.distances == [1.0, 2.0, 3.0, 4.0]
    assert it.fit(10 * S)
    # λ = 0.8, 0.4, 0.2, 0.1 per s: ln λ falls by ln 2 per unit, so k = ln 2 = 0.693147;
    # ln A = ln 0.8 + 1 · ln 2 → A = 1.6 trades/s at δ = 0
    assert it.k == pytest.approx(math.log(2), rel=1e-12)
    assert it.a == pytest.approx(1.6, rel=1e-12)
    assert it.trade_rate == pytest.approx(13 / 10)  # 13 trades in 10 s


def test_window_evicts_old_trades() -> None:
    it = exponential_window()  # trades at 0.5, 1.0, ..., 6.5 s
    it.fit(11 * S)  # the window is (1 s, 11 s]: the trades at 0.5 s and 1 s (both δ 0.5) are gone
    assert it.counts() == [8, 4, 2, 1] and it.trade_rate == pytest.approx(11 / 10)
    it.fit(14 * S)  # (4 s, 14 s]: trades 9..13 are left (δ 1.5, 2.5, 2.5, 3.5, 7.0)
    assert it.counts() == [5, 4, 2, 1]
    it.fit(17 * S)  # (7 s, 17 s]: empty
    assert it.counts() == [0, 0, 0, 0] and not it.fitted and (it.a, it.k, it.trade_rate) == (0.0, 0.0, 0.0)


def test_not_fitted_until_a_full_window_and_enough_trades() -> None:
    it = exponential_window()
    assert not it.fit(9 * S) and it.trade_rate == pytest.approx(13 / 9)  # 9 s watched of a 10 s window
    strict = TradeIntensity(window_ns=10 * S, step=1.0, points=4, min_trades=14)
    strict.fit(0)
    for i, p in enumerate([100.5, 101.5, 102.5, 103.5] * 3):
        strict.on_trade(i * S // 2 + 1, p, 100.0)
    assert not strict.fit(10 * S)  # 12 trades < 14


def test_fewer_than_three_points_or_flat_counts_are_not_fitted() -> None:
    two = TradeIntensity(window_ns=10 * S, step=1.0, points=4, min_trades=1)
    two.fit(0)
    for i, p in enumerate([101.5, 101.5, 101.5, 102.5, 102.5]):
        two.on_trade(S + i, p, 100.0)
    assert two.counts() == [5, 2, 0, 0]
    assert not two.fit(10 * S) and (two.a, two.k) == (0.0, 0.0)  # two points with trades
    it = TradeIntensity(window_ns=10 * S, step=1.0, points=4, min_trades=1)
    it.fit(0)
    for i in range(6):
        it.on_trade(S + i, 110.0, 100.0)  # every trade reaches every point: counts 6, 6, 6, 6 → k = 0
    assert it.counts() == [6, 6, 6, 6]
    assert not it.fit(10 * S) and it.k == 0.0


def test_bad_input_and_time_order() -> None:
    it = TradeIntensity(window_ns=10 * S, step=0.01, points=5, min_trades=1)
    for price, mid in ((math.nan, 100.0), (100.0, math.nan), (-1.0, 100.0), (100.0, 0.0), (math.inf, 100.0)):
        assert not it.on_trade(S, price, mid)
    assert it.counts() == [0] * 5
    assert it.on_trade(5 * S, 100.02, 100.0)
    assert it.on_trade(2 * S, 100.02, 100.0)  # earlier than the last: kept as of 5 s
    it.fit(14 * S)
    assert it.counts()[0] == 2  # neither left the window (4 s, 14 s]
    it.reset()
    assert it.counts() == [0] * 5 and not it.fitted and it.trade_rate == 0.0
    with pytest.raises(ValueError):
        TradeIntensity(window_ns=10 * S, step=0.0, points=5, min_trades=1)
    with pytest.raises(ValueError):
        TradeIntensity(window_ns=10 * S, step=0.01, points=2, min_trades=1)


@pytest.mark.parametrize(("mid", "price"), [(2681.625, 2681.635), (2681.62, 2681.63), (2681.625, 2681.615),
                                            (3099.995, 3100.005), (0.3, 0.31)])
def test_a_distance_on_the_grid_reaches_it_despite_float_error(mid: float, price: float) -> None:
    it = TradeIntensity(window_ns=10 * S, step=0.01, points=3, min_trades=1)
    it.on_trade(S, price, mid)  # |price − mid| is 0.01 ± a few ulps
    assert it.counts() == [1, 0, 0]


# ------------------------------------------------------------------ the real capture against numpy


@pytest.mark.parametrize(("step", "points"), [(0.01, 10), (0.05, 12)])
def test_capture_against_numpy(data_dir: Path, step: float, points: int) -> None:
    feed = capture_feed(data_dir)
    window = 60 * S
    ok = ~np.isnan(feed.trade_mid)
    t_all, p_all, m_all = feed.trade_t[ok], feed.price[ok], feed.trade_mid[ok]
    it = TradeIntensity(window_ns=window, step=step, points=points, min_trades=50)
    start = int(t_all[0])
    checkpoints = [start + window + i * 25 * S for i in range(12)]
    assert checkpoints[-1] < int(t_all[-1])
    i, fitted = 0, 0
    for t_c in checkpoints:
        while i < len(t_all) and t_all[i] <= t_c:
            it.on_trade(int(t_all[i]), float(p_all[i]), float(m_all[i]))
            i += 1
        it.fit(t_c)
        sel = (t_all > t_c - window) & (t_all <= t_c)
        reached = np.minimum(np.floor(np.abs(p_all[sel] - m_all[sel]) / step + 1e-9), points)
        counts = np.array([(reached >= j).sum() for j in range(1, points + 1)])
        assert it.counts() == counts.tolist()
        assert it.trade_rate == pytest.approx(sel.sum() / 60, rel=1e-12)
        m = int(np.argmin(counts > 0)) if (counts == 0).any() else points
        assert m >= 3
        slope, intercept = np.polyfit(np.arange(1, m + 1) * step, np.log(counts[:m] / 60.0), 1)
        assert it.fitted and slope < 0
        assert it.k == pytest.approx(-slope, rel=1e-9, abs=0)
        assert it.a == pytest.approx(math.exp(intercept), rel=1e-9, abs=0)
        fitted += 1
    assert fitted == 12
