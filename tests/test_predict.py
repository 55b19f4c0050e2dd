"""One prediction, computed once: :func:`emo.api.predict` runs each base model of the bundle
once per clip and reports the group each clip was normalised with."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from emo import api
from tests._serving import SPEAKERS, tone_dataset, wav


def _count_calls(estimator: Any, counts: Counter[str], name: str) -> None:
    """Count ``estimator.predict_proba`` calls in ``counts[name]`` (the real method runs)."""
    real = estimator.predict_proba

    def counted(*args: Any, **kwargs: Any) -> Any:
        counts[name] += 1
        return real(*args, **kwargs)

    estimator.predict_proba = counted


def test_one_clip_runs_each_base_model_once(tone_model: Path, tmp_path: Path) -> None:
    bundle = api.load_model(tone_model)
    counts: Counter[str] = Counter()
    for modality, estimator in bundle.fusion.estimators_.items():
        _count_calls(estimator, counts, modality)
    clip = wav(tmp_path / "clip.wav", 1.0, 170.0)
    prediction = api.predict(bundle, [clip], cache=tmp_path / "cache")
    assert counts == Counter(dict.fromkeys(bundle.modalities, 1))
    row = prediction.frame.iloc[0]
    assert row["pred"] == prediction.probabilities["fused"].loc["clip"].idxmax()
    assert row["pred_audio"] == prediction.probabilities["audio"].loc["clip"].idxmax()


def test_prediction_frame_names_each_clips_group(tone_model: Path, tmp_path: Path) -> None:
    clips = [wav(tmp_path / f"c{i}.wav", 1.0, 120.0 + 20 * i, seed=i) for i in range(3)]
    prediction = api.predict(tone_model, clips, cache=tmp_path / "cache")
    frame = prediction.frame
    assert list(frame.columns[:2]) == ["id", "group"]
    assert list(frame["group"]) == list(prediction.groups.loc[frame["id"]])
    assert frame["group"].notna().all()


def test_evaluate_with_actors_hidden_reports_how_they_were_grouped(tone_model: Path,
                                                                  tmp_path: Path) -> None:
    data = tone_dataset(tmp_path / "held")
    summary = api.evaluate(tone_model, data, out=tmp_path / "evaluation", cache=tmp_path / "cache",
                           speaker_pattern=SPEAKERS, hide_actors=True)
    grouping = summary["grouping"]
    assert sum(g["clips"] for g in grouping.values()) == summary["n_clips"]
    assert {a for g in grouping.values() for a in g["actors"]} == {"A0", "A1", "A2"}
    assert set(summary["uar_actors"]["fused"]) == {"A0", "A1", "A2"}
    known = api.evaluate(tone_model, data, out=tmp_path / "known", cache=tmp_path / "cache",
                         speaker_pattern=SPEAKERS)
    assert known["grouping"] is None
    saved = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    assert saved["grouping"] == grouping


def test_metrics_json_holds_the_uar_of_each_training_actor(tone_model: Path) -> None:
    metrics = json.loads((tone_model / "metrics.json").read_text())
    assert set(metrics["uar_actors"]) == set(metrics["uar"])
    per_actor = metrics["uar_actors"]["fused"]
    assert set(per_actor) == {"A0", "A1", "A2"}
    assert all(0.0 <= v <= 1.0 for v in per_actor.values())
