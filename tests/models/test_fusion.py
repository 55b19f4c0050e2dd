"""StackingFusion: missing modalities, complementary gains, output shapes."""

from __future__ import annotations

import numpy as np
import pytest

from emo.models import ModalityClassifier, StackingFusion, cross_validate

BASE = ModalityClassifier(n_estimators=20)


def split(groups, n_train: int = 4):
    train = groups.isin(sorted(groups.unique())[:n_train])
    return train, ~train


@pytest.mark.parametrize("dropped", ["audio", "face"])
def test_clips_missing_a_modality_still_get_fused(synthetic, dropped: str) -> None:
    tables, y, groups = synthetic
    rng = np.random.default_rng(0)
    lacking = y.index[rng.random(len(y)) < 0.3]
    partial = {**tables, dropped: tables[dropped].drop(index=lacking)}
    fusion = StackingFusion(BASE, n_splits=3).fit(partial, y, groups)
    proba = fusion.predict_proba(partial, groups)
    assert list(proba.index) == sorted(y.index)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    singles = fusion.predict_proba_modalities(partial, groups)
    assert len(singles[dropped]) == len(y) - len(lacking)
    only_other = {m: t.loc[t.index.isin(lacking)] for m, t in partial.items() if m != dropped}
    assert len(fusion.predict(only_other, groups)) == len(lacking)


@pytest.mark.parametrize("meta", ["logreg", "average"])
def test_fused_beats_single_modalities_on_complementary_data(synthetic, meta: str) -> None:
    tables, y, groups = synthetic
    cv = cross_validate(StackingFusion(BASE, meta=meta, n_splits=3), tables, y, groups,
                        n_splits=4)
    assert cv.uar["fused"] > max(cv.uar["audio"], cv.uar["face"]) + 0.1


def test_predict_without_groups_and_errors(synthetic) -> None:
    tables, y, groups = synthetic
    train, test = split(groups)
    fusion = StackingFusion(BASE, n_splits=3).fit(
        {m: t[train] for m, t in tables.items()}, y[train], groups
    )
    pred = fusion.predict({m: t[test] for m, t in tables.items()})
    assert pred.isin(fusion.classes_).all()
    with pytest.raises(ValueError, match="no clip has a modality"):
        fusion.predict({"body": tables["audio"].rename(columns=lambda c: "body" + c[5:])})
    with pytest.raises(ValueError, match="meta must be one of"):
        StackingFusion(meta="vote").fit(tables, y, groups)
