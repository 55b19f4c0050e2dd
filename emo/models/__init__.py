"""Models on clip-level feature tables: per-modality classifiers, stacking fusion, evaluation.

This package knows only feature tables (DataFrames indexed by clip id); it imports nothing from
``emo.data`` or ``emo.features``.
"""

from emo.models.actors import ActorStandardiser
from emo.models.bundle import Bundle
from emo.models.ensemble import EnsembleClassifier
from emo.models.evaluate import CVResult, cross_validate, score_probabilities, uar
from emo.models.fusion import StackingFusion
from emo.models.identity import ActorIdentifier, infer_actors, simulate_inference
from emo.models.modality import ModalityClassifier
from emo.models.splits import actor_folds

__all__ = [
    "ActorIdentifier",
    "ActorStandardiser",
    "Bundle",
    "CVResult",
    "EnsembleClassifier",
    "ModalityClassifier",
    "StackingFusion",
    "actor_folds",
    "cross_validate",
    "infer_actors",
    "score_probabilities",
    "simulate_inference",
    "uar",
]
