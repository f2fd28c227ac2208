"""Request signing as Binance verifies it: HMAC-SHA256 (hex) of ``totalParams``, the raw query string
concatenated with the raw form body (no separator), with the ``signature`` parameter taken out."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _strip_signature(part: str) -> tuple[str, str | None]:
    """Remove the ``signature=...`` parameter from a raw query/body string."""
    pieces = part.split("&") if part else []
    sig = None
    kept = []
    for piece in pieces:
        if piece.startswith("signature=") and sig is None:
            sig = piece[len("signature=") :]
        else:
            kept.append(piece)
    return "&".join(kept), sig


def total_params(query: str, body: str) -> tuple[str, str | None]:
    """(the signed payload, the signature) for a request; signature None when absent."""
    q, sig_q = _strip_signature(query)
    b, sig_b = _strip_signature(body)
    return q + b, sig_q if sig_q is not None else sig_b


def verify(secret: str, payload: str, signature: str) -> bool:
    """Binance accepts HMAC signatures in any letter case."""
    return hmac.compare_digest(sign(secret, payload), signature.strip().lower())


def params_of(query: str, body: str) -> dict[str, str]:
    """Request parameters; a name sent in both the query string and the body takes the query's value."""
    out = dict(parse_qsl(body, keep_blank_values=True)) if body else {}
    if query:
        out.update(parse_qsl(query, keep_blank_values=True))
    return out
