"""The book: lookups, exposures (lesson 1: every order that could still fill counts), pruning."""

from __future__ import annotations

import pytest

from actors.gateway.events import Side
from actors.oms.book import Book, Exposure
from actors.oms.order import Ev, Status, local
from tests.actors.oms.helpers import SYMBOL, T0, S, order


def test_exposure_counts_every_order_that_could_still_fill():
    b = Book.of(SYMBOL, [
        order("new", qty=1, status=Status.NEW),
        order("pn", qty=2, status=Status.PENDING_NEW),
        order("unk", qty=4, status=Status.UNKNOWN),
        order("open", qty=8, status=Status.OPEN),
        order("pf", qty=16, status=Status.PARTIALLY_FILLED, filled_lots=6),
        order("pc", qty=32, status=Status.PENDING_CANCEL, filled_lots=2),
        order("filled", qty=64, status=Status.FILLED, filled_lots=64),
        order("canceled", qty=128, status=Status.CANCELED),
        order("rejected", qty=256, status=Status.REJECTED),
        order("expired", qty=512, status=Status.EXPIRED),
        order("ask", Side.SELL, qty=5, status=Status.PENDING_CANCEL),
    ])
    e = b.exposure()
    assert e == Exposure(buy_lots=1 + 2 + 4 + 8 + 10 + 30, sell_lots=5)
    assert e.worst_long(7) == 62 and e.worst_short(7) == 2 and e.worst_short(-3) == -8


def test_lookups():
    b = Book.of(SYMBOL, [order("a", exchange_id=11), order("b", status=Status.FILLED, exchange_id=12)])
    assert b.get("a").exchange_id == 11 and b.get("zz") is None
    assert b.by_exchange_id(12).client_order_id == "b" and b.by_exchange_id(0) is None
    assert b.find("", 11).client_order_id == "a" and b.find("nope", 12).client_order_id == "b"
    assert [o.client_order_id for o in b.live()] == ["a"] and len(b) == 2
    assert b.live(Side.SELL) == ()


def test_add_refuses_a_used_client_id_even_when_done():
    b = Book.of(SYMBOL, [order("a", status=Status.CANCELED)])
    with pytest.raises(ValueError):
        b.add(order("a", status=Status.NEW))


def test_apply_moves_orders_between_open_and_done():
    b = Book.of(SYMBOL, [order("a", status=Status.NEW)])
    b2, o, _ = b.apply("a", local(Ev.CANCEL, T0))
    assert o.status is Status.CANCELED and "a" in b2.done and "a" not in b2.open
    assert "a" in b.open  # the old book is untouched
    with pytest.raises(KeyError):
        b.apply("zz", local(Ev.SEND, T0))


def test_prune_keeps_recent_terminal_and_all_live():
    b = Book.of(SYMBOL, [order("old", status=Status.FILLED, updated_ns=T0),
                         order("recent", status=Status.CANCELED, updated_ns=T0 + 9 * S),
                         order("live", status=Status.OPEN, updated_ns=T0)])
    b2, gone = b.prune(T0 + 10 * S, 5 * S)
    assert gone == ("old",) and b2.get("recent") and b2.get("live")
    assert b2.prune(T0 + 10 * S, 5 * S)[1] == ()
