"""EnsembleClassifier: scikit-learn contract, actor groups as metadata, balancing, members."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from emo.models.ensemble import EnsembleClassifier, balance_groups


@parametrize_with_checks([EnsembleClassifier(n_estimators=20)])
def test_sklearn_contract(estimator, check) -> None:
    check(estimator)


def split(groups: pd.Series, n_train: int = 4) -> tuple[pd.Series, pd.Series]:
    train = groups.isin(sorted(groups.unique())[:n_train])
    return train, ~train


def test_actor_norm_removes_actor_offsets(synthetic) -> None:
    tables, y, groups = synthetic
    train, test = split(groups)
    X = tables["audio"]
    scores = {
        norm: EnsembleClassifier(actor_norm=norm, balance_actors=False)
        .fit(X[train], y[train], groups=groups[train])
        .score(X[test], y[test], groups=groups[test])
        for norm in (False, True)
    }
    assert scores[True] > scores[False] + 0.1


@pytest.mark.parametrize("members", [("logreg",), ("svm",), ("gbm",), ("logreg", "svm", "gbm")])
@pytest.mark.parametrize("norm_method", ["zscore", "rank", "normal"])
def test_every_member_and_normalisation_learns(synthetic, members, norm_method) -> None:
    tables, y, groups = synthetic
    train, test = split(groups)
    X = tables["face"]
    clf = EnsembleClassifier(members=members, norm_method=norm_method, n_estimators=30)
    clf.fit(X[train], y[train], groups=groups[train])
    proba = clf.predict_proba(X[test], groups=groups[test])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert [name for name, _ in clf.estimators_] == list(members)
    assert clf.score(X[test], y[test], groups=groups[test]) > 0.4  # chance is 1/7


def test_labels_follow_the_index_of_x(synthetic) -> None:
    tables, y, groups = synthetic
    X = tables["audio"]
    shuffled = y.sample(frac=1.0, random_state=0)
    a = EnsembleClassifier(n_estimators=20).fit(X, y, groups=groups)
    b = EnsembleClassifier(n_estimators=20).fit(X, shuffled, groups=groups)
    np.testing.assert_allclose(a.predict_proba(X, groups), b.predict_proba(X, groups))
    with pytest.raises(ValueError, match="no label for 3 of the"):
        EnsembleClassifier().fit(X, y.iloc[3:], groups=groups)


def test_groups_are_routed_as_metadata(synthetic) -> None:
    """With metadata routing, cross_val_score hands each fold's actors to fit and score."""
    tables, y, groups = synthetic
    X = tables["audio"]
    folds = list(GroupKFold(n_splits=3).split(X, y, groups))
    expected = [
        EnsembleClassifier(n_estimators=20)
        .fit(X.iloc[tr], y.iloc[tr], groups=groups.iloc[tr])
        .score(X.iloc[te], y.iloc[te], groups=groups.iloc[te])
        for tr, te in folds
    ]
    with sklearn.config_context(enable_metadata_routing=True):
        clf = (EnsembleClassifier(n_estimators=20)
               .set_fit_request(groups=True).set_score_request(groups=True))
        scores = cross_val_score(clf, X, y, cv=folds, params={"groups": groups})
    np.testing.assert_allclose(scores, expected)
    assert min(expected) > 0.3


def test_balance_groups_follows_the_prior_and_skips_small_groups() -> None:
    rng = np.random.default_rng(0)
    proba = rng.dirichlet([1.0, 1.0, 1.0], size=30)
    proba[:, 0] += 1.0  # every row leans to class 0
    proba /= proba.sum(axis=1, keepdims=True)
    groups = np.array(["a"] * 27 + ["b"] * 3)
    prior = np.array([1 / 3, 1 / 3, 1 / 3])
    one_step = balance_groups(proba, groups, prior, min_size=6)
    converged = balance_groups(proba, groups, prior, min_size=6, n_iter=50)
    for out in (one_step, converged):
        np.testing.assert_allclose(out.sum(axis=1), 1.0)
        np.testing.assert_array_equal(out[27:], proba[27:])
    np.testing.assert_allclose(converged[:27].sum(axis=0), prior * 27, rtol=1e-3)
    excess = np.abs(proba[:27].sum(axis=0) - prior * 27).sum()
    assert np.abs(one_step[:27].sum(axis=0) - prior * 27).sum() < excess / 2


def test_balancing_needs_groups_and_uses_them(synthetic) -> None:
    tables, y, groups = synthetic
    train, test = split(groups)
    clf = EnsembleClassifier(n_estimators=20).fit(tables["audio"][train], y[train],
                                                  groups=groups[train])
    X = tables["audio"][test]
    pred = pd.Series(clf.predict(X, groups=groups[test]), index=X.index)
    counts = pred.groupby(groups[test]).value_counts().unstack(fill_value=0)
    assert counts.to_numpy().max() <= 6  # 21 clips an actor, 3 per class: no class swamps
    unbalanced = EnsembleClassifier(n_estimators=20, balance_actors=False).fit(
        tables["audio"][train], y[train], groups=groups[train])
    np.testing.assert_allclose(clf.predict_proba(X), unbalanced.predict_proba(X))


def test_feature_importances_favour_signal_columns(synthetic) -> None:
    tables, y, groups = synthetic
    clf = EnsembleClassifier(n_estimators=30).fit(tables["audio"], y, groups=groups)
    importances = clf.feature_importances_
    assert set(importances.index) == set(tables["audio"].columns)
    assert importances.sum() == pytest.approx(1.0)
    assert set(importances.index[:4]) == {f"audio__f{j}" for j in range(4)}


def test_bad_parameters_are_refused_at_fit(synthetic) -> None:
    tables, y, groups = synthetic
    with pytest.raises(ValueError, match="members must be"):
        EnsembleClassifier(members=("forest",)).fit(tables["audio"], y, groups=groups)
    with pytest.raises(ValueError, match="norm_method must be"):
        EnsembleClassifier(norm_method="minmax").fit(tables["audio"], y, groups=groups)
