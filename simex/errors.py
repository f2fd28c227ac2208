"""Binance error replies: one exception type carrying the code, message and HTTP status the venue uses.

Messages are Binance's own texts (USDⓈ-M error-code page and real replies quoted in public issues) so a
client's error classifier is exercised against the strings it will meet in production.
"""

from __future__ import annotations


class ApiError(Exception):
    """An error reply: ``{"code": code, "msg": msg}`` with HTTP ``status``."""

    def __init__(self, code: int, msg: str, status: int = 400, retry_after: int | None = None) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.retry_after = retry_after

    def body(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg}


def mandatory(name: str) -> ApiError:
    return ApiError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def invalid_param(name: str) -> ApiError:
    return ApiError(-1130, f"Data sent for parameter '{name}' is not valid.")


def not_required(name: str) -> ApiError:
    return ApiError(-1106, f"Parameter '{name}' sent when not required.")


def bad_symbol() -> ApiError:
    return ApiError(-1121, "Invalid symbol.")


def bad_side() -> ApiError:
    return ApiError(-1117, "Invalid side.")


def bad_type() -> ApiError:
    return ApiError(-1116, "Invalid orderType.")


def bad_tif() -> ApiError:
    return ApiError(-1115, "Invalid timeInForce.")


def bad_resp_type() -> ApiError:
    return ApiError(-1136, "Invalid newOrderRespType.")


def bad_position_side() -> ApiError:
    return ApiError(-4061, "Order's position side does not match user's setting.")


def bad_precision() -> ApiError:
    return ApiError(-1111, "Precision is over the maximum defined for this asset.")


def price_not_tick() -> ApiError:
    return ApiError(-4014, "Price not increased by tick size.")


def qty_not_step() -> ApiError:
    return ApiError(-4023, "Qty not increased by step size.")


def qty_le_zero() -> ApiError:
    return ApiError(-4003, "Quantity less than or equal to zero.")


def qty_below_min() -> ApiError:
    return ApiError(-1013, "Quantity less than min quantity.")


def qty_above_max() -> ApiError:
    return ApiError(-4005, "Quantity greater than max quantity.")


def price_le_zero() -> ApiError:
    return ApiError(-4001, "Price less than 0.")


def price_below_min() -> ApiError:
    return ApiError(-4013, "Price less than min price.")


def price_above_max() -> ApiError:
    return ApiError(-4002, "Price greater than max price.")


def price_above_cap(limit: str) -> ApiError:
    return ApiError(-4016, f"Limit price can't be higher than {limit}.")


def price_below_floor(limit: str) -> ApiError:
    return ApiError(-4024, f"Limit price can't be lower than {limit}.")


def min_notional(notional: str) -> ApiError:
    return ApiError(-4164, f"Order's notional must be no smaller than {notional} (unless you choose reduce only).")


def bad_client_id() -> ApiError:
    return ApiError(-4015, "Client order id is not valid.")


def duplicate_client_id() -> ApiError:
    return ApiError(-4116, "ClientOrderId is duplicated.")


def gtx_would_take() -> ApiError:
    return ApiError(
        -5022,
        "Due to the order could not be executed as maker, the Post Only order will be rejected. "
        "The order will not be recorded in the order history",
    )


def reduce_only_rejected() -> ApiError:
    return ApiError(-2022, "ReduceOnly Order is rejected.")


def margin_insufficient() -> ApiError:
    return ApiError(-2019, "Margin is insufficient.")


def no_such_order() -> ApiError:
    return ApiError(-2013, "Order does not exist.")


def unknown_order() -> ApiError:
    return ApiError(-2011, "Unknown order sent.")


def either_param(a: str, b: str) -> ApiError:
    return ApiError(-1102, f"Param '{a}' or '{b}' must be sent, but both were empty/null!")


def bad_combo() -> ApiError:
    return ApiError(-1128, "Combination of optional parameters invalid.")


def bad_api_key_format() -> ApiError:
    return ApiError(-2014, "API-key format invalid.", status=401)


def rejected_api_key() -> ApiError:
    return ApiError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)


def bad_signature() -> ApiError:
    return ApiError(-1022, "Signature for this request is not valid.")


def outside_recv_window() -> ApiError:
    return ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")


def ahead_of_server() -> ApiError:
    return ApiError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")


def bad_listen_key() -> ApiError:
    return ApiError(-1125, "This listenKey does not exist.")


def bad_depth_limit(limit: str) -> ApiError:
    return ApiError(-4021, f"'{limit}' is not valid depth limit.")


def illegal_chars(name: str) -> ApiError:
    return ApiError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.")


def bad_leverage() -> ApiError:
    return ApiError(-4028, "Leverage is not valid.")
