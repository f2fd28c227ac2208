"""Realized volatility on a fixed grid: hand-computed cases, edges, and a numpy reference on the real capture."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest

from actors.book.volatility import RealizedVol
from tests.actors.book.test_signal_engine import S, capture_feed

MS = 1_000_000


def test_hand_computed_window() -> None:
    v = RealizedVol(window_ns=3 * S, sample_ns=S)  # n = 3 returns of 1 s
    assert v.update(0, 100.0) == 0  # the grid starts at t = 0 (on a grid time)
    assert v.update(1 * S, 101.0) == 1  # grid 0 s sampled: 100 (the first sample has no return)
    assert v.update(2 * S, 103.0) == 1  # grid 1 s: 101, r = +1
    assert v.update(3 * S, 100.0) == 1  # grid 2 s: 103, r = +2
    assert not v.warm and v.samples == 2
    assert v.update(4 * S, 100.0) == 1  # grid 3 s: 100, r = -3; the window is full
    assert v.warm and v.samples == 3
    # Σr² = 1 + 4 + 9 = 14; sigma = √(14 / (3 · 1 s)) = √4.6667 = 2.16025 per √s; /100 · 1e4 = 216.025 bps
    assert v.sigma == pytest.approx(math.sqrt(14 / 3), rel=1e-15)
    assert v.sigma_bps == pytest.approx(1e4 * math.sqrt(14 / 3) / 100.0, rel=1e-15)
    assert v.last_sample == 100.0 and v.last_sample_ns == 3 * S
    v.update(5 * S, 100.0)  # grid 4 s: 100, r = 0; +1 leaves: Σr² = 4 + 9 + 0 = 13
    assert v.sigma == pytest.approx(math.sqrt(13 / 3), rel=1e-15)


def test_grid_start_and_sample_value() -> None:
    """The first grid time is the first one at or after the first update; the sample at grid time g is the mid
    after every update stamped <= g."""
    v = RealizedVol(window_ns=10 * S, sample_ns=S)
    v.update(500 * MS, 10.0)  # grid starts at 1 s
    v.update(1000 * MS, 11.0)  # exactly on grid time 1 s: belongs to the 1 s sample
    v.update(1200 * MS, 12.0)  # samples grid 1 s = 11
    assert v.last_sample_ns == 1 * S and v.last_sample == 11.0
    v.update(2500 * MS, 13.0)  # samples grid 2 s = 12 (r = 1)
    assert v.last_sample == 12.0 and v.samples == 1


def test_irregular_updates_do_not_bias() -> None:
    """A burst of updates inside one grid interval counts once: only the mid at each grid time matters."""
    quiet = RealizedVol(window_ns=10 * S, sample_ns=S)
    busy = RealizedVol(window_ns=10 * S, sample_ns=S)
    rng = random.Random(3)
    mid = 100.0
    for sec in range(30):
        mid += rng.choice((-0.5, 0.0, 0.5))
        quiet.update(sec * S, mid)
        for i in range(9, 0, -1):  # bouncing mids in the 450 ms before the second, then back to its value
            busy.update(sec * S - i * 50 * MS, mid + rng.choice((-2.0, 2.0)) if sec else mid)
        busy.update(sec * S, mid)
    assert quiet.warm and busy.warm
    assert busy.sigma == pytest.approx(quiet.sigma, rel=1e-12)


def test_gap_adds_zero_returns() -> None:
    v = RealizedVol(window_ns=5 * S, sample_ns=S)
    v.update(0, 100.0)
    v.update(1 * S, 102.0)  # grid 0 = 100
    assert v.update(4500 * MS, 101.0) == 4  # grid 1, 2, 3, 4 s all = 102: r = +2, 0, 0, 0
    assert v.samples == 4 and not v.warm
    assert v.sigma == pytest.approx(math.sqrt(4 / 4))  # Σr² = 4 over 4 returns of 1 s
    assert v.update(60 * S, 101.0) == 55  # grid 5..59 s, longer than the window: 101 once, then zeros
    assert v.warm and v.samples == 5 and v.sigma == 0.0


def test_edges_empty_one_sample_constant_and_bad_input() -> None:
    v = RealizedVol(window_ns=3 * S, sample_ns=S)
    assert (v.sigma, v.sigma_bps, v.warm, v.samples) == (0.0, 0.0, False, 0)  # empty
    v.update(0, 100.0)
    assert (v.sigma, v.warm, v.samples) == (0.0, False, 0)  # one update: no sample yet
    for bad in (math.nan, -1.0, 0.0, math.inf):  # ignored: nothing changes
        assert v.update(10 * S, bad) == 0
    assert v.samples == 0
    for t in range(1, 6):
        v.update(t * S, 100.0)
    assert v.warm and v.sigma == 0.0 and v.sigma_bps == 0.0  # zero variance
    assert v.update(2 * S, 200.0) == 0  # an earlier time: no grid time passes, counts as the latest
    v.update(6 * S, 200.0)
    assert v.last_sample == 200.0  # grid 5 s took the mid of the late-stamped update


def test_reset_starts_a_fresh_warm_up() -> None:
    v = RealizedVol(window_ns=3 * S, sample_ns=S)
    for t in range(6):
        v.update(t * S, 100.0 + t)
    assert v.warm
    v.reset()
    assert (v.warm, v.samples, v.sigma) == (False, 0, 0.0)
    v.update(100 * S, 50.0)
    v.update(101 * S, 51.0)
    assert v.samples == 0 and v.last_sample == 50.0  # first sample after the reset has no return


def test_window_must_be_whole_samples() -> None:
    with pytest.raises(ValueError):
        RealizedVol(window_ns=2500 * MS, sample_ns=S)
    with pytest.raises(ValueError):
        RealizedVol(window_ns=S, sample_ns=S)  # one return is no window


def test_long_run_matches_direct_sum() -> None:
    """Running sums (re-summed every window of evictions) stay equal to a direct sum over the window."""
    v = RealizedVol(window_ns=2 * S, sample_ns=10 * MS)  # 200 returns
    rng = random.Random(7)
    mid, t, samples = 2000.0, 0, []
    for i in range(20_000):
        t += rng.randint(1, 25) * MS
        k = v.update(t, mid)
        samples.extend([v.last_sample] * k)  # a batch of k grid times all hold the same mid
        mid = max(1.0, mid + rng.choice((-0.01, 0.0, 0.01)) * rng.choice((1, 1, 1, 50)))
        if i % 1000 == 999:
            r = np.diff(np.array(samples))[-200:]
            assert v.sigma == pytest.approx(math.sqrt(float(np.sum(r * r)) / (200 * 0.01)), rel=1e-12)
    assert v.warm


def _reference(book_t: np.ndarray, mids: np.ndarray, upto: int, window_ns: int, sample_ns: int
               ) -> tuple[float, float, int]:
    """sigma, sigma_bps and the count of returns after feeding book events [0, upto], in vectorised numpy."""
    t_c = int(book_t[upto])
    g0 = -(-int(book_t[0]) // sample_ns) * sample_ns
    grid = np.arange(g0, t_c, sample_ns, dtype=np.int64)  # every grid time before the last update
    values = mids[np.searchsorted(book_t[: upto + 1], grid, side="right") - 1]
    r = np.diff(values)[-(window_ns // sample_ns):]
    sigma = math.sqrt(float(np.sum(r * r)) / (len(r) * sample_ns / 1e9))
    return sigma, 1e4 * sigma / float(values[-1]), len(r)


@pytest.mark.parametrize(("window_s", "sample_ms"), [(30, 100), (10, 1000)])
def test_capture_against_numpy(data_dir: Path, window_s: int, sample_ms: int) -> None:
    feed = capture_feed(data_dir)
    v = RealizedVol(window_ns=window_s * S, sample_ns=sample_ms * MS)
    checkpoints = set(np.linspace(len(feed.book_t) // 20, len(feed.book_t) - 1, 9).astype(int).tolist())
    seen = 0
    for i, (t, mid) in enumerate(zip(feed.book_t.tolist(), feed.mid.tolist(), strict=True)):
        v.update(t, mid)
        if i in checkpoints:
            sigma, sigma_bps, n = _reference(feed.book_t, feed.mid, i, window_s * S, sample_ms * MS)
            assert v.samples == n
            assert v.sigma == pytest.approx(sigma, rel=1e-9, abs=0)
            assert v.sigma_bps == pytest.approx(sigma_bps, rel=1e-9, abs=0)
            seen += 1
    assert seen == 9 and v.warm
    assert 0.5 < v.sigma_bps < 3.0  # ETHUSDT that evening: about 1 bps per √s
