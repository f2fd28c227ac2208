"""The pre-trade check: one order, the exposure it would join, the limits, the trading state → a decision.

Lesson 1 (a 1.5 ETH limit, a 4.29 ETH position, a liquidation) came from checking orders against the
filled position only. Here the check is on the worst case: every order that could still fill on the
order's side is assumed to fill. An order's side is the only side whose worst case it can change, so a
buy is checked against ``position + all buys + this buy <= max_inventory`` and a sell against
``position - all sells - this sell >= -max_inventory``. Fills and cancels never make a side's worst case
worse (a buy fill moves lots from "open buys" into the position; a sell fill lowers it), so if every new
order passes, the position can never pass the limit whatever fills. Reduce-only orders count too: a
reduce-only buy that closes a short lets the other open buys push the position long just as far.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from actors.gateway.events import Side
from actors.instrument import Instrument
from actors.risk.messages import TradingState
from actors.risk.params import Limits


@dataclass(frozen=True, slots=True)
class OrderIntent:
    side: Side
    qty_lots: int
    price_ticks: int | None = None  # None: a market order
    reduce_only: bool = False
    flatten: bool = False  # a panicstop's flatten order: allowed while HALTED if it is reduce-only


class _Sides(Protocol):
    @property
    def buy_lots(self) -> int: ...
    @property
    def sell_lots(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Exposure:
    """What could still fill, from the OMS: the remaining qty of every order in pending-new, open, partially
    filled, pending-cancel or unknown outcome (a timed-out place is an order until the exchange says no)."""

    position_lots: int  # signed: > 0 long
    buy_lots: int  # remaining, all buy orders that could still fill (reduce-only ones included)
    sell_lots: int

    def __post_init__(self) -> None:
        if self.buy_lots < 0 or self.sell_lots < 0:
            raise ValueError("open order quantities cannot be negative")

    @classmethod
    def of(cls, position_lots: int, sides: _Sides) -> Exposure:
        """From the OMS's per-side exposure (``actors.oms.book.Exposure`` or anything with the two fields)."""
        return cls(position_lots, sides.buy_lots, sides.sell_lots)

    @property
    def worst_long(self) -> int:
        return self.position_lots + self.buy_lots

    @property
    def worst_short(self) -> int:
        """Signed: the lowest position reachable (negative = short)."""
        return self.position_lots - self.sell_lots


class Check(StrEnum):
    OK = "ok"
    BAD_ORDER = "bad_order"
    HALTED = "halted"
    REDUCING = "reducing"
    ORDER_TOO_LARGE = "order_too_large"
    BELOW_MIN_QTY = "below_min_qty"
    REDUCE_ONLY_INVALID = "reduce_only_invalid"  # would be -2022 at the exchange
    INVENTORY = "inventory"
    MIN_NOTIONAL = "min_notional"  # would be -4164 at the exchange
    PRICE_DEVIATION = "price_deviation"


@dataclass(frozen=True, slots=True)
class Decision:
    ok: bool
    check: Check
    reason: str


_OK = Decision(True, Check.OK, "ok")


def _no(check: Check, reason: str) -> Decision:
    return Decision(False, check, reason)


def headroom_lots(side: Side, exposure: Exposure, limits: Limits) -> int:
    """How many more lots an order on ``side`` may have (what the OMS may trim a quote to)."""
    if side is Side.BUY:
        return max(0, limits.max_inventory_lots - exposure.worst_long)
    return max(0, limits.max_inventory_lots + exposure.worst_short)


def pre_trade(order: OrderIntent, exposure: Exposure, limits: Limits, state: TradingState, *,
              instrument: Instrument | None = None, ref_mid_x2_ticks: int | None = None) -> Decision:
    """Accept or refuse one new order. Cancels are never checked: they are always allowed.

    ``instrument``: adds the exchange's min qty / max qty / min notional (reduce-only is exempt from min
    notional). ``ref_mid_x2_ticks`` (best bid + best ask, in ticks): adds the fat-finger price check, and
    prices a market order for min notional.
    """
    q, side, pos = order.qty_lots, order.side, exposure.position_lots
    if q <= 0 or (order.price_ticks is not None and order.price_ticks <= 0):
        return _no(Check.BAD_ORDER, f"qty {q} lots, price {order.price_ticks} ticks: both must be positive")
    # --- state gating
    if state is TradingState.HALTED and not (order.reduce_only and order.flatten):
        return _no(Check.HALTED, "trading is HALTED: only a panicstop's reduce-only flatten orders")
    if state is TradingState.REDUCING and not order.reduce_only:
        return _no(Check.REDUCING, "trading is REDUCING: only reduce-only orders")
    # --- size
    if q > limits.max_order_lots:
        return _no(Check.ORDER_TOO_LARGE, f"{q} lots > max order {limits.max_order_lots}")
    if instrument is not None:
        if q > instrument.max_lots:
            return _no(Check.ORDER_TOO_LARGE, f"{q} lots > exchange max {instrument.max_lots}")
        if q < instrument.min_lots:
            return _no(Check.BELOW_MIN_QTY, f"{q} lots < exchange min {instrument.min_lots}")
    # --- reduce-only must reduce (the exchange refuses it otherwise: -2022)
    if order.reduce_only:
        reducible = -pos if side is Side.BUY else pos
        if reducible <= 0:
            return _no(Check.REDUCE_ONLY_INVALID, f"reduce-only {side.value} with position {pos} lots reduces nothing")
        if q > reducible:
            return _no(Check.REDUCE_ONLY_INVALID, f"reduce-only {q} lots > position {abs(pos)} lots")
    # --- the worst case on the order's side (lesson 1)
    if side is Side.BUY:
        worst = exposure.worst_long + q
        if worst > limits.max_inventory_lots:
            return _no(Check.INVENTORY, f"worst long {worst} lots = position {pos} + open buys {exposure.buy_lots}"
                                        f" + {q} > max inventory {limits.max_inventory_lots}")
    else:
        worst = exposure.worst_short - q
        if worst < -limits.max_inventory_lots:
            return _no(Check.INVENTORY, f"worst short {worst} lots = position {pos} - open sells "
                                        f"{exposure.sell_lots} - {q} < -max inventory {limits.max_inventory_lots}")
    # --- price
    price_x2 = None if order.price_ticks is None else 2 * order.price_ticks
    if ref_mid_x2_ticks is not None and ref_mid_x2_ticks > 0 and price_x2 is not None:
        dev_bps = abs(price_x2 - ref_mid_x2_ticks) * 1e4 / ref_mid_x2_ticks
        if dev_bps > limits.max_price_deviation_bps:
            return _no(Check.PRICE_DEVIATION, f"price {dev_bps:.0f} bps from mid > {limits.max_price_deviation_bps}")
    if instrument is not None and not order.reduce_only:
        px2 = price_x2 if price_x2 is not None else ref_mid_x2_ticks
        if px2 is not None:
            notional = instrument.tick_size * px2 * instrument.lots_to_qty(q) / 2
            if notional < instrument.min_notional:
                return _no(Check.MIN_NOTIONAL, f"notional {notional} < min {instrument.min_notional}")
    return _OK
