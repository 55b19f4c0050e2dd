"""Models on clip-level feature tables: per-modality classifiers, stacking fusion, evaluation.

This package knows only feature tables (DataFrames indexed by clip id); it imports nothing from
``emo.data`` or ``emo.features``.

Its public names are re-exported here and imported on first use, so that a light module of
the package (:mod:`emo.models.choices`, read by the settings) does not load scikit-learn and
the boosting libraries. This is emo's one mechanism for optional heavy modules: a package
re-exports lazily (``__getattr__`` over ``_PUBLIC``, real imports for type checkers and
editors), and every module imports what it uses at its top.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emo.models.actors import ActorStandardiser
    from emo.models.bundle import Bundle, BundlePrediction
    from emo.models.ensemble import EnsembleClassifier
    from emo.models.evaluate import CVResult, cross_validate, score_probabilities, uar
    from emo.models.fusion import StackingFusion
    from emo.models.identity import ActorIdentifier, infer_actors, simulate_inference
    from emo.models.linear import BlendClassifier, LinearClassifier
    from emo.models.modality import ModalityClassifier
    from emo.models.splits import actor_folds
    from emo.models.train import TrainResult, train

#: Public name -> the module that defines it.
_PUBLIC = {
    "ActorIdentifier": "identity",
    "ActorStandardiser": "actors",
    "BlendClassifier": "linear",
    "Bundle": "bundle",
    "BundlePrediction": "bundle",
    "CVResult": "evaluate",
    "EnsembleClassifier": "ensemble",
    "LinearClassifier": "linear",
    "ModalityClassifier": "modality",
    "StackingFusion": "fusion",
    "TrainResult": "train",
    "actor_folds": "splits",
    "cross_validate": "evaluate",
    "infer_actors": "identity",
    "score_probabilities": "evaluate",
    "simulate_inference": "identity",
    "train": "train",
    "uar": "evaluate",
}
__all__ = [
    "ActorIdentifier",
    "ActorStandardiser",
    "BlendClassifier",
    "Bundle",
    "BundlePrediction",
    "CVResult",
    "EnsembleClassifier",
    "LinearClassifier",
    "ModalityClassifier",
    "StackingFusion",
    "TrainResult",
    "actor_folds",
    "cross_validate",
    "infer_actors",
    "score_probabilities",
    "simulate_inference",
    "train",
    "uar",
]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(import_module(f"emo.models.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module 'emo.models' has no attribute {name!r}")
