"""ModalityClassifier: determinism, backends, importances, input handling, actor groups routed
by scikit-learn's metadata routing through cross-validation, grid search and pipelines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score, cross_validate
from sklearn.pipeline import make_pipeline

from emo.models import ActorStandardiser, ModalityClassifier

FAST = {"n_estimators": 20}
NO_GROUPS = "fitted without groups"


@pytest.fixture
def routing():
    """Enable scikit-learn's metadata routing for one test."""
    with sklearn.config_context(enable_metadata_routing=True):
        yield


@pytest.fixture(scope="module")
def audio(synthetic) -> tuple[pd.DataFrame, pd.Series, pd.Series, list]:
    """``(X, y, groups, folds)``: the synthetic audio table and 3 actor-grouped folds."""
    tables, y, groups = synthetic
    X = tables["audio"]
    return X, y, groups, list(GroupKFold(n_splits=3).split(X, y, groups))


def test_clone_keeps_params_and_is_unfitted() -> None:
    clf = ModalityClassifier(n_estimators=17, actor_norm=False, random_state=3)
    twin = clone(clf)
    assert twin.get_params() == clf.get_params()
    assert not hasattr(twin, "booster_")


def test_deterministic_with_random_state(audio) -> None:
    X, y, groups, _ = audio
    first = ModalityClassifier(n_estimators=30, random_state=1).fit(X, y, groups)
    second = ModalityClassifier(n_estimators=30, random_state=1).fit(X, y, groups)
    np.testing.assert_array_equal(first.predict_proba(X, groups), second.predict_proba(X, groups))


@pytest.mark.parametrize("backend", ["lightgbm", "xgboost"])
def test_backends_learn_and_rank_features(audio, backend: str) -> None:
    X, y, groups, _ = audio
    clf = ModalityClassifier(backend=backend, n_estimators=40).fit(X, y, groups)
    proba = clf.predict_proba(X, groups)
    assert proba.shape == (len(X), 7)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert list(clf.classes_) == sorted(y.unique())
    importances = clf.feature_importances_
    assert set(importances.index) == set(X.columns)
    assert importances.index[0] in {f"audio__f{j}" for j in range(4)}  # a signal column wins


def test_unknown_backend_is_refused(audio) -> None:
    X, y, groups, _ = audio
    with pytest.raises(ValueError, match="backend must be one of"):
        ModalityClassifier(backend="svm").fit(X, y, groups)


def test_actor_norm_removes_actor_offsets(audio) -> None:
    X, y, groups, _ = audio
    train = groups.isin(groups.unique()[:4])
    scores = {
        norm: ModalityClassifier(n_estimators=40, actor_norm=norm)
        .fit(X[train], y[train], groups[train])
        .score(X[~train], y[~train], groups=groups[~train])
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


def test_missing_values_are_handled_and_infinity_refused(audio) -> None:
    X, y, groups, _ = audio
    holed = X.mask(np.random.default_rng(0).random(X.shape) < 0.2)
    clf = ModalityClassifier(**FAST).fit(holed, y, groups)
    assert np.isfinite(clf.predict_proba(holed, groups)).all()
    assert clf.score(holed, y, groups=groups) > 0.5
    with pytest.raises(ValueError, match="infinity"):
        clf.predict_proba(holed.replace(np.nan, np.inf), groups)


def test_pandas_y_and_groups_are_aligned_on_clip_ids(audio) -> None:
    X, y, groups, _ = audio
    order = np.random.default_rng(0).permutation(len(X))
    aligned = ModalityClassifier(**FAST).fit(X, y, groups)
    shuffled = ModalityClassifier(**FAST).fit(X, y.iloc[order], groups.iloc[order])
    np.testing.assert_array_equal(aligned.predict_proba(X, groups),
                                  shuffled.predict_proba(X, groups.iloc[order]))
    assert shuffled.score(X, y.iloc[order], groups=groups) == aligned.score(X, y, groups=groups)


def test_labels_missing_for_some_clips_are_named(audio) -> None:
    X, y, groups, _ = audio
    with pytest.raises(ValueError, match=f"no label for 2 of the {len(X)} rows.*'{X.index[0]}'"):
        ModalityClassifier(**FAST).fit(X, y.drop(X.index[:2]), groups)


def test_fit_without_groups_warns_and_is_a_global_normalisation(audio) -> None:
    X, y, _, _ = audio
    with pytest.warns(UserWarning, match=NO_GROUPS):
        clf = ModalityClassifier(**FAST).fit(X, y)
    assert not clf.standardiser_.group_stats_  # every clip its own (too small) group


def test_feature_names_are_checked_at_prediction(audio) -> None:
    X, y, groups, _ = audio
    clf = ModalityClassifier(**FAST).fit(X, y, groups)
    with pytest.raises(ValueError, match="same order"):
        clf.predict(X[X.columns[::-1]], groups)


def test_cross_val_score_routes_actor_groups(audio, routing) -> None:
    X, y, groups, folds = audio
    clf = ModalityClassifier(**FAST)
    routed = cross_val_score(clf, X, y, params={"groups": groups}, cv=GroupKFold(n_splits=3))
    manual = [clone(clf).fit(X.iloc[train], y.iloc[train], groups.iloc[train])
              .score(X.iloc[test], y.iloc[test], groups=groups.iloc[test])
              for train, test in folds]
    np.testing.assert_allclose(routed, manual)
    with pytest.warns(UserWarning, match=NO_GROUPS):
        blind = cross_val_score(clf, X, y, cv=folds)
    assert routed.mean() > blind.mean() + 0.1  # actors' offsets removed only with groups


def test_cv_fits_see_exactly_their_training_actors(audio, routing) -> None:
    X, y, groups, _ = audio
    cv = cross_validate(ModalityClassifier(**FAST), X, y, params={"groups": groups},
                        cv=GroupKFold(n_splits=3), return_estimator=True, return_indices=True)
    for model, train, test in zip(cv["estimator"], cv["indices"]["train"],
                                  cv["indices"]["test"], strict=True):
        seen = set(model.standardiser_.group_stats_)
        assert seen == set(groups.iloc[train])
        assert not seen & set(groups.iloc[test])


def test_pipeline_routes_groups_to_fit_and_transform(audio, routing) -> None:
    X, y, groups, folds = audio
    pipe = make_pipeline(ActorStandardiser(method="rank"),
                         ModalityClassifier(actor_norm=False, **FAST))
    piped = cross_val_score(pipe, X, y, params={"groups": groups}, cv=folds)
    inside = cross_val_score(ModalityClassifier(**FAST), X, y, params={"groups": groups},
                             cv=folds)
    np.testing.assert_allclose(piped, inside)


def test_grid_search_routes_groups(audio, routing) -> None:
    X, y, groups, folds = audio
    search = GridSearchCV(ModalityClassifier(**FAST), {"norm_method": ["zscore", "rank"]},
                          cv=GroupKFold(n_splits=3)).fit(X, y, groups=groups)
    rank = cross_val_score(ModalityClassifier(norm_method="rank", **FAST), X, y,
                           params={"groups": groups}, cv=folds)
    assert search.cv_results_["mean_test_score"][1] == pytest.approx(rank.mean())
    assert set(search.best_estimator_.standardiser_.group_stats_) == set(groups)


def test_groups_request_can_be_turned_off(audio, routing) -> None:
    X, y, groups, _ = audio
    clf = ModalityClassifier(**FAST).set_fit_request(groups=False)
    with pytest.warns(UserWarning, match=NO_GROUPS):
        cross_val_score(clf, X, y, params={"groups": groups}, cv=GroupKFold(n_splits=3))


def test_without_routing_cv_groups_only_split_and_a_warning_says_so(audio) -> None:
    X, y, groups, _ = audio
    with pytest.warns(UserWarning, match=NO_GROUPS):
        cross_val_score(ModalityClassifier(**FAST), X, y, groups=groups,
                        cv=GroupKFold(n_splits=3))
