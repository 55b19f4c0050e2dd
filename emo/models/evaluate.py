"""Actor-grouped cross-validation and the challenge metric (UAR)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import confusion_matrix, recall_score
from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold

if TYPE_CHECKING:
    from emo.models.fusion import StackingFusion

__all__ = ["CVResult", "actor_folds", "cross_validate", "uar"]

#: Fewer actors than this make grouped cross-validation scores very noisy (a warning says so).
FEW_ACTORS = 4


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


def actor_folds(
    y: pd.Series,
    groups: pd.Series,
    *,
    n_splits: int = 5,
    loso: bool = False,
    random_state: int = 0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Actor-grouped train/test folds: no actor is ever on both sides.

    Uses :class:`~sklearn.model_selection.StratifiedGroupKFold` with
    ``min(n_splits, n_actors)`` folds (shuffled with ``random_state``), or leave-one-actor-out
    with ``loso``. Warns when there are fewer than 4 actors.

    Parameters
    ----------
    y : pandas.Series
        Class of each clip.
    groups : pandas.Series
        Actor of each clip, aligned on ``y.index``.
    n_splits : int, default=5
        Number of folds (capped by the number of actors).
    loso : bool, default=False
        Leave one actor (subject) out instead.
    random_state : int, default=0
        Seed of the fold assignment.

    Returns
    -------
    list of (numpy.ndarray, numpy.ndarray)
        Positional indices into ``y`` of the training and test clips of each fold.

    Raises
    ------
    ValueError
        With fewer than 2 actors.
    """
    actors = groups.reindex(y.index).astype(str).to_numpy()
    n_actors = len(np.unique(actors))
    if n_actors < 2:
        raise ValueError(f"actor-grouped cross-validation needs at least 2 actors, got {n_actors}")
    if n_actors < FEW_ACTORS:
        warnings.warn(
            f"only {n_actors} actors: cross-validated scores will be very noisy",
            UserWarning,
            stacklevel=2,
        )
    if loso:
        splitter = LeaveOneGroupOut()
    else:
        k = min(n_splits, n_actors)
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=random_state)
    with warnings.catch_warnings():  # classes rarer than n_splits: stratification is best-effort
        warnings.simplefilter("ignore", UserWarning)
        return list(splitter.split(np.zeros(len(y)), y.to_numpy(), actors))


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
    fusion: StackingFusion,
    tables: dict[str, pd.DataFrame],
    y: pd.Series,
    groups: pd.Series,
    *,
    n_splits: int = 5,
    loso: bool = False,
    random_state: int = 0,
    test_groups: Callable[[dict[str, pd.DataFrame]], pd.Series] | None = None,
) -> CVResult:
    """Nested actor-grouped cross-validation of a fusion model and of each of its modalities.

    Outer folds (actor-grouped, see :func:`actor_folds`) give the scores; in each outer training
    part a clone of ``fusion`` is fitted, whose own inner grouped cross-validation builds the
    meta-learner's out-of-fold inputs, so no test actor is ever seen by any stage. Test actors are
    normalised with their own clips (``groups`` of the test part).

    Parameters
    ----------
    fusion : StackingFusion
        Unfitted template (cloned for each fold).
    tables : dict of str to pandas.DataFrame
        Feature table of each modality, indexed by clip id.
    y : pandas.Series
        Class of each labelled clip (only these clips are evaluated).
    groups : pandas.Series
        Actor of each clip.
    n_splits : int, default=5
        Outer folds (capped by the number of actors).
    loso : bool, default=False
        Leave one actor out in the outer loop.
    random_state : int, default=0
        Seed of the outer folds.
    test_groups : callable or None, default=None
        Evaluate as if the test actors were unknown: called with the test part's tables, it
        returns the groups used to normalise them (e.g. pseudo-actors from
        :func:`~emo.models.actors.infer_actors`). None uses the true actors.

    Returns
    -------
    CVResult
    """
    classes = sorted(map(str, y.unique()))
    y = y.astype(str)
    folds = actor_folds(y, groups, n_splits=n_splits, loso=loso, random_state=random_state)
    proba: dict[str, list[pd.DataFrame]] = {}
    fold_uar: dict[str, list[float]] = {}
    for train, test in folds:
        train_ids, test_ids = y.index[train], y.index[test]
        model = clone(fusion).fit(_subset(tables, train_ids), y.loc[train_ids], groups)
        test_tables = _subset(tables, test_ids)
        actors = groups if test_groups is None else test_groups(test_tables)
        outputs = model.predict_proba_modalities(test_tables, actors)
        outputs["fused"] = model.predict_proba(test_tables, actors)
        for name, frame in outputs.items():
            frame = frame.reindex(columns=classes, fill_value=0.0)
            proba.setdefault(name, []).append(frame)
            fold_uar.setdefault(name, []).append(_scores(y, frame, classes)[0])
    oof = {name: pd.concat(frames) for name, frames in proba.items()}
    return score_probabilities(oof, y, groups, fold_uar=fold_uar, classes=classes)


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
        Actor of each clip.
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
    )


def _subset(tables: dict[str, pd.DataFrame], ids: pd.Index) -> dict[str, pd.DataFrame]:
    """Rows of each table whose clip id is in ``ids`` (modalities left without rows are dropped)."""
    out = {name: table.loc[table.index.isin(ids)] for name, table in tables.items()}
    return {name: table for name, table in out.items() if len(table)}
