"""VPIN, the volume-synchronized probability of informed trading (Easley, López de Prado, O'Hara 2012).

* Trades are summed into time bars of ``bar_ns`` (volume, last price).
* Bulk volume classification: a closed bar's buy share is ``Φ(ΔP/σ_ΔP)``, ΔP the change of its last price from
  the previous bar's, σ_ΔP the standard deviation (n−1) of the last ``sigma_bars`` such changes, this one
  included (no σ yet, or σ = 0, gives ½). Bars without trades do not exist: ΔP is taken between bars that
  have trades, so quiet seconds do not shrink σ. The first bar only sets the reference price.
  (``bulk=False`` uses the exchange's aggressor flag instead: exact on Binance, but not the paper's VPIN.)
* Bar volume is poured into buckets of exactly ``bucket_volume`` (base asset); a bar may fill several buckets
  and a bucket may take several bars. Each full bucket keeps ``|V_sell − V_buy|``.
* ``VPIN = Σ|V_sell − V_buy| / (n·V)`` over the last ``n`` full buckets; warm once n buckets have filled.
* ``toxic`` with hysteresis: set when VPIN ≥ ``toxic_enter``, cleared only when VPIN ≤ ``toxic_exit``.

A heuristic gate, not a forecast (BRIEF §6). Incremental: per trade a few float ops; per closed bar one erf and
one bucket push per bucket filled. Time is passed in; nothing reads a clock.
"""

from __future__ import annotations

import math
from collections import deque

_SQRT2 = math.sqrt(2.0)
_TOL = 1e-9  # relative to the bucket volume: float dust from summing decimal quantities does not split buckets


class Vpin:
    """``on_trade`` per public trade, ``advance(now)`` to close a bar whose time is over without a trade;
    read ``value``, ``warm``, ``toxic``, ``buckets``."""

    __slots__ = ("_bar_buy", "_bar_last", "_bar_ns", "_bar_vol", "_bucket", "_bulk", "_dp",
                 "_dp_evicted", "_dp_sum", "_dp_sumsq", "_enter", "_exit", "_fill", "_fill_buy", "_imb",
                 "_imb_evicted", "_imb_sum", "_n", "_prev_close", "_sigma_bars", "_tol", "bar_end_ns", "buckets",
                 "toxic", "value", "warm")

    def __init__(self, bar_ns: int, bucket_volume: float, n_buckets: int, sigma_bars: int, toxic_enter: float,
                 toxic_exit: float, bulk: bool = True) -> None:
        if bar_ns <= 0 or not 0.0 < bucket_volume < math.inf or n_buckets < 1 or sigma_bars < 2:
            raise ValueError("bar_ns > 0, 0 < bucket_volume < inf, n_buckets >= 1 and sigma_bars >= 2")
        if not 0.0 <= toxic_exit < toxic_enter <= 1.0:
            raise ValueError("hysteresis needs 0 <= toxic_exit < toxic_enter <= 1")
        self._bar_ns = bar_ns
        self._bucket = bucket_volume
        self._tol = bucket_volume * _TOL
        self._n = n_buckets
        self._sigma_bars = sigma_bars
        self._enter, self._exit = toxic_enter, toxic_exit
        self._bulk = bulk
        self._dp: deque[float] = deque()  # price changes between consecutive bars, for σ_ΔP
        self._imb: deque[float] = deque()  # |V_sell − V_buy| of the last n full buckets
        self.reset()

    def reset(self) -> None:
        self.bar_end_ns = 0  # when the open bar ends; 0: no bar open
        self._bar_vol = self._bar_buy = 0.0
        self._bar_last = math.nan
        self._prev_close = math.nan
        self._dp.clear()
        self._dp_sum = self._dp_sumsq = 0.0
        self._dp_evicted = 0
        self._fill = self._fill_buy = 0.0  # the bucket being filled
        self._imb.clear()
        self._imb_sum = 0.0
        self._imb_evicted = 0
        self.buckets = 0  # full buckets since the start
        self.value = 0.0  # VPIN, 0..1; 0.0 until warm
        self.warm = False
        self.toxic = False

    @property
    def sigma_dp(self) -> float:
        """σ_ΔP (price units) as of the last closed bar; 0.0 with fewer than two changes."""
        n = len(self._dp)
        if n < 2:
            return 0.0
        var = (self._dp_sumsq - self._dp_sum * self._dp_sum / n) / (n - 1)
        return math.sqrt(var) if var > 0.0 else 0.0

    def on_trade(self, t_ns: int, price: float, qty: float, buyer_is_maker: bool) -> bool:
        """Fold in one trade; False (ignored) unless price and qty are positive finite numbers. An earlier
        ``t_ns`` than the open bar's start counts in the open bar."""
        if not (0.0 < price < math.inf and 0.0 < qty < math.inf):
            return False
        if t_ns >= self.bar_end_ns:
            if self.bar_end_ns:
                self._close_bar()
            self.bar_end_ns = (t_ns // self._bar_ns + 1) * self._bar_ns
        self._bar_vol += qty
        if not buyer_is_maker:  # the buyer took liquidity
            self._bar_buy += qty
        self._bar_last = price
        return True

    def advance(self, t_ns: int) -> None:
        """Close the open bar if ``t_ns`` is past its end (so VPIN moves on without waiting for a trade)."""
        if self.bar_end_ns and t_ns >= self.bar_end_ns:
            self._close_bar()
            self.bar_end_ns = 0

    def _close_bar(self) -> None:
        vol, buy, close = self._bar_vol, self._bar_buy, self._bar_last
        self._bar_vol = self._bar_buy = 0.0
        prev = self._prev_close
        self._prev_close = close
        if prev != prev:  # nan: the first bar is only the reference price
            return
        dp = close - prev
        self._push_dp(dp)
        if self._bulk:
            sd = self.sigma_dp
            frac = 0.5 * (1.0 + math.erf(dp / (sd * _SQRT2))) if sd > 0.0 else 0.5
        else:
            frac = buy / vol
        self._pour(vol, frac)

    def _push_dp(self, dp: float) -> None:
        q = self._dp
        q.append(dp)
        self._dp_sum += dp
        self._dp_sumsq += dp * dp
        if len(q) > self._sigma_bars:
            old = q.popleft()
            self._dp_sum -= old
            self._dp_sumsq -= old * old
            self._dp_evicted += 1
            if self._dp_evicted >= self._sigma_bars:  # re-sum exactly now and then: no drift
                self._dp_evicted = 0
                self._dp_sum = math.fsum(q)
                self._dp_sumsq = math.fsum(x * x for x in q)

    def _pour(self, vol: float, frac: float) -> None:
        """``vol`` with buy share ``frac`` into the buckets: top up the open one, then whole buckets, then the
        rest starts a new one."""
        size, tol = self._bucket, self._tol
        fill = self._fill
        if fill > 0.0:
            space = size - fill
            if vol < space - tol:
                self._fill = fill + vol
                self._fill_buy += vol * frac
                return
            self._push_bucket(abs(size - 2.0 * (self._fill_buy + space * frac)), 1)
            vol -= space
        full = int((vol + tol) // size)
        if full:
            self._push_bucket(size * abs(1.0 - 2.0 * frac), full)
            vol -= full * size
        if vol > tol:
            self._fill, self._fill_buy = vol, vol * frac
        else:
            self._fill = self._fill_buy = 0.0

    def _push_bucket(self, imbalance: float, count: int) -> None:
        """``count`` full buckets with the same |V_sell − V_buy|."""
        self.buckets += count
        q, n = self._imb, self._n
        if count >= n:
            q.clear()
            q.extend([imbalance] * n)
            self._imb_sum = imbalance * n
            self._imb_evicted = 0
        else:
            for _ in range(count):
                q.append(imbalance)
                self._imb_sum += imbalance
                if len(q) > n:
                    self._imb_sum -= q.popleft()
                    self._imb_evicted += 1
            if self._imb_evicted >= n:
                self._imb_evicted = 0
                self._imb_sum = math.fsum(q)
        self._update_value()

    def _update_value(self) -> None:
        self.warm = self.buckets >= self._n
        if not self.warm:
            return
        v = self._imb_sum / (self._n * self._bucket)
        self.value = v = 0.0 if v < 0.0 else (1.0 if v > 1.0 else v)
        self.toxic = v >= self._enter or (self.toxic and v > self._exit)
