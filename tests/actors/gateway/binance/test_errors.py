"""Error taxonomy: the classification table, and real Binance error payloads quoted in GitHub issues."""

from __future__ import annotations

import json

import pytest

from actors.gateway.binance.errors import (
    BannedError,
    DuplicateClientIdError,
    ErrorKind,
    OrderNotFoundError,
    RejectedError,
    Transport,
    ban_until_ms,
    classify,
    make_error,
)

from .conftest import ISSUES

K = ErrorKind


@pytest.mark.parametrize(
    ("status", "code", "transport", "write", "kind"),
    [
        # transport
        (None, None, Transport.NOT_SENT, True, K.RETRYABLE),
        (None, None, Transport.NOT_SENT, False, K.RETRYABLE),
        (None, None, Transport.TIMEOUT, False, K.RETRYABLE),
        (None, None, Transport.TIMEOUT, True, K.UNKNOWN_STATE),
        (None, None, Transport.BROKEN, True, K.UNKNOWN_STATE),
        (None, None, Transport.BROKEN, False, K.RETRYABLE),
        # server-side unknowns
        (503, None, None, False, K.RETRYABLE),
        (503, None, None, True, K.UNKNOWN_STATE),
        (500, -1000, None, True, K.UNKNOWN_STATE),
        (502, None, None, True, K.UNKNOWN_STATE),
        (408, None, None, True, K.UNKNOWN_STATE),
        (400, -1001, None, False, K.RETRYABLE),
        (400, -1001, None, True, K.UNKNOWN_STATE),
        (400, -1007, None, False, K.RETRYABLE),
        (400, -1007, None, True, K.UNKNOWN_STATE),
        (503, -1008, None, True, K.RETRYABLE),  # throttled: documented as not processed
        # limits
        (429, -1003, None, True, K.RATE_LIMITED),
        (429, None, None, False, K.RATE_LIMITED),
        (400, -1015, None, True, K.RATE_LIMITED),
        (403, None, None, False, K.RATE_LIMITED),
        (418, -1003, None, False, K.BANNED),
        (418, None, None, True, K.BANNED),
        # clock / auth
        (400, -1021, None, True, K.CLOCK_SKEW),
        (400, -1022, None, True, K.AUTH),
        (401, -2014, None, False, K.AUTH),
        (401, -2015, None, False, K.AUTH),
        # business
        *[(400, c, None, True, K.REJECTED) for c in (-2010, -2011, -2013, -2019, -2021, -2022, -4164, -5022,
                                                       -4014, -4023, -1111, -4015, -4116, -1116, -1117,
                                                       -1102, -1121, -1125, -9999)],
    ],
)
def test_classification_table(status, code, transport, write, kind) -> None:
    assert classify(status, code, transport, is_write=write) is kind


def _binance_lines() -> list[dict]:
    rows = [json.loads(line) for line in ISSUES.read_text().splitlines() if line.strip()]
    return [r for r in rows if r["exchange"] == "binance"]


EXPECTED = {-1021: K.CLOCK_SKEW, -1003: None, -2010: K.REJECTED, -5022: K.REJECTED, -1116: K.REJECTED,
            -2011: K.REJECTED, -1125: K.REJECTED}


def test_real_payloads_classify() -> None:
    seen = 0
    for row in _binance_lines():
        payload = row["payload"]
        if not isinstance(payload, dict) or "code" not in payload:
            continue
        code = payload["code"]
        status = row["http_status"] or 400
        kind = classify(status, code, is_write=True)
        if code == -1003:
            assert kind is (K.BANNED if status == 418 else K.RATE_LIMITED), row
        else:
            assert kind is EXPECTED[code], row
        seen += 1
    assert seen >= 12


def test_real_batch_payload_items() -> None:
    batch = next(r for r in _binance_lines() if isinstance(r["payload"], list))
    first = batch["payload"][0]
    assert classify(400, first["code"], is_write=True) is K.REJECTED
    assert "orderId" in batch["payload"][1]


def test_ban_end_is_read_from_the_real_418_message() -> None:
    row = next(r for r in _binance_lines() if r["http_status"] == 418)
    assert ban_until_ms(row["payload"]["msg"]) == 1659761931230
    assert ban_until_ms("Too many requests") is None


def test_make_error_subtypes_and_text() -> None:
    e = make_error(K.REJECTED, "Order does not exist.", code=-2013, http_status=400,
                   endpoint="/fapi/v1/order")
    assert isinstance(e, OrderNotFoundError) and isinstance(e, RejectedError)
    assert isinstance(make_error(K.REJECTED, "dup", code=-4116), DuplicateClientIdError)
    b = make_error(K.BANNED, "banned", code=-1003, http_status=418, ban_until=123)
    assert isinstance(b, BannedError) and b.until_ms == 123
    assert str(e) == "REJECTED /fapi/v1/order http=400 code=-2013: Order does not exist."
    assert repr(e).startswith("OrderNotFoundError(")
