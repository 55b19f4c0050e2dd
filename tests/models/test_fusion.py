"""StackingFusion: one matrix in, missing modalities, complementary gains, sklearn tools."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.model_selection import GroupKFold, cross_val_score

from emo.models import StackingFusion, cross_validate
from emo.models.ensemble import EnsembleClassifier
from emo.models.fusion import modality_columns

BASE = EnsembleClassifier(n_estimators=20)


@pytest.fixture(scope="module")
def matrix(synthetic) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """The synthetic tables joined into one ``<modality>__<feature>`` matrix."""
    tables, y, groups = synthetic
    return pd.concat(list(tables.values()), axis=1), y, groups


def split(groups: pd.Series, n_train: int = 4) -> tuple[pd.Series, pd.Series]:
    train = groups.isin(sorted(groups.unique())[:n_train])
    return train, ~train


@pytest.mark.parametrize("dropped", ["audio", "face"])
def test_clips_missing_a_modality_still_get_fused(matrix, dropped: str) -> None:
    X, y, groups = matrix
    lacking = y.index[np.random.default_rng(0).random(len(y)) < 0.3]
    X = X.copy()
    X.loc[lacking, modality_columns(X.columns)[dropped]] = np.nan
    fusion = StackingFusion(BASE, n_splits=3).fit(X, y, groups=groups)
    assert fusion.modalities_ == ["audio", "face"]
    proba = fusion.predict_proba(X, groups=groups)
    assert proba.shape == (len(y), 7)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    singles = fusion.predict_proba_modalities(X, groups=groups)
    assert set(singles[dropped].index) == set(y.index) - set(lacking)
    assert list(singles[dropped].columns) == list(fusion.classes_)
    assert len(fusion.predict(X.loc[lacking], groups=groups)) == len(lacking)


@pytest.mark.parametrize("meta", ["logreg", "gbm", "average"])
def test_fused_beats_single_modalities_on_complementary_data(matrix, meta: str) -> None:
    X, y, groups = matrix
    cv = cross_validate(StackingFusion(BASE, meta=meta, n_splits=3), X, y, groups, n_splits=3)
    assert cv.uar["fused"] > max(cv.uar["audio"], cv.uar["face"]) + 0.1


def test_single_modality_predictions_match_a_lone_classifier(matrix) -> None:
    """What ``pred_<modality>`` reports is the modality's own classifier, fitted on all clips."""
    X, y, groups = matrix
    train, test = split(groups)
    fusion = StackingFusion(BASE, n_splits=3).fit(X[train], y[train], groups=groups[train])
    face = modality_columns(X.columns)["face"]
    alone = BASE.fit(X.loc[train, face], y[train], groups=groups[train])
    np.testing.assert_allclose(
        fusion.predict_proba_modalities(X[test], groups=groups[test])["face"].to_numpy(),
        alone.predict_proba(X.loc[test, face], groups=groups[test]))


def test_a_single_modality_is_passed_through(matrix) -> None:
    X, y, groups = matrix
    face = X[modality_columns(X.columns)["face"]]
    fusion = StackingFusion(BASE).fit(face, y, groups=groups)
    assert fusion.meta_estimator_ is None
    np.testing.assert_allclose(fusion.predict_proba(face, groups=groups),
                               fusion.estimators_["face"].predict_proba(face, groups=groups))


def test_works_with_sklearn_cross_validation_and_routed_groups(matrix) -> None:
    X, y, groups = matrix
    folds = list(GroupKFold(n_splits=3).split(X, y, groups))
    with sklearn.config_context(enable_metadata_routing=True):
        fusion = (StackingFusion(BASE, n_splits=3)
                  .set_fit_request(groups=True).set_score_request(groups=True))
        scores = cross_val_score(fusion, X, y, cv=folds, params={"groups": groups})
    tr, te = folds[0]
    direct = (StackingFusion(BASE, n_splits=3)
              .fit(X.iloc[tr], y.iloc[tr], groups=groups.iloc[tr])
              .score(X.iloc[te], y.iloc[te], groups=groups.iloc[te]))
    assert scores[0] == pytest.approx(direct)
    assert scores.min() > 0.5


def test_predict_without_groups_and_errors(matrix) -> None:
    X, y, groups = matrix
    train, test = split(groups)
    fusion = StackingFusion(BASE, n_splits=3).fit(X[train], y[train], groups=groups[train])
    assert np.isin(fusion.predict(X[test]), fusion.classes_).all()
    empty = X[test].copy()
    empty.iloc[0] = np.nan
    with pytest.raises(ValueError, match="no feature of any modality"):
        fusion.predict(empty)
    with pytest.raises(TypeError, match="pandas DataFrame"):
        fusion.predict(X[test].to_numpy())
    with pytest.raises(ValueError, match="is not named"):
        StackingFusion(BASE).fit(X.rename(columns={"audio__f0": "f0"}), y, groups=groups)
    with pytest.raises(ValueError, match="meta must be one of"):
        StackingFusion(meta="vote").fit(X, y, groups=groups)
