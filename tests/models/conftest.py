"""Small synthetic feature tables for the model tests (no real data, no media)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

CLASSES = ["An", "Di", "Fe", "Ha", "Ne", "Sa", "Su"]


def make_tables(
    n_actors: int = 6, takes: int = 3, seed: int = 0
) -> tuple[dict[str, pd.DataFrame], pd.Series, pd.Series]:
    """Two complementary modalities with a per-actor offset.

    ``audio`` separates classes An/Di/Fe/Ha (others look alike), ``face`` separates Ha/Ne/Sa/Su;
    each actor adds a large constant offset to every feature (what per-actor normalisation
    removes).
    """
    rng = np.random.default_rng(seed)
    rows = [(f"a{a:02d}_{c}_{t}", f"a{a:02d}", c) for a in range(n_actors) for c in CLASSES
            for t in range(takes)]
    ids = [r[0] for r in rows]
    groups = pd.Series([r[1] for r in rows], index=ids, name="actor")
    y = pd.Series([r[2] for r in rows], index=ids, name="label")
    codes = y.map({c: i for i, c in enumerate(CLASSES)}).to_numpy()
    offset = groups.map({g: rng.normal(0, 3) for g in groups.unique()}).to_numpy()[:, None]
    tables = {}
    for name, seen in (("audio", CLASSES[:4]), ("face", CLASSES[3:])):
        signal = np.zeros((len(ids), 4))
        for k, cls in enumerate(seen):
            signal[codes == CLASSES.index(cls), k] = 3.0
        noise = rng.normal(size=(len(ids), 6))
        values = np.hstack([signal + rng.normal(size=signal.shape), noise]) + offset
        columns = [f"{name}__f{j}" for j in range(values.shape[1])]
        tables[name] = pd.DataFrame(values, index=ids, columns=columns)
    return tables, y, groups


@pytest.fixture(scope="session")
def synthetic() -> tuple[dict[str, pd.DataFrame], pd.Series, pd.Series]:
    """``(tables, y, groups)``: 6 actors x 7 classes x 3 takes, modalities audio and face."""
    return make_tables()
