"""Tests of :mod:`emo.models.linear`: the linear model fitted in the clips' span, the choice of
C, and the blend of the ensemble with the linear model on the ``compare__`` columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from emo.models import EnsembleClassifier
from emo.models.linear import BlendClassifier, LinearClassifier
from emo.models.train import make_fusion
from emo.settings import FitConfig

CLASSES = ["An", "Ha", "Sa"]


def _data(n_actors: int = 6, per_class: int = 6, egemaps: float = 0.0, compare: float = 0.0,
          n_compare: int = 120, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Actors x classes x takes; ``egemaps`` / ``compare``: class signal in the first three
    columns of each group (0: pure noise). Every actor adds an offset to every column."""
    rng = np.random.default_rng(seed)
    rows = [(f"a{a}_{c}_{t}", f"a{a}", c) for a in range(n_actors) for c in CLASSES
            for t in range(per_class)]
    ids = [r[0] for r in rows]
    groups = pd.Series([r[1] for r in rows], index=ids)
    y = pd.Series([r[2] for r in rows], index=ids)
    onehot = np.eye(3)[y.map(CLASSES.index).to_numpy()]
    offsets = groups.map({g: rng.normal(0, 3) for g in groups.unique()}).to_numpy()[:, None]
    blocks = []
    for name, width, strength in (("audio__f", 12, egemaps),
                                  ("audio__compare__g", n_compare, compare)):
        values = rng.normal(size=(len(ids), width)) + offsets
        values[:, :3] += strength * onehot
        blocks.append(pd.DataFrame(values, index=ids,
                                   columns=[f"{name}{j}" for j in range(width)]))
    return pd.concat(blocks, axis=1), y, groups


def test_the_span_fit_is_the_logistic_regression_on_every_column():
    X, y, groups = _data(compare=1.0, n_compare=400)  # 108 clips, 412 columns
    clf = LinearClassifier(Cs=(0.05,)).fit(X, y, groups=groups)
    features = clf._features(X.to_numpy(), groups.to_numpy(), fit=False)
    direct = LogisticRegression(C=0.05, class_weight="balanced", max_iter=5000, tol=1e-10)
    direct.fit(features, y)
    ours = clf.estimators_[0][1]
    assert ours.coef_.shape == direct.coef_.shape == (3, 412)
    np.testing.assert_allclose(ours.predict_proba(features), direct.predict_proba(features),
                               atol=2e-3)


def test_c_is_the_best_of_the_inner_folds_and_refused_when_bad():
    X, y, groups = _data(compare=1.0)
    clf = LinearClassifier(Cs=(0.001, 0.1, 10.0)).fit(X, y, groups=groups)
    assert set(clf.inner_uar_) == {0.001, 0.1, 10.0}
    assert clf.inner_uar_[clf.C_] == max(clf.inner_uar_.values())
    assert clf.score(X, y, groups=groups) > 0.8
    with pytest.raises(ValueError, match="Cs must be positive"):
        LinearClassifier(Cs=(0.0, 1.0)).fit(X, y, groups=groups)


def test_the_blend_weights_the_informative_group():
    X, y, groups = _data(egemaps=0.0, compare=2.0)
    towards_linear = BlendClassifier().fit(X, y, groups=groups)
    X, y, groups = _data(egemaps=2.0, compare=0.0)
    towards_ensemble = BlendClassifier().fit(X, y, groups=groups)
    assert towards_linear.weight_ >= 0.75
    assert towards_ensemble.weight_ <= 0.25
    assert set(towards_linear.inner_uar_) == {f"{w:g}@{c:g}" for w in (0, 0.25, 0.5, 0.75, 1)
                                              for c in (0.01, 0.03, 0.1)}
    importance = towards_linear.feature_importances_
    assert importance.sum() == pytest.approx(1.0)
    assert importance.index[0] in {f"audio__compare__g{j}" for j in range(3)}


def test_without_compare_columns_the_blend_is_the_ensemble():
    X, y, groups = _data(egemaps=1.5)
    plain = X.filter(regex=r"^audio__f")
    blend = BlendClassifier().fit(plain, y, groups=groups)
    ensemble = EnsembleClassifier().fit(plain, y, groups=groups)
    assert blend.weight_ == 0.0 and not blend.inner_uar_
    np.testing.assert_allclose(blend.predict_proba(plain, groups=groups),
                               ensemble.predict_proba(plain, groups=groups))
    alone = BlendClassifier().fit(X.filter(like="compare__"), y, groups=groups)
    assert alone.weight_ == 1.0 and alone.estimators_[0][0] == "linear"


def test_the_settings_choose_the_model_and_refuse_bad_parameters():
    blend = make_fusion(FitConfig(model={"linear__Cs": [0.5], "weights": [0.5]})).base
    assert isinstance(blend, BlendClassifier) and blend.linear.Cs == [0.5]
    assert blend.ensemble.balance_actors and blend.weights == [0.5]
    linear = make_fusion(FitConfig(estimator="linear", balance_actors=False)).base
    assert isinstance(linear, LinearClassifier) and not linear.balance_actors
    assert make_fusion(FitConfig(model={"n_estimators": 7})).base.ensemble.n_estimators == 7
    with pytest.raises(TypeError, match="nope"):
        make_fusion(FitConfig(model={"nope": 1}))


def test_a_single_actor_takes_the_middle_choices():
    X, y, groups = _data(n_actors=1, egemaps=1.5, compare=1.5)
    blend = BlendClassifier().fit(X, y, groups=groups)
    linear = LinearClassifier().fit(X, y, groups=groups)
    assert blend.weight_ == 0.5 and blend.estimators_[1][1].C_ == 0.03
    assert linear.C_ == 0.03 and not linear.inner_uar_
    assert blend.score(X, y, groups=groups) > 0.8
