"""The market-signal engine: book changes and public trades in, one ``MarketSignals`` per snapshot out.

Pure and incremental: every input carries its receive time, nothing reads a clock, and the same inputs give
the same signals (replays and tests reproduce live behaviour exactly). Time never runs backwards inside: an
input stamped earlier than one already seen counts as of the latest time seen. Inputs that are not usable
numbers (NaN, infinite, non-positive prices, a crossed or locked top) are ignored and counted in ``rejected``.

Cost per book change is a handful of float operations plus, once per grid step (``vol_sample_ms``), one
volatility and regime update. Closing VPIN bars (and filling buckets) and refitting the intensity (at most once
per ``intensity_refit_ms``) ride on the trade path; the book path does them only when trades have stopped.
"""

from __future__ import annotations

import math
from decimal import Decimal

from actors.book.intensity import TradeIntensity
from actors.book.market_signals import MarketSignals, Regime
from actors.book.regime import RegimeDetector
from actors.book.signal_params import SignalParams
from actors.book.view import MarketView
from actors.book.volatility import RealizedVol
from actors.book.vpin import Vpin

_INF = math.inf


class SignalEngine:
    """One per symbol, owned by the book actor. ``tick_size``/``lot_size`` only serve ``on_view``."""

    __slots__ = ("_ask", "_ask_qty", "_bar_ns", "_bid", "_bid_qty", "_book_ns", "_has_book", "_imbalance", "_lot",
                 "_made_ns", "_max_gap_ns", "_mid", "_refit_ns", "_stale_fit_ns", "_tick", "intensity", "params",
                 "regime", "rejected", "vol", "vpin")

    def __init__(self, params: SignalParams | None = None, tick_size: float | Decimal | str = 0.01,
                 lot_size: float | Decimal | str = 1.0) -> None:
        p = params if params is not None else SignalParams()
        self.params = p
        self._tick = float(tick_size)
        self._lot = float(lot_size)
        if not (0.0 < self._tick < _INF and 0.0 < self._lot < _INF):
            raise ValueError("tick_size and lot_size must be positive")
        self.vol = RealizedVol(p.vol_window_ns, p.vol_sample_ns)
        self.regime = RegimeDetector(p.vol_sample_ns, p.trend_window_ns, p.trend_enter_z, p.trend_exit_z,
                                     p.high_vol_enter_bps, p.high_vol_exit_bps, p.regime_min_dwell_ns)
        self.vpin = Vpin(p.vpin_bar_ns, p.vpin_bucket_volume, p.vpin_buckets, p.vpin_sigma_bars,
                         p.vpin_toxic_enter, p.vpin_toxic_exit, p.vpin_bulk)
        self.intensity = TradeIntensity(p.intensity_window_ns, p.intensity_step, p.intensity_points,
                                        p.intensity_min_trades)
        self._max_gap_ns = p.max_gap_ns
        self._refit_ns = p.intensity_refit_ns
        self._stale_fit_ns = 2 * p.intensity_refit_ns  # the book path refits only when trades have stopped
        self._bar_ns = p.vpin_bar_ns
        self._bid = self._ask = self._bid_qty = self._ask_qty = self._imbalance = self._mid = 0.0
        self._has_book = False
        self._book_ns = 0  # time of the last book change folded in
        self._made_ns = 0  # time of the last input of any kind
        self.rejected = 0  # inputs ignored as unusable

    def reset_book(self) -> None:
        """Forget the mid history (volatility, drift, regime): after a resync the next book starts a fresh
        warm-up. Trade-driven signals (VPIN, intensity) are kept. Done by itself after ``max_gap_ms``."""
        self.vol.reset()
        self.regime.reset()

    def on_book(self, bid: float, ask: float, bid_qty: float, ask_qty: float, imbalance: float,
                recv_ns: int) -> bool:
        """The book changed: best bid/ask (price), their sizes, the top-levels imbalance. False if ignored."""
        if not (0.0 < bid < ask < _INF and 0.0 <= bid_qty < _INF and 0.0 <= ask_qty < _INF
                and -1.0 <= imbalance <= 1.0):
            self.rejected += 1
            return False
        t = recv_ns if recv_ns > self._made_ns else self._made_ns
        if self._has_book and t - self._book_ns > self._max_gap_ns:
            self.reset_book()
        mid = (bid + ask) * 0.5
        vol = self.vol
        k = vol.update(t, mid)
        if k:
            self.regime.update(vol.last_sample_ns, vol.last_sample, k, vol.sigma, vol.sigma_bps, vol.warm)
        # Closing VPIN bars and refitting intensity is the trade path's work (it follows the trades, and keeps
        # the book path, which quotes wait on, at a few float operations); the book path takes over only when
        # trades stop, so the signals still move on.
        vpin = self.vpin
        if vpin.bar_end_ns and t >= vpin.bar_end_ns + self._bar_ns:
            vpin.advance(t)
        intensity = self.intensity
        if t - intensity.last_fit_ns >= self._stale_fit_ns:
            intensity.fit(t)
        self._bid, self._ask, self._bid_qty, self._ask_qty = bid, ask, bid_qty, ask_qty
        self._imbalance = imbalance
        self._mid = mid
        self._book_ns = self._made_ns = t
        self._has_book = True
        return True

    def on_view(self, view: MarketView) -> bool:
        """``on_book`` from a ``MarketView`` (ticks and lots scaled by this engine's tick and lot size)."""
        tick, lot = self._tick, self._lot
        return self.on_book(view.bid_ticks * tick, view.ask_ticks * tick, view.bid_lots * lot,
                            view.ask_lots * lot, view.imbalance, view.last_update_ns)

    def on_trade(self, price: float, qty: float, buyer_is_maker: bool, recv_ns: int) -> bool:
        """A public trade (``buyer_is_maker``: the aggressor sold). False if ignored."""
        if not (0.0 < price < _INF and 0.0 < qty < _INF):
            self.rejected += 1
            return False
        t = recv_ns if recv_ns > self._made_ns else self._made_ns
        self.vpin.on_trade(t, price, qty, buyer_is_maker)  # closes the previous bar when this one is later
        intensity = self.intensity
        if self._has_book:  # δ needs a mid
            intensity.on_trade(t, price, self._mid)
        if t - intensity.last_fit_ns >= self._refit_ns:
            intensity.fit(t)
        self._made_ns = t
        return True

    def snapshot(self, now_ns: int) -> MarketSignals:
        """The signals as of the last input; ``now_ns`` only ages the book. Before any book: zeros, age inf."""
        vol, reg, vp, it = self.vol, self.regime, self.vpin, self.intensity
        if not self._has_book:
            return MarketSignals(made_ns=self._made_ns, mid=0.0, microprice=0.0, spread_bps=0.0, imbalance=0.0,
                                 sigma=0.0, sigma_bps=0.0, vol_warm=False, drift_bps=0.0, regime=Regime.CALM,
                                 vpin=vp.value, vpin_warm=vp.warm, toxic=vp.toxic, intensity_a=it.a,
                                 intensity_k=it.k, intensity_fitted=it.fitted, trade_rate=it.trade_rate,
                                 age_ms=_INF)
        bid, ask, bq, aq, mid = self._bid, self._ask, self._bid_qty, self._ask_qty, self._mid
        w = bq + aq
        warm = vol.warm
        age = now_ns - self._book_ns
        # positional, in MarketSignals' field order (half the cost of keywords; a test pins the order)
        return MarketSignals(self._made_ns, mid, (bid * aq + ask * bq) / w if w > 0.0 else mid,
                             1e4 * (ask - bid) / mid, self._imbalance, vol.sigma if warm else 0.0,
                             vol.sigma_bps if warm else 0.0, warm, reg.drift_bps, reg.regime, vp.value, vp.warm,
                             vp.toxic, it.a, it.k, it.fitted, it.trade_rate, age / 1e6 if age > 0 else 0.0)
