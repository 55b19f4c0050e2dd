"""Shared fixtures: paths to the real-data pack (read-only, skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real corpora of ../shared/data; tests using it skip cleanly when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"real-data pack not found at {SHARED}")
    return SHARED
