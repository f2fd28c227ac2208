"""How values become SQLite values, and back.

Decimals are stored as exact TEXT in plain notation (never REAL: a binary float cannot hold 0.1), times as
integer ns (or the exchange's ms) beside ISO-8601 UTC text for people reading the database, and free-form
details as JSON with anything that looks like a secret redacted before it reaches the disk.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

Num = Decimal | int | str

_SECRET_KEY = re.compile(r"(secret|passw|token|signature|api_?key|listen_?key|credential|private)", re.IGNORECASE)
_NOT_SECRET_SUFFIX = ("_env", "_file")  # the *name* of a variable or file holding a key is not the key
REDACTED = "<redacted>"


def dec(x: Num) -> str:
    """Exact plain-notation text of a number; floats are refused (they are already inexact)."""
    if type(x) is Decimal and x.is_finite() and x:  # the common case, on the order path: skip the checks below
        return format(x, "f")
    if isinstance(x, bool) or not isinstance(x, Decimal | int | str):
        raise TypeError(f"expected Decimal, int or str, got {type(x).__name__} {x!r}")
    try:
        d = x if isinstance(x, Decimal) else Decimal(x)
    except InvalidOperation:
        raise ValueError(f"not a decimal number: {x!r}") from None
    if not d.is_finite():
        raise ValueError(f"not a finite number: {x!r}")
    if d.is_zero():
        d = abs(d)  # no "-0"
    return format(d, "f")


def dec_opt(x: Num | None) -> str | None:
    return None if x is None else dec(x)


def dec_key(x: Num | None) -> str:
    """Canonical text for natural keys: 0.100 and 0.1 are the same quantity."""
    if x is None:
        return ""
    d = Decimal(dec(x)).normalize()
    return format(d, "f")


def to_dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def iso_ns(ns: int) -> str:
    """``2024-08-08T12:34:56.123456Z`` (UTC, microseconds)."""
    s, rem = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{rem // 1000:06d}Z"


def iso_ms(ms: int) -> str:
    """``2024-08-08T12:34:56.123Z`` (UTC, milliseconds, as the exchange stamps its events)."""
    s, rem = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{rem:03d}Z"


def _is_secret_key(key: str) -> bool:
    last = key.rsplit(".", 1)[-1].lower()
    return bool(_SECRET_KEY.search(last)) and not last.endswith(_NOT_SECRET_SUFFIX)


def redact(obj: Any) -> Any:
    """A copy with the values of secret-looking keys replaced; keys may be dotted paths (``exchange.api_key``)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = dataclasses.asdict(obj)  # settings, credentials: field by field, so secret fields are caught
    if isinstance(obj, Mapping):
        return {str(k): (REDACTED if _is_secret_key(str(k)) else redact(v)) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact(v) for v in obj]
    return obj


def _default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return dec(o)
    if isinstance(o, set | frozenset):
        return sorted(o, key=str)
    return str(o)  # enums, paths, dataclasses: their text (Credentials print as <redacted>)


def to_json(obj: Any) -> str:
    """Canonical JSON (sorted keys, Decimals as exact strings), secrets redacted; a str is kept as a JSON string."""
    return json.dumps(redact(obj), default=_default, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def from_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)
