"""Settings-schema field helpers, shared by ``actors.settings`` and the parameter classes of the actors
(which the settings file embeds as tables, so they cannot import ``actors.settings`` themselves)."""

from __future__ import annotations

from dataclasses import field
from typing import Any


def num(default: Any, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False) -> Any:
    """A numeric field with bounds (``lo_open``: strictly greater than ``lo``), checked when settings load."""
    return field(default=default, metadata={"lo": lo, "hi": hi, "lo_open": lo_open})
