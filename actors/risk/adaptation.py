"""What risk tells the strategy about how careful to be now: the adaptive net limit and one caution factor.

Risk shrinks the effective net limit at once when the market turns (HighVol, toxic flow, high adverse
selection) and lets it recover slowly; the strategy shrinks sizes and widens spreads on the same factor, so
limits and quotes never disagree about how dangerous the market is. Computed by ``actors.risk.adaptive``.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec


class Adaptation(msgspec.Struct, frozen=True):
    net_limit: Decimal  # base asset: the effective |position + adding orders| limit now (<= max_inventory)
    factor: float  # net_limit / max_inventory, in (0, 1]: 1.0 is normal, lower is more careful
    causes: tuple[str, ...] = ()  # what is shrinking it now, e.g. ("high_vol", "toxic")
    at_ns: int = 0
