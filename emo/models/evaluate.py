"""Actor-grouped cross-validation and the challenge metric (UAR)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import confusion_matrix, recall_score

from emo.models.splits import actor_folds

__all__ = ["CVResult", "TestGroups", "cross_validate", "score_probabilities", "uar"]

#: ``(X_train, groups_train, X_test) -> groups_test``: the actors assumed for test clips.
TestGroups = Callable[[pd.DataFrame, pd.Series, pd.DataFrame], pd.Series]


def uar(y_true: pd.Series | np.ndarray, y_pred: pd.Series | np.ndarray) -> float:
    """Unweighted average recall: mean recall over the classes present in ``y_true``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_clips,)
        True and predicted class labels.

    Returns
    -------
    float
        UAR in [0, 1].

    Examples
    --------
    >>> uar(["An", "An", "Ha", "Ne"], ["An", "Ha", "Ha", "Ha"])
    0.5
    """
    labels = np.unique(np.asarray(y_true))
    return float(recall_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))


@dataclass
class CVResult:
    """Scores of a nested actor-grouped cross-validation, per modality and fused.

    Attributes
    ----------
    uar : dict of str to float
        UAR over all out-of-fold predictions, for each modality and ``"fused"``.
    uar_folds : dict of str to list of float
        UAR of each outer fold (for confidence intervals).
    per_class_recall : dict of str to dict of str to float
        Recall of each class.
    confusion : dict of str to pandas.DataFrame
        Confusion matrix (rows true class, columns predicted class, clip counts).
    oof_proba : dict of str to pandas.DataFrame
        Out-of-fold class probabilities (index clip id, columns classes); a modality's frame only
        holds the clips that have it.
    classes : list of str
        Class labels.
    n_clips, n_actors, n_folds : int
        Size of the evaluation.
    uar_actors : dict of str to dict of str to float
        UAR of each actor (or group) of the scored clips, for each modality and ``"fused"``.
    fold_models : list of (pandas.Index, estimator)
        Of :func:`cross_validate`: each outer fold's test clip ids and the model fitted
        without them (for :func:`~emo.models.identity.simulate_inference`); not in
        :meth:`to_dict`.
    """

    uar: dict[str, float]
    uar_folds: dict[str, list[float]]
    per_class_recall: dict[str, dict[str, float]]
    confusion: dict[str, pd.DataFrame]
    oof_proba: dict[str, pd.DataFrame]
    classes: list[str] = field(default_factory=list)
    n_clips: int = 0
    n_actors: int = 0
    n_folds: int = 0
    uar_actors: dict[str, dict[str, float]] = field(default_factory=dict)
    fold_models: list[tuple[pd.Index, Any]] = field(default_factory=list)

    def uar_ci(self, name: str) -> tuple[float, float]:
        """Mean and 95 % half-width (normal approximation) of the per-fold UAR of ``name``."""
        folds = np.asarray(self.uar_folds[name], dtype=float)
        if len(folds) < 2:
            return float(folds.mean()), 0.0
        return float(folds.mean()), float(1.96 * folds.std(ddof=1) / np.sqrt(len(folds)))

    def to_dict(self) -> dict[str, object]:
        """JSON-able summary (no out-of-fold probabilities)."""
        return {
            "uar": self.uar,
            "uar_folds": self.uar_folds,
            "uar_ci95": {name: self.uar_ci(name)[1] for name in self.uar_folds},
            "per_class_recall": self.per_class_recall,
            "confusion": {
                name: {"labels": list(frame.columns), "counts": frame.to_numpy().tolist()}
                for name, frame in self.confusion.items()
            },
            "classes": self.classes,
            "n_clips": self.n_clips,
            "n_actors": self.n_actors,
            "n_folds": self.n_folds,
            "uar_actors": self.uar_actors,
        }


def _scores(
    y: pd.Series, proba: pd.DataFrame, classes: list[str]
) -> tuple[float, dict[str, float], pd.DataFrame]:
    """UAR, per-class recall and confusion matrix of probabilities against the true labels."""
    truth = y.reindex(proba.index)
    pred = proba.columns.to_numpy()[np.argmax(proba.to_numpy(), axis=1)]
    recalls = recall_score(truth, pred, labels=classes, average=None, zero_division=0)
    matrix = confusion_matrix(truth, pred, labels=classes)
    return (
        uar(truth, pred),
        {c: float(r) for c, r in zip(classes, recalls, strict=True) if c in set(truth)},
        pd.DataFrame(matrix, index=pd.Index(classes, name="true"), columns=classes),
    )


def cross_validate(
    model: BaseEstimator,
    X: pd.DataFrame,
    y: pd.Series,
    groups: pd.Series,
    *,
    n_splits: int = 5,
    loso: bool = False,
    random_state: int = 0,
    test_groups: TestGroups | None = None,
) -> CVResult:
    """Nested actor-grouped cross-validation of a model and of each of its modalities.

    Outer folds (actor-grouped, see :func:`actor_folds`) only score: in each outer training part
    a clone of ``model`` is fitted, and every choice it makes from data (e.g. the stacking
    fusion's out-of-fold meta-learner inputs) comes from its own inner grouped folds of that
    part, so no test actor is seen by any stage. Test actors are normalised with their own
    clips (``groups`` of the test part, or ``test_groups``).

    Parameters
    ----------
    model : estimator
        Unfitted template (cloned for each fold) whose ``fit`` and ``predict_proba`` take
        ``groups``, e.g. :class:`~emo.models.fusion.StackingFusion`; when it has
        ``predict_proba_all`` (fused and per-modality probabilities) each modality is
        scored too.
    X : pandas.DataFrame
        Features, one row per clip (index clip id).
    y : pandas.Series
        Class of each clip, aligned on ``X.index``.
    groups : pandas.Series
        Actor of each clip, aligned on ``X.index``.
    n_splits : int, default=5
        Outer folds (capped by the number of actors).
    loso : bool, default=False
        Leave one actor out in the outer loop.
    random_state : int, default=0
        Seed of the outer folds.
    test_groups : callable or None, default=None
        Evaluate as if the test actors were unknown: called as
        ``test_groups(X_train, groups_train, X_test)``, it returns the groups used to normalise
        the test clips (e.g. pseudo-actors of an identity model fitted on the training part).
        None uses the true actors.

    Returns
    -------
    CVResult
        Scores of ``"fused"`` (the model's own output) and of each modality.
    """
    y = y.reindex(X.index).astype(str)
    groups = groups.reindex(X.index).astype(str)
    classes = sorted(y.unique())
    folds = actor_folds(y, groups, n_splits=n_splits, loso=loso, random_state=random_state)
    proba: dict[str, list[pd.DataFrame]] = {}
    fold_uar: dict[str, list[float]] = {}
    fold_models = []
    for train, test in folds:
        fitted = clone(model).fit(X.iloc[train], y.iloc[train], groups=groups.iloc[train])
        fold_models.append((X.index[test], fitted))
        X_test = X.iloc[test]
        actors = (groups.iloc[test] if test_groups is None
                  else test_groups(X.iloc[train], groups.iloc[train], X_test))
        if hasattr(fitted, "predict_proba_all"):  # fused and each modality in one pass
            fused, outputs = fitted.predict_proba_all(X_test, groups=actors)
        else:
            fused = pd.DataFrame(fitted.predict_proba(X_test, groups=actors),
                                 index=X_test.index, columns=fitted.classes_)
            outputs = {}
        outputs["fused"] = fused
        for name, frame in outputs.items():
            frame = frame.reindex(columns=classes, fill_value=0.0)
            proba.setdefault(name, []).append(frame)
            fold_uar.setdefault(name, []).append(_scores(y, frame, classes)[0])
    oof = {name: pd.concat(frames) for name, frames in proba.items()}
    result = score_probabilities(oof, y, groups, fold_uar=fold_uar, classes=classes)
    result.fold_models = fold_models
    return result


def score_probabilities(
    probabilities: dict[str, pd.DataFrame],
    y: pd.Series,
    groups: pd.Series,
    *,
    fold_uar: dict[str, list[float]] | None = None,
    classes: list[str] | None = None,
) -> CVResult:
    """Score class probabilities (per modality and fused) against true labels.

    Used for out-of-fold predictions (:func:`cross_validate`) and for a fitted model on
    held-out labelled data (``emo evaluate``).

    Parameters
    ----------
    probabilities : dict of str to pandas.DataFrame
        Class probabilities by name (a modality or ``"fused"``), indexed by clip id; only
        clips with a label in ``y`` are scored.
    y : pandas.Series
        True class of each labelled clip.
    groups : pandas.Series
        Actor (or group) of each clip; each one's UAR is kept in ``uar_actors``.
    fold_uar : dict, optional
        Per-fold UAR to keep; by default the whole set is one fold.
    classes : list of str, optional
        Class order (default: sorted labels).

    Returns
    -------
    CVResult
    """
    y = y.astype(str)
    classes = classes or sorted(y.unique())
    scored = {name: frame.loc[frame.index.isin(y.index)].reindex(columns=classes,
                                                                 fill_value=0.0)
              for name, frame in probabilities.items()}
    scores = {name: _scores(y, frame, classes) for name, frame in scored.items() if len(frame)}
    return CVResult(
        uar={name: s[0] for name, s in scores.items()},
        uar_folds=fold_uar or {name: [s[0]] for name, s in scores.items()},
        per_class_recall={name: s[1] for name, s in scores.items()},
        confusion={name: s[2] for name, s in scores.items()},
        oof_proba=scored,
        classes=classes,
        n_clips=len(y),
        n_actors=int(groups.reindex(y.index).nunique()),
        n_folds=len(next(iter(fold_uar.values()))) if fold_uar else 1,
        uar_actors={name: _group_uar(y, frame, groups) for name, frame in scored.items()
                    if len(frame)},
    )


def _group_uar(y: pd.Series, proba: pd.DataFrame, groups: pd.Series) -> dict[str, float]:
    """UAR of the scored clips of each group (sorted by group)."""
    pred = pd.Series(proba.columns.to_numpy()[np.argmax(proba.to_numpy(), axis=1)],
                     index=proba.index)
    of = groups.reindex(proba.index).astype(str)
    return {str(g): uar(y.loc[ids], pred.loc[ids])
            for g, ids in sorted(pred.groupby(of).groups.items())}
