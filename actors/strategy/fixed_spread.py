"""Phase 1: two-sided quotes at a fixed spread around mid. States what it wants quoted; the OMS decides what to send.

``quote`` always returns the complete target (never "nothing changed"): it is a pure function of its
inputs, so a replay gets the same target from the same inputs, and it cannot know what actually rests (a
partial fill, a reject, a cancel in flight), which only the OMS does. So the refresh tolerance that spares
the exchange belongs where the orders are; ``should_publish`` is a cheap pre-filter the strategy actor uses
to avoid telling the OMS a target that differs only by sub-tolerance price moves or comes too soon.

Rules, each for a lesson or an exchange rule:

* each half spread >= 2 x maker fee + ``fee_buffer_bps`` (lesson 6: a round trip never loses to fees);
* bid rounded down and ask up to the tick, then bid <= best bid and ask >= best ask: a post-only (GTX)
  quote never crosses (-5022), and rounding only ever widens the spread;
* sizes in whole lots, at least the exchange minimum notional (-4164), except reduce-only (exempt);
* inventory: all bids filling must not take the position past ``+inventory_threshold``, nor all asks past
  ``-inventory_threshold``; at or past it only the reducing side is quoted, reduce-only, never more than
  the position; risk REDUCING → only that reducing side; HALTED, quotes not allowed or stale → nothing.
"""

from __future__ import annotations

import functools
from fractions import Fraction

from actors.book.view import MarketView
from actors.instrument import Instrument
from actors.risk.messages import RiskState, TradingState
from actors.strategy.messages import Quote, QuoteTarget
from actors.strategy.params import Fees, FixedSpreadParams

_BPS = 10_000


def _empty(symbol: str, now_ns: int, reason: str) -> QuoteTarget:
    return QuoteTarget(symbol, (), (), now_ns, reason=reason)


@functools.lru_cache(maxsize=64)
def half_spread_bps(params: FixedSpreadParams, fees: Fees) -> tuple[Fraction, bool]:
    """The half spread quoted at level 0 and whether the fee floor (not ``min_spread_bps``) set it."""
    floor = fees.min_half_spread_bps(params.fee_buffer_bps)
    wanted = Fraction(params.min_spread_bps) / 2
    return (floor, True) if floor > wanted else (wanted, False)


@functools.lru_cache(maxsize=64)
def _level_ratios(half: Fraction, spacing_bps: float, levels: int) -> tuple[tuple[int, int], ...]:
    """Each level's distance from mid as an exact ratio ``p / q`` of the mid, computed once per parameter set:
    the per-tick work is then integer arithmetic only (Fraction arithmetic cost ~0.3 ms per quote)."""
    out = []
    for i in range(levels):
        h = (half + i * Fraction(spacing_bps)) / _BPS
        out.append((h.numerator, h.denominator))
    return tuple(out)


def _prices(market: MarketView, half: Fraction, params: FixedSpreadParams) -> tuple[list[int], list[int]]:
    """Level prices, best first: bids strictly falling, asks strictly rising, never inside the touch."""
    m2 = market.mid_x2_ticks
    bids: list[int] = []
    asks: list[int] = []
    for p, q in _level_ratios(half, params.level_spacing_bps, params.levels):
        # floor(m2 * (1 - p/q) / 2) and ceil(m2 * (1 + p/q) / 2), exactly, in integers
        b = min((m2 * (q - p)) // (2 * q), market.bid_ticks, bids[-1] - 1 if bids else market.bid_ticks)
        a = max(-((-m2 * (q + p)) // (2 * q)), market.ask_ticks, asks[-1] + 1 if asks else market.ask_ticks)
        if b > 0:
            bids.append(b)
        asks.append(a)
    return bids, asks


def _sizes(prices: list[int], room_lots: int, base_lots: int, instrument: Instrument,
           reduce_only: bool) -> tuple[Quote, ...]:
    """Fill levels best-first with ``base_lots`` each (raised to min notional) while ``room_lots`` lasts; the
    last level may take less, never below the minimum (reduce-only: min qty only, exempt from min notional)."""
    out: list[Quote] = []
    for px in prices:
        need = instrument.min_lots if reduce_only else instrument.min_lots_for_notional(px)
        lots = min(max(base_lots, need), room_lots, instrument.max_lots)
        if lots < need or lots <= 0:
            break
        out.append(Quote(px, lots))
        room_lots -= lots
    return tuple(out)


def quote(market: MarketView | None, position_lots: int, params: FixedSpreadParams, instrument: Instrument,
          fees: Fees, risk: RiskState | None, now_ns: int) -> QuoteTarget:
    """The complete set of quotes wanted now (see the module's rules)."""
    sym = instrument.symbol
    if risk is None:
        return _empty(sym, now_ns, "no risk report yet")
    if risk.trading_state is TradingState.HALTED:
        return _empty(sym, now_ns, f"risk HALTED: {risk.reason}")
    if not risk.quotes_allowed:
        return _empty(sym, now_ns, f"risk: quotes not allowed: {risk.reason}")
    if market is None:
        return _empty(sym, now_ns, "no two-sided book")
    if market.is_stale(now_ns, params.stale_after_ns):
        age = (now_ns - market.last_update_ns) / 1e6
        return _empty(sym, now_ns, f"book stale ({age:.0f} ms without an update)")
    if market.bid_ticks >= market.ask_ticks:
        return _empty(sym, now_ns, "book crossed")

    half, fee_bound = half_spread_bps(params, fees)
    bid_px, ask_px = _prices(market, half, params)
    base = instrument.lots_floor(params.base_size)
    threshold = instrument.lots_floor(params.inventory_threshold)
    pos = position_lots
    reducing = risk.trading_state is TradingState.REDUCING
    qty = instrument.lots_to_qty
    pos_txt = f"position {qty(pos)}"

    if reducing or abs(pos) >= threshold:
        why = "risk REDUCING" if reducing else f"|{pos_txt}| >= threshold {params.inventory_threshold}"
        if pos == 0:
            return _empty(sym, now_ns, f"{why}, flat: nothing to reduce")
        if pos > 0:
            asks = _sizes(ask_px, pos, base, instrument, reduce_only=True)
            return QuoteTarget(sym, (), asks, now_ns, reduce_only_asks=True,
                               reason=f"{why}: only reduce-only asks, {len(asks)} levels")
        bids = _sizes(bid_px, -pos, base, instrument, reduce_only=True)
        return QuoteTarget(sym, bids, (), now_ns, reduce_only_bids=True,
                           reason=f"{why}: only reduce-only bids, {len(bids)} levels")

    # all bids filling keeps the position <= +threshold, all asks filling keeps it >= -threshold
    bids = _sizes(bid_px, threshold - pos, base, instrument, reduce_only=False)
    asks = _sizes(ask_px, threshold + pos, base, instrument, reduce_only=False)
    floor_txt = (f"fee floor: 2 x maker {float(fees.maker) * _BPS:g} bps + buffer {params.fee_buffer_bps:g}"
                 if fee_bound else f"min_spread_bps {params.min_spread_bps:g} / 2")
    reason = (f"mid {market.mid}, half spread {float(half):.2f} bps ({floor_txt}); {len(bids)} bid / {len(asks)} "
              f"ask levels; {pos_txt} within ±{params.inventory_threshold}")
    for side, got, room in (("bids", bids, threshold - pos), ("asks", asks, threshold + pos)):
        if not got:
            reason += f"; no {side}: room {qty(room)} is below the exchange minimum (min notional)"
    return QuoteTarget(sym, bids, asks, now_ns, reason=reason)


def should_publish(prev: QuoteTarget | None, new: QuoteTarget, params: FixedSpreadParams) -> bool:
    """Whether the strategy actor should tell the OMS ``new``.

    Always when what is quoted changes shape (a side appears or empties, sizes, level count, reduce-only
    flags): those are inventory and safety decisions. A price-only change is told when some price moved by
    at least ``refresh_tolerance_bps`` and ``quote_interval_ms`` has passed since the last target told.
    """
    if prev is None:
        return True
    if (prev.reduce_only_bids, prev.reduce_only_asks) != (new.reduce_only_bids, new.reduce_only_asks):
        return True
    old_q, new_q = (*prev.bids, *prev.asks), (*new.bids, *new.asks)
    if (len(prev.bids), len(prev.asks)) != (len(new.bids), len(new.asks)) or \
            any(a.qty_lots != b.qty_lots for a, b in zip(old_q, new_q, strict=True)):
        return True
    moved = any(abs(b.price_ticks - a.price_ticks) * _BPS >= params.refresh_tolerance_bps * a.price_ticks
                for a, b in zip(old_q, new_q, strict=True))
    return moved and new.made_ns - prev.made_ns >= params.quote_interval_ns
