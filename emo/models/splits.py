"""Rows, targets and actor-grouped folds: the bookkeeping every model and evaluation shares.

This module imports nothing from the rest of :mod:`emo` (only numpy, pandas and scikit-learn),
so the estimators (:mod:`emo.models.modality`), the fusion and the evaluation can all use it
without importing each other.
"""

from __future__ import annotations

import warnings
from typing import TypeVar

import numpy as np
import pandas as pd
from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold

__all__ = ["actor_folds", "align_target"]

Target = TypeVar("Target")
#: A feature table as accepted by the estimators: a DataFrame (clip ids as index) or an array.
Features = pd.DataFrame | np.ndarray
#: Targets as accepted by the estimators: a Series (aligned on a DataFrame's index) or an array.
Labels = pd.Series | np.ndarray

#: Fewer actors than this make grouped cross-validation scores very noisy (a warning says so).
FEW_ACTORS = 4
#: Clip ids quoted in an error message about missing labels.
SHOWN_IDS = 5


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
    with ``loso``. Warns when there are fewer than 4 actors. The folds are a valid ``cv``
    argument of scikit-learn's cross-validation tools.

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

    Examples
    --------
    >>> y = pd.Series(["An", "Ha"] * 8)
    >>> groups = pd.Series(["a", "a", "b", "b", "c", "c", "d", "d"] * 2)
    >>> [sorted(set(groups[test])) for _, test in actor_folds(y, groups, loso=True)]
    [['a'], ['b'], ['c'], ['d']]
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


def align_target(X: object, y: Target) -> Target:
    """Put ``y`` in the row order of ``X`` when both are pandas objects (matched by index).

    Feature tables and labels are indexed by clip id; aligning them by id rather than by
    position means a table sorted differently from its labels is still fitted correctly.
    Anything else (arrays, lists, a Series beside an array) is returned unchanged, i.e.
    aligned by position.

    Parameters
    ----------
    X : pandas.DataFrame or array-like
        Features.
    y : pandas.Series, pandas.DataFrame or array-like
        Targets.

    Returns
    -------
    pandas.Series, pandas.DataFrame or array-like
        ``y`` reindexed on ``X.index`` (clip ids of ``y`` that ``X`` lacks are dropped), or
        ``y`` itself.

    Raises
    ------
    ValueError
        If ``y`` lacks some clip ids of ``X`` (the first few are named) or, when it has to be
        reordered, repeats an id.

    Examples
    --------
    >>> X = pd.DataFrame({"f": [1.0, 2.0]}, index=["c2", "c1"])
    >>> align_target(X, pd.Series({"c1": "An", "c2": "Ha", "c3": "Sa"})).tolist()
    ['Ha', 'An']
    """
    if not isinstance(X, pd.DataFrame) or not isinstance(y, pd.Series | pd.DataFrame):
        return y
    if y.index.equals(X.index):
        return y
    missing = X.index[~X.index.isin(y.index)]
    if len(missing):
        shown = ", ".join(map(repr, missing[:SHOWN_IDS]))
        raise ValueError(
            f"y has no label for {len(missing)} of the {len(X)} rows of X (matched by index), "
            f"e.g. {shown}; pass y.to_numpy() to match labels to rows by position instead"
        )
    if not y.index.is_unique:
        repeated = y.index[y.index.duplicated()].unique()
        raise ValueError(
            f"y repeats the ids {', '.join(map(repr, repeated[:SHOWN_IDS]))}, so it cannot be "
            "aligned on X.index"
        )
    return y.reindex(X.index)
