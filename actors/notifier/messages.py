"""What the notifier is told besides ``Notify`` (``actors.risk.messages``): frozen structs, like every message."""

from __future__ import annotations

import msgspec


class NotifyWithFiles(msgspec.Struct, frozen=True):
    """A ``Notify`` with files attached (the P2 daily report's markdown and PNG charts)."""

    level: str  # "P0" | "P1" | "P2"
    title: str
    body: str
    at_ns: int
    attach: tuple[str, ...] = ()  # file paths; one missing is named in the body, the rest still sent


class NotifierTick(msgspec.Struct, frozen=True):
    """Timer: release folded and held-back alerts whose window is over."""


class Delivered(msgspec.Struct, frozen=True):
    """A delivery thread's outcome for one destination (``label``: never the URL)."""

    level: str
    label: str
    title: str
    ok: bool
    status: str  # apprise's result: "success", "failure", "timeout", ... or the exception's type
