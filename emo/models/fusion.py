"""Stacking fusion of per-modality classifiers, robust to clips that lack a modality."""

from __future__ import annotations

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from emo.models.actors import ActorStandardiser
from emo.models.evaluate import actor_folds
from emo.models.modality import ModalityClassifier

__all__ = ["StackingFusion"]

META_LEARNERS = ("logreg", "gbm", "average")
#: Probabilities are clipped to this before the log taken for the meta-learner.
PROBA_FLOOR = 1e-3


def _fit_predict(
    base: ModalityClassifier,
    table: pd.DataFrame,
    y: pd.Series,
    groups: pd.Series,
    train_ids: pd.Index,
    test_ids: pd.Index | None,
) -> tuple[ModalityClassifier, pd.DataFrame | None]:
    """Fit a clone of ``base`` on ``train_ids``; return it and its probabilities on ``test_ids``."""
    model = clone(base).fit(table.loc[train_ids], y.loc[train_ids], groups.reindex(train_ids))
    if test_ids is None:
        return model, None
    proba = model.predict_proba(table.loc[test_ids], groups.reindex(test_ids))
    return model, pd.DataFrame(proba, index=test_ids, columns=model.classes_)


class StackingFusion(BaseEstimator):
    """Late fusion: one classifier per modality, stacked by a meta-learner on their probabilities.

    :meth:`fit` trains a clone of ``base`` on each modality's clips, builds out-of-fold
    probabilities by actor-grouped cross-validation (``min(n_splits, n_actors)`` folds) and fits
    the meta-learner on them plus one availability indicator per modality. A clip lacking a
    modality gets uniform probabilities and indicator 0 for it, so every clip present in at least
    one table gets a fused prediction.

    Parameters
    ----------
    base : ModalityClassifier or None, default=None
        Template of the per-modality classifier (None: ``ModalityClassifier()``).
    meta : {"logreg", "gbm", "average"}, default="logreg"
        Meta-learner: balanced multinomial logistic regression on log-probabilities, a small
        LightGBM on probabilities, or the plain mean of the available modalities' probabilities
        (no inner cross-validation needed).
    meta_C : float, default=0.1
        Inverse L2 strength of the logistic meta-learner.
    meta_actor_norm : bool, default=True
        Z-score the meta-learner's log-probability inputs within each actor (``groups``).
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
    estimators_ : dict of str to ModalityClassifier
        Base classifier of each modality, fitted on all its labelled clips.
    feature_columns_ : dict of str to list of str
        Feature columns of each modality.
    meta_estimator_ : estimator or None
        Fitted meta-learner (None for ``"average"``).
    meta_standardiser_ : ActorStandardiser
        Per-actor normaliser of the meta-features (with ``meta_actor_norm``, not ``"average"``).
    oof_proba_ : dict of str to pandas.DataFrame
        Inner out-of-fold probabilities of each modality (empty for ``"average"``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> ids = [f"c{i}" for i in range(120)]
    >>> y = pd.Series(np.tile(["An", "Ha", "Sa"], 40), index=ids)
    >>> groups = pd.Series(np.repeat(list("abcdef"), 20), index=ids)
    >>> tables = {m: pd.DataFrame({f"{m}__x": rng.normal(size=120) + (y == c).to_numpy() * 3},
    ...                           index=ids) for m, c in [("audio", "An"), ("face", "Ha")]}
    >>> fusion = StackingFusion(ModalityClassifier(n_estimators=30), n_splits=3)
    >>> fusion = fusion.fit(tables, y, groups)
    >>> fusion.predict(tables, groups).shape
    (120,)
    """

    def __init__(
        self,
        base: ModalityClassifier | None = None,
        meta: str = "logreg",
        meta_C: float = 0.1,
        meta_actor_norm: bool = True,
        n_splits: int = 5,
        random_state: int = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.base = base
        self.meta = meta
        self.meta_C = meta_C
        self.meta_actor_norm = meta_actor_norm
        self.n_splits = n_splits
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _make_meta(self) -> ClassifierMixin:
        """Return the unfitted meta-learner."""
        if self.meta == "logreg":
            return LogisticRegression(C=self.meta_C, class_weight="balanced", max_iter=2000)
        from lightgbm import LGBMClassifier

        return LGBMClassifier(
            n_estimators=100,
            learning_rate=0.05,
            num_leaves=4,
            min_child_samples=10,
            class_weight="balanced",
            random_state=self.random_state,
            n_jobs=1,
            verbose=-1,
        )

    def fit(
        self, tables: dict[str, pd.DataFrame], y: pd.Series, groups: pd.Series
    ) -> StackingFusion:
        """Fit the base classifiers, the out-of-fold probabilities and the meta-learner.

        Parameters
        ----------
        tables : dict of str to pandas.DataFrame
            Feature table of each modality, indexed by clip id; clips may be missing from some.
        y : pandas.Series
            Class of each labelled clip (clips without a label are ignored).
        groups : pandas.Series
            Actor of each clip; every split is grouped by it.

        Returns
        -------
        StackingFusion
            ``self``.
        """
        if self.meta not in META_LEARNERS:
            raise ValueError(f"meta must be one of {META_LEARNERS}, got {self.meta!r}")
        if not tables:
            raise ValueError("no feature tables given")
        base = ModalityClassifier() if self.base is None else self.base
        present = pd.Index(sorted(set().union(*(t.index for t in tables.values()))))
        y = y.loc[y.index.isin(present)].astype(str)
        groups = groups.astype(str)
        self.classes_ = np.array(sorted(y.unique()), dtype=object)
        self.modalities_ = sorted(name for name, t in tables.items() if t.index.isin(y.index).any())
        self.feature_columns_ = {m: list(tables[m].columns) for m in self.modalities_}
        labelled = {m: tables[m].index[tables[m].index.isin(y.index)] for m in self.modalities_}

        jobs = [(m, labelled[m], None) for m in self.modalities_]
        if self.meta != "average":
            for train, test in actor_folds(
                y, groups, n_splits=self.n_splits, random_state=self.random_state
            ):
                for m in self.modalities_:
                    ids = labelled[m]
                    inner_train = ids[ids.isin(y.index[train])]
                    inner_test = ids[ids.isin(y.index[test])]
                    if len(inner_train) and len(inner_test):
                        jobs.append((m, inner_train, inner_test))
        results = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_predict)(base, tables[m], y, groups, train_ids, test_ids)
            for m, train_ids, test_ids in jobs
        )
        n_final = len(self.modalities_)
        self.estimators_ = {jobs[i][0]: results[i][0] for i in range(n_final)}
        oof: dict[str, list[pd.DataFrame]] = {}
        for (m, _, _), (_, proba) in zip(jobs[n_final:], results[n_final:], strict=True):
            oof.setdefault(m, []).append(proba.reindex(columns=self.classes_, fill_value=0.0))
        self.oof_proba_ = {m: pd.concat(frames) for m, frames in oof.items()}
        self.meta_estimator_ = None
        if self.meta != "average":
            self.meta_estimator_ = self._make_meta().fit(
                self._meta_features(self.oof_proba_, y.index, groups, fit=True), y.to_numpy()
            )
        return self

    def _meta_features(
        self, proba: dict[str, pd.DataFrame], ids: pd.Index, groups: pd.Series | None, *, fit: bool
    ) -> np.ndarray:
        """Meta-learner input: per modality, class log-probabilities then availability.

        With ``meta_actor_norm`` the log-probabilities are z-scored within each actor (label-free,
        like the base features), which removes an actor's bias towards some classes; a missing
        modality is then set to its actor mean (0) and flagged by its availability column.
        """
        logs, available = [], []
        for m in self.modalities_:
            frame = proba.get(m, pd.DataFrame(columns=self.classes_, dtype=float)).reindex(ids)
            available.append(frame.notna().all(axis=1).to_numpy(dtype=float)[:, None])
            logs.append(np.log(frame.clip(lower=PROBA_FLOOR)).add_prefix(f"{m}__"))
        values = pd.concat(logs, axis=1)
        if self.meta_actor_norm:
            if fit:
                self.meta_standardiser_ = ActorStandardiser()
                values = self.meta_standardiser_.fit_transform(values, groups=groups)
            else:
                values = self.meta_standardiser_.transform(values, groups=groups)
            values = values.fillna(0.0)
        else:
            values = values.fillna(np.log(1.0 / len(self.classes_)))
        return np.hstack([values.to_numpy(), *available])

    def predict_proba_modalities(
        self, tables: dict[str, pd.DataFrame], groups: pd.Series | None = None
    ) -> dict[str, pd.DataFrame]:
        """Class probabilities of each modality's classifier on the clips that have it.

        Parameters
        ----------
        tables : dict of str to pandas.DataFrame
            Feature tables (modalities not seen in :meth:`fit` are ignored).
        groups : pandas.Series or None
            Actor of each clip, for per-actor normalisation: pass all clips of an actor together.
            Unknown actors can be given ids from :func:`emo.models.actors.infer_actors`; None
            normalises each clip with pooled training statistics.

        Returns
        -------
        dict of str to pandas.DataFrame
            Modality -> probabilities (index clip id, columns ``classes_``).
        """
        check_is_fitted(self, "estimators_")
        out = {}
        for m in self.modalities_:
            table = tables.get(m)
            if table is None or table.empty:
                continue
            model = self.estimators_[m]
            proba = model.predict_proba(table.reindex(columns=self.feature_columns_[m]), groups)
            frame = pd.DataFrame(proba, index=table.index, columns=model.classes_)
            out[m] = frame.reindex(columns=self.classes_, fill_value=0.0)
        return out

    def predict_proba(
        self, tables: dict[str, pd.DataFrame], groups: pd.Series | None = None
    ) -> pd.DataFrame:
        """Fused class probabilities of every clip present in at least one table.

        Parameters
        ----------
        tables : dict of str to pandas.DataFrame
            Feature tables, indexed by clip id.
        groups : pandas.Series or None
            Actor of each clip (see :meth:`predict_proba_modalities`).

        Returns
        -------
        pandas.DataFrame
            Index: the clip ids of the tables of fitted modalities (sorted); columns:
            ``classes_``.

        Raises
        ------
        ValueError
            If no table is a non-empty table of a fitted modality.
        """
        proba = self.predict_proba_modalities(tables, groups)
        if not proba:
            raise ValueError(
                f"no clip has a modality the model was fitted on ({', '.join(self.modalities_)})"
            )
        ids = pd.Index(sorted(set().union(*(p.index for p in proba.values()))))
        if self.meta_estimator_ is None:
            stacked = np.stack([p.reindex(ids).to_numpy(dtype=float) for p in proba.values()])
            fused = np.nanmean(stacked, axis=0)
        else:
            features = self._meta_features(proba, ids, groups, fit=False)
            fused = self.meta_estimator_.predict_proba(features)
        return pd.DataFrame(fused, index=ids, columns=self.classes_)

    def predict(
        self, tables: dict[str, pd.DataFrame], groups: pd.Series | None = None
    ) -> pd.Series:
        """Most probable fused class of each clip (index: union of the tables' clip ids)."""
        proba = self.predict_proba(tables, groups)
        return pd.Series(
            self.classes_[np.argmax(proba.to_numpy(), axis=1)], index=proba.index, name="label"
        )
