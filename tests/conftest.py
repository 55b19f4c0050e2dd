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


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic challenge-layout dataset (3 labelled actors x 7 emotions x 2 takes,
    plus one test actor), written once per test session."""
    from emo.synth import synthesise

    return synthesise(tmp_path_factory.mktemp("tiny") / "data", actors=3, takes=2,
                      test_actors=1, seed=0)
