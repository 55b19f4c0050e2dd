"""What the service answers, without starting it: the OpenAPI schema of its answers, and the
work of one windowed ``POST /predict`` (one extraction pass over the upload, its duration
read once, one prediction), run in this process as a worker runs it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from emo import api, serve
from emo.features import extract
from tests._serving import wav


def test_openapi_documents_the_answers_of_predict_and_extract() -> None:
    spec = serve.create_app(None, cache="cache").openapi()
    schemas = spec["components"]["schemas"]
    for path, name in (("/predict", "PredictAnswer"), ("/extract", "ExtractAnswer")):
        content = spec["paths"][path]["post"]["responses"]["200"]["content"]
        assert content["application/json"]["schema"] == {"$ref": f"#/components/schemas/{name}"}
    predict = schemas["PredictAnswer"]
    assert {"class", "group", "fused", "modalities", "windows"} <= set(predict["properties"])
    assert predict["properties"]["group"]["description"]
    assert "features" in schemas["ExtractAnswer"]["required"]


def _counting(monkeypatch: pytest.MonkeyPatch, module: Any, name: str,
              counts: Counter[str]) -> None:
    """Count calls of ``module.name`` (the real function runs)."""
    real = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        counts[name] += 1
        if name == "jobs":
            counts["stream jobs"] += len(result)
        return result

    monkeypatch.setattr(module, name, counted)


def test_a_windowed_predict_reads_the_upload_in_one_pass(tone_model: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    folder = tmp_path / "upload"
    media = wav(folder / "talk.wav", 5.0, 150.0, seed=11)
    job = serve._Job(serve._Upload(folder, media, None), tmp_path / "cache", window=2.0,
                     hop=1.0, duration=api.media_duration(media))
    counts: Counter[str] = Counter()
    for module, name in ((api, "run"), (extract, "jobs"), (api, "media_duration")):
        _counting(monkeypatch, module, name, counts)
    answer = serve._predict_job(job, tone_model)
    # one extraction of one job per stream (audio), no second header read in the worker
    assert counts == Counter({"run": 1, "jobs": 1, "stream jobs": 1})
    checked = serve.PredictAnswer(**answer, duration=5.0)
    assert [(w.start, w.end) for w in checked.windows] == api.window_bounds(5.0, 2.0, 1.0)
    assert checked.class_ == max(checked.fused, key=checked.fused.get)
    expected = api.predict_windows(tone_model, media, window=2.0, hop=1.0, whole=True,
                                   cache=tmp_path / "cache")
    fused = expected.probabilities["fused"]
    assert [w.class_ for w in checked.windows] == [fused.loc[w.id].idxmax()
                                                  for w in checked.windows]
    assert checked.group == expected.groups.loc["talk"]
