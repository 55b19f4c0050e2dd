"""Training from a feature matrix and a configuration: the estimator a configuration
describes, actor-grouped cross-validation, the final fit, the actor identifier and its
simulation, with the time each stage took.

The configuration is any object with the fields of :class:`emo.settings.FitConfig` that
:class:`TrainConfig` lists (this package does not import the settings).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd
from sklearn.base import BaseEstimator

from emo.models.choices import MIN_ACTORS
from emo.models.ensemble import EnsembleClassifier
from emo.models.evaluate import CVResult, cross_validate
from emo.models.fusion import StackingFusion
from emo.models.identity import ActorIdentifier, simulate_inference
from emo.models.linear import BlendClassifier, LinearClassifier
from emo.models.modality import ModalityClassifier

__all__ = ["TrainConfig", "TrainResult", "make_fusion", "train"]


class TrainConfig(Protocol):
    """The settings a training reads (the fields of :class:`emo.settings.FitConfig`)."""

    n_splits: int
    loso: bool
    seed: int
    estimator: str
    meta: str
    actor_norm: bool
    balance_actors: bool
    infer_actors: bool
    model: dict[str, Any]


@dataclass
class TrainResult:
    """What :func:`train` produced.

    Attributes
    ----------
    fusion
        The fusion model fitted on every clip.
    identifier
        The fitted actor identifier, or None (not asked for, or fewer than
        :data:`~emo.models.choices.MIN_ACTORS` actors).
    cv
        The cross-validation (scores, out-of-fold probabilities, fold models).
    scores
        JSON-able: the cross-validated scores (UAR per actor included), ``timings``,
        ``n_clips``, ``n_actors`` and, with an identifier, ``actor_inference`` (the
        simulation of :func:`~emo.models.identity.simulate_inference`).
    """

    fusion: StackingFusion
    identifier: ActorIdentifier | None
    cv: CVResult
    scores: dict[str, Any] = field(default_factory=dict)

    @property
    def timings(self) -> dict[str, float]:
        """Seconds of each stage."""
        return self.scores["timings"]


def make_fusion(config: TrainConfig, n_jobs: int = 1) -> StackingFusion:
    """The unfitted fusion model a configuration describes.

    Raises
    ------
    TypeError, ValueError
        When ``config.model`` holds a parameter the per-modality estimator refuses.
    """
    common = {"actor_norm": config.actor_norm, "random_state": config.seed}
    grouped = {**common, "balance_actors": config.balance_actors}
    base: BaseEstimator
    if config.estimator == "blend":  # its own parameters (ensemble__C...); the rest: ensemble's
        own = {k: v for k, v in config.model.items()
               if k in BlendClassifier._get_param_names() or "__" in k}
        rest = {k: v for k, v in config.model.items() if k not in own}
        base = BlendClassifier(EnsembleClassifier(**grouped, **rest), LinearClassifier(**grouped),
                               random_state=config.seed).set_params(**own)
    elif config.estimator == "linear":
        base = LinearClassifier(**grouped, **config.model)
    elif config.estimator == "ensemble":
        base = EnsembleClassifier(**grouped, **config.model)
    else:
        common.update(config.model)
        base = ModalityClassifier(backend=config.estimator, **common)
    return StackingFusion(base=base, meta=config.meta, n_splits=config.n_splits,
                          balance_actors=config.balance_actors, random_state=config.seed,
                          n_jobs=n_jobs)


def train(X: pd.DataFrame, y: pd.Series, groups: pd.Series, config: TrainConfig, *,
          n_jobs: int = 1) -> TrainResult:
    """Cross-validate (actor-grouped, nested), fit the fusion on every clip and, when the
    configuration asks for it, the actor identifier and its leave-actors-out simulation.

    Parameters
    ----------
    X
        Feature matrix (index clip id, columns ``<modality>__<feature>``).
    y
        Class of each clip (aligned on ``X.index``).
    groups
        Actor of each clip (aligned on ``X.index``).
    config
        The settings (see :class:`TrainConfig`).
    n_jobs
        Parallel base fits.

    Returns
    -------
    TrainResult
    """
    timings: dict[str, float] = {}
    fusion = make_fusion(config, n_jobs)
    t0 = time.perf_counter()
    cv = cross_validate(fusion, X, y, groups, n_splits=config.n_splits, loso=config.loso,
                        random_state=config.seed)
    timings["cross_validate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    fusion.fit(X, y, groups=groups)
    timings["fit"] = time.perf_counter() - t0
    scores: dict[str, Any] = {**cv.to_dict(), "timings": timings, "n_clips": int(len(y)),
                              "n_actors": int(groups.nunique())}
    identifier = None
    if config.infer_actors and groups.nunique() >= MIN_ACTORS:
        t0 = time.perf_counter()
        identifier = ActorIdentifier(random_state=config.seed).fit(X, y, groups=groups)
        scores["actor_inference"] = simulate_inference(
            ActorIdentifier(random_state=config.seed), X, groups, y=y,
            fold_models=cv.fold_models, known=cv.oof_proba["fused"].idxmax(axis=1),
            random_state=config.seed)
        timings["actor_inference"] = time.perf_counter() - t0
    return TrainResult(fusion, identifier, cv, scores)
