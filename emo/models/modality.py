"""One gradient-boosted classifier per modality, on a clip-level feature table."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_selection import f_classif
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GroupShuffleSplit
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import check_is_fitted

from emo.models.actors import ActorStandardiser, group_labels

__all__ = ["ModalityClassifier"]

#: Rounds without improvement of the validation log-loss before early stopping.
EARLY_STOPPING_ROUNDS = 30
#: Early stopping needs at least this many actors and clips (else it is turned off, with a warning).
MIN_ACTORS_EARLY_STOPPING = 4
MIN_CLIPS_EARLY_STOPPING = 60


def _as_frame(X: pd.DataFrame | np.ndarray) -> pd.DataFrame:
    """Return ``X`` as a float DataFrame (column names ``f0``, ``f1``... for arrays)."""
    if isinstance(X, pd.DataFrame):
        return X.astype(float)
    values = np.asarray(X, dtype=float)
    return pd.DataFrame(values, columns=[f"f{i}" for i in range(values.shape[1])])


class ModalityClassifier(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees on one modality's feature table, with per-actor normalisation.

    Class weights are balanced (the challenge metric is UAR); missing values are handled by the
    trees. With ``actor_norm`` every feature is z-scored within each actor, label-free, using all
    the clips of that actor passed to :meth:`fit` or :meth:`predict_proba` (see
    :class:`~emo.models.actors.ActorStandardiser`).

    Parameters
    ----------
    backend : {"lightgbm", "xgboost", "svm"}, default="lightgbm"
        Boosting library, or ``"svm"``: an RBF support-vector machine (median imputation,
        standard scaling, balanced classes, Platt probabilities), which beats the trees on
        small tables of correlated functionals (e.g. clip-level kinematics, eGeMAPS).
    n_estimators : int, default=200
        Boosting rounds (the maximum when ``early_stopping``).
    learning_rate : float, default=0.05
        Shrinkage.
    num_leaves : int, default=7
        Leaves per tree (LightGBM).
    max_depth : int, default=3
        Tree depth (XGBoost; LightGBM uses ``num_leaves`` and no depth limit when this is < 1).
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
        Z-score features within each actor (``groups``); needs ``groups`` to be useful.
    norm_method : {"zscore", "rank"}, default="rank"
        Per-actor normalisation (see :class:`~emo.models.actors.ActorStandardiser`).
    early_stopping : bool, default=False
        Choose the number of rounds on an inner actor-grouped validation split, then refit on all
        clips; turned off, with a warning, when there are fewer than 4 actors or 60 clips.
    random_state : int, default=0
        Seed of the boosting and of the early-stopping split.
    n_jobs : int, default=1
        Threads of the boosting library.
    C : float, default=3.0
        Inverse regularisation of the ``"svm"`` backend.

    Attributes
    ----------
    classes_ : numpy.ndarray
        Class labels, in the column order of :meth:`predict_proba`.
    feature_names_in_ : numpy.ndarray
        Feature columns seen in :meth:`fit`.
    n_features_in_ : int
        Number of feature columns.
    standardiser_ : ActorStandardiser or None
        Fitted per-actor normaliser (None without ``actor_norm``).
    booster_ : lightgbm.LGBMClassifier or xgboost.XGBClassifier
        Fitted trees.
    n_estimators_ : int
        Rounds actually used (the early-stopping choice, else ``n_estimators``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> y = pd.Series(np.repeat(["An", "Ha"], 40))
    >>> X = pd.DataFrame({"audio__f0": rng.normal(size=80) + (y == "Ha") * 3})
    >>> clf = ModalityClassifier(n_estimators=20).fit(X, y, groups=np.tile(["a", "b"], 40))
    >>> clf.classes_.tolist(), float(clf.score(X, y, groups=np.tile(["a", "b"], 40))) > 0.9
    (['An', 'Ha'], True)
    """

    def __init__(
        self,
        backend: str = "lightgbm",
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 7,
        max_depth: int = 3,
        min_child_samples: int = 5,
        subsample: float = 0.8,
        colsample: float = 0.3,
        reg_lambda: float = 1.0,
        max_bin: int = 63,
        actor_norm: bool = True,
        norm_method: str = "rank",
        early_stopping: bool = False,
        random_state: int = 0,
        n_jobs: int = 1,
        C: float = 3.0,
    ) -> None:
        self.backend = backend
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample = colsample
        self.reg_lambda = reg_lambda
        self.max_bin = max_bin
        self.actor_norm = actor_norm
        self.norm_method = norm_method
        self.early_stopping = early_stopping
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.C = C

    def _make_booster(self, n_estimators: int) -> object:
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
        if self.backend == "xgboost":
            from xgboost import XGBClassifier

            return XGBClassifier(
                max_depth=self.max_depth,
                min_child_weight=float(self.min_child_samples) / 5,
                tree_method="hist",
                verbosity=0,
                **common,
            )
        if self.backend == "svm":
            from sklearn.impute import SimpleImputer
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler
            from sklearn.svm import SVC

            return make_pipeline(
                SimpleImputer(strategy="median", keep_empty_features=True),
                StandardScaler(),
                SVC(C=self.C, kernel="rbf", class_weight="balanced", probability=True,
                    random_state=self.random_state),
            )
        raise ValueError(
            f"backend must be 'lightgbm', 'xgboost' or 'svm', got {self.backend!r}")

    def _normalise(self, X: pd.DataFrame, groups: object, *, fit: bool) -> pd.DataFrame:
        """Apply (and with ``fit`` learn) the per-actor normalisation if enabled."""
        if not self.actor_norm:
            return X
        if fit:
            self.standardiser_ = ActorStandardiser(method=self.norm_method)
            return self.standardiser_.fit_transform(X, groups=groups)
        return self.standardiser_.transform(X, groups=groups)

    def _rounds(self, X: np.ndarray, codes: np.ndarray, groups: np.ndarray) -> int:
        """Number of rounds: chosen on an inner actor-grouped split when early stopping is on."""
        n_actors = len(pd.unique(groups))
        if not self.early_stopping or self.backend == "svm":
            return self.n_estimators
        if n_actors < MIN_ACTORS_EARLY_STOPPING or len(X) < MIN_CLIPS_EARLY_STOPPING:
            warnings.warn(
                f"early stopping turned off: {n_actors} actors and {len(X)} clips are too few "
                f"(need {MIN_ACTORS_EARLY_STOPPING} actors and {MIN_CLIPS_EARLY_STOPPING} clips)",
                UserWarning,
                stacklevel=3,
            )
            return self.n_estimators
        splitter = GroupShuffleSplit(n_splits=1, test_size=0.25, random_state=self.random_state)
        train, valid = next(splitter.split(X, codes, groups))
        booster = self._make_booster(self.n_estimators)
        weights = compute_sample_weight("balanced", codes)
        fit_kwargs: dict[str, object] = {"sample_weight": weights[train]}
        if self.backend == "lightgbm":
            from lightgbm import early_stopping

            fit_kwargs.update(
                eval_X=(X[valid],),
                eval_y=(codes[valid],),
                eval_sample_weight=[weights[valid]],
                callbacks=[early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
            )
        else:
            booster.set_params(early_stopping_rounds=EARLY_STOPPING_ROUNDS)
            fit_kwargs.update(
                eval_set=[(X[valid], codes[valid])],
                sample_weight_eval_set=[weights[valid]],
                verbose=False,
            )
        booster.fit(X[train], codes[train], **fit_kwargs)
        best = booster.best_iteration_ if self.backend == "lightgbm" else booster.best_iteration + 1
        return max(int(best or self.n_estimators), 1)

    def fit(
        self,
        X: pd.DataFrame | np.ndarray,
        y: pd.Series | np.ndarray,
        groups: pd.Series | np.ndarray | None = None,
    ) -> ModalityClassifier:
        """Fit the per-actor normaliser and the trees.

        Parameters
        ----------
        X : pandas.DataFrame or array of shape (n_clips, n_features)
            Features (NaN allowed).
        y : pandas.Series or array of shape (n_clips,)
            Class labels.
        groups : pandas.Series, array-like or None
            Actor of each clip (a Series is aligned on ``X.index``). None makes each clip its own
            actor, which reduces ``actor_norm`` to a global z-score.

        Returns
        -------
        ModalityClassifier
            ``self``.
        """
        frame = _as_frame(X)
        labels = np.asarray(y)
        if len(labels) != len(frame):
            raise ValueError(f"X has {len(frame)} rows but y has {len(labels)}")
        encoder = LabelEncoder().fit(labels)
        codes = encoder.transform(labels)
        self.classes_ = encoder.classes_
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        group_array = group_labels(frame.index, groups)
        values = self._normalise(frame, group_array, fit=True).to_numpy()
        self.n_estimators_ = self._rounds(values, codes, group_array)
        self.booster_ = self._make_booster(self.n_estimators_)
        if self.backend == "svm":  # class_weight="balanced" inside
            self.booster_.fit(values, codes)
            scores, _ = f_classif(np.nan_to_num(values), codes)
            self.svm_importance_ = np.nan_to_num(scores)
        else:
            self.booster_.fit(values, codes,
                              sample_weight=compute_sample_weight("balanced", codes))
        return self

    def predict_proba(
        self, X: pd.DataFrame | np.ndarray, groups: pd.Series | np.ndarray | None = None
    ) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : pandas.DataFrame or array of shape (n_clips, n_features)
            Features with the columns seen in :meth:`fit` (missing columns become NaN).
        groups : pandas.Series, array-like or None
            Actor of each clip, used by the per-actor normalisation; pass all the clips of an
            actor together. None normalises each clip with the pooled training statistics.

        Returns
        -------
        numpy.ndarray of shape (n_clips, n_classes)
        """
        check_is_fitted(self, "booster_")
        frame = _as_frame(X)
        if isinstance(X, pd.DataFrame):
            frame = frame.reindex(columns=self.feature_names_in_)
        group_array = group_labels(frame.index, groups)
        frame = self._normalise(frame, group_array, fit=False)
        return self.booster_.predict_proba(frame.to_numpy())

    def predict(
        self, X: pd.DataFrame | np.ndarray, groups: pd.Series | np.ndarray | None = None
    ) -> np.ndarray:
        """Most probable class of each clip (see :meth:`predict_proba`)."""
        return self.classes_[np.argmax(self.predict_proba(X, groups), axis=1)]

    def score(
        self,
        X: pd.DataFrame | np.ndarray,
        y: pd.Series | np.ndarray,
        sample_weight: np.ndarray | None = None,
        groups: pd.Series | np.ndarray | None = None,
    ) -> float:
        """Unweighted average recall (balanced accuracy) of :meth:`predict` on ``X``."""
        return float(
            balanced_accuracy_score(y, self.predict(X, groups), sample_weight=sample_weight)
        )

    @property
    def feature_importances_(self) -> pd.Series:
        """Total gain of each feature (ANOVA F for the SVM), normalised to sum to 1, sorted
        descending."""
        check_is_fitted(self, "booster_")
        if self.backend == "svm":
            gain = self.svm_importance_
        elif self.backend == "lightgbm":
            gain = self.booster_.booster_.feature_importance(importance_type="gain")
        else:
            scores = self.booster_.get_booster().get_score(importance_type="total_gain")
            gain = [scores.get(f"f{i}", 0.0) for i in range(self.n_features_in_)]
        series = pd.Series(np.asarray(gain, dtype=float), index=self.feature_names_in_)
        total = series.sum()
        return (series / total if total > 0 else series).sort_values(ascending=False)
