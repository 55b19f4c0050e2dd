"""Shared helpers of the benchmark scripts: actor-grouped evaluation of recipes and tables.

A *recipe* is a function ``(X_train, y_train, actors_train, X_test, actors_test) -> probabilities``
(test clips x sorted training classes). :func:`grouped_cv` runs one over actor-grouped folds and
returns the pooled UAR; every setting a recipe chooses by itself (``inner_cv``) is chosen on the
training actors of the fold only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from emo.models import ActorStandardiser, ModalityClassifier, uar

#: ``(X_train, y_train, actors_train, X_test, actors_test) -> probabilities``.
Recipe = Callable[[pd.DataFrame, np.ndarray, np.ndarray, pd.DataFrame, np.ndarray], np.ndarray]


def folds(y: np.ndarray, actors: np.ndarray, n_splits: int | None = None
          ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Leave-one-actor-out folds, or ``n_splits`` actor-grouped folds (deterministic)."""
    if n_splits is None or n_splits >= len(np.unique(actors)):
        splitter = LeaveOneGroupOut()
    else:
        splitter = GroupKFold(n_splits=n_splits)
    return list(splitter.split(np.zeros(len(y)), y, actors))


def grouped_cv(recipe: Recipe, x: pd.DataFrame, y: np.ndarray, actors: np.ndarray,
               n_splits: int | None = None) -> tuple[float, dict[str, float]]:
    """Pooled out-of-fold UAR of a recipe and the UAR of each held-out actor.

    Parameters
    ----------
    recipe
        The model to evaluate.
    x, y, actors
        Features, labels and actor of each clip.
    n_splits
        Actor-grouped folds; ``None`` for leave-one-actor-out.

    Returns
    -------
    tuple
        ``(pooled UAR, {actor: UAR})``.
    """
    classes = np.unique(y)
    pred = np.empty(len(y), dtype=object)
    for train, test in folds(y, actors, n_splits):
        p = recipe(x.iloc[train], y[train], actors[train], x.iloc[test], actors[test])
        pred[test] = classes[np.argmax(p, axis=1)]
    per_actor = {a: uar(y[actors == a], pred[actors == a]) for a in np.unique(actors)}
    return uar(y, pred), per_actor


def actor_z(x_train: pd.DataFrame, a_train: np.ndarray, x_test: pd.DataFrame,
            a_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label-free per-actor z-scores (each actor by its own clips), NaN set to 0."""
    scaler = ActorStandardiser().fit(x_train, groups=a_train)
    return (np.nan_to_num(scaler.transform(x_train, groups=a_train).to_numpy()),
            np.nan_to_num(scaler.transform(x_test, groups=a_test).to_numpy()))


def probabilities(model: object, classes: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Class probabilities in the order of ``classes`` (soft-maxed decision values for SVC)."""
    if hasattr(model, "predict_proba"):
        p = model.predict_proba(x)
    else:
        d = model.decision_function(x)
        p = np.exp(d - d.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
    order = [list(model.classes_).index(c) for c in classes]
    return p[:, order]


def sklearn_recipe(make: Callable[[], object], *, per_actor: bool) -> Recipe:
    """A scikit-learn model after a global (or label-free per-actor) z-score."""

    def run(xtr, ytr, atr, xte, ate):
        if per_actor:
            a, b = actor_z(xtr, atr, xte, ate)
        else:
            a, b = np.nan_to_num(xtr.to_numpy()), np.nan_to_num(xte.to_numpy())
        model = make_pipeline(StandardScaler(), make()).fit(a, ytr)
        return probabilities(model, np.unique(ytr), b)

    return run


def gbm_recipe(**params: object) -> Recipe:
    """:class:`emo.models.ModalityClassifier` with the given parameters."""

    def run(xtr, ytr, atr, xte, ate):
        model = ModalityClassifier(**params).fit(xtr, ytr, groups=atr)
        return model.predict_proba(xte, groups=ate)

    return run


def columns(recipe: Recipe, keep: Callable[[str], bool]) -> Recipe:
    """The recipe on the feature columns whose name passes ``keep``."""

    def run(xtr, ytr, atr, xte, ate):
        cols = [c for c in xtr.columns if keep(c)]
        return recipe(xtr[cols], ytr, atr, xte[cols], ate)

    return run


def blend(*recipes: Recipe) -> Recipe:
    """Mean of the class probabilities of several recipes (all see the same training fold)."""

    def run(xtr, ytr, atr, xte, ate):
        return np.mean([r(xtr, ytr, atr, xte, ate) for r in recipes], axis=0)

    return run


def inner_cv(candidates: dict[str, Recipe], n_splits: int | None = None) -> Recipe:
    """Pick the candidate with the best grouped-CV UAR on the training actors of the fold only."""

    def run(xtr, ytr, atr, xte, ate):
        scores = {name: grouped_cv(r, xtr, ytr, atr, n_splits)[0]
                  for name, r in candidates.items()}
        best = max(scores, key=scores.get)
        return candidates[best](xtr, ytr, atr, xte, ate)

    return run


class Table:
    """Print rows of a fixed-width table as they come.

    Parameters
    ----------
    headers
        Column titles; the first column is left-aligned and ``width`` wide.
    width
        Width of the first column.
    percent
        Titles of the columns whose floats print as percentages (others with 3 decimals).
    """

    def __init__(self, headers: Sequence[str], width: int = 60,
                 percent: Sequence[str] = ()) -> None:
        self.width = width
        self.percent = [h in percent for h in headers[1:]]
        self.widths = [max(9, len(h)) for h in headers[1:]]
        self.row(*headers)
        print("-" * (width + sum(w + 1 for w in self.widths)))

    def row(self, first: str, *cells: object) -> None:
        """Print one row (missing trailing cells stay empty)."""
        text = [f"{first:{self.width}s}"]
        for cell, w, pct in zip(cells, self.widths, self.percent, strict=False):
            if isinstance(cell, float):
                text.append(f"{cell:{w}.1%}" if pct else f"{cell:{w}.3f}")
            else:
                text.append(f"{'' if cell is None else cell!s:>{w}s}")
        print(" ".join(text), flush=True)


def timed(fn: Callable[..., object], *args: object) -> tuple[object, float]:
    """``(fn(*args), seconds)``."""
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0
