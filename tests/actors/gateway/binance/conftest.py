"""Shared paths to the real fixtures (read from ../shared/data, never copied into the repo)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[5] / "shared" / "data"
NT = DATA / "nautilus_trader"
FUT = NT / "crates/adapters/binance/test_data/futures"
RES = NT / "tests/integration_tests/adapters/binance/resources"
ISSUES = DATA / "github-issues/exchange_error_and_user_payloads.jsonl"


def load(path: Path):
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.fail(f"shared fixtures missing at {DATA}")
    return DATA
