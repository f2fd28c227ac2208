"""The order-status rule: most advanced state wins, exchange-final is final, the exchange beats our guesses."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from actors.store.lifecycle import supersedes

Z = D(0)


@pytest.mark.parametrize(("current", "cur_exec", "new", "new_exec", "expected"), [
    ("INTENT", Z, "NEW", Z, True),
    ("INTENT", Z, "UNKNOWN", None, True),
    ("UNKNOWN", Z, "NEW", Z, True),
    ("NEW", Z, "PARTIALLY_FILLED", D("0.004"), True),
    ("PARTIALLY_FILLED", D("0.004"), "PARTIALLY_FILLED", D("0.006"), True),  # a further partial fill
    ("PARTIALLY_FILLED", D("0.006"), "PARTIALLY_FILLED", D("0.004"), False),  # an older one, late
    ("PARTIALLY_FILLED", D("0.004"), "NEW", Z, False),  # the REST reply after the stream's fill
    ("FILLED", D("0.01"), "NEW", Z, False),  # REST "NEW" landing after the stream's "FILLED"
    ("FILLED", D("0.01"), "CANCELED", D("0.01"), False),  # exchange-final is final
    ("NEW", Z, "CANCELED", Z, True),
    ("NEW", Z, "EXPIRED_IN_MATCH", Z, True),
    ("INTENT", Z, "REJECTED", None, True),
    ("INTENT", Z, "SEND_FAILED", None, True),
    ("UNKNOWN", Z, "SEND_FAILED", None, True),
    ("NEW", Z, "SEND_FAILED", None, False),  # it did reach the exchange
    ("SEND_FAILED", Z, "NEW", Z, True),  # ... and the exchange says it is live: believe the exchange
    ("NOT_FOUND", Z, "NEW", Z, True),
    ("NEW", Z, "NOT_FOUND", None, True),  # reconcile: the exchange does not know it
    ("NOT_FOUND", Z, "NOT_FOUND", None, False),
    ("CANCELED", Z, "NOT_FOUND", None, False),
    ("NEW", Z, "UNKNOWN", None, False),
    ("NEW", Z, "CANCEL_REQUESTED", None, False),  # a request is not a confirmation
    ("NEW", Z, "CANCEL_FAILED", None, False),
    ("NEW", Z, "INTENT", None, False),
])
def test_supersedes(current: str, cur_exec: D, new: str, new_exec: D | None, expected: bool) -> None:
    assert supersedes(current, cur_exec, new, new_exec) is expected


def test_unknown_status_is_an_error() -> None:
    with pytest.raises(ValueError):
        supersedes("NEW", Z, "PENDING", None)
