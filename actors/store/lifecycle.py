"""Which order event moves an order's status: the rule behind ``open_orders``.

REST replies, user-stream events and reconcile queries race, so arrival order is not the order's history: a
REST "NEW" can land after the stream's "FILLED". The stored status is therefore the *most advanced* state
reported, and the rule leans to safety: the exchange's word beats our own guess (an order we believed failed
but the exchange reports live is open again), while an exchange-final status is final. An order that may be
live is open: its quantity counts against the inventory limit until proven otherwise.
"""

from __future__ import annotations

from decimal import Decimal

from actors.gateway.events import OrderStatus
from actors.store.models import EXCHANGE_FINAL, LOCAL_FINAL, NOTES, LocalStatus

_EXCHANGE_RANK = {OrderStatus.NEW: 1, OrderStatus.PARTIALLY_FILLED: 2}
_LOCAL = frozenset(LocalStatus)


def supersedes(current: str, current_executed: Decimal, new: str, new_executed: Decimal | None) -> bool:
    """Whether an event with status ``new`` (and executed quantity) replaces the order's ``current`` status."""
    if new in NOTES or new == LocalStatus.INTENT or current in EXCHANGE_FINAL:
        return False
    if new in EXCHANGE_FINAL:
        return True
    if new in _EXCHANGE_RANK:  # NEW or PARTIALLY_FILLED
        if current in _LOCAL:
            return True  # the exchange reports it live: believe it over INTENT/UNKNOWN/SEND_FAILED/NOT_FOUND
        rank_new, rank_cur = _EXCHANGE_RANK[OrderStatus(new)], _EXCHANGE_RANK[OrderStatus(current)]
        if rank_new != rank_cur:
            return rank_new > rank_cur
        return new_executed is not None and new_executed > current_executed  # a further partial fill
    if new == LocalStatus.UNKNOWN:
        return current == LocalStatus.INTENT
    if new == LocalStatus.SEND_FAILED:
        return current in (LocalStatus.INTENT, LocalStatus.UNKNOWN)
    if new == LocalStatus.NOT_FOUND:
        return current not in LOCAL_FINAL
    raise ValueError(f"unknown order status {new!r}")
