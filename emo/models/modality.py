"""One gradient-boosted classifier per modality, on a clip-level feature table."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.model_selection import GroupShuffleSplit
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import check_is_fitted

from emo.models._base import GroupedClassifierMixin, Groups, store_params
from emo.models.actors import METHODS, ActorStandardiser
from emo.models.choices import BACKENDS
from emo.models.splits import Features, Labels

__all__ = ["BACKENDS", "ModalityClassifier"]

#: Rounds without improvement of the validation log-loss before early stopping.
EARLY_STOPPING_ROUNDS = 30
#: Early stopping needs at least this many actors and clips (else it is turned off, with a warning).
MIN_ACTORS_EARLY_STOPPING = 4
MIN_CLIPS_EARLY_STOPPING = 60


class ModalityClassifier(GroupedClassifierMixin, BaseEstimator):
    """Gradient-boosted trees on one modality's feature table, with per-actor normalisation.

    Class weights are balanced (the challenge metric is UAR); missing values (NaN) are handled
    by the trees, infinite values are refused. With ``actor_norm`` every feature is normalised
    within each actor, label-free, using all the clips of that actor passed to :meth:`fit` or
    :meth:`predict_proba` (see :class:`~emo.models.actors.ActorStandardiser`).

    Parameters
    ----------
    backend : {"lightgbm", "xgboost"}, default="lightgbm"
        Boosting library.
    n_estimators : int, default=200
        Boosting rounds (the maximum when ``early_stopping``).
    learning_rate : float, default=0.05
        Shrinkage.
    num_leaves : int, default=7
        Leaves per tree (LightGBM).
    max_depth : int, default=3
        Tree depth (XGBoost; LightGBM uses ``num_leaves`` and no depth limit).
    min_child_samples : int, default=5
        Smallest number of clips in a leaf.
    subsample : float, default=0.8
        Fraction of clips per round (bagging).
    colsample : float, default=0.3
        Fraction of features per tree.
    reg_lambda : float, default=1.0
        L2 penalty on leaf values.
    max_bin : int, default=63
        Histogram bins per feature (fewer is faster; per-actor ranks need few).
    actor_norm : bool, default=True
        Normalise features within each actor (``groups``); without ``groups`` each clip is
        its own actor, which reduces it to a global normalisation (:meth:`fit` warns).
    norm_method : {"zscore", "rank"}, default="rank"
        Per-actor normalisation (see :class:`~emo.models.actors.ActorStandardiser`).
    early_stopping : bool, default=False
        Choose the number of rounds on an inner actor-grouped validation split, then refit on all
        clips; turned off, with a warning, when there are fewer than 4 actors or 60 clips.
    random_state : int, default=0
        Seed of the boosting and of the early-stopping split.
    n_jobs : int, default=1
        Threads of the boosting library.

    Attributes
    ----------
    classes_, n_features_in_, feature_names_in_
        Classes and feature columns, see :class:`~emo.models.actors.GroupedClassifierMixin`.
    standardiser_ : ActorStandardiser
        Fitted per-actor normaliser (only with ``actor_norm``).
    booster_ : lightgbm.LGBMClassifier or xgboost.XGBClassifier
        Fitted trees.
    n_estimators_ : int
        Rounds actually used (the early-stopping choice, else ``n_estimators``).

    Notes
    -----
    ``groups`` (the actor of each clip) is a metadata of :meth:`fit`, :meth:`predict_proba`,
    :meth:`predict` and :meth:`score`. Called directly, pass it as an argument. Inside
    scikit-learn tools (``cross_val_score``, ``GridSearchCV``, ``Pipeline``...) enable metadata
    routing with ``sklearn.set_config(enable_metadata_routing=True)`` and pass
    ``params={"groups": actors}`` (or ``groups=actors`` to a ``Pipeline``): the estimator
    requests ``groups`` by default, so the training actors reach ``fit`` and the test actors
    reach ``score``, each subset with its fold. ``set_fit_request(groups=False)`` and the like
    opt out. Scorers given by name (``scoring="balanced_accuracy"``) cannot pass ``groups`` to
    :meth:`predict`; the default scoring (:meth:`score`, balanced accuracy, i.e. UAR) does.

    A pandas ``y`` is aligned on the index of a pandas ``X`` (clip ids), so they need not be in
    the same order; ``groups`` as a Series is aligned on it as well.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> y = pd.Series(np.repeat(["An", "Ha"], 40))
    >>> X = pd.DataFrame({"audio__f0": rng.normal(size=80) + (y == "Ha") * 3})
    >>> actors = np.tile(["a", "b"], 40)
    >>> clf = ModalityClassifier(n_estimators=20).fit(X, y, groups=actors)
    >>> clf.classes_.tolist(), float(clf.score(X, y, groups=actors)) > 0.9
    (['An', 'Ha'], True)
    """

    def __init__(
        self,
        backend: str = "lightgbm",
        n_estimators: int = 200, learning_rate: float = 0.05,
        num_leaves: int = 7, max_depth: int = 3, min_child_samples: int = 5,
        subsample: float = 0.8, colsample: float = 0.3, reg_lambda: float = 1.0, max_bin: int = 63,
        actor_norm: bool = True, norm_method: str = "rank",
        early_stopping: bool = False, random_state: int = 0, n_jobs: int = 1,
    ) -> None:
        store_params(self, locals())

    def _make_booster(self, n_estimators: int) -> BaseEstimator:
        """Return an unfitted booster of the chosen backend."""
        common = {
            "n_estimators": n_estimators,
            "learning_rate": self.learning_rate,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample,
            "reg_lambda": self.reg_lambda,
            "max_bin": self.max_bin,
            "random_state": self.random_state,
            "n_jobs": self.n_jobs,
        }
        if self.backend == "lightgbm":
            from lightgbm import LGBMClassifier

            return LGBMClassifier(
                num_leaves=self.num_leaves,
                max_depth=-1,
                min_child_samples=self.min_child_samples,
                subsample_freq=1 if self.subsample < 1 else 0,
                min_split_gain=0.0,
                verbose=-1,
                deterministic=True,
                force_row_wise=True,
                **common,
            )
        from xgboost import XGBClassifier

        return XGBClassifier(
            max_depth=self.max_depth,
            min_child_weight=float(self.min_child_samples) / 5,
            tree_method="hist",
            verbosity=0,
            **common,
        )

    def _normalise(self, values: np.ndarray, actors: np.ndarray, *, fit: bool) -> np.ndarray:
        """Apply (and with ``fit`` learn) the per-actor normalisation if enabled."""
        if not self.actor_norm:
            return values
        if fit:
            self.standardiser_ = ActorStandardiser(method=self.norm_method)
            return self.standardiser_.fit_transform(values, groups=actors)
        return self.standardiser_.transform(values, groups=actors)

    def _rounds(self, values: np.ndarray, codes: np.ndarray, actors: np.ndarray) -> int:
        """Number of rounds: chosen on an inner actor-grouped split when early stopping is on."""
        if not self.early_stopping:
            return self.n_estimators
        n_actors = len(pd.unique(actors))
        if n_actors < MIN_ACTORS_EARLY_STOPPING or len(values) < MIN_CLIPS_EARLY_STOPPING:
            warnings.warn(
                f"early stopping turned off: {n_actors} actors and {len(values)} clips are too "
                f"few (need {MIN_ACTORS_EARLY_STOPPING} actors and {MIN_CLIPS_EARLY_STOPPING} "
                "clips)",
                UserWarning,
                stacklevel=3,
            )
            return self.n_estimators
        splitter = GroupShuffleSplit(n_splits=1, test_size=0.25, random_state=self.random_state)
        train, valid = next(splitter.split(values, codes, actors))
        booster = self._make_booster(self.n_estimators)
        weights = compute_sample_weight("balanced", codes)
        fit_kwargs: dict[str, object] = {"sample_weight": weights[train]}
        if self.backend == "lightgbm":
            from lightgbm import early_stopping

            fit_kwargs.update(
                eval_X=(values[valid],),
                eval_y=(codes[valid],),
                eval_sample_weight=[weights[valid]],
                callbacks=[early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
            )
        else:
            booster.set_params(early_stopping_rounds=EARLY_STOPPING_ROUNDS)
            fit_kwargs.update(
                eval_set=[(values[valid], codes[valid])],
                sample_weight_eval_set=[weights[valid]],
                verbose=False,
            )
        booster.fit(values[train], codes[train], **fit_kwargs)
        best = booster.best_iteration_ if self.backend == "lightgbm" else booster.best_iteration + 1
        return max(int(best or self.n_estimators), 1)

    def fit(self, X: Features, y: Labels, groups: Groups = None) -> ModalityClassifier:
        """Fit the per-actor normaliser and the trees.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_clips, n_features)
            Features (NaN allowed, not infinity).
        y : pandas.Series or array-like of shape (n_clips,)
            Class labels; a Series is aligned on ``X.index`` when ``X`` is a DataFrame.
        groups : pandas.Series, array-like or None, default=None
            Actor of each clip (a Series is aligned on ``X.index`` when ``X`` is a DataFrame).
            None makes each clip its own actor, which reduces ``actor_norm`` to a global
            normalisation.

        Returns
        -------
        ModalityClassifier
            ``self``.

        Raises
        ------
        ValueError
            Unknown ``backend`` or ``norm_method``, fewer than 2 classes, ``y`` lacking labels
            for clips of ``X``, or otherwise invalid ``X``, ``y`` or ``groups``.
        """
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.norm_method not in METHODS:
            raise ValueError(f"norm_method must be one of {METHODS}, got {self.norm_method!r}")
        values, codes, actors = self._validate_fit(X, y, groups)
        if groups is None and self.actor_norm:
            warnings.warn(
                f"{type(self).__name__}(actor_norm=True) fitted without groups: every clip is "
                "its own actor, so features are only normalised globally. Pass groups=actors; "
                "in scikit-learn tools call sklearn.set_config(enable_metadata_routing=True) "
                "and pass params={'groups': actors}.",
                UserWarning,
                stacklevel=2,
            )
        values = self._normalise(values, actors, fit=True)
        self.n_estimators_ = self._rounds(values, codes, actors)
        self.booster_ = self._make_booster(self.n_estimators_)
        self.booster_.fit(values, codes, sample_weight=compute_sample_weight("balanced", codes))
        return self

    def predict_proba(self, X: Features, groups: Groups = None) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_clips, n_features)
            Features, columns as in :meth:`fit` (same names in the same order).
        groups : pandas.Series, array-like or None, default=None
            Actor of each clip, used by the per-actor normalisation; pass all the clips of an
            actor together. None normalises each clip with the pooled training statistics.

        Returns
        -------
        numpy.ndarray of shape (n_clips, n_classes)
        """
        values, actors = self._validate_predict(X, groups)
        return self.booster_.predict_proba(self._normalise(values, actors, fit=False))

    @property
    def feature_importances_(self) -> pd.Series:
        """Total gain of each feature, normalised to sum to 1, sorted descending (index: the
        feature names, ``x0``, ``x1``... for arrays)."""
        check_is_fitted(self)
        if self.backend == "lightgbm":
            gain = self.booster_.booster_.feature_importance(importance_type="gain")
        else:
            scores = self.booster_.get_booster().get_score(importance_type="total_gain")
            gain = [scores.get(f"f{i}", 0.0) for i in range(self.n_features_in_)]
        names = getattr(self, "feature_names_in_",
                        [f"x{i}" for i in range(self.n_features_in_)])
        series = pd.Series(np.asarray(gain, dtype=float), index=names)
        total = series.sum()
        return (series / total if total > 0 else series).sort_values(ascending=False)
