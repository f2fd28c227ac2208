import pytest

from actors.book.units import decimals_of, from_units, to_units


@pytest.mark.parametrize(("s", "d", "want"), [
    ("2681.62", 2, 268162), ("2681.6", 2, 268160), ("2681", 2, 268100), ("0.001", 3, 1),
    ("2683.80000000", 2, 268380), ("0", 3, 0), ("0.00000000", 3, 0), (".5", 1, 5), ("10.", 2, 1000),
])
def test_exact_conversion(s: str, d: int, want: int) -> None:
    assert to_units(s, d) == want


@pytest.mark.parametrize("bad", ["NaN", "nan", "inf", "-1", "-0.5", "+1", "1e3", "", ".", "1.2.3", "1_000",
                                 " 1", "١٢", "0x10", "abc"])
def test_rejects_anything_but_plain_non_negative_decimals(bad: str) -> None:
    with pytest.raises(ValueError):
        to_units(bad, 3)


def test_rejects_precision_beyond_the_grid() -> None:
    with pytest.raises(ValueError, match="more than 2 decimals"):
        to_units("2681.625", 2)


def test_round_trip_with_fixed_decimals() -> None:
    for s in ["2681.62", "0.01", "100.00", "0.00"]:
        assert from_units(to_units(s, 2), decimals_of(s)) == s
