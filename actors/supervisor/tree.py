"""The supervision tree as data, and the pure decisions a supervisor makes about it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Strategy(StrEnum):
    ONE_FOR_ONE = "one_for_one"  # restart only the child that failed
    REST_FOR_ONE = "rest_for_one"  # restart it and every child started after it


@dataclass(frozen=True, slots=True)
class TreeSpec:
    """Children in start order (stopped in reverse); ``max_restarts`` within ``within_s`` before giving up."""

    name: str
    children: tuple[str, ...]
    strategy: Strategy
    max_restarts: int
    within_s: float

    def __post_init__(self) -> None:
        if len(set(self.children)) != len(self.children):
            raise ValueError(f"{self.name}: duplicate child names")
        if self.max_restarts < 0 or self.within_s <= 0:
            raise ValueError(f"{self.name}: restart intensity must be >= 0 restarts within > 0 s")


# The per-symbol tree of the design card: each depends only on those started before it.
SYMBOL_CHILDREN = ("gateway", "book", "risk", "oms", "strategy", "analyzer")


def to_restart(spec: TreeSpec, failed: str) -> tuple[str, ...]:
    """Which children a failure of ``failed`` restarts, in start order."""
    i = spec.children.index(failed)
    if spec.strategy is Strategy.ONE_FOR_ONE:
        return (failed,)
    return spec.children[i:]


class RestartIntensity:
    """Counts restarts in a sliding window; more than ``max_restarts`` within ``within_s`` is too many.

    Pure apart from its own list of timestamps: time is passed in.
    """

    def __init__(self, max_restarts: int, within_s: float) -> None:
        self.max_restarts = max_restarts
        self.within_ns = int(within_s * 1e9)
        self._at: list[int] = []

    def record(self, now_ns: int) -> bool:
        """Record a restart; True if that exceeds the intensity (the tree must give up)."""
        self._at = [t for t in self._at if now_ns - t < self.within_ns]
        self._at.append(now_ns)
        return len(self._at) > self.max_restarts

    @property
    def recent(self) -> int:
        return len(self._at)
