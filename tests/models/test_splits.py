"""Actor-grouped folds and the alignment of labels on feature tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emo.models.splits import actor_folds, align_target


@pytest.mark.parametrize(("options", "n_folds"), [({"n_splits": 4}, 4), ({"loso": True}, 6)])
def test_every_clip_is_tested_once_and_no_actor_on_both_sides(synthetic, options: dict,
                                                              n_folds: int) -> None:
    _, y, groups = synthetic
    folds = actor_folds(y, groups, **options)
    assert len(folds) == n_folds
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == list(range(len(y)))
    for train, test in folds:
        assert set(groups.iloc[train]).isdisjoint(groups.iloc[test])


def test_folds_read_groups_by_clip_id_and_are_reproducible(synthetic) -> None:
    _, y, groups = synthetic
    shuffled = groups.sample(frac=1.0, random_state=0)
    for (train, test), (train2, test2) in zip(actor_folds(y, groups, random_state=3),
                                              actor_folds(y, shuffled, random_state=3),
                                              strict=True):
        np.testing.assert_array_equal(train, train2)
        np.testing.assert_array_equal(test, test2)


def test_too_few_actors(synthetic) -> None:
    _, y, groups = synthetic
    two = groups.isin(groups.unique()[:2])
    with pytest.warns(UserWarning, match="only 2 actors"):
        assert len(actor_folds(y[two], groups[two], n_splits=5)) == 2
    one = groups == groups.iloc[0]
    with pytest.raises(ValueError, match="at least 2 actors, got 1"):
        actor_folds(y[one], groups[one])


def test_align_target_reorders_pandas_labels_on_the_table() -> None:
    X = pd.DataFrame({"f": [0.0, 1.0, 2.0]}, index=["c", "a", "b"])
    y = pd.Series({"a": "An", "b": "Ha", "c": "Sa", "z": "Ne"})
    assert align_target(X, y).tolist() == ["Sa", "An", "Ha"]
    same = pd.Series(["Sa", "An", "Ha"], index=X.index)
    assert align_target(X, same) is same
    positional = np.array(["x", "y", "z"])
    assert align_target(X, positional) is positional
    assert align_target(X.to_numpy(), y) is y


def test_align_target_names_missing_and_repeated_ids() -> None:
    X = pd.DataFrame({"f": np.zeros(8)}, index=[f"clip{i}" for i in range(8)])
    partial = pd.Series("An", index=X.index[:1])
    with pytest.raises(ValueError, match="no label for 7 of the 8 rows.*'clip1', 'clip2'"):
        align_target(X, partial)
    twice = pd.Series("An", index=[*X.index[::-1], "clip0"])
    with pytest.raises(ValueError, match="repeats the ids 'clip0'"):
        align_target(X, twice)
