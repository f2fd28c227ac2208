"""Regime detection: the z-score, hysteresis, dwell, HighVol precedence, and a numpy replay of the real capture."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from actors.book.market_signals import Regime
from actors.book.regime import RegimeDetector
from actors.book.volatility import RealizedVol
from tests.actors.book.test_signal_engine import S, capture_feed

CALM, UP, DOWN, HOT = Regime.CALM, Regime.TREND_UP, Regime.TREND_DOWN, Regime.HIGH_VOL


def detector(dwell_s: float = 3.0) -> RegimeDetector:
    """1 s grid, trend over 4 s; trends enter at |z| >= 2 and leave at |z| <= 1; HighVol 10 / 5 bps."""
    return RegimeDetector(sample_ns=S, trend_window_ns=4 * S, trend_enter_z=2.0, trend_exit_z=1.0,
                          high_vol_enter_bps=10.0, high_vol_exit_bps=5.0, min_dwell_ns=round(dwell_s * S))


def test_z_score_hysteresis_and_dwell_by_hand() -> None:
    d = detector()
    for t in range(4):
        assert d.update(t * S, 100.0, 1, 0.5, 1.0, True) is CALM
    # history 100, 100, 100, 100, 102: drift 2 over 4 s; z = 2 / (0.5 · √4) = 2.0 >= 2 → TrendUp
    assert d.update(4 * S, 102.0, 1, 0.5, 1.0, True) is UP
    assert d.drift == 2.0 and d.z == pytest.approx(2.0) and d.drift_bps == pytest.approx(1e4 * 2 / 102)
    # 100, 100, 100, 102, 101.5: drift 1.5, z 1.5: under enter but over exit → stays
    assert d.update(5 * S, 101.5, 1, 0.5, 1.0, True) is UP and d.z == pytest.approx(1.5)
    # 100, 100, 102, 101.5, 100.8: z 0.8 <= exit, but TrendUp was entered 2 s ago (< 3 s dwell) → stays
    assert d.update(6 * S, 100.8, 1, 0.5, 1.0, True) is UP and d.z == pytest.approx(0.8)
    # 100, 102, 101.5, 100.8, 100.8: z 0.8 again, 3 s since entering → Calm
    assert d.update(7 * S, 100.8, 1, 0.5, 1.0, True) is CALM and d.since_ns == 7 * S


def test_trend_down_and_a_direct_flip_after_the_dwell() -> None:
    d = detector()
    for t in range(4):
        d.update(t * S, 100.0, 1, 0.5, 1.0, True)
    assert d.update(4 * S, 97.0, 1, 0.5, 1.0, True) is DOWN  # z = -3 / 1 = -3
    for t in (5, 6, 7):
        assert d.update(t * S, 97.0, 1, 0.5, 1.0, True) is DOWN  # drift still -3 (history starts at 100)
    # 97, 97, 97, 97 then 100: z = +3: straight to TrendUp, 4 s after entering TrendDown
    assert d.update(8 * S, 100.0, 1, 0.5, 1.0, True) is UP


def test_high_vol_enters_at_once_takes_precedence_and_leaves_by_hysteresis() -> None:
    d = detector()
    for t in range(4):
        d.update(t * S, 100.0, 1, 0.5, 1.0, True)
    assert d.update(4 * S, 102.0, 1, 0.5, 1.0, True) is UP
    assert d.update(5 * S, 102.5, 1, 0.5, 12.0, True) is HOT  # 1 s into TrendUp: no dwell for HighVol
    assert d.z > 2.0  # the trend is still there: HighVol wins
    assert d.update(6 * S, 103.0, 1, 0.5, 7.0, True) is HOT  # 7 bps: between exit 5 and enter 10
    assert d.update(7 * S, 103.5, 1, 0.5, 4.0, True) is HOT  # under exit, but entered 2 s ago
    assert d.update(8 * S, 104.0, 1, 0.5, 4.0, True) is UP  # dwell done; z = (104 - 102) / 1 = 2 → TrendUp


@pytest.mark.parametrize("which", ["trend", "vol"])
def test_no_flicker_around_a_threshold(which: str) -> None:
    """A measure that sits on the enter threshold changes the regime once, not at every crossing."""
    d = detector(dwell_s=0.0)  # no dwell: hysteresis alone must hold it
    regimes = [d.regime]
    for t in range(40):
        mid = 100.0 + 0.5 * t  # drift over 4 s is always 2.0
        up = t % 2 == 0
        if which == "trend":  # z = 2 / (sigma · 2) alternates 2.1 / 1.9
            regimes.append(d.update(t * S, mid, 1, 1 / (2.1 if up else 1.9), 1.0, True))
        else:  # sigma_bps alternates 10.1 / 9.9; z stays 0.5
            regimes.append(d.update(t * S, mid, 1, 2.0, 10.1 if up else 9.9, True))
    changes = sum(a is not b for a, b in itertools.pairwise(regimes))
    assert changes == 1 and regimes[-1] is (UP if which == "trend" else HOT)


def test_not_warm_is_calm_and_batches_fill_the_history() -> None:
    d = detector()
    assert d.update(0, 100.0, 1, 0.0, 0.0, False) is CALM
    assert d.update(3 * S, 200.0, 3, 0.5, 50.0, False) is CALM  # huge moves, but no scale yet
    assert d.z == 0.0 and d.drift == 100.0  # the drift is still reported
    d.update(20 * S, 150.0, 17, 0.5, 1.0, True)  # 17 samples in one batch: the 5 kept are all 150
    assert d.drift == 0.0 and d.z == 0.0 and d.regime is CALM
    d.update(21 * S, 154.0, 1, 1.0, 1.0, True)  # z = 4 / (1 · √4) = 2
    assert d.regime is UP
    d.reset()
    assert (d.regime, d.drift, d.z) == (CALM, 0.0, 0.0)


def test_edges() -> None:
    d = detector()
    assert d.update(0, 100.0, 0, 0.5, 1.0, True) is CALM and d.drift == 0.0  # no sample: nothing to do
    for bad in (math.nan, -1.0, math.inf):
        assert d.update(0, bad, 1, 0.5, 1.0, True) is CALM and d.drift == 0.0  # ignored
    assert d.update(S, 100.0, 1, 0.5, 1.0, True) is CALM and d.z == 0.0  # one sample: no span, z = 0
    d.update(2 * S, 120.0, 1, 0.0, 0.0, True)  # zero sigma: no scale for z
    assert d.z == 0.0 and d.regime is CALM
    for bad in ({"trend_exit_z": 2.0}, {"high_vol_exit_bps": 10.0}, {"trend_window_ns": S + 1},
                {"min_dwell_ns": -1}):
        kw = {"sample_ns": S, "trend_window_ns": 4 * S, "trend_enter_z": 2.0, "trend_exit_z": 1.0,
              "high_vol_enter_bps": 10.0, "high_vol_exit_bps": 5.0, "min_dwell_ns": 0, **bad}
        with pytest.raises(ValueError):
            RegimeDetector(**kw)


# ------------------------------------------------------------------ the real capture, replayed in numpy

SAMPLE = S // 10  # 100 ms grid
WINDOW_N = 300  # vol window: 30 s
TREND_N = 100  # trend window: 10 s
THRESH = {"trend_enter_z": 1.5, "trend_exit_z": 0.5, "high_vol_enter_bps": 1.3, "high_vol_exit_bps": 1.1}
DWELL = 2 * S  # thresholds low enough that a calm evening exercises every transition


def _reference_machine(t: int, cur: Regime, since: int, z: float, sbps: float, warm: bool) -> tuple[Regime, int]:
    """The rule, written once more from the docstring: hysteresis per measure, dwell except into HighVol."""
    if not warm:
        target = CALM
    elif sbps >= THRESH["high_vol_enter_bps"] or (cur is HOT and sbps > THRESH["high_vol_exit_bps"]):
        target = HOT
    elif z >= THRESH["trend_enter_z"] or (cur is UP and z > THRESH["trend_exit_z"]):
        target = UP
    elif z <= -THRESH["trend_enter_z"] or (cur is DOWN and z < -THRESH["trend_exit_z"]):
        target = DOWN
    else:
        target = CALM
    if target is not cur and (target is HOT or t - since >= DWELL):
        return target, t
    return cur, since


def test_capture_against_numpy(data_dir: Path) -> None:
    feed = capture_feed(data_dir)
    book_t, mids = feed.book_t, feed.mid
    # numpy: every grid time, its mid, rolling realized sigma, drift over the trend window, z
    g0 = -(-int(book_t[0]) // SAMPLE) * SAMPLE
    grid = np.arange(g0, int(book_t[-1]), SAMPLE, dtype=np.int64)
    values = mids[np.searchsorted(book_t, grid, side="right") - 1]
    r2 = np.concatenate([[0.0], np.diff(values) ** 2])  # r2[j]: the return into grid time j
    csum = np.cumsum(r2)
    j = np.arange(len(grid))
    n_ret = np.minimum(j, WINDOW_N)
    lo = np.maximum(j - WINDOW_N, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = np.sqrt((csum - csum[lo]) / (n_ret * SAMPLE / 1e9))
        sigma_bps = 1e4 * sigma / values
        back = np.maximum(j - TREND_N, 0)
        drift = values - values[back]
        span = (j - back) * SAMPLE / 1e9
        warm = n_ret >= WINDOW_N
        z = np.where(warm & (sigma > 0) & (span > 0), drift / (sigma * np.sqrt(span)), 0.0)

    vol = RealizedVol(WINDOW_N * SAMPLE, SAMPLE)
    det = RegimeDetector(SAMPLE, TREND_N * SAMPLE, min_dwell_ns=DWELL, **THRESH)
    cur, since, last_j = CALM, -(1 << 62), -1
    seen: set[Regime] = set()
    for t, mid in zip(book_t.tolist(), mids.tolist(), strict=True):
        k = vol.update(t, mid)
        if k:
            det.update(vol.last_sample_ns, vol.last_sample, k, vol.sigma, vol.sigma_bps, vol.warm)
            jj = int(np.searchsorted(grid, t, side="left")) - 1  # the batch's last grid time: the last before t
            assert jj - last_j == k and grid[jj] == vol.last_sample_ns
            last_j = jj
            cur, since = _reference_machine(int(grid[jj]), cur, since, float(z[jj]), float(sigma_bps[jj]),
                                            bool(warm[jj]))
            assert det.drift == pytest.approx(float(drift[jj]), rel=1e-12, abs=1e-12)
            if warm[jj]:
                assert det.z == pytest.approx(float(z[jj]), rel=1e-9, abs=1e-12)
            assert det.regime is cur
            seen.add(cur)
    assert seen == {CALM, UP, DOWN, HOT}  # every regime visited, in step with the reference throughout
    assert math.isfinite(det.z)
