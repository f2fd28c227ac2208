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
