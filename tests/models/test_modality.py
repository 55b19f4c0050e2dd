"""ModalityClassifier: scikit-learn contract, determinism, backends, importances."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from emo.models import ModalityClassifier


def test_clone_keeps_params_and_is_unfitted() -> None:
    clf = ModalityClassifier(n_estimators=17, actor_norm=False, random_state=3)
    twin = clone(clf)
    assert twin.get_params() == clf.get_params()
    assert not hasattr(twin, "booster_")


def test_deterministic_with_random_state(synthetic) -> None:
    tables, y, groups = synthetic
    X = tables["audio"]
    first = ModalityClassifier(n_estimators=30, random_state=1).fit(X, y, groups)
    second = ModalityClassifier(n_estimators=30, random_state=1).fit(X, y, groups)
    np.testing.assert_array_equal(first.predict_proba(X, groups), second.predict_proba(X, groups))


@pytest.mark.parametrize("backend", ["lightgbm", "xgboost"])
def test_backends_learn_and_rank_features(synthetic, backend: str) -> None:
    tables, y, groups = synthetic
    X = tables["audio"]
    clf = ModalityClassifier(backend=backend, n_estimators=40).fit(X, y, groups)
    proba = clf.predict_proba(X, groups)
    assert proba.shape == (len(X), 7)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert list(clf.classes_) == sorted(y.unique())
    importances = clf.feature_importances_
    assert set(importances.index) == set(X.columns)
    assert importances.index[0] in {f"audio__f{j}" for j in range(4)}  # a signal column wins


def test_actor_norm_removes_actor_offsets(synthetic) -> None:
    tables, y, groups = synthetic
    train = groups.isin(groups.unique()[:4])
    X, test = tables["audio"][train], tables["audio"][~train]
    scores = {
        norm: ModalityClassifier(n_estimators=40, actor_norm=norm)
        .fit(X, y[train], groups[train])
        .score(test, y[~train], groups=groups[~train])
        for norm in (False, True)
    }
    assert scores[True] > scores[False]


def test_early_stopping_off_with_few_actors(synthetic) -> None:
    tables, y, groups = synthetic
    few = groups.isin(groups.unique()[:2])
    with pytest.warns(UserWarning, match="early stopping turned off"):
        clf = ModalityClassifier(early_stopping=True).fit(tables["face"][few], y[few], groups[few])
    assert clf.n_estimators_ == clf.n_estimators
    clf = ModalityClassifier(early_stopping=True, n_estimators=300).fit(tables["face"], y, groups)
    assert 1 <= clf.n_estimators_ <= 300
