"""Shared fixtures: paths to the real-data pack (read-only, skipped when absent), and the
datasets and models that several test modules use, each made once per test session."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
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


def _digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by relative path."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@contextlib.contextmanager
def _kept(model: Path) -> Iterator[None]:
    """Check, when the block ends, that nothing changed the (shared) model folder."""
    before = _digest(model)
    yield
    assert _digest(model) == before, f"a test changed the shared model {model}"


@pytest.fixture(scope="session")
def tiny_model(tiny_dataset: Path,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """The default model fitted once per session on :func:`tiny_dataset` through the command
    line, as a user runs it (``emo extract -j 2``, again from the cache, ``emo fit --folds
    3``): ``{"data", "cache", "model"}``. Tests must not change the model (checked at the end
    of the session)."""
    from tests._serving import run_emo

    work = tmp_path_factory.mktemp("tiny-model")
    cache, model = work / "cache", work / "model"
    first = run_emo("extract", tiny_dataset, "--cache", cache, "-j", "2", timeout=900)
    assert first.returncode == 0, first.stderr
    second = run_emo("--json", "extract", tiny_dataset, "--cache", cache)
    assert second.returncode == 0, second.stderr
    result = json.loads(second.stdout)
    assert result["computed"] == 0 and result["cached"] > 0
    fit = run_emo("fit", tiny_dataset, "--cache", cache, "-o", model, "--folds", "3",
                  timeout=900)
    assert fit.returncode == 0, fit.stderr
    assert "fused" in fit.stdout
    with _kept(model):
        yield {"data": tiny_dataset, "cache": cache, "model": model}


@pytest.fixture(scope="session")
def tone_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An audio model fitted once per session on tones (:func:`tests._serving.fit_tone_model`);
    tests must not change it (checked at the end of the session)."""
    from tests._serving import fit_tone_model

    model = fit_tone_model(tmp_path_factory.mktemp("tone-model"))
    with _kept(model):
        yield model
