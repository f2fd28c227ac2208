from decimal import Decimal

import pytest

from actors.book import signals
from actors.book.book import OrderBook


def make_book() -> OrderBook:
    b = OrderBook("ETHUSDT", 2, 3)
    b.load([("100.00", "1.000"), ("99.50", "2.000"), ("99.90", "0.500")],
           [("100.10", "3.000"), ("101.00", "1.000")])
    return b


def test_snapshot_sorted_best_first_with_original_strings() -> None:
    b = make_book()
    assert b.bids(5) == [("100.00", "1.000"), ("99.90", "0.500"), ("99.50", "2.000")]
    assert b.asks(5) == [("100.10", "3.000"), ("101.00", "1.000")]
    assert b.best_bid() == ("100.00", "1.000") and b.best_ask() == ("100.10", "3.000")


def test_absolute_quantities_and_zero_deletes() -> None:
    b = make_book()
    b.apply([("100.00", "0.000"), ("100.05", "4.000"), ("98.00", "0")], [("100.10", "0.250")])
    assert b.bids(2) == [("100.05", "4.000"), ("99.90", "0.500")]
    assert b.asks(1) == [("100.10", "0.250")]
    assert len(b) == 5  # deleting an absent level is a no-op


@pytest.mark.parametrize(("bids", "asks"), [
    ([("100.05", "1.000"), ("NaN", "1.000")], []),
    ([], [("100.20", "-1.000")]),
    ([("100.001", "1.000")], []),  # finer than the book's precision
    ([("100.05", 1.0)], []),  # a float, not a string
    ([("100.05", "1.000", "x")], []),  # not a pair
    ([["100.05"]], []),
])
def test_bad_level_raises_and_leaves_no_half_applied_book(bids, asks) -> None:
    b = make_book()
    with pytest.raises(ValueError, match="bad level"):
        b.apply(bids, asks)
    assert len(b) == 0 and b.empty  # untrusted: nothing to read until the next snapshot


def test_signals() -> None:
    b = make_book()
    top = b.top()
    assert top is not None
    # top-2: bids 1.0 + 0.5 = 1.5, asks 3.0 + 1.0 = 4.0
    assert signals.imbalance(b, 2) == pytest.approx((1.5 - 4.0) / 5.5)
    # microprice leans toward the ask when the bid is thinner
    assert Decimal("100.00") < signals.microprice(top, 2) < Decimal("100.05")


def test_crossed_detection() -> None:
    b = make_book()
    assert not b.is_crossed()
    b.apply([("100.10", "1.000")], [])
    assert b.is_crossed()


def test_windowed_book_agrees_with_a_plain_model_under_random_churn() -> None:
    """The sorted window holds only the best levels; reads must still equal a naive full sort, whatever the
    churn (far levels appearing and vanishing, the top emptied, deep reads)."""
    import random

    rng = random.Random(5)
    book = OrderBook("X", 2, 3)
    model: dict[str, dict[int, int]] = {"b": {}, "a": {}}
    for step in range(4000):
        side = rng.choice("ba")
        mid = 100_000 + rng.randint(-300, 300)
        ups = []
        for _ in range(rng.randint(1, 60)):
            far = rng.random() < 0.5
            off = rng.randint(1, 5000) if far else rng.randint(1, 40)
            pu = mid - off if side == "b" else mid + off
            qu = 0 if rng.random() < 0.45 else rng.randint(1, 5000)
            ups.append((f"{pu // 100}.{pu % 100:02d}", f"{qu // 1000}.{qu % 1000:03d}"))
            if qu:
                model[side][pu] = qu
            else:
                model[side].pop(pu, None)
        if side == "b":
            book.apply(ups, [])
        else:
            book.apply([], ups)
        if step % 50 == 0 or step > 3950:
            n = rng.choice([1, 5, 20, 300, 1000])
            want_b = sorted(model["b"].items(), key=lambda kv: -kv[0])[:n]
            want_a = sorted(model["a"].items())[:n]
            got_b, got_a = book.depth_units(n)
            assert got_b == want_b and got_a == want_a, step
    assert len(book) == len(model["b"]) + len(model["a"])
