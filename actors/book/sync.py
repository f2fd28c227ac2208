"""Keeping a local book in step with an exchange: snapshot + buffered diffs + sequence checks.

A pure state machine: feed it diffs and snapshots, it tells you what happened (``Applied``, ``Buffered``,
``Dropped``, ``Gap``). On a ``Gap`` the book is no longer trusted and the owner must fetch a new snapshot;
until that snapshot bridges the buffered diffs the book stays unsynced.

Binance's rules ("How to manage a local order book correctly"):

========  =======================================  ==========================================
market    first diff after snapshot L              every next diff
========  =======================================  ==========================================
USDⓈ-M    drop u < L; then U ≤ L ≤ u               pu == previous u
spot      drop u ≤ L; then U ≤ L+1 ≤ u             U == previous u + 1
========  =======================================  ==========================================
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from enum import StrEnum

import msgspec

from actors.book.book import OrderBook
from actors.gateway.events import DepthDiff, DepthSnapshot


class SeqRule(StrEnum):
    FUTURES = "futures"  # pu chain
    SPOT = "spot"  # U == prev u + 1


class SyncState(StrEnum):
    WAITING = "waiting"  # no trusted snapshot: buffering diffs
    SYNCED = "synced"


class Applied(msgspec.Struct, frozen=True, gc=False):
    last_id: int


class Buffered(msgspec.Struct, frozen=True, gc=False):
    pending: int


class Dropped(msgspec.Struct, frozen=True, gc=False):
    """A diff older than the book (normal right after a snapshot)."""

    last_id: int


class Gap(msgspec.Struct, frozen=True, gc=False):
    """The sequence broke (or the snapshot cannot be bridged): fetch a new snapshot."""

    reason: str
    expected: int
    got_first: int
    got_prev: int
    got_last: int


class Resynced(msgspec.Struct, frozen=True, gc=False):
    """A snapshot was accepted and ``applied`` buffered diffs were replayed on top of it."""

    snapshot_id: int
    applied: int
    last_id: int


Outcome = Applied | Buffered | Dropped | Gap | Resynced


class BookSync:
    """Owns the book and the sequencing; the owner only fetches snapshots when told."""

    def __init__(self, book: OrderBook, rule: SeqRule = SeqRule.FUTURES, max_buffer: int = 10_000) -> None:
        self.book = book
        self.rule = rule
        self.state = SyncState.WAITING
        self.last_id = -1
        self._buffer: deque[DepthDiff] = deque(maxlen=max_buffer)
        self._bridging = False  # synced to a snapshot, waiting for the diff that straddles it
        self.gaps = 0
        self.resyncs = 0

    # ------------------------------------------------------------------ diffs
    def on_diff(self, d: DepthDiff) -> Outcome:
        if self.state is SyncState.WAITING:
            self._buffer.append(d)
            return Buffered(len(self._buffer))
        if self._bridging:
            bridge = self.last_id if self.rule is SeqRule.FUTURES else self.last_id + 1
            if d.last_id < bridge:
                return Dropped(d.last_id)  # older than the snapshot
            if d.first_id > bridge:
                return self._gap("snapshot does not bridge the diffs (stale snapshot)", d)
            self._bridging = False
            return self._apply(d)
        if d.last_id <= self.last_id:
            return Dropped(d.last_id)  # a duplicated frame: already in the book
        if self.rule is SeqRule.FUTURES:
            if d.prev_id != self.last_id:
                return self._gap("pu does not chain", d)
        elif d.first_id != self.last_id + 1:
            return self._gap("U does not follow previous u", d)
        return self._apply(d)

    def _apply(self, d: DepthDiff) -> Outcome:
        try:
            self.book.apply(d.bids, d.asks)
        except ValueError as exc:  # a bad number: the book is unchanged but now misses this diff
            return self._gap(f"unusable diff: {exc}", d, keep=False)
        self.last_id = d.last_id
        if self.book.is_crossed():
            return self._gap("book crossed", d)
        return Applied(d.last_id)

    def _gap(self, reason: str, d: DepthDiff, keep: bool = True) -> Gap:
        self.gaps += 1
        expected = self.last_id if self.rule is SeqRule.FUTURES else self.last_id + 1
        self.state = SyncState.WAITING
        self.last_id = -1
        self._bridging = False
        self.book.clear()  # an untrusted book must not be read by anyone
        self._buffer.clear()
        if keep:
            self._buffer.append(d)  # it may still be bridged by the next snapshot
        return Gap(reason, expected, d.first_id, d.prev_id, d.last_id)

    # ------------------------------------------------------------------ snapshots
    def on_snapshot(self, snap: DepthSnapshot,
                    on_applied: Callable[[DepthDiff], None] | None = None) -> Outcome:
        """Load a snapshot and replay the buffered diffs that come after it (``on_applied`` sees each)."""
        try:
            self.book.load(snap.bids, snap.asks)
        except ValueError as exc:
            self.gaps += 1
            self.book.clear()
            return Gap(f"unusable snapshot: {exc}", snap.last_id, -1, -1, -1)
        self.state = SyncState.SYNCED
        self.last_id = snap.last_id
        self._bridging = True
        self.resyncs += 1
        buffered = list(self._buffer)
        self._buffer.clear()
        applied = 0
        for d in buffered:
            out = self.on_diff(d)
            if isinstance(out, Gap):
                return out
            if isinstance(out, Applied):
                applied += 1
                if on_applied is not None:
                    on_applied(d)
        if self.book.is_crossed():
            self.gaps += 1
            self.reset()
            return Gap("snapshot is crossed", snap.last_id, -1, -1, -1)
        return Resynced(snap.last_id, applied, self.last_id)

    def reset(self) -> None:
        """Forget everything (e.g. after a reconnect): wait for a new snapshot."""
        self.state = SyncState.WAITING
        self.last_id = -1
        self._bridging = False
        self._buffer.clear()
        self.book.clear()

    @property
    def pending(self) -> int:
        return len(self._buffer)


__all__ = ["Applied", "BookSync", "Buffered", "Dropped", "Gap", "Outcome", "Resynced",
           "SeqRule", "SyncState"]
