"""Client order ids: ``<tag>.<run>.<seq>``, unique across restarts, sortable, at most 36 characters.

``run`` is 9 base-36 digits of the run's start time in ms, made strictly greater than the last stored run,
so an id never repeats after a restart (the shell stores the run id before the first order). ``seq`` is a
10-digit counter within the run. Fixed widths make the lexicographic order the order of creation.
"""

from __future__ import annotations

import re

import msgspec

CLIENT_ID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
TAG_RE = re.compile(r"^[A-Za-z0-9]{1,14}$")
RUN_WIDTH = 9
SEQ_WIDTH = 10
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_ID_RE = re.compile(rf"^([A-Za-z0-9]{{1,14}})\.([0-9a-z]{{{RUN_WIDTH}}})\.([0-9]{{{SEQ_WIDTH}}})$")


def _base36(value: int, width: int) -> str:
    n, out = value, ""
    while n:
        n, r = divmod(n, 36)
        out = _DIGITS[r] + out
    if len(out) > width:
        raise ValueError(f"{value} does not fit {width} base-36 digits")
    return out.rjust(width, "0")


def next_run_id(now_ns: int, last_run_id: str | None = None) -> str:
    """A run id from the start time, strictly after ``last_run_id`` (a clock that stepped back, two quick
    restarts in one millisecond)."""
    n = now_ns // 1_000_000
    if last_run_id:
        n = max(n, int(last_run_id, 36) + 1)
    return _base36(n, RUN_WIDTH)


class ClientIds(msgspec.Struct, frozen=True):
    """The id generator's state: persist ``run`` once at start; ``seq`` needs no persisting (the run is new)."""

    tag: str
    run: str
    seq: int = 0

    def __post_init__(self) -> None:
        if not TAG_RE.match(self.tag):
            raise ValueError(f"id tag {self.tag!r} must be 1-14 letters or digits")
        if len(self.run) != RUN_WIDTH or any(c not in _DIGITS for c in self.run):
            raise ValueError(f"run id {self.run!r} must be {RUN_WIDTH} base-36 digits")

    def take(self, n: int) -> tuple[tuple[str, ...], ClientIds]:
        """``n`` fresh ids and the generator after them."""
        if self.seq + n >= 10**SEQ_WIDTH:
            raise ValueError("client id sequence exhausted for this run: start a new run")
        ids = tuple(f"{self.tag}.{self.run}.{self.seq + i + 1:0{SEQ_WIDTH}d}" for i in range(n))
        return ids, ClientIds(self.tag, self.run, self.seq + n)


def parse_client_id(cid: str) -> tuple[str, str, int] | None:
    """(tag, run, seq) for an id of this scheme, else None (a foreign or exchange-generated order)."""
    m = _ID_RE.match(cid)
    return (m.group(1), m.group(2), int(m.group(3))) if m else None
