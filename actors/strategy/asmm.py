"""Avellaneda–Stoikov market making: several levels per side around a reservation price shifted by inventory.

Pure and deterministic (time is passed in): ``quote`` returns the complete target plus the numbers behind it
(reservation price, skew, half spread) for gauges and logs, and the small ``AsmmState`` the next call needs.
The theory, units and tuning are in docs/strategy_asmm.md; the rules, each for a lesson or an exchange rule:

* the model (AS finite rolling horizon, or GLFT infinite horizon) gives a reservation shift and a half spread
  in price; past ``inv_soft_limit`` the reservation moves further toward reducing (``inv_skew_k``);
* regime, toxic flow (``toxic_action = widen``) and the risk adaptation factor widen the half spread, which is
  then clamped to ``[min_spread_bps, max_spread_bps] / 2``; both quotes move with the skew (long → lower); in
  a trend the side quoting against it stands further back (``trend_lean``); levels are
  ``max(min_spacing_bps, vol_k x σ_bps)`` apart, widened by regime and toxicity too;
* each side stays >= 2 x maker fee + ``fee_buffer_bps`` from mid (lesson 6; it wins over ``max_spread_bps``);
  bids round down and asks up to the tick, then bid <= best bid and ask >= best ask (post-only never crosses);
* sizes in whole lots, >= min notional unless reduce-only; all adding orders of a side filling keep
  |position| <= the effective hard limit (lesson 1: the worst case, not the filled position, is limited);
* past ``reduce_only_threshold``, at the hard limit, risk REDUCING or (``toxic_action = reduce_only``) toxic:
  only the reducing side, reduce-only, at ``base_size`` (shrinking limits what a fill adds; these only shed),
  never more than the position; ``cooldown``: no quotes while toxic and ``toxic_cooldown_s`` after;
* HALTED, quotes not allowed, no risk report, stale or crossed book: nothing; signals missing, stale or cold:
  the documented defaults (``default_sigma_bps``, ``default_intensity_*``), named in the reason.

Floats for the model, integers for ticks and lots at the end; no Decimal on the per-event path (the
params-derived constants are computed once per parameter set).
"""

from __future__ import annotations

import functools
import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import msgspec

from actors.book.market_signals import MarketSignals, Regime
from actors.book.view import MarketView
from actors.instrument import Instrument
from actors.risk.adaptation import Adaptation
from actors.risk.messages import RiskState, TradingState
from actors.strategy.asmm_params import AsmmParams
from actors.strategy.messages import Quote, QuoteTarget
from actors.strategy.params import Fees

_BPS = 10_000.0
_SNAP = 1e-13  # a price within this share of the mid of a whole tick is that tick (float noise, not a real price)
_MIN_FACTOR = 0.01  # an adaptation factor below this (or not a number) counts as this: widening stays finite
_CALM, _UP, _DOWN, _HIGH_VOL = Regime.CALM, Regime.TREND_UP, Regime.TREND_DOWN, Regime.HIGH_VOL
_HALTED, _REDUCING = TradingState.HALTED, TradingState.REDUCING  # module constants: an enum lookup costs ~0.3 µs
_REGIME_NAME = {_CALM: "calm", _UP: "trend up", _DOWN: "trend down", _HIGH_VOL: "high vol"}


class AsmmState(msgspec.Struct, frozen=True):
    """What one call leaves for the next (the strategy actor keeps it; a replay starts from the default)."""

    cooldown_until_ns: int = 0  # toxic_action = cooldown: no quotes before this clock time


class AsmmDecision(msgspec.Struct, frozen=True):
    """The target and why: the model's numbers feed ``mm_reservation_price`` and ``mm_inventory_skew_bps``.

    Offsets are in bps of mid before tick rounding; NaN / 0 when no quote was computed (no book, halted...).
    """

    target: QuoteTarget
    state: AsmmState
    reservation_price: float = math.nan  # price: mid + skew
    skew_bps: float = 0.0  # reservation − mid (model + soft-limit skew), bps of mid; negative when long
    half_spread_bps: float = 0.0  # the model's, widened and clamped, before the skew
    bid_offset_bps: float = 0.0  # level 0's distance below mid after skew, fee floor and cap
    ask_offset_bps: float = 0.0  # level 0's distance above mid
    spacing_bps: float = 0.0  # between levels
    sigma_bps: float = 0.0  # σ used (bps of mid per √s)
    widen: float = 1.0  # regime x toxic x 1 / adaptation factor, applied to the model's half spread
    inventory: float = 0.0  # q: position − target_position, base asset
    size_factor: float = 1.0  # volatility shrink x adaptation factor (before the adding-side shrink)
    hard_limit_lots: int = 0  # the effective hard limit used
    defaults: tuple[str, ...] = ()  # inputs that were defaults: "signals", "sigma", "intensity", "model"


# ---------------------------------------------------------------------------------------------- the models


def as_model(sigma: float, gamma: float, tau_s: float, k: float, clip: float, q: float) -> tuple[float, float]:
    """Avellaneda–Stoikov (2008): ``(r − s, half spread)`` in price units.

    ``r = s − q·γ·σ²·τ`` and total spread ``γσ²τΔ + (2/(γΔ))·ln(1 + γΔ/k)`` for fills of size Δ = ``clip``:
    σ price/√s, γ per quote unit, τ s, k per price unit, q and Δ base asset. With Δ = 1 it is the paper's form.
    """
    gd = gamma * clip
    s2t = sigma * sigma * tau_s
    return -q * gamma * s2t, 0.5 * (gd * s2t + 2.0 / gd * math.log1p(gd / k))


def glft_model(sigma: float, gamma: float, a: float, k: float, clip: float, q: float) -> tuple[float, float]:
    """Guéant–Lehalle–Fernandez-Tapia infinite-horizon closed forms: ``(r − s, half spread)`` in price units.

    ``δb = c1 + (Δ/2)·σ·c2 + q·σ·c2`` and ``δa = c1 + (Δ/2)·σ·c2 − q·σ·c2`` with ``c1 = ln(1 + γΔ/k)/(γΔ)``,
    ``c2 = √(γ/(2AΔk)·(1 + γΔ/k)^(1 + k/(γΔ)))`` (Guéant 2017, fills of size Δ; Δ = 1 is the 2013 paper's form).
    """
    gd = gamma * clip
    x = gd / k
    c1 = math.log1p(x) / gd
    c2 = math.sqrt(gamma / (2.0 * a * clip * k) * math.exp((1.0 + 1.0 / x) * math.log1p(x)))
    return -q * sigma * c2, c1 + 0.5 * clip * sigma * c2


# ---------------------------------------------------------------------------------------------- constants


class _Consts(msgspec.Struct, frozen=True):
    tick: float
    step: float
    clip: float  # base_size, base asset (the model's fill size Δ)
    target: float  # base asset
    base_lots: int
    soft_lots: int
    ro_lots: int
    hard_lots: int
    floor_bps: float  # fee floor per side
    min_half: float
    max_half: float
    mn_units: int  # ceil(min_notional / (tick x step)): ticks x lots must reach it
    min_lots: int
    max_lots: int
    cooldown_ns: int
    qty_dp: int  # decimals of the step, to print quantities without Decimal
    price_dp: int  # decimals of the tick + 1, to print the reservation price


@functools.lru_cache(maxsize=64)
def _consts(params: AsmmParams, instrument: Instrument, fees: Fees) -> _Consts:
    """Everything Decimal, once per parameter set: the per-event path is then floats and integers only."""
    return _Consts(
        tick=float(instrument.tick_size), step=float(instrument.step_size), clip=float(params.base_size),
        target=float(params.target_position), base_lots=instrument.lots_floor(params.base_size),
        soft_lots=instrument.lots_floor(params.inv_soft_limit),
        ro_lots=instrument.lots_floor(params.reduce_only_threshold),
        hard_lots=instrument.lots_floor(params.inv_hard_limit),
        floor_bps=float(fees.min_half_spread_bps(params.fee_buffer_bps)),
        min_half=params.min_spread_bps / 2, max_half=params.max_spread_bps / 2,
        mn_units=int((instrument.min_notional / (instrument.tick_size * instrument.step_size))
                     .to_integral_value(rounding=ROUND_CEILING)),
        min_lots=instrument.min_lots, max_lots=instrument.max_lots, cooldown_ns=params.toxic_cooldown_ns,
        qty_dp=max(0, -int(instrument.step_size.as_tuple().exponent)),
        price_dp=max(0, -int(instrument.tick_size.as_tuple().exponent)) + 1)


_LAST: list[tuple[AsmmParams, Instrument, Fees, _Consts]] = []


def _consts_of(params: AsmmParams, instrument: Instrument, fees: Fees) -> _Consts:
    """``_consts`` without hashing ~40 fields per event when the objects are the same as last time (~4 µs)."""
    if _LAST:
        p, i, f, c = _LAST[0]
        if p is params and i is instrument and f is fees:
            return c
    c = _consts(params, instrument, fees)
    _LAST[:] = [(params, instrument, fees, c)]
    return c


@functools.lru_cache(maxsize=256)
def _limit_lots(limit: Decimal, step: Decimal) -> int:
    """Risk's net limit in whole lots, rounded down (a limit never grows); cached on two Decimals, not the
    instrument (hashing its twelve fields per event costs more than the division)."""
    return max(0, int((limit / step).to_integral_value(rounding=ROUND_FLOOR)))


# ---------------------------------------------------------------------------------------------- quoting


def _empty(sym: str, now_ns: int, reason: str, state: AsmmState) -> AsmmDecision:
    return AsmmDecision(QuoteTarget(sym, (), (), now_ns, reason=reason), state)


def _fill(prices: list[int], room: int, lots: int, reduce_only: bool, c: _Consts) -> tuple[Quote, ...]:
    """Levels best-first with ``lots`` each (raised to min notional) while ``room`` lasts; the last may take
    less, never below the minimum (reduce-only: the minimum quantity only, exempt from min notional)."""
    out: list[Quote] = []
    for px in prices:
        need = c.min_lots if reduce_only else max(-(-c.mn_units // px), c.min_lots)
        n = min(max(lots, need), room, c.max_lots)
        if n < need or n <= 0:
            break
        out.append(Quote(px, n))
        room -= n
    return tuple(out)


def quote(market: MarketView | None, signals: MarketSignals | None, position_lots: int, params: AsmmParams,
          instrument: Instrument, fees: Fees, risk: RiskState | None, adaptation: Adaptation | None,
          state: AsmmState, now_ns: int) -> AsmmDecision:
    """The complete set of quotes wanted now and why (see the module's rules)."""
    sym = instrument.symbol
    c = _consts_of(params, instrument, fees)
    defaults: list[str] = []
    if signals is not None and now_ns - signals.made_ns >= params.stale_after_ns:
        signals = None  # σ and toxicity from a window that ended long ago are not today's
    if signals is None:
        defaults.append("signals")
    toxic = signals is not None and signals.toxic
    action = params.toxic_action
    if toxic and action == "cooldown":  # starts when first seen, extended while toxic, even while not quoting
        state = AsmmState(max(state.cooldown_until_ns, now_ns + c.cooldown_ns))

    if risk is None:
        return _empty(sym, now_ns, "no risk report yet", state)
    if risk.trading_state is _HALTED:
        return _empty(sym, now_ns, f"risk HALTED: {risk.reason}", state)
    if not risk.quotes_allowed:
        return _empty(sym, now_ns, f"risk: quotes not allowed: {risk.reason}", state)
    if market is None:
        return _empty(sym, now_ns, "no two-sided book", state)
    if market.is_stale(now_ns, params.stale_after_ns):
        return _empty(sym, now_ns, f"book stale ({(now_ns - market.last_update_ns) / 1e6:.0f} ms without an update)",
                      state)
    bb, ba = market.bid_ticks, market.ask_ticks
    if bb >= ba:
        return _empty(sym, now_ns, "book crossed", state)
    if now_ns < state.cooldown_until_ns:
        vp = f" (VPIN {signals.vpin:.2f})" if toxic and signals is not None else ""
        return _empty(sym, now_ns, f"toxic flow{vp}: cooling down, no quotes for another "
                                   f"{(state.cooldown_until_ns - now_ns) / 1e9:.1f} s", state)

    # ---- the model, in price units, then bps of mid
    mid_t = (bb + ba) * 0.5
    s = mid_t * c.tick
    if signals is not None and signals.vol_warm and 0.0 < signals.sigma < math.inf:
        sigma = signals.sigma
        sigma_bps = sigma / s * _BPS
    else:
        sigma_bps = params.default_sigma_bps
        sigma = sigma_bps * s / _BPS
        defaults.append("sigma")
    if signals is not None and signals.intensity_fitted and 0.0 < signals.intensity_a < math.inf \
            and 0.0 < signals.intensity_k < math.inf:
        a, k = signals.intensity_a, signals.intensity_k
    else:
        a, k = params.default_intensity_a, params.default_intensity_k_bps * _BPS / s
        defaults.append("intensity")
    pos = position_lots
    q = pos * c.step - c.target
    try:
        if params.model == "glft":
            shift, half = glft_model(sigma, params.gamma, a, k, c.clip, q)
        else:
            shift, half = as_model(sigma, params.gamma, params.horizon_s, k, c.clip, q)
        half_bps, skew_bps = half / s * _BPS, shift / s * _BPS + 0.0  # + 0.0: flat prints "+0.00", not "-0.00"
    except (OverflowError, ValueError, ZeroDivisionError):
        half_bps = skew_bps = math.nan
    if not (math.isfinite(half_bps) and math.isfinite(skew_bps)):  # a wild fit: as wide as allowed, no skew
        half_bps, skew_bps = c.max_half, 0.0
        defaults.append("model")

    # ---- widening: regime, toxic flow, risk's caution; then the clamp
    regime = signals.regime if signals is not None else _CALM
    widen = 1.0
    if regime in (_UP, _DOWN):
        widen = params.trend_spread_multiplier
    elif regime == _HIGH_VOL:
        widen = params.high_vol_spread_multiplier
    if toxic and action == "widen":
        widen *= params.toxic_spread_multiplier
    factor = adaptation.factor if adaptation is not None else 1.0
    factor = min(1.0, factor) if factor >= _MIN_FACTOR else _MIN_FACTOR  # also NaN → _MIN_FACTOR
    # risk's factor already counts the regime and toxicity it shrank the limit for: the more careful of the two
    # views widens, never their product (HighVol x toxic would otherwise count twice: 2 x 2 / 0.25 = 16)
    widen_all = max(widen, 1.0 / factor)
    raw_half = half_bps * widen_all
    half_bps = min(max(raw_half, c.min_half), c.max_half)

    # ---- limits in lots: adaptation shrinks the hard limit, and soft / reduce-only with it
    hard = c.hard_lots
    if adaptation is not None:
        hard = min(hard, _limit_lots(adaptation.net_limit, instrument.step_size))
    scale = hard / c.hard_lots if c.hard_lots else 0.0
    soft, ro = int(c.soft_lots * scale), int(c.ro_lots * scale)
    apos = abs(pos)
    if apos > soft and pos:  # past the soft limit: skew harder, linearly up to inv_skew_k half spreads
        frac = min(1.0, (apos - soft) / (hard - soft)) if hard > soft else 1.0
        skew_bps -= math.copysign(params.inv_skew_k * frac * half_bps, pos)

    # ---- each side's distance from mid: skew, trend lean, fee floor, max spread
    db, da = half_bps - skew_bps, half_bps + skew_bps
    if regime == _UP:  # asks sell into the rise: the side quoting against the trend stands back
        da *= 1.0 + params.trend_lean
    elif regime == _DOWN:
        db *= 1.0 + params.trend_lean
    floor = c.floor_bps
    db, da = max(db, floor), max(da, floor)
    cap = params.max_spread_bps
    if db + da > cap:  # pull the far side in (never nearer than the fee floor, which wins over the cap)
        if db >= da:
            db = max(cap - da, floor)
        else:
            da = max(cap - db, floor)
    spacing = max(params.min_spacing_bps, params.vol_k * sigma_bps) * widen

    # ---- prices: bid down, ask up, never inside the touch, strictly apart
    bid_px: list[int] = []
    ask_px: list[int] = []
    prev_b, prev_a = bb + 1, ba - 1
    snap = mid_t * _SNAP  # so 250000 x (1 − 6 bps) is 249850, not 249849 for a last-bit rounding error
    for i in range(params.max_levels):
        off = i * spacing
        b = min(math.floor(mid_t * (1.0 - (db + off) / _BPS) + snap), prev_b - 1)
        prev_a = max(math.ceil(mid_t * (1.0 + (da + off) / _BPS) - snap), prev_a + 1)
        if b > 0:
            bid_px.append(b)
            prev_b = b
        ask_px.append(prev_a)

    # ---- sizes: shrink with σ above the reference and with risk's caution; the adding side with inventory
    ratio = sigma_bps / params.default_sigma_bps
    vol_mult = 1.0 / (1.0 + params.size_vol_k * (ratio - 1.0)) if ratio > 1.0 else 1.0
    size = c.base_lots * vol_mult * factor
    r = s * (1.0 + skew_bps / _BPS)
    dp, step = c.qty_dp, c.step
    ctx = _context("GLFT" if params.model == "glft" else "AS", r, skew_bps, half_bps, raw_half, widen_all, regime,
                   toxic and action == "widen", factor, sigma_bps, defaults, c)

    why = ""
    if risk.trading_state is _REDUCING:
        why = "risk REDUCING"
    elif toxic and action == "reduce_only":
        why = "toxic flow (toxic_action reduce_only)"
    elif apos >= hard:
        why = f"|position {pos * step:.{dp}f}| at the hard limit {hard * step:.{dp}f}"
    elif apos >= ro:
        why = f"|position {pos * step:.{dp}f}| >= reduce-only threshold {ro * step:.{dp}f}"
    bids: tuple[Quote, ...] = ()
    asks: tuple[Quote, ...] = ()
    if why:  # only the reducing side, never more than the position, at full base size (a fill only sheds risk)
        if pos > 0:
            asks = _fill(ask_px, pos, c.base_lots, True, c)
            reason = f"{why}: only reduce-only asks, {len(asks)} levels; {ctx}"
        elif pos < 0:
            bids = _fill(bid_px, -pos, c.base_lots, True, c)
            reason = f"{why}: only reduce-only bids, {len(bids)} levels; {ctx}"
        else:
            reason = f"{why}, flat: nothing to reduce; {ctx}"
    else:  # all bids filling keeps the position <= +hard, all asks filling keeps it >= -hard (lesson 1)
        ub = pos / hard if pos > 0 else 0.0
        ua = -pos / hard if pos < 0 else 0.0
        bids = _fill(bid_px, hard - pos, int(size * (1.0 - ub * ub)), False, c)
        asks = _fill(ask_px, hard + pos, int(size * (1.0 - ua * ua)), False, c)
        reason = (f"{len(bids)} bid / {len(asks)} ask levels, position {pos * step:.{dp}f} within "
                  f"±{hard * step:.{dp}f}; {ctx}")
        for side, got, room in (("bids", bids, hard - pos), ("asks", asks, hard + pos)):
            if not got:
                reason += f"; no {side}: room {room * step:.{dp}f} is below the exchange minimum"
    target = QuoteTarget(sym, bids, asks, now_ns, reduce_only_bids=bool(why) and pos < 0,
                         reduce_only_asks=bool(why) and pos > 0, reason=reason)
    return AsmmDecision(target, state, r, skew_bps, half_bps, db, da, spacing, sigma_bps, widen_all, q,
                        vol_mult * factor, hard, tuple(defaults))


def _context(model: str, r: float, skew_bps: float, half_bps: float, raw_half: float, widen: float, regime: Regime,
             toxic_widen: bool, factor: float, sigma_bps: float, defaults: list[str], c: _Consts) -> str:
    """The plain-language part every quoting reason shares: where the quotes are centred, how wide and why,
    e.g. "AS r 2499.250 (skew -3.00 bps), half spread 6.00 bps (model 2.30 x1.25 risk factor 0.80 → min_spread)"."""
    why = f"model {raw_half / widen:.2f}"
    if widen != 1.0:
        causes = [] if regime == _CALM else [_REGIME_NAME[regime]]
        if toxic_widen:
            causes.append("toxic")
        if factor < 1.0:
            causes.append(f"risk factor {factor:.2f}")
        why += f" x{widen:.2f} {', '.join(causes)}"
    elif regime != _CALM:
        why += f", {_REGIME_NAME[regime]}"
    if raw_half < c.min_half:
        why += " → min_spread"
    elif raw_half > c.max_half:
        why += " → max_spread"
    out = f"{model} r {r:.{c.price_dp}f} (skew {skew_bps:+.2f} bps), half spread {half_bps:.2f} bps ({why})"
    if c.floor_bps > half_bps:
        out += f", fee floor {c.floor_bps:.2f} bps"
    out += f"; σ {sigma_bps:.2f} bps/√s"
    if defaults:
        out += f"; defaults for {', '.join(defaults)}"
    return out
