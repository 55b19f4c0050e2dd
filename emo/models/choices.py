"""The allowed model choices and thresholds, defined once: :mod:`emo.settings` builds its
fields (and so the command line, its help and the docs) from them, and the estimators check
their parameters against them.

Only the standard library is imported here, so reading the settings loads no model code.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["BACKENDS", "ESTIMATORS", "META_LEARNERS", "MIN_ACTORS", "Backend", "Estimator",
           "MetaLearner"]

#: Boosting libraries of :class:`~emo.models.modality.ModalityClassifier`.
Backend = Literal["lightgbm", "xgboost"]
#: Per-modality models: the ensemble blended with a linear model on ComParE columns, the
#: soft-vote ensemble, the linear model, or a boosting library alone.
Estimator = Literal["blend", "ensemble", "linear", Backend]
#: Meta-learners of :class:`~emo.models.fusion.StackingFusion`.
MetaLearner = Literal["logreg", "gbm", "average"]
BACKENDS: tuple[str, ...] = get_args(Backend)
ESTIMATORS: tuple[str, ...] = get_args(Estimator)
META_LEARNERS: tuple[str, ...] = get_args(MetaLearner)
#: Fewest training actors from which an actor identifier is learnt and its grouping
#: simulated (fewer leave no actor to calibrate the split rule on).
MIN_ACTORS = 3
