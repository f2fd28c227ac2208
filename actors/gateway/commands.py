"""Commands the gateway carries out for the other actors (order commands live in ``actors.oms.messages``)."""

from __future__ import annotations

import msgspec


class FetchSnapshot(msgspec.Struct, frozen=True):
    """Fetch a REST depth snapshot; the book gets a ``DepthSnapshot`` or a ``SnapshotFailed``."""

    symbol: str
    limit: int = 1000


class SnapshotFailed(msgspec.Struct, frozen=True):
    symbol: str
    error: str
    retry_after_s: float


class ReconnectMarket(msgspec.Struct, frozen=True):
    """Drop and reopen the market-data socket (the book found it disagrees with the exchange)."""

    reason: str


class ReportStreamState(msgspec.Struct, frozen=True):
    """A (re)started book asks whether the market socket is up; if it is, it gets a ``StreamConnected``."""


class StartUserStream(msgspec.Struct, frozen=True):
    """Timer message: try to start the user-data stream again."""
