"""ActorIdentifier: pseudo-actors for clips without an actor, calibrated on known actors."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score

from emo.models import (
    ActorIdentifier,
    ActorStandardiser,
    infer_actors,
    score_probabilities,
    simulate_inference,
)
from emo.models.identity import _ari
from emo.report import write_report

EMOTIONS = 4
#: How each emotion moves every column, shared by all actors (the voice columns move less).
EMOTION_EFFECT = (np.random.default_rng(99).normal(0, 3, size=(EMOTIONS, 6))
                  * np.array([0.3, 0.3, 0.3, 1.0, 1.0, 1.0]))


def make_clips(n_actors: int, n_clips: int = 20, *, seed: int = 0, start: int = 0,
               spread: float = 4.0) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Clips of ``n_actors`` actors: an identity offset per actor on the ``voice`` columns and a
    strong emotion effect, shared by all actors, on every column (what the identity space must
    discount); returns features, actors and emotions."""
    rng = np.random.default_rng(seed)
    rows, actors, emotions = [], [], []
    for a in range(n_actors):
        identity = np.concatenate([rng.normal(0, spread, 3), np.zeros(3)])
        emotion = rng.integers(0, EMOTIONS, n_clips)
        rows.append(identity + EMOTION_EFFECT[emotion] + rng.normal(size=(n_clips, 6)))
        actors += [f"{start + a:02d}"] * n_clips
        emotions += emotion.tolist()
    index = [f"c{start:02d}_{i:04d}" for i in range(len(actors))]
    columns = [f"audio__voice{j}" for j in range(3)] + [f"face__au{j}" for j in range(3)]
    X = pd.DataFrame(np.vstack(rows), index=index, columns=columns)
    return X, pd.Series(actors, index=index, name="actor"), pd.Series(emotions, index=index)


@pytest.fixture(scope="module")
def fitted() -> ActorIdentifier:
    X, groups, _ = make_clips(8, seed=1)
    return ActorIdentifier().fit(X, groups=groups)


@pytest.mark.parametrize("n_actors", [1, 2, 4])
def test_counts_actors_including_one(fitted: ActorIdentifier, n_actors: int) -> None:
    X, truth, _ = make_clips(n_actors, 18, seed=10 + n_actors, start=50)
    found = fitted.predict(X)
    assert found.nunique() == n_actors
    assert adjusted_rand_score(truth, found) == pytest.approx(1.0)
    assert found.index.equals(X.index)


def test_groups_follow_identity_not_emotion(fitted: ActorIdentifier) -> None:
    X, truth, emotion = make_clips(3, 30, seed=4, start=60)
    found = fitted.predict(X)
    assert adjusted_rand_score(truth, found) > 0.9
    assert adjusted_rand_score(emotion, found) < 0.1


def test_calibration_is_learned_and_json_able(fitted: ActorIdentifier) -> None:
    assert fitted.split_coef_.shape == (3,)
    assert fitted.identity_columns_.dtype == bool and fitted.identity_columns_.any()
    summary = json.loads(json.dumps(fitted.calibration_))
    assert summary["n_actors"] == 8 and summary["n_split_nodes"] > 0
    assert set(summary["ari_by_actors"]) == {"1", "2"}


def test_array_groups_are_positional_series_aligned_by_clip_id() -> None:
    X, groups, _ = make_clips(6, seed=2)
    shuffled = groups.sample(frac=1.0, random_state=0)
    by_id = ActorIdentifier().fit(X, groups=shuffled)
    by_position = ActorIdentifier().fit(X.to_numpy(), groups=groups.to_numpy())
    np.testing.assert_allclose(by_id.projection_, by_position.projection_)
    np.testing.assert_allclose(by_id.split_coef_, by_position.split_coef_)
    found = by_position.predict(X.to_numpy())
    assert found.index.equals(pd.RangeIndex(len(X)))
    pd.testing.assert_series_equal(found, by_id.predict(X).reset_index(drop=True))
    wrong = ActorIdentifier().fit(X, groups=shuffled.to_numpy())  # positions now scrambled
    assert (wrong.projection_.shape != by_id.projection_.shape
            or not np.allclose(wrong.projection_, by_id.projection_))


def _emotion_share(identifier: ActorIdentifier, X: pd.DataFrame, groups: pd.Series,
                   emotion: pd.Series) -> float:
    """Variance of the actor-and-emotion means around their actor's mean, as a share of the
    variance of the actor means, in the identity space."""
    coords = pd.DataFrame(identifier._scaled(X.to_numpy())[:, identifier.identity_columns_]
                          @ identifier.basis_ @ identifier.projection_, index=X.index)
    actor_means = coords.groupby(groups).mean()
    cells = coords.groupby([groups, emotion]).mean()
    deviation = cells - actor_means.loc[cells.index.get_level_values(0)].to_numpy()
    return float((deviation**2).to_numpy().sum(axis=1).mean()
                 / actor_means.var().sum())


def test_emotion_labels_are_the_nuisance_of_the_identity_space() -> None:
    X, groups, emotion = make_clips(8, 30, seed=3)
    X["audio__voice0"] += EMOTION_EFFECT[emotion.to_numpy(), 3] * 2  # emotion on a voice too
    shares = [_emotion_share(ActorIdentifier(emotion_weight=w).fit(X, emotion, groups=groups),
                             X, groups, emotion) for w in (1.0, 3.0)]
    unlabelled = _emotion_share(ActorIdentifier().fit(X, groups=groups), X, groups, emotion)
    assert shares[1] < shares[0] < 0.8 * unlabelled
    X_new, _, _ = make_clips(1, 40, seed=30, start=70)
    lone = ActorIdentifier(emotion_weight=1.0).fit(X, emotion, groups=groups).predict(X_new)
    assert lone.nunique() == 1


def test_small_sets_form_one_group_never_question_marks(fitted: ActorIdentifier) -> None:
    X, _, _ = make_clips(2, 6, seed=5, start=70)
    found = fitted.predict(X)
    assert found.nunique() == 1
    assert not found.str.startswith("?").any()


def test_known_actors_kept_and_matched(fitted: ActorIdentifier) -> None:
    X, truth, _ = make_clips(3, 30, seed=6, start=80)
    known = truth.astype(object).copy()
    first = truth.unique()[0]
    rows = np.flatnonzero(truth == first)
    known.iloc[rows[15:]] = None  # half of the first actor's clips lose their actor
    known[truth != first] = np.nan  # the other two actors are new
    known = known.astype("string")  # pandas NA counts as unknown too
    found = fitted.predict(X, groups=known)
    assert (found[truth == first] == first).all()
    new = found[truth != first]
    assert new.nunique() == 2 and not new.isin(truth.unique()).any()
    assert adjusted_rand_score(truth[truth != first], new) == pytest.approx(1.0)


def test_pseudo_ids_never_clash_with_actor_ids(fitted: ActorIdentifier) -> None:
    X, truth, _ = make_clips(2, 20, seed=7, start=90)
    known = pd.Series(np.where(truth == truth.iloc[0], "pseudo00", None), index=X.index)
    found = fitted.predict(X, groups=known)
    assert (found[known.notna()] == "pseudo00").all()
    assert not (found[known.isna()] == "pseudo00").any()


def test_clips_lacking_a_modality_join_their_actor(fitted: ActorIdentifier) -> None:
    X, truth, _ = make_clips(3, 24, seed=8, start=40)
    lacking = np.zeros(len(X), dtype=bool)
    lacking[::6] = True
    X.loc[lacking, ["face__au0", "face__au1", "face__au2"]] = np.nan
    found = fitted.predict(X)
    assert adjusted_rand_score(truth, found) == pytest.approx(1.0)


def test_bad_input_is_refused(fitted: ActorIdentifier) -> None:
    X, groups, _ = make_clips(4, seed=9)
    with pytest.raises(ValueError, match="needs groups"):
        ActorIdentifier().fit(X)
    with pytest.raises(ValueError, match="no actor"):
        ActorIdentifier().fit(X, groups=groups.iloc[5:])
    with pytest.raises(ValueError, match="at least 3 actors"):
        ActorIdentifier().fit(X, groups=np.where(groups < "02", "a", "b"))
    with pytest.raises(ValueError, match="one actor per row"):
        fitted.predict(X, groups=["a", "b"])
    with pytest.raises(NotFittedError):
        ActorIdentifier().predict(X)


def test_pickled_identifier_predicts_the_same(fitted: ActorIdentifier) -> None:
    X, _, _ = make_clips(3, seed=11, start=30)
    pd.testing.assert_series_equal(pickle.loads(pickle.dumps(fitted)).predict(X),
                                   fitted.predict(X))


def test_fast_ari_matches_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        truth, labels = rng.integers(0, 4, 40), rng.integers(0, 3, 40)
        assert _ari(truth, labels) == pytest.approx(adjusted_rand_score(truth, labels))
    assert _ari(np.zeros(5), np.zeros(5)) == 1.0


def test_infer_actors_fits_on_reference() -> None:
    reference, groups, _ = make_clips(6, seed=12)
    X, truth, _ = make_clips(2, 20, seed=13, start=20)
    assert adjusted_rand_score(truth, infer_actors(X, reference, groups)) == pytest.approx(1.0)


class ZScoredLogisticRegression(BaseEstimator):
    """Per-actor z-scores and a logistic regression: a small classifier taking ``groups``."""

    def fit(self, X: pd.DataFrame, y: pd.Series, groups: pd.Series) -> ZScoredLogisticRegression:
        self.scaler_ = ActorStandardiser(method="zscore").fit(X, groups=groups)
        self.model_ = LogisticRegression().fit(self.scaler_.transform(X, groups=groups), y)
        return self

    def predict(self, X: pd.DataFrame, groups: pd.Series) -> np.ndarray:
        return self.model_.predict(self.scaler_.transform(X, groups=groups))


@pytest.fixture(scope="module")
def simulation() -> tuple[dict, pd.Series]:
    X, groups, emotion = make_clips(12, seed=14)
    y = emotion.astype(str)
    folds = [groups.unique()[i::3] for i in range(3)]
    fold_models = [(X.index[groups.isin(f)],
                    ZScoredLogisticRegression().fit(X[~groups.isin(f)], y[~groups.isin(f)],
                                                    groups[~groups.isin(f)])) for f in folds]
    return simulate_inference(ActorIdentifier(), X, groups, y=y, fold_models=fold_models), y


def test_simulation_reports_ari_and_uar_loss(simulation: tuple[dict, pd.Series]) -> None:
    result, _ = simulation
    assert json.loads(json.dumps(result)) == result
    assert result["n_actors"] == 12 and result["fold_size"] == 4
    assert sorted(result["sizes"]) == ["1", "2", "4"]
    singles = result["sizes"]["1"]
    assert singles["groups"] == 12 and singles["exact"] == 1.0
    for summary in result["sizes"].values():
        assert summary["ari"] > 0.7
        assert summary["uar_known"] > 0.5
        assert summary["uar_loss"] == pytest.approx(summary["uar_known"]
                                                    - summary["uar_hidden"])
        assert summary["uar_loss"] <= summary["worst_group_loss"] + 1e-12


def test_report_shows_the_simulation(simulation: tuple[dict, pd.Series], tmp_path) -> None:
    result, y = simulation
    proba = pd.get_dummies(y).astype(float)
    cv = score_probabilities({"fused": proba}, y, pd.Series("a", index=y.index))
    page = write_report(tmp_path, cv, timings={}, top_features={}, meta={},
                        actor_inference=result).read_text()
    assert "Actor inference" in page and "worst group" in page
    assert f"{result['sizes']['4']['ari']:.2f}" in page
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["actor_inference"] == result


def test_simulation_counts_a_missing_prediction_as_wrong() -> None:
    X, groups, emotion = make_clips(6, seed=15)
    y = emotion.astype(str)
    covered = groups.unique()[:2]  # no fold model for the other two actors
    model = ZScoredLogisticRegression().fit(X[~groups.isin(covered)], y[~groups.isin(covered)],
                                            groups[~groups.isin(covered)])
    result = simulate_inference(ActorIdentifier(), X, groups, y=y, sizes=(2,),
                                fold_models=[(X.index[groups.isin(covered)], model)])
    assert result["sizes"]["2"]["uar_hidden"] < 0.75


@pytest.mark.parametrize(("n_actors", "clips", "min_ari"), [(1, (15, 60), 1.0), (3, (15, 60), 0.5),
                                                           (30, (15, 16), 0.4)])
def test_one_to_thirty_unknown_actors_of_15_to_60_clips(fitted: ActorIdentifier, n_actors: int,
                                                        clips: tuple[int, int],
                                                        min_ari: float) -> None:
    rng = np.random.default_rng(n_actors)
    parts = [make_clips(1, int(rng.integers(*clips, endpoint=True)), seed=200 + a, start=a)
             for a in range(n_actors)]
    X, truth = pd.concat([p[0] for p in parts]), pd.concat([p[1] for p in parts])
    found = fitted.predict(X)
    assert found.index.equals(X.index) and not found.str.startswith("?").any()
    assert adjusted_rand_score(truth, found) >= min_ari
    assert (found.nunique() == 1) == (n_actors == 1)


def test_mixed_known_and_unknown_actors_of_a_larger_set(fitted: ActorIdentifier) -> None:
    X, truth, _ = make_clips(6, 40, seed=21, start=10)
    known = truth.where(truth.isin(["10", "11", "12"]))  # three known, three new actors
    found = fitted.predict(X, groups=known)
    assert (found[known.notna()] == known[known.notna()]).all()
    new = found[known.isna()]
    assert not new.isin(["10", "11", "12"]).any()
    assert adjusted_rand_score(truth[known.isna()], new) > 0.8
