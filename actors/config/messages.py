"""The one message that carries a new configuration into a symbol's tree.

One message per actor holding the whole ``Settings`` (not one per key), so each actor swaps every parameter
it uses at once: a strategy never quotes with the new spread and the old size, risk never checks the new
order limit against the old inventory limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # settings imports the actors' parameter modules; keep this module free of that cycle
    from actors.settings import Settings


@dataclass(frozen=True, slots=True)
class SettingsChanged:
    """A configuration version was applied; ``changed`` are its dotted keys (``strategy.min_spread_bps``)."""

    settings: Settings
    version: int
    at_ns: int
    changed: frozenset[str] = field(default_factory=frozenset)

    def touches(self, *tables: str) -> bool:
        """Whether any key of these tables changed (an actor can skip rebuilding what did not)."""
        return any(k.partition(".")[0] in tables for k in self.changed)
