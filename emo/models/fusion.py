"""Stacking fusion of per-modality classifiers on one feature matrix, robust to missing modalities.

The input is one table of every clip: its columns are named ``<modality>__<feature>`` (the
modality is the text before the first ``__``), and a clip whose columns of a modality are all
missing lacks that modality. Scikit-learn tools (``cross_val_score``, ``GridSearchCV``,
``Pipeline``) can therefore use :class:`StackingFusion` like any classifier; the actors
(``groups``) reach :meth:`~StackingFusion.fit` and :meth:`~StackingFusion.predict_proba` as
metadata (``set_fit_request(groups=True)`` when metadata routing is enabled).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from emo.models._base import GroupedClassifierMixin, group_labels, store_params
from emo.models.actors import ActorStandardiser
from emo.models.choices import META_LEARNERS
from emo.models.ensemble import EnsembleClassifier, balance_groups
from emo.models.splits import actor_folds, align_target

__all__ = ["SEPARATOR", "StackingFusion", "modality_columns"]

#: Separates the modality from the feature name in a column name.
SEPARATOR = "__"
#: Probabilities are clipped to this before the log taken for the meta-learner.
PROBA_FLOOR = 1e-3


def modality_columns(columns: pd.Index | list[str]) -> dict[str, list[str]]:
    """Columns of each modality, in order of first appearance.

    Parameters
    ----------
    columns : sequence of str
        Column names ``<modality>__<feature>``.

    Returns
    -------
    dict of str to list of str

    Raises
    ------
    ValueError
        If a column name has no ``__``.

    Examples
    --------
    >>> modality_columns(["audio__f0", "face__AU01_r", "audio__loudness"])
    {'audio': ['audio__f0', 'audio__loudness'], 'face': ['face__AU01_r']}
    """
    out: dict[str, list[str]] = {}
    for column in columns:
        modality, sep, feature = str(column).partition(SEPARATOR)
        if not sep or not modality or not feature:
            raise ValueError(f"column {column!r} is not named '<modality>{SEPARATOR}<feature>'")
        out.setdefault(modality, []).append(column)
    return out


def _check_frame(X: object) -> pd.DataFrame:
    """``X`` as a float DataFrame, refusing other types (the modalities live in its columns)."""
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"X must be a pandas DataFrame with columns named "
                        f"'<modality>{SEPARATOR}<feature>', got {type(X).__name__}")
    if X.empty:
        raise ValueError(f"X is empty (shape {X.shape})")
    return X.astype(float)


def _refuse_empty_rows(index: pd.Index, have: np.ndarray, modalities: list[str]) -> None:
    """Raise when a row has no modality (``have``: modalities x rows, True where present)."""
    lacking = ~have.any(axis=0)
    if lacking.any():
        raise ValueError(f"{int(lacking.sum())} clip(s) have no feature of any modality "
                         f"({', '.join(modalities)}), e.g. {index[lacking][0]!r}")


def _fit_predict(
    base: BaseEstimator,
    X: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    train: np.ndarray,
    test: np.ndarray | None,
) -> tuple[BaseEstimator, np.ndarray | None]:
    """Fit a clone of ``base`` on rows ``train``; return it and its probabilities on ``test``."""
    model = clone(base).fit(X.iloc[train], y[train], groups=groups[train])
    if test is None:
        return model, None
    return model, model.predict_proba(X.iloc[test], groups=groups[test])


class StackingFusion(GroupedClassifierMixin, BaseEstimator):
    """Late fusion: one classifier per modality, stacked by a meta-learner on their probabilities.

    :meth:`fit` trains a clone of ``base`` on each modality's clips (the rows with at least one
    of its columns), builds out-of-fold probabilities by actor-grouped cross-validation
    (``min(n_splits, n_actors)`` folds) and fits the meta-learner on them plus one availability
    indicator per modality. A clip lacking a modality gets indicator 0 for it, so every clip
    with at least one modality gets a fused prediction. With a single modality there is nothing
    to fuse: the fused output is that modality's own (no meta-learner, no inner folds).

    Parameters
    ----------
    base : estimator or None, default=None
        Template of the per-modality classifier; its ``fit`` and ``predict_proba`` take
        ``groups`` (None: :class:`~emo.models.ensemble.EnsembleClassifier`).
    meta : {"logreg", "gbm", "average"}, default="logreg"
        Meta-learner: balanced multinomial logistic regression on log-probabilities, a small
        LightGBM on them, or the plain mean of the available modalities' probabilities (no
        inner cross-validation).
    meta_C : float, default=0.1
        Inverse L2 strength of the logistic meta-learner.
    meta_actor_norm : bool, default=True
        Z-score the meta-learner's log-probability inputs within each actor (``groups``).
    balance_actors : bool, default=True
        Rescale each actor's meta-learner output towards the training class proportions
        (:func:`~emo.models.ensemble.balance_groups`; actors with at least ``2 * n_classes``
        clips, only when ``groups`` are given), as the default base does with its own.
    n_splits : int, default=5
        Inner folds for the out-of-fold probabilities (capped by the number of actors).
    random_state : int, default=0
        Seed of the inner folds and of the meta-learner.
    n_jobs : int or None, default=None
        Parallel base fits (joblib); None means 1.

    Attributes
    ----------
    classes_ : numpy.ndarray
        Class labels (columns of :meth:`predict_proba`).
    modalities_ : list of str
        Modalities seen in :meth:`fit`, in meta-feature order.
    feature_columns_ : dict of str to list of str
        Feature columns of each modality.
    estimators_ : dict of str to estimator
        Base classifier of each modality, fitted on all its clips.
    n_features_in_ : int
        Number of columns of ``X``.
    feature_names_in_ : numpy.ndarray
        Columns of ``X``.
    prior_ : numpy.ndarray
        Training class proportions.
    meta_estimator_ : estimator or None
        Fitted meta-learner (None for ``"average"`` or a single modality).
    meta_standardiser_ : ActorStandardiser or None
        Per-actor normaliser of the meta-features (None without ``meta_actor_norm`` or a
        meta-learner).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> ids = [f"c{i}" for i in range(120)]
    >>> y = pd.Series(np.tile(["An", "Ha", "Sa"], 40), index=ids)
    >>> groups = pd.Series(np.repeat(list("abcdef"), 20), index=ids)
    >>> X = pd.DataFrame({f"{m}__x": rng.normal(size=120) + (y == c).to_numpy() * 3
    ...                   for m, c in [("audio", "An"), ("face", "Ha")]}, index=ids)
    >>> X.loc[ids[:10], "face__x"] = np.nan  # ten clips without a face
    >>> fusion = StackingFusion(n_splits=3).fit(X, y, groups=groups)
    >>> fusion.predict(X, groups=groups).shape, len(fusion.predict_proba_modalities(X)["face"])
    ((120,), 110)
    """

    def __init__(
        self,
        base: BaseEstimator | None = None,
        meta: str = "logreg",
        meta_C: float = 0.1,
        meta_actor_norm: bool = True,
        balance_actors: bool = True,
        n_splits: int = 5,
        random_state: int = 0,
        n_jobs: int | None = None,
    ) -> None:
        store_params(self, locals())

    def _make_meta(self) -> BaseEstimator:
        """Return the unfitted meta-learner."""
        if self.meta == "logreg":
            return LogisticRegression(C=self.meta_C, class_weight="balanced", max_iter=2000)
        from lightgbm import LGBMClassifier

        return LGBMClassifier(
            n_estimators=100, learning_rate=0.05, num_leaves=4, min_child_samples=10,
            class_weight="balanced", random_state=self.random_state, n_jobs=1, verbose=-1,
        )

    def fit(
        self,
        X: pd.DataFrame,
        y: pd.Series | np.ndarray,
        groups: pd.Series | np.ndarray | None = None,
    ) -> StackingFusion:
        """Fit the base classifiers, the out-of-fold probabilities and the meta-learner.

        Parameters
        ----------
        X : pandas.DataFrame
            One row per clip, columns ``<modality>__<feature>``; NaN where a feature or a
            whole modality is missing.
        y : pandas.Series or array-like
            Class of each clip (a Series is aligned on ``X.index``).
        groups : pandas.Series, array-like or None, default=None
            Actor of each clip (a Series is aligned on ``X.index``); every split is grouped by
            it. None makes every clip its own actor.

        Returns
        -------
        StackingFusion
            ``self``.

        Raises
        ------
        TypeError
            If ``X`` is not a DataFrame.
        ValueError
            Bad parameters, badly named columns, no clip with features, or fewer than 2
            classes.
        """
        if self.meta not in META_LEARNERS:
            raise ValueError(f"meta must be one of {META_LEARNERS}, got {self.meta!r}")
        frame = _check_frame(X)
        columns = modality_columns(frame.columns)
        labels = np.asarray(align_target(frame, y))
        if labels.shape != (len(frame),) or pd.isna(labels).any():
            raise ValueError(f"y must hold one label for each of the {len(frame)} rows of X, "
                             f"got shape {labels.shape} with {int(pd.isna(labels).sum())} "
                             "missing")
        actors = group_labels(frame.index, groups)
        self.classes_ = np.unique(labels)
        if len(self.classes_) < 2:
            raise ValueError(f"needs samples of at least 2 classes, got 1 class "
                             f"({self.classes_[0]!r})")
        self.n_features_in_ = frame.shape[1]
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.prior_ = (pd.Series(labels).value_counts(normalize=True)
                       .reindex(self.classes_).to_numpy())
        have = {m: frame[c].notna().any(axis=1).to_numpy() for m, c in columns.items()}
        _refuse_empty_rows(frame.index, np.stack(list(have.values())), list(columns))
        present = {m: np.flatnonzero(rows) for m, rows in have.items()}
        self.modalities_ = [m for m in columns if len(present[m])]
        self.feature_columns_ = {m: columns[m] for m in self.modalities_}
        base = EnsembleClassifier() if self.base is None else self.base

        stacking = self.meta != "average" and len(self.modalities_) > 1
        jobs = [(m, present[m], None) for m in self.modalities_]
        if stacking:
            folds = actor_folds(pd.Series(labels), pd.Series(actors), n_splits=self.n_splits,
                                random_state=self.random_state)
            for train, test in folds:
                for m in self.modalities_:
                    inner_train = np.intersect1d(present[m], train)
                    inner_test = np.intersect1d(present[m], test)
                    if len(inner_train) and len(inner_test):
                        jobs.append((m, inner_train, inner_test))
        results = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_predict)(base, frame[self.feature_columns_[m]], labels, actors,
                                  train, test)
            for m, train, test in jobs
        )
        n_final = len(self.modalities_)
        self.estimators_ = {m: model for (m, _, _), (model, _) in
                            zip(jobs[:n_final], results[:n_final], strict=True)}
        self.meta_estimator_ = None
        self.meta_standardiser_ = None
        if stacking:
            oof = {m: np.full((len(frame), len(self.classes_)), np.nan) for m in self.modalities_}
            for (m, _, test), (model, proba) in zip(jobs[n_final:], results[n_final:],
                                                    strict=True):
                oof[m][test] = self._columns(model, proba)
            features = self._meta_features(oof, actors, fit=True)
            self.meta_estimator_ = self._make_meta().fit(features, labels)
        return self

    def _columns(self, model: BaseEstimator, proba: np.ndarray) -> np.ndarray:
        """``proba`` of ``model`` with one column per class of ``classes_`` (0 if unseen)."""
        out = np.zeros((len(proba), len(self.classes_)))
        out[:, np.searchsorted(self.classes_, model.classes_)] = proba
        return out

    def _meta_features(self, proba: dict[str, np.ndarray], actors: np.ndarray, *,
                       fit: bool) -> np.ndarray:
        """Meta-learner input: per modality, class log-probabilities then availability.

        With ``meta_actor_norm`` the log-probabilities are z-scored within each actor (label-free,
        like the base features), which removes an actor's bias towards some classes; a missing
        modality is then set to its actor mean (0) and flagged by its availability column.
        """
        logs = np.hstack([np.log(np.clip(proba[m], PROBA_FLOOR, None))
                          for m in self.modalities_])
        available = np.stack([~np.isnan(proba[m][:, 0]) for m in self.modalities_], axis=1)
        if self.meta_actor_norm:
            if fit:
                self.meta_standardiser_ = ActorStandardiser().fit(logs, groups=actors)
            logs = np.nan_to_num(np.asarray(
                self.meta_standardiser_.transform(logs, groups=actors), dtype=float))
        else:
            logs = np.where(np.isnan(logs), np.log(1.0 / len(self.classes_)), logs)
        return np.hstack([logs, available.astype(float)])

    def _modality_proba(self, X: pd.DataFrame, actors: np.ndarray
                        ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per fitted modality: positions of the rows that have it and their probabilities."""
        out = {}
        for m in self.modalities_:
            part = X.reindex(columns=self.feature_columns_[m])
            rows = np.flatnonzero(part.notna().any(axis=1).to_numpy())
            if len(rows):
                model = self.estimators_[m]
                proba = model.predict_proba(part.iloc[rows], groups=actors[rows])
                out[m] = rows, self._columns(model, proba)
        return out

    def predict_proba_modalities(
        self, X: pd.DataFrame, groups: pd.Series | np.ndarray | None = None
    ) -> dict[str, pd.DataFrame]:
        """Class probabilities of each modality's own classifier on the clips that have it.

        Parameters
        ----------
        X : pandas.DataFrame
            Columns ``<modality>__<feature>`` (columns of modalities not seen in :meth:`fit` are
            ignored, missing ones count as NaN).
        groups : pandas.Series, array-like or None, default=None
            Actor of each clip, for per-actor normalisation: pass all clips of an actor
            together. Unknown actors can be given pseudo-actor ids (see
            :class:`~emo.models.identity.ActorIdentifier`); None normalises each clip with pooled
            training statistics.

        Returns
        -------
        dict of str to pandas.DataFrame
            Modality -> probabilities (index: the clip ids of ``X`` that have it, columns
            ``classes_``); modalities no clip has are left out.
        """
        check_is_fitted(self, "estimators_")
        frame = _check_frame(X)
        proba = self._modality_proba(frame, group_labels(frame.index, groups))
        return self._frames(frame.index, proba)

    def _frames(self, index: pd.Index, proba: dict[str, tuple[np.ndarray, np.ndarray]]
                ) -> dict[str, pd.DataFrame]:
        """Per-modality probabilities of :meth:`_modality_proba` as frames indexed by clip."""
        return {m: pd.DataFrame(p, index=index[rows], columns=self.classes_)
                for m, (rows, p) in proba.items()}

    def predict_proba(
        self, X: pd.DataFrame, groups: pd.Series | np.ndarray | None = None
    ) -> np.ndarray:
        """Fused class probabilities of every clip.

        Parameters
        ----------
        X : pandas.DataFrame
            Columns ``<modality>__<feature>``; every row needs at least one fitted modality.
        groups : pandas.Series, array-like or None, default=None
            Actor of each clip (see :meth:`predict_proba_modalities`).

        Returns
        -------
        numpy.ndarray of shape (n_clips, n_classes)
            Columns in the order of ``classes_``.

        Raises
        ------
        ValueError
            If a row has no value of any fitted modality.
        """
        return self.predict_proba_all(X, groups)[0].to_numpy()

    def predict_proba_all(
        self, X: pd.DataFrame, groups: pd.Series | np.ndarray | None = None
    ) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
        """Fused and per-modality probabilities from one pass over the base classifiers
        (``X``, ``groups`` and errors as for :meth:`predict_proba`).

        Returns
        -------
        fused : pandas.DataFrame
            Fused probabilities (index the clip ids of ``X``, columns ``classes_``).
        modalities : dict of str to pandas.DataFrame
            As :meth:`predict_proba_modalities` returns them.
        """
        check_is_fitted(self, "estimators_")
        frame = _check_frame(X)
        actors = group_labels(frame.index, groups)
        singles = self._modality_proba(frame, actors)
        proba = {m: np.full((len(frame), len(self.classes_)), np.nan) for m in self.modalities_}
        for m, (rows, p) in singles.items():
            proba[m][rows] = p
        stacked = np.stack(list(proba.values()))
        _refuse_empty_rows(frame.index, ~np.isnan(stacked[:, :, 0]), self.modalities_)
        if self.meta_estimator_ is None:  # the base outputs are balanced already
            fused = np.nanmean(stacked, axis=0)
        else:
            fused = self.meta_estimator_.predict_proba(
                self._meta_features(proba, actors, fit=False))
            if self.balance_actors and groups is not None:
                fused = balance_groups(fused, actors, self.prior_,
                                       min_size=2 * len(self.classes_))
        return (pd.DataFrame(fused, index=frame.index, columns=self.classes_),
                self._frames(frame.index, singles))
