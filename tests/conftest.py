"""Shared test fixtures: where the real exchange data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MM_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """../shared/data (or $MM_SHARED_DATA). Tests on real data fail, never skip, when it is missing."""
    if not (SHARED_DATA / "INDEX.md").is_file():
        pytest.fail(f"real exchange data not found at {SHARED_DATA} (set MM_SHARED_DATA)")
    return SHARED_DATA


def shipped_settings(tmp: Path, *replacements: tuple[str, str]) -> Path:
    """The repo's settings.toml with everything it writes moved into ``tmp`` (database, locks, logs, reports)
    and the metrics exporter on a free port, plus ``replacements``: a test of the shipped file as shipped."""
    text = (REPO / "settings.toml").read_text()
    for old, new in (('path = "var/mm.db"', f'path = "{tmp}/mm.db"'), ('state_dir = "var"', f'state_dir = "{tmp}"'),
                     ('path = "var/log/engine.jsonl"', f'path = "{tmp}/log/engine.jsonl"'),
                     ('out_dir = "var/reports"', f'out_dir = "{tmp}/reports"'),
                     ("port = 9464", "port = 0"), *replacements):
        if text.count(old) != 1:
            raise AssertionError(f"settings.toml changed: {old!r} is not there exactly once")
        text = text.replace(old, new)
    p = tmp / "settings.toml"
    p.write_text(text)
    return p
