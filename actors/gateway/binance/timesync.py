"""Server-time offset: what ``timestamp`` must be so Binance does not answer -1021 (lesson 5: 12 s skew).

Pure estimator: the caller measures (local wall time before the request, the server's ``serverTime``, local
wall time after) and hands the three numbers in. The offset is taken at the round trip's midpoint, and the
sample with the shortest round trip among the recent ones wins (its midpoint is the least uncertain).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TimeSample:
    offset_ms: int  # server - local, at the midpoint
    rtt_ms: int
    taken_ms: int  # local wall time when taken


class TimeSync:
    """Keeps an offset; says when a resync is due. Not thread-safe alone (the REST client locks it)."""

    def __init__(self, resync_every_ms: int = 300_000, keep: int = 5, guard_ms: int = 0) -> None:
        """``guard_ms`` is subtracted from every timestamp: being late is tolerated (recvWindow), being
        more than 1 s early is not."""
        self.resync_every_ms = resync_every_ms
        self.guard_ms = guard_ms
        self._samples: deque[TimeSample] = deque(maxlen=keep)
        self._stale = True

    def add_sample(self, local_before_ms: int, server_ms: int, local_after_ms: int) -> TimeSample:
        if local_after_ms < local_before_ms:
            raise ValueError("local clock went backwards during the time request")
        rtt = local_after_ms - local_before_ms
        mid = local_before_ms + rtt // 2
        sample = TimeSample(server_ms - mid, rtt, local_after_ms)
        self._samples.append(sample)
        self._stale = False
        return sample

    def invalidate(self) -> None:
        """After -1021: the offset is wrong (the local clock stepped, or the skew changed). Forget it."""
        self._samples.clear()
        self._stale = True

    @property
    def best(self) -> TimeSample | None:
        return min(self._samples, key=lambda s: s.rtt_ms) if self._samples else None

    @property
    def offset_ms(self) -> int:
        b = self.best
        return b.offset_ms if b is not None else 0

    def server_ms(self, local_ms: int) -> int:
        """Best estimate of the server's clock now."""
        return local_ms + self.offset_ms

    def timestamp_ms(self, local_ms: int) -> int:
        """The ``timestamp`` parameter for a signed request sent now."""
        return local_ms + self.offset_ms - self.guard_ms

    def needs_sync(self, local_ms: int) -> bool:
        if self._stale or not self._samples:
            return True
        newest = max(s.taken_ms for s in self._samples)
        return local_ms - newest >= self.resync_every_ms
