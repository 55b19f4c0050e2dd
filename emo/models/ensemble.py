"""The default per-modality classifier: a soft vote of unlike learners on per-actor features.

Acted-emotion corpora have few actors, so a model that fits the training actors well often
does badly on new people. :class:`EnsembleClassifier` averages the class probabilities of
three learners that fail in different ways (a strongly regularised logistic regression, an RBF
support-vector machine and small boosted trees), all on label-free per-actor normalised
features (:class:`~emo.models.actors.ActorStandardiser`). It makes no choice from the data:
its settings are fixed defaults, chosen on development actors only (``benchmarks/``), so
there is nothing to tune inside inner folds.

With ``balance_actors`` the probabilities of every actor with enough clips are rescaled towards
predicted class totals that follow the training class proportions (label-free, see
:func:`balance_groups`): acted corpora and the FG-2020 challenge have every actor act every
emotion a similar number of times.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtri
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from emo.models._base import GroupedClassifierMixin, Groups, store_params
from emo.models.actors import ActorStandardiser
from emo.models.splits import Features, Labels

__all__ = ["MEMBERS", "EnsembleClassifier", "balance_groups"]

#: The learners :class:`EnsembleClassifier` can vote with.
MEMBERS = ("logreg", "svm", "gbm")
#: Per-actor normalisations: ActorStandardiser's z-score, its rank, or normal scores of ranks.
NORMS = ("zscore", "rank", "normal")
#: Folds of the SVM's probability calibration (temperature scaling of its decision values).
CALIBRATION_FOLDS = 3
#: Ranks are clipped to [RANK_CLIP, 1 - RANK_CLIP] before the normal quantile (+-2.33).
RANK_CLIP = 0.01


def balance_groups(
    proba: np.ndarray,
    groups: np.ndarray,
    prior: np.ndarray,
    *,
    min_size: int,
    n_iter: int = 1,
) -> np.ndarray:
    """Rescale each group's class probabilities towards class totals that follow ``prior``.

    One step scales each class column of a group's rows so that its sum is
    ``prior * n_rows``, then renormalises each row to sum to 1: a class the model predicts too
    often for this actor is damped, a neglected one raised. Repeated (Sinkhorn iterations), the
    steps converge to totals equal to the prior; the default single step only corrects an
    actor's bias, which also keeps most of the gain when an actor's classes are not balanced
    (measured in ``benchmarks/``). Labels are never used; a group smaller than ``min_size`` is
    left as it is (one clip alone would be pushed to the prior).

    Parameters
    ----------
    proba : numpy.ndarray of shape (n_rows, n_classes)
        Class probabilities.
    groups : numpy.ndarray of shape (n_rows,)
        Group (actor) of each row.
    prior : numpy.ndarray of shape (n_classes,)
        Expected class proportions of every group (they sum to 1).
    min_size : int
        Smallest group that is balanced.
    n_iter : int, default=1
        Rescaling steps (Sinkhorn iterations).

    Returns
    -------
    numpy.ndarray
        Balanced probabilities (a new array).

    Examples
    --------
    >>> p = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.7, 0.3]])
    >>> balanced = balance_groups(p, np.zeros(4), np.array([0.5, 0.5]), min_size=4, n_iter=30)
    >>> balanced.argmax(axis=1).tolist()
    [0, 0, 1, 1]
    """
    out = np.array(proba, dtype=float)
    prior = np.asarray(prior, dtype=float)
    for group in pd.unique(groups):
        rows = groups == group
        if rows.sum() < min_size:
            continue
        q = np.clip(out[rows], 1e-12, None)
        target = prior * len(q)
        for _ in range(n_iter):
            q = q * (target / q.sum(axis=0))
            q = q / q.sum(axis=1, keepdims=True)
        out[rows] = q
    return out


class EnsembleClassifier(GroupedClassifierMixin, BaseEstimator):
    """Soft vote of a logistic regression, an RBF SVM and boosted trees on per-actor features.

    Every feature is normalised within each actor (``groups``) using all the clips of that actor
    given to :meth:`fit` or :meth:`predict_proba` and no labels, missing values are set to the
    actor's typical value (0 after normalisation), and the features are scaled to unit variance
    on the training clips. Each member sees the same features with balanced class weights; the
    probabilities are averaged with equal weights. The SVM's decision values become
    probabilities by temperature scaling fitted on stratified folds of the training clips
    (``min(3, smallest class count)`` folds; with a class of a single clip the SVM is left out).
    The only choices made from data are these inside ``fit`` (the members' own fits and the
    calibration); every setting below is a fixed default chosen on development actors with
    nested actor-grouped CV (``benchmarks/``).

    Parameters
    ----------
    members : tuple of {"logreg", "svm", "gbm"}, default=("logreg", "svm", "gbm")
        Learners of the vote.
    actor_norm : bool, default=True
        Normalise within each actor (else with the pooled training statistics only).
    norm_method : {"zscore", "rank", "normal"}, default="normal"
        Per-actor z-score, percentile rank, or the standard-normal quantile of that rank
        (robust to outliers and skew, like ranks, but keeps the spread of the tails).
    C : float, default=0.1
        Inverse L2 strength of the logistic regression.
    svm_C : float, default=1.0
        Inverse regularisation of the RBF SVM (``gamma="scale"``).
    n_estimators : int, default=100
        Boosting rounds of the trees (LightGBM).
    learning_rate : float, default=0.05
        Shrinkage of the trees.
    num_leaves : int, default=7
        Leaves per tree.
    colsample : float, default=0.3
        Fraction of features per tree.
    balance_actors : bool, default=True
        Rescale each actor's predicted class totals towards the training class proportions
        (one step of :func:`balance_groups`); needs ``groups`` at prediction time, and only
        actors with at least ``2 * n_classes`` clips are rescaled.
    random_state : int, default=0
        Seed of the SVM's calibration folds and of the trees.

    Attributes
    ----------
    classes_, n_features_in_, feature_names_in_
        Classes and feature columns, see :class:`~emo.models.actors.GroupedClassifierMixin`.
    standardiser_ : ActorStandardiser
        Fitted per-actor normaliser.
    scaler_ : sklearn.preprocessing.StandardScaler
        Scaling of the normalised features.
    estimators_ : list of (str, estimator)
        The fitted members.
    prior_ : numpy.ndarray
        Training class proportions (the balancing target).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(["An", "Ha"], 40)
    >>> X = pd.DataFrame({"f0": rng.normal(size=80) + (y == "Ha") * 3, "f1": rng.normal(size=80)})
    >>> actors = np.tile(["a", "b", "c", "d"], 20)
    >>> clf = EnsembleClassifier().fit(X, y, groups=actors)
    >>> clf.classes_.tolist(), float(clf.score(X, y, groups=actors)) > 0.9
    (['An', 'Ha'], True)
    """

    def __init__(
        self,
        members: tuple[str, ...] = MEMBERS,
        actor_norm: bool = True, norm_method: str = "normal",
        C: float = 0.1, svm_C: float = 1.0,
        n_estimators: int = 100, learning_rate: float = 0.05,
        num_leaves: int = 7, colsample: float = 0.3,
        balance_actors: bool = True, random_state: int = 0,
    ) -> None:
        store_params(self, locals())

    def _check_params(self) -> None:
        """Refuse unknown members or normalisations (checked in :meth:`fit`, not ``__init__``)."""
        unknown = [m for m in self.members if m not in MEMBERS]
        if not self.members or unknown:
            raise ValueError(f"members must be a non-empty subset of {MEMBERS}, "
                             f"got {tuple(self.members)!r}")
        if self.norm_method not in NORMS:
            raise ValueError(f"norm_method must be one of {NORMS}, got {self.norm_method!r}")

    def _make(self, name: str, n_calibration: int) -> BaseEstimator:
        """Return the unfitted member ``name`` (the SVM calibrated on ``n_calibration`` folds)."""
        if name == "logreg":
            return LogisticRegression(C=self.C, class_weight="balanced", max_iter=1000)
        if name == "svm":
            folds = StratifiedKFold(n_splits=n_calibration, shuffle=True,
                                    random_state=self.random_state)
            svm = SVC(C=self.svm_C, gamma="scale", class_weight="balanced")
            return CalibratedClassifierCV(svm, method="temperature", cv=folds, ensemble=False)
        from lightgbm import LGBMClassifier

        return LGBMClassifier(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate,
            num_leaves=self.num_leaves, min_child_samples=5, subsample=0.8, subsample_freq=1,
            colsample_bytree=self.colsample, max_bin=63, class_weight="balanced",
            random_state=self.random_state, n_jobs=1, deterministic=True, force_row_wise=True,
            verbose=-1,
        )

    def _features(self, values: np.ndarray, groups: np.ndarray, *, fit: bool) -> np.ndarray:
        """Per-actor normalised, imputed and scaled features (fitting the steps with ``fit``)."""
        method = "zscore" if self.norm_method == "zscore" else "rank"
        norm_groups = groups if self.actor_norm else None
        if fit:
            self.standardiser_ = ActorStandardiser(method=method).fit(values, groups=norm_groups)
        out = np.asarray(self.standardiser_.transform(values, groups=norm_groups), dtype=float)
        if self.norm_method == "normal":
            out = ndtri(np.clip(out, RANK_CLIP, 1 - RANK_CLIP))  # standard-normal quantile
        elif self.norm_method == "rank":
            out = out - 0.5
        out = np.nan_to_num(out, nan=0.0)
        if fit:
            self.scaler_ = StandardScaler().fit(out)
        return self.scaler_.transform(out)

    def fit(self, X: Features, y: Labels, groups: Groups = None) -> EnsembleClassifier:
        """Fit the per-actor normaliser and every member.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_clips, n_features)
            Clip features; NaN marks a missing value.
        y : pandas.Series or array-like of shape (n_clips,)
            Emotion of each clip (matched to ``X`` by clip id when both are pandas).
        groups : pandas.Series, array-like or None, default=None
            Who acted each clip; without it every clip counts as a separate actor.

        Returns
        -------
        EnsembleClassifier
            The fitted estimator.

        Raises
        ------
        ValueError
            Unknown members or normalisation, a single class, or unusable ``X``/``y``.
        """
        self._check_params()
        values, codes, actors = self._validate_fit(X, y, groups)
        self.prior_ = np.bincount(codes, minlength=len(self.classes_)) / len(codes)
        n_calibration = min(CALIBRATION_FOLDS, int(np.bincount(codes).min()))
        names = [m for m in dict.fromkeys(self.members) if m != "svm" or n_calibration >= 2]
        if not names:
            raise ValueError("the SVM needs at least 2 clips of every class (calibration folds)")
        with threadpool_limits(1):  # small matrices: BLAS threads only add overhead
            features = self._features(values, actors, fit=True)
            self.estimators_ = [(name, self._make(name, n_calibration).fit(features, codes))
                                for name in names]
        return self

    def predict_proba(self, X: Features, groups: Groups = None) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_clips, n_features)
            Features, columns as in :meth:`fit`.
        groups : pandas.Series, array-like or None, default=None
            Actor of each clip; pass all the clips of an actor together. None normalises
            each clip with the pooled training statistics (and balances nothing).

        Returns
        -------
        numpy.ndarray of shape (n_clips, n_classes)
        """
        values, actors = self._validate_predict(X, groups)
        with threadpool_limits(1):
            features = self._features(values, actors, fit=False)
            proba = np.mean([model.predict_proba(features) for _, model in self.estimators_],
                            axis=0)
        if self.balance_actors and groups is not None:
            proba = balance_groups(proba, actors, self.prior_, min_size=2 * len(self.classes_))
        return proba

    @property
    def feature_importances_(self) -> pd.Series:
        """Mean over the members that have one of their normalised importance: absolute
        logistic coefficients (averaged over classes) and total tree gain; the SVM has none.
        Indexed by feature name, summing to 1, sorted descending."""
        check_is_fitted(self, "estimators_")
        shares = []
        for name, model in self.estimators_:
            if name == "logreg":
                weight = np.abs(model.coef_).mean(axis=0)
            elif name == "gbm":
                weight = model.booster_.feature_importance(importance_type="gain")
            else:
                continue
            total = weight.sum()
            shares.append(weight / total if total > 0 else weight)
        names = getattr(self, "feature_names_in_", [f"x{i}" for i in range(self.n_features_in_)])
        values = np.mean(shares, axis=0) if shares else np.zeros(self.n_features_in_)
        return pd.Series(values, index=list(names)).sort_values(ascending=False)
