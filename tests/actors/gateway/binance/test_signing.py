"""Signing against Binance's own published worked examples, and keeping secrets out of text."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.gateway.binance.signing import Credentials, encode_params, format_value, scrub, sign

# USDⓈ-M futures "General Info" → "SIGNED Endpoint Examples for POST /fapi/v1/order - HMAC Keys".
FUT_KEY = "dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83"
FUT_SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
FUT_QUERY = (
    "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000"
    "&timestamp=1591702613943"
)
FUT_SIG = "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
# Example 3 (mixed): totalParams = query string + body, concatenated with no "&"; the docs' string
# literally contains "timestamp= 1591702613943" (with a space), and that is what their digest signs.
FUT_MIXED_QUERY = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC"
FUT_MIXED_BODY = "quantity=1&price=9000&recvWindow=5000&timestamp= 1591702613943"
FUT_MIXED_SIG = "f9d0ae5e813ef6ccf15c2b5a434047a0181cb5a342b903b367ca6d27a66e36f2"

# The key pair quoted in our brief is the *spot* docs' example pair ("SIGNED endpoint examples for POST
# /api/v3/order"); its documented query and digest:
SPOT_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SPOT_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
SPOT_QUERY = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
    "&timestamp=1499827319559"
)
SPOT_SIG = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


def test_futures_query_string_example() -> None:
    assert sign(FUT_SECRET, FUT_QUERY) == FUT_SIG


def test_futures_request_body_example_signs_the_same_string() -> None:
    # Example 2 sends the same parameters as a body: same totalParams, same signature.
    assert Credentials(FUT_KEY, FUT_SECRET).signed(FUT_QUERY) == f"{FUT_QUERY}&signature={FUT_SIG}"


def test_futures_mixed_query_and_body_example() -> None:
    assert sign(FUT_SECRET, FUT_MIXED_QUERY + FUT_MIXED_BODY) == FUT_MIXED_SIG


def test_spot_example_with_the_briefs_key_pair() -> None:
    assert sign(SPOT_SECRET, SPOT_QUERY) == SPOT_SIG
    # ... and that pair does *not* produce the futures digest: the brief mixed the two examples up.
    assert sign(SPOT_SECRET, FUT_QUERY) != FUT_SIG


def test_encode_params_rebuilds_the_documented_query_in_order() -> None:
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": Decimal("1"),
              "price": Decimal("9000.00"), "timeInForce": "GTC", "recvWindow": 5000,
              "timestamp": 1591702613943}
    assert encode_params(params) == FUT_QUERY


def test_format_value() -> None:
    assert format_value(Decimal("0.0010")) == "0.001"
    assert format_value(Decimal("1E+2")) == "100"
    assert format_value(Decimal("2500.00")) == "2500"
    assert format_value(True) == "true"
    assert format_value(7) == "7"
    with pytest.raises(TypeError):
        format_value(0.1)
    with pytest.raises(ValueError):
        format_value(Decimal("NaN"))


def test_encode_params_percent_encodes_and_skips_none() -> None:
    out = encode_params({"a": "x y", "b": None, "c": '[{"k":"v"}]'})
    assert out == "a=x%20y&c=%5B%7B%22k%22%3A%22v%22%7D%5D"


def test_credentials_never_show_key_or_secret() -> None:
    c = Credentials(FUT_KEY, FUT_SECRET)
    for text in (repr(c), str(c), f"{c}", repr([c])):
        assert FUT_KEY not in text and FUT_SECRET not in text
    with pytest.raises(ValueError):
        Credentials("", "x")


def test_scrub_removes_signature_query_and_secrets() -> None:
    url = f"http://h/fapi/v1/order?{FUT_QUERY}&signature={FUT_SIG} failed key={FUT_KEY} s={FUT_SECRET}"
    out = scrub(url, FUT_KEY, FUT_SECRET)
    assert FUT_SIG not in out and FUT_KEY not in out and FUT_SECRET not in out
    assert "timestamp" not in out and "/fapi/v1/order" in out
    assert FUT_SIG not in scrub(f"signature={FUT_SIG}")
