"""Models for thousands of correlated columns: a regularised linear model, and its blend with the
ensemble.

ComParE's 6,373 functionals suit a strongly regularised logistic regression better than trees
or an RBF kernel (``benchmarks/audio_accuracy.py``). :class:`LinearClassifier` is
:class:`~emo.models.ensemble.EnsembleClassifier`'s logistic member alone (same per-actor
normal scores, balanced classes, per-actor balancing of the output) with its inverse
regularisation ``C`` chosen in inner actor-grouped folds. With more columns than clips it is
fitted in the span of the training clips: an L2-penalised linear model's weights lie in that
span, so the fit on the clips' coordinates in it (from the eigenvectors of their Gram matrix)
is the same model at a fraction of the cost.

:class:`BlendClassifier` averages the probabilities of the ensemble on some columns (eGeMAPS)
and of the linear model on the others (the ``compare__`` columns of the ``egemaps+compare``
audio set), with the weight and ``C`` chosen together in inner actor-grouped folds.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from emo.models._base import GroupedClassifierMixin, Groups, store_params
from emo.models.ensemble import EnsembleClassifier, balance_groups
from emo.models.evaluate import uar
from emo.models.splits import Features, Labels, actor_folds

__all__ = ["BlendClassifier", "LinearClassifier", "linear_columns"]

#: Inverse regularisation strengths tried by :class:`LinearClassifier`.
CS = (0.01, 0.03, 0.1)
#: Weights of the linear model tried by :class:`BlendClassifier` (1 - weight: the ensemble).
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Inner actor-grouped folds of the choices.
INNER_FOLDS = 4
#: Eigenvalues of the Gram matrix below this fraction of the largest are dropped (rank).
RANK_TOL = 1e-9


def linear_columns(columns: Sequence[str], prefix: str) -> np.ndarray:
    """Mask of the columns whose feature name starts with ``prefix`` (after the modality).

    Examples
    --------
    >>> linear_columns(["audio__F0", "audio__compare__F0", "compare__x"], "compare__").tolist()
    [False, True, True]
    """
    return np.array([str(c).startswith(prefix) or f"__{prefix}" in str(c) for c in columns],
                    dtype=bool)


class _Span:
    """Clips' coordinates in the span of a set of training rows (Gram eigenvectors).

    ``features`` are all the rows (normalised); ``rows`` the training rows among them. When
    there are fewer training rows than columns, the coordinates are ``U sqrt(L)`` for the
    training rows and ``G[:, rows] U / sqrt(L)`` for any row, with ``G = F F^T`` and
    ``(L, U)`` the eigenpairs of its training block; otherwise the columns themselves.
    """

    def __init__(self, features: np.ndarray, rows: np.ndarray, gram: np.ndarray | None) -> None:
        self.features, self.rows = features, rows
        self.basis = None
        if gram is not None:
            values, vectors = np.linalg.eigh(gram[np.ix_(rows, rows)])
            keep = values > RANK_TOL * max(values.max(), 1e-300)
            self.basis = vectors[:, keep] / np.sqrt(values[keep])
            self.gram_cols = gram[:, rows]

    def coords(self, which: np.ndarray) -> np.ndarray:
        """Coordinates of the rows ``which`` (indices into ``features``)."""
        if self.basis is None:
            return self.features[which]
        return self.gram_cols[which] @ self.basis

    def weights(self, coef: np.ndarray) -> np.ndarray:
        """Weights over the original columns of a model fitted on the span coordinates."""
        if self.basis is None:
            return coef
        return (coef @ self.basis.T) @ self.features[self.rows]


class _Logistic:
    """A fitted multinomial (or binary) logistic model on the original columns."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray) -> None:
        self.coef_, self.intercept_ = coef, intercept

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities (softmax of the decision values)."""
        scores = features @ self.coef_.T + self.intercept_
        if scores.shape[1] == 1:  # binary: the decision value is the second class's logit
            scores = np.hstack([np.zeros_like(scores), scores])
        scores -= scores.max(axis=1, keepdims=True)
        proba = np.exp(scores)
        return proba / proba.sum(axis=1, keepdims=True)


def _logistic(**params: object) -> LogisticRegression:
    """The balanced logistic regression of :class:`LinearClassifier`."""
    return LogisticRegression(class_weight="balanced", max_iter=1000).set_params(**params)


def _full(proba: np.ndarray, present: np.ndarray, n_classes: int) -> np.ndarray:
    """Probabilities over every class (0 for the classes a fold's model did not see)."""
    out = np.zeros((len(proba), n_classes))
    out[:, present] = proba
    return out


class LinearClassifier(EnsembleClassifier):
    """Balanced L2 logistic regression on per-actor normal scores, ``C`` chosen in inner folds.

    :class:`~emo.models.ensemble.EnsembleClassifier` with its logistic member alone: the
    features are normalised within each actor (label-free normal scores of ranks), missing
    values set to the actor's typical value and scaled; ``C`` is the one of ``Cs`` with the
    best UAR over inner actor-grouped folds (``min(n_splits, n_actors)`` folds; ties go to the
    smaller ``C``; with a single actor, the middle ``C``), and the model is refitted on every
    clip with it. With more columns than clips the fits run in the span of the training clips
    (same model, see the module docstring).

    Parameters
    ----------
    Cs : tuple of float, default=(0.01, 0.03, 0.1)
        Inverse L2 strengths tried (one value: no inner folds).
    actor_norm : bool, default=True
        Normalise within each actor (else with the pooled training statistics only).
    norm_method : {"zscore", "rank", "normal"}, default="normal"
        Per-actor normalisation, as for the ensemble.
    n_splits : int, default=4
        Inner actor-grouped folds of the choice of ``C``.
    balance_actors : bool, default=True
        Rescale each actor's predicted class totals (see the ensemble).
    random_state : int, default=0
        Seed of the inner folds.

    Attributes
    ----------
    C_ : float
        The chosen ``C``.
    inner_uar_ : dict of float to float
        Inner-fold UAR of each ``C`` (empty with a single ``C``).
    classes_, n_features_in_, feature_names_in_, standardiser_, scaler_, estimators_, prior_
        As for :class:`~emo.models.ensemble.EnsembleClassifier` (``estimators_`` holds the one
        logistic model, on the original columns).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(["An", "Ha"], 40)
    >>> X = pd.DataFrame(rng.normal(size=(80, 300)))
    >>> X[0] += (y == "Ha") * 3
    >>> actors = np.tile(["a", "b", "c", "d"], 20)
    >>> clf = LinearClassifier().fit(X, y, groups=actors)
    >>> clf.C_ in CS, float(clf.score(X, y, groups=actors)) > 0.9
    (True, True)
    """

    def __init__(
        self,
        Cs: tuple[float, ...] = CS,
        actor_norm: bool = True, norm_method: str = "normal",
        n_splits: int = INNER_FOLDS, balance_actors: bool = True, random_state: int = 0,
    ) -> None:
        store_params(self, locals())

    def _check_params(self) -> None:
        """Refuse an empty or non-positive ``Cs`` and unknown normalisations."""
        if not len(self.Cs) or min(self.Cs) <= 0:
            raise ValueError(f"Cs must be positive values, got {tuple(self.Cs)!r}")
        if self.norm_method not in ("zscore", "rank", "normal"):
            raise ValueError(f"norm_method must be zscore, rank or normal, got "
                             f"{self.norm_method!r}")

    def _prepare(self, X: Features, y: Labels, groups: Groups
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """Validate, normalise (fitting the normaliser) and, with more columns than clips, the
        Gram matrix of the normalised clips."""
        self._check_params()
        values, codes, actors = self._validate_fit(X, y, groups)
        self.prior_ = np.bincount(codes, minlength=len(self.classes_)) / len(codes)
        features = self._features(values, actors, fit=True)
        gram = features @ features.T if features.shape[1] > features.shape[0] else None
        return features, codes, actors, gram

    def _balanced(self, proba: np.ndarray, actors: np.ndarray) -> np.ndarray:
        """Per-actor balancing, as :meth:`predict_proba` does it."""
        if not self.balance_actors:
            return proba
        return balance_groups(proba, actors, self.prior_, min_size=2 * len(self.classes_))

    def inner_proba(self, features: np.ndarray, codes: np.ndarray, actors: np.ndarray,
                    gram: np.ndarray | None, folds: list[tuple[np.ndarray, np.ndarray]]
                    ) -> dict[float, np.ndarray]:
        """Out-of-fold probabilities of every ``C`` over the given folds (each fold's test
        actors balanced by their own clips)."""
        out = {C: np.zeros((len(codes), len(self.classes_))) for C in sorted(self.Cs)}
        for train, test in folds:
            span = _Span(features, train, gram)
            coords, model = span.coords(test), _logistic(warm_start=True)
            for C in sorted(self.Cs):  # each fit starts from the last, more regularised one
                model.set_params(C=C).fit(span.coords(train), codes[train])
                proba = _full(model.predict_proba(coords), model.classes_, len(self.classes_))
                out[C][test] = self._balanced(proba, actors[test])
        return out

    def _fit_final(self, features: np.ndarray, codes: np.ndarray, gram: np.ndarray | None,
                   C: float) -> None:
        """Fit the logistic model with ``C`` on every clip."""
        self.C_ = C
        span = _Span(features, np.arange(len(codes)), gram)
        model = _logistic(C=C).fit(span.coords(span.rows), codes)
        self.estimators_ = [("logreg", _Logistic(span.weights(model.coef_), model.intercept_))]

    def fit(self, X: Features, y: Labels, groups: Groups = None) -> LinearClassifier:
        """Normalise, choose ``C`` in inner actor-grouped folds and fit on every clip.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_clips, n_features)
            Clip features; NaN marks a missing value.
        y : pandas.Series or array-like of shape (n_clips,)
            Emotion of each clip.
        groups : pandas.Series, array-like or None, default=None
            Who acted each clip; without it every clip counts as a separate actor.

        Returns
        -------
        LinearClassifier
            The fitted estimator.
        """
        with threadpool_limits(1):
            features, codes, actors, gram = self._prepare(X, y, groups)
            self.inner_uar_ = {}
            folds = (_inner_folds(codes, actors, self.n_splits, self.random_state)
                     if len(self.Cs) > 1 else [])
            if folds:
                for C, proba in self.inner_proba(features, codes, actors, gram, folds).items():
                    self.inner_uar_[C] = uar(codes, proba.argmax(axis=1))
            best = (max(self.inner_uar_, key=self.inner_uar_.get) if self.inner_uar_
                    else _middle(self.Cs))
            self._fit_final(features, codes, gram, best)
        return self


def _middle(values: Sequence[float]) -> float:
    """The middle value (the choice when there are no inner folds)."""
    return sorted(values)[len(values) // 2]


def _inner_folds(codes: np.ndarray, actors: np.ndarray, n_splits: int, seed: int
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Actor-grouped inner folds of a training set (positions); none with a single actor."""
    if len(np.unique(actors)) < 2:
        return []
    index = pd.RangeIndex(len(codes))
    with warnings.catch_warnings():  # few actors: the outer cross-validation warns already
        warnings.simplefilter("ignore", UserWarning)
        return actor_folds(pd.Series(codes, index=index), pd.Series(actors, index=index),
                           n_splits=max(2, min(n_splits, len(np.unique(actors)))),
                           random_state=seed)


class BlendClassifier(GroupedClassifierMixin, BaseEstimator):
    """The ensemble on some columns, the linear model on the others, probabilities averaged.

    The columns whose feature name starts with ``prefix`` (the ComParE columns of the
    ``egemaps+compare`` audio set) go to ``linear``, the others to ``ensemble``. The weight
    of the linear model (one of ``weights``) and its ``C`` are chosen together: the pair with
    the best UAR of the blended out-of-fold probabilities over inner actor-grouped folds
    (ties go to the smaller weight and ``C``; with a single actor the middle ones). Without
    columns of one kind the other model
    is used alone, with no inner folds (face and body tables: the ensemble).

    Parameters
    ----------
    ensemble : estimator or None, default=None
        Template of the model of the other columns (None: ``EnsembleClassifier()``).
    linear : LinearClassifier or None, default=None
        Template of the model of the ``prefix`` columns (None: ``LinearClassifier()``).
    prefix : str, default="compare__"
        Feature-name prefix (after ``<modality>__``) of the linear model's columns.
    weights : tuple of float, default=(0, 0.25, 0.5, 0.75, 1)
        Weights of the linear model tried.
    n_splits : int, default=4
        Inner actor-grouped folds of the choice.
    random_state : int, default=0
        Seed of the inner folds.

    Attributes
    ----------
    weight_ : float
        The chosen weight of the linear model (0 or 1 when one kind of column is absent).
    inner_uar_ : dict of str to float
        Inner-fold UAR of each ``"<weight>@<C>"`` tried.
    estimators_ : list of (str, estimator, numpy.ndarray)
        ``("ensemble"|"linear", fitted model, column mask)`` of the models used.
    classes_, n_features_in_, feature_names_in_
        As for the other classifiers.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(["An", "Ha"], 40)
    >>> X = pd.DataFrame(rng.normal(size=(80, 40)),
    ...                  columns=[f"audio__f{i}" for i in range(8)]
    ...                  + [f"audio__compare__g{i}" for i in range(32)])
    >>> X["audio__compare__g0"] += (y == "Ha") * 3
    >>> actors = np.tile(["a", "b", "c", "d"], 20)
    >>> clf = BlendClassifier().fit(X, y, groups=actors)
    >>> clf.weight_ > 0, float(clf.score(X, y, groups=actors)) > 0.9
    (True, True)
    """

    def __init__(
        self,
        ensemble: BaseEstimator | None = None,
        linear: LinearClassifier | None = None,
        prefix: str = "compare__",
        weights: tuple[float, ...] = WEIGHTS,
        n_splits: int = INNER_FOLDS,
        random_state: int = 0,
    ) -> None:
        store_params(self, locals())

    def fit(self, X: Features, y: Labels, groups: Groups = None) -> BlendClassifier:
        """Choose the weight and ``C`` in inner folds, then fit both models on every clip.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_clips, n_features)
            Clip features; NaN marks a missing value.
        y : pandas.Series or array-like of shape (n_clips,)
            Emotion of each clip.
        groups : pandas.Series, array-like or None, default=None
            Who acted each clip; without it every clip counts as a separate actor.

        Returns
        -------
        BlendClassifier
            The fitted estimator.
        """
        if not len(self.weights) or min(self.weights) < 0 or max(self.weights) > 1:
            raise ValueError(f"weights must lie in [0, 1], got {tuple(self.weights)!r}")
        values, codes, actors = self._validate_fit(X, y, groups)
        names = getattr(self, "feature_names_in_", [str(i) for i in range(values.shape[1])])
        mask = linear_columns(names, self.prefix)
        ensemble = EnsembleClassifier() if self.ensemble is None else clone(self.ensemble)
        linear = LinearClassifier() if self.linear is None else clone(self.linear)
        self.inner_uar_ = {}
        if mask.all() or not mask.any():
            self.weight_ = float(mask.all())
            model = linear if mask.all() else ensemble
            self.estimators_ = [("linear" if mask.all() else "ensemble",
                                 model.fit(values, codes, groups=actors), np.ones_like(mask))]
            return self
        self.weight_ = self._choose(values, codes, actors, mask, ensemble, linear)
        ensemble.fit(values[:, ~mask], codes, groups=actors)
        self.estimators_ = [("ensemble", ensemble, ~mask), ("linear", linear, mask)]
        return self

    def _choose(self, values: np.ndarray, codes: np.ndarray, actors: np.ndarray,
                mask: np.ndarray, ensemble: BaseEstimator, linear: LinearClassifier) -> float:
        """The weight (and the linear model's ``C``, fitting it on every clip) with the best
        inner-fold UAR of the blend."""
        folds = _inner_folds(codes, actors, self.n_splits, self.random_state)
        with threadpool_limits(1):
            features, _, _, gram = linear._prepare(values[:, mask], codes, actors)
            if not folds:  # a single actor: nothing to choose on
                linear._fit_final(features, codes, gram, _middle(linear.Cs))
                linear.inner_uar_ = {}
                return float(_middle(self.weights))
            by_c = linear.inner_proba(features, codes, actors, gram, folds)
        by_e = np.zeros_like(next(iter(by_c.values())))
        for train, test in folds:
            model = clone(ensemble).fit(values[train][:, ~mask], codes[train],
                                        groups=actors[train])
            by_e[test] = _full(model.predict_proba(values[test][:, ~mask], groups=actors[test]),
                               model.classes_, by_e.shape[1])
        best, choice = -1.0, (self.weights[0], linear.Cs[0])
        for weight in sorted(self.weights):
            for C in sorted(by_c):
                score = uar(codes, (weight * by_c[C] + (1 - weight) * by_e).argmax(axis=1))
                self.inner_uar_[f"{weight:g}@{C:g}"] = score
                if score > best:
                    best, choice = score, (weight, C)
        with threadpool_limits(1):
            linear._fit_final(features, codes, gram, choice[1])
        linear.inner_uar_ = {}
        return float(choice[0])

    def predict_proba(self, X: Features, groups: Groups = None) -> np.ndarray:
        """Class probabilities: the weighted mean of the models' (columns of ``classes_``).

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_clips, n_features)
            Features, columns as in :meth:`fit`.
        groups : pandas.Series, array-like or None, default=None
            Actor of each clip (see the ensemble).

        Returns
        -------
        numpy.ndarray of shape (n_clips, n_classes)
        """
        values, actors = self._validate_predict(X, groups)
        actors_arg = None if groups is None else actors
        weight = {"ensemble": 1 - self.weight_, "linear": self.weight_}
        if len(self.estimators_) == 1:
            weight = {name: 1.0 for name in weight}
        out = np.zeros((len(values), len(self.classes_)))
        for name, model, mask in self.estimators_:
            proba = model.predict_proba(values[:, mask], groups=actors_arg)
            out += weight[name] * _full(proba, model.classes_, len(self.classes_))
        return out

    @property
    def feature_importances_(self) -> pd.Series:
        """The models' importances (each summing to 1) weighted by their blend weight."""
        names = getattr(self, "feature_names_in_", [f"x{i}" for i in range(self.n_features_in_)])
        out = np.zeros(self.n_features_in_)
        weight = {"ensemble": 1 - self.weight_, "linear": self.weight_}
        for name, model, mask in self.estimators_:
            share = model.feature_importances_.reindex([f"x{i}" for i in range(mask.sum())])
            scale = 1.0 if len(self.estimators_) == 1 else weight[name]
            out[mask] += scale * share.to_numpy()
        return pd.Series(out, index=list(names)).sort_values(ascending=False)
