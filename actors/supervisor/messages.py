"""Messages of the supervision layer."""

from __future__ import annotations

import msgspec


class Heartbeat(msgspec.Struct, frozen=True):
    """Asked of every child on a timer; a child that cannot answer in time is hung."""

    seq: int


class ChildFailed(msgspec.Struct, frozen=True):
    """An actor raised out of a handler (``on_failure``) or stopped answering heartbeats."""

    tree: str
    child: str
    error: str
    at_ns: int
    hung: bool = False
    urn: str = ""  # the failing incarnation; a report about one already replaced is ignored


class ChildRestarted(msgspec.Struct, frozen=True):
    tree: str
    children: tuple[str, ...]
    at_ns: int


class TreeGaveUp(msgspec.Struct, frozen=True):
    """A tree exceeded its restart intensity: it panicstopped and escalates to its parent."""

    tree: str
    reason: str
    at_ns: int
