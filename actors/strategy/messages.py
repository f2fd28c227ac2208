"""What the strategy tells the OMS. Prices in ticks, sizes in lots of the symbol's ``Instrument``."""

from __future__ import annotations

import msgspec


class Quote(msgspec.Struct, frozen=True, gc=False):
    price_ticks: int
    qty_lots: int


class QuoteTarget(msgspec.Struct, frozen=True):
    """The complete set of resting orders the strategy wants now, per side, best price first.

    An empty side means "nothing on that side" (the OMS cancels what rests there). ``reduce_only`` marks a
    side whose orders may only reduce the position. A new target replaces the previous one entirely.
    """

    symbol: str
    bids: tuple[Quote, ...]
    asks: tuple[Quote, ...]
    made_ns: int  # clock time the target was computed (for tick-to-order latency)
    reduce_only_bids: bool = False
    reduce_only_asks: bool = False
    reason: str = ""  # a short plain-language why, for logs and the audit trail
    market_ns: int = 0  # receive time of the market data that prompted it (tick-to-order latency), 0: none
