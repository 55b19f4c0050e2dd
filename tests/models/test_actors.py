"""ActorStandardiser (label-free, per group) and group labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emo.models import ActorStandardiser
from emo.models._base import check_groups


@pytest.mark.parametrize("method", ["zscore", "rank"])
def test_standardiser_is_per_group(method: str) -> None:
    X = pd.DataFrame({"f": [1.0, 2.0, 3.0, 4.0, 5.0, 101.0, 102.0, 103.0, 104.0, 105.0]})
    groups = ["a"] * 5 + ["b"] * 5
    out = ActorStandardiser(method=method).fit_transform(X, groups=groups)
    np.testing.assert_allclose(out["f"].iloc[:5], out["f"].iloc[5:])
    if method == "zscore":
        np.testing.assert_allclose(out.groupby(groups)["f"].mean(), 0.0, atol=1e-12)


def test_standardiser_is_label_free(synthetic) -> None:
    tables, y, groups = synthetic
    X = tables["audio"]
    shuffled = y.sample(frac=1.0, random_state=0).to_numpy()
    first = ActorStandardiser().fit_transform(X, y, groups=groups)
    second = ActorStandardiser().fit_transform(X, shuffled, groups=groups)
    pd.testing.assert_frame_equal(first, second)


def test_new_actor_uses_its_own_clips_and_small_groups_fall_back() -> None:
    X = pd.DataFrame({"f": np.arange(10.0)})
    scaler = ActorStandardiser(min_group_size=3).fit(X, groups=["a"] * 5 + ["b"] * 5)
    new = pd.DataFrame({"f": [50.0, 52.0, 54.0]})
    np.testing.assert_allclose(scaler.transform(new, groups=["z"] * 3)["f"], [-1.2247, 0, 1.2247],
                               atol=1e-4)
    single = scaler.transform(pd.DataFrame({"f": [4.5]}), groups=None)
    assert single["f"].iloc[0] == pytest.approx(0.0)  # pooled mean 4.5


def test_nan_stays_nan() -> None:
    X = pd.DataFrame({"f": [1.0, np.nan, 3.0, 5.0, 7.0]})
    out = ActorStandardiser().fit_transform(X, groups=["a"] * 5)
    assert np.isnan(out["f"].iloc[1]) and out["f"].notna().sum() == 4


def test_output_container_follows_input_unless_set_output() -> None:
    X = pd.DataFrame({"a": np.arange(6.0), "b": np.arange(6.0) ** 2}, index=list("uvwxyz"))
    groups = ["p"] * 3 + ["q"] * 3
    scaler = ActorStandardiser(min_group_size=3)
    frame = scaler.fit_transform(X, groups=groups)
    assert list(frame.index) == list(X.index) and list(frame.columns) == ["a", "b"]
    array = scaler.fit_transform(X.to_numpy(), groups=groups)
    assert isinstance(array, np.ndarray)
    np.testing.assert_array_equal(array, frame.to_numpy())
    pandas = scaler.set_output(transform="pandas").fit(X.to_numpy(), groups=groups)
    assert list(pandas.transform(X.to_numpy(), groups=groups).columns) == ["x0", "x1"]


def test_groups_series_aligned_by_clip_id_for_frames_by_position_for_arrays() -> None:
    X = pd.DataFrame({"f": [1.0, 2.0, 3.0, 10.0, 20.0, 30.0]}, index=list("abcdef"))
    groups = pd.Series(list("ppqqpq"), index=list("abdecf"))  # by id: a b c -> p, d e f -> q
    scaler = ActorStandardiser(min_group_size=3)
    by_id = scaler.fit_transform(X, groups=groups)
    np.testing.assert_allclose(by_id["f"].iloc[:3], by_id["f"].iloc[3:])
    by_position = scaler.fit_transform(X.to_numpy(), groups=groups)
    np.testing.assert_array_equal(by_position,
                                  scaler.fit_transform(X.to_numpy(), groups=list("ppqqpq")))
    assert not np.allclose(by_position[:, 0], by_id["f"])


def test_group_labels_checked() -> None:
    assert check_groups(None, 2).tolist() == ["?0", "?1"]
    with pytest.raises(ValueError, match=r"one actor per row of X \(3 rows\), got shape \(2,\)"):
        check_groups(["a", "b"], 3)
    with pytest.raises(ValueError, match="one actor per row"):
        ActorStandardiser().fit(np.zeros((3, 1)), groups=[["a"], ["b"], ["c"]])


def test_infinity_and_other_columns_are_refused() -> None:
    X = pd.DataFrame({"f": [1.0, 2.0, 3.0], "g": [0.0, 1.0, 0.0]})
    scaler = ActorStandardiser().fit(X)
    with pytest.raises(ValueError, match="infinity"):
        scaler.transform(X.replace(3.0, np.inf))
    with pytest.raises(ValueError, match="Feature names unseen at fit time"):
        scaler.transform(X.rename(columns={"g": "h"}))
    with pytest.raises(ValueError, match="method must be one of"):
        ActorStandardiser(method="minmax").fit(X)
