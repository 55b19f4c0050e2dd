"""HTML/JSON report and FactSheet draft from a small synthetic cross-validation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emo.factsheet import write_factsheet
from emo.models import Bundle, ModalityClassifier, StackingFusion, cross_validate
from emo.report import write_report

CLASSES = ["An", "Di", "Fe", "Ha", "Ne", "Sa", "Su"]


@pytest.fixture(scope="module")
def fitted() -> tuple:
    rng = np.random.default_rng(0)
    ids = [f"c{i:02d}" for i in range(56)]
    y = pd.Series(np.tile(CLASSES, 8), index=ids)
    groups = pd.Series(np.repeat(["a", "b", "c", "d"], 14), index=ids)
    codes = y.map(CLASSES.index).to_numpy()[:, None]
    X = pd.concat([pd.DataFrame(rng.normal(size=(56, 3)) + codes * [1, 0, k], index=ids,
                                columns=[f"{m}__f{j}" for j in range(3)])
                   for k, m in enumerate(["audio", "face"])], axis=1)
    fusion = StackingFusion(ModalityClassifier(n_estimators=10), meta="average")
    cv = cross_validate(fusion, X, y, groups, n_splits=2)
    return cv, fusion.fit(X, y, groups=groups)


def test_report_files_written(fitted, tmp_path: Path) -> None:
    cv, fusion = fitted
    top = {m: est.feature_importances_.head(5) for m, est in fusion.estimators_.items()}
    page = write_report(tmp_path, cv, timings={"cross_validate": 1.5, "fit": 0.4},
                        top_features=top, meta={"extractors": {"audio": "egemaps"}})
    text = page.read_text()
    assert page.name == "report.html"
    assert text.count("data:image/png;base64,") == 3
    assert "fused" in text and "audio__f0" in text and "cross_validate" in text
    for name in ("audio", "face", "fused"):
        assert (tmp_path / f"confusion_{name}.png").read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((tmp_path / "report.json").read_text())
    assert summary["uar"]["fused"] == pytest.approx(cv.uar["fused"])
    assert summary["timings"]["fit"] == 0.4


def test_factsheet_from_bundle(fitted, tmp_path: Path) -> None:
    cv, fusion = fitted
    config = {"estimator": "lightgbm", "meta": "average", "n_splits": 2}
    Bundle(fusion, config=config, scores={**cv.to_dict(), "timings": {"fit": 2.0}}).save(
        tmp_path / "model")
    sheet = write_factsheet(tmp_path / "model", tmp_path / "FACTSHEET.md").read_text()
    assert "| fused |" in sheet and "| fit | 2.0 |" in sheet
    assert "gradient-boosted trees (lightgbm)" in sheet and "meta-learner `average`" in sheet


def test_uar_per_actor_matches_each_actors_out_of_fold_predictions(fitted,
                                                                   tmp_path: Path) -> None:
    cv, fusion = fitted
    ids = [f"c{i:02d}" for i in range(56)]
    groups = pd.Series(np.repeat(["a", "b", "c", "d"], 14), index=ids)
    truth = pd.Series(np.tile(CLASSES, 8), index=ids)
    pred = cv.oof_proba["fused"].idxmax(axis=1)
    for actor in "abcd":
        mine = groups.index[groups == actor]
        recall = [(pred[mine][truth[mine] == c] == c).mean() for c in truth[mine].unique()]
        assert cv.uar_actors["fused"][actor] == pytest.approx(np.mean(recall))
    assert set(cv.uar_actors) == {"audio", "face", "fused"}
    grouping = {"pseudo00": {"clips": 14, "actors": {"a": 14}}}
    page = write_report(tmp_path, cv, timings={}, top_features={}, meta={},
                        grouping=grouping).read_text()
    assert "UAR per actor" in page and f"{cv.uar_actors['fused']['c']:.1%}" in page
    assert "How the clips were grouped" in page and "a (14)" in page
    summary = json.loads((tmp_path / "report.json").read_text())
    assert summary["uar_actors"]["fused"]["d"] == pytest.approx(cv.uar_actors["fused"]["d"])
    assert summary["grouping"] == grouping
