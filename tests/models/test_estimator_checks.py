"""Every estimator of emo passes scikit-learn's own estimator checks, with no expected failure.

To cover a new estimator, append a small (fast) instance of it to ``ESTIMATORS``; give one
instance per code path that changes how input is validated or predictions are made.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

from emo.models import ActorStandardiser, ModalityClassifier
from emo.models.linear import LinearClassifier

# The checks' data carries no actors, and too few for early stopping: both warnings are expected.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*fitted without groups:UserWarning"),
    pytest.mark.filterwarnings("ignore:early stopping turned off:UserWarning"),
]

ESTIMATORS: list[BaseEstimator] = [
    ModalityClassifier(n_estimators=10),
    ModalityClassifier(backend="xgboost", n_estimators=10),
    ModalityClassifier(n_estimators=10, norm_method="zscore", early_stopping=True),
    ActorStandardiser(),
    ActorStandardiser(method="rank"),
    LinearClassifier(),
    LinearClassifier(Cs=(0.1,), norm_method="zscore", balance_actors=False),
]


@parametrize_with_checks(ESTIMATORS)
def test_scikit_learn_accepts(estimator: BaseEstimator,
                              check: Callable[[BaseEstimator], None]) -> None:
    check(estimator)
