"""Direct hand-offs that skip an actor's mailbox on the hot path.

A placement used to go OMS → gateway mailbox → the gateway's ordered placement worker: two thread wake-ups
for one decision. The gateway now registers its worker as the ``orders`` lane and the OMS hands a
``PlaceOrders`` straight to it (the lane may even write the request itself, on the OMS's thread, and leave
only the answer to the worker); the mailbox remains the fallback (no lane yet, or the lane refuses). A lane
belongs to one incarnation of its owner: a restarted gateway registers its own, and a retired one refuses,
so a placement never goes out through a gateway the supervisor has replaced.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Lane = Callable[[object], bool]  # True: accepted (it will be acted on); False: use the mailbox


class Lanes:
    def __init__(self) -> None:
        self._lanes: dict[str, Lane] = {}
        self._lock = threading.Lock()
        self._busy: Counter[str] = Counter()
        self._idle = threading.Condition()

    def set(self, name: str, lane: Lane) -> None:
        with self._lock:
            self._lanes[name] = lane

    def clear(self, name: str, lane: Lane) -> None:
        """Remove ``lane`` if it is still the registered one (a successor's stays)."""
        with self._lock:
            if self._lanes.get(name) == lane:
                del self._lanes[name]

    def submit(self, name: str, msg: object) -> bool:
        lane = self._lanes.get(name)
        return lane is not None and lane(msg)

    def enter(self, name: str) -> None:
        """Work of this lane begins (a placement about to go on the wire); ``leave`` when it has ended. The
        two may run on different threads (the OMS's thread writes, the placement thread reads the answer)."""
        with self._idle:
            self._busy[name] += 1

    def leave(self, name: str) -> None:
        with self._idle:
            self._busy[name] -= 1
            self._idle.notify_all()

    @contextmanager
    def busy(self, name: str) -> Iterator[None]:
        """Marks work of this lane in progress (a placement on the wire), whichever incarnation runs it."""
        self.enter(name)
        try:
            yield
        finally:
            self.leave(name)

    def wait_idle(self, name: str, timeout_s: float) -> bool:
        """Until no work of this lane is in progress (the shutdown's final cancel-all must come after the last
        placement, even one a stopped gateway left running); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy[name] <= 0, timeout_s)
