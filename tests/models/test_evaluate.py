"""Actor-grouped folds, UAR and nested cross-validation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from emo.models import StackingFusion, actor_folds, cross_validate, uar
from emo.models.ensemble import EnsembleClassifier


def test_uar_is_mean_recall_over_present_classes() -> None:
    assert uar(["An", "An", "Ha", "Ha"], ["An", "Ha", "Ha", "Ha"]) == pytest.approx(0.75)
    assert uar(["An", "Ha"], ["Sa", "Sa"]) == 0.0


@pytest.mark.parametrize("loso", [False, True])
def test_folds_never_share_actors(synthetic, loso: bool) -> None:
    _, y, groups = synthetic
    folds = actor_folds(y, groups, n_splits=5, loso=loso)
    assert len(folds) == (groups.nunique() if loso else 5)
    seen = np.zeros(len(y), dtype=int)
    for train, test in folds:
        assert not set(groups.iloc[train]) & set(groups.iloc[test])
        seen[test] += 1
    assert (seen == 1).all()


def test_few_actors_cap_folds_and_warn(synthetic) -> None:
    _, y, groups = synthetic
    three = groups.isin(groups.unique()[:3])
    with pytest.warns(UserWarning, match="only 3 actors"):
        folds = actor_folds(y[three], groups[three], n_splits=5)
    assert len(folds) == 3


def test_cross_validate_scores_every_modality(synthetic) -> None:
    tables, y, groups = synthetic
    X = pd.concat(list(tables.values()), axis=1)
    fusion = StackingFusion(EnsembleClassifier(n_estimators=20), n_splits=3)
    cv = cross_validate(fusion, X, y, groups, n_splits=4)
    assert set(cv.uar) == {"audio", "face", "fused"}
    assert all(len(v) == 4 for v in cv.uar_folds.values())
    assert cv.confusion["fused"].to_numpy().sum() == len(y)
    assert set(cv.oof_proba["fused"].index) == set(y.index)
    json.dumps(cv.to_dict())


def test_cross_validate_scores_a_plain_classifier_with_hidden_actors(synthetic) -> None:
    """Any groups-aware classifier; ``test_groups`` decides how test clips are grouped."""
    tables, y, groups = synthetic
    seen = []

    def one_group(X_train: pd.DataFrame, groups_train: pd.Series,
                  X_test: pd.DataFrame) -> pd.Series:
        seen.append(set(groups_train) & set(groups.loc[X_test.index]))
        return pd.Series("unknown", index=X_test.index)

    cv = cross_validate(EnsembleClassifier(n_estimators=20), tables["audio"], y, groups,
                        n_splits=3, test_groups=one_group)
    assert set(cv.uar) == {"fused"}
    assert seen == [set()] * 3  # no test actor was in the training part
    assert cv.uar["fused"] > 0.3
