"""End to end through the command line: synth -> extract -> fit -> predict -> submit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from emo.data.labels import CLASSES
from emo.submission import check


def emo(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "emo", *map(str, args)], capture_output=True,
                          text=True, timeout=900)


@pytest.fixture(scope="module")
def fitted(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("pipeline")
    cache, model = work / "cache", work / "model"
    first = emo("extract", tiny_dataset, "--cache", cache, "-j", "2")
    assert first.returncode == 0, first.stderr
    second = emo("--json", "extract", tiny_dataset, "--cache", cache)
    assert second.returncode == 0, second.stderr
    result = json.loads(second.stdout)
    assert result["computed"] == 0 and result["cached"] > 0
    fit = emo("fit", tiny_dataset, "--cache", cache, "-o", model, "--folds", "3")
    assert fit.returncode == 0, fit.stderr
    assert "fused" in fit.stdout
    return {"work": work, "cache": cache, "model": model, "data": tiny_dataset}


def test_fit_writes_bundle_metrics_and_report(fitted: dict[str, Path]) -> None:
    metrics = json.loads((fitted["model"] / "metrics.json").read_text())
    uar = metrics["uar"]
    assert set(uar) == {"audio", "face", "body", "fused"}
    assert all(isinstance(v, float) and 0 <= v <= 1 for v in uar.values())
    # Real signal: every modality far above chance (1/7) even on 3 actors.
    assert min(uar.values()) > 0.3
    assert uar["fused"] >= max(uar["audio"], uar["face"], uar["body"]) - 0.1
    assert (fitted["model"] / "report.html").is_file()
    bundle = json.loads((fitted["model"] / "bundle.json").read_text())
    assert set(bundle["classes"]) == set(CLASSES)


def test_predict_gives_every_clip_and_column(fitted: dict[str, Path]) -> None:
    out = fitted["work"] / "pred.csv"
    run = emo("predict", fitted["model"], fitted["data"], "--cache", fitted["cache"], "-o", out)
    assert run.returncode == 0, run.stderr
    frame = pd.read_csv(out)
    n_descriptors = len(list((fitted["data"] / "descriptors").glob("*.txt")))
    assert len(frame) == n_descriptors
    assert {"id", "pred", "pred_audio", "pred_face", "pred_body"} <= set(frame.columns)
    proba = frame[[f"proba_{c}" for c in CLASSES]]
    assert (proba.sum(axis=1) - 1).abs().max() < 1e-6
    assert set(frame["pred"]) <= set(CLASSES)
    # Held-out test actor: predictions carry signal.
    truth = pd.read_csv(fitted["data"] / "labels_test.csv").set_index("id")["label"]
    test = frame.set_index("id").loc[truth.index, "pred"]
    assert (test == truth).mean() > 2 / 7


@pytest.mark.parametrize("phase", ["test", "valid"])
def test_submit_writes_a_valid_zip(fitted: dict[str, Path], phase: str) -> None:
    out = fitted["work"] / f"{phase}.zip"
    run = emo("submit", fitted["model"], fitted["data"], "--phase", phase, "--cache",
              fitted["cache"], "-o", out)
    assert run.returncode == 0, run.stderr
    answers = check(out, phase=phase)
    names = {p.stem for p in (fitted["data"] / "descriptors").glob("*.txt")}
    if phase == "test":
        names = {n for n in names if n.startswith("frames_TEST")}
    assert set(answers) == names
    again = emo("submit", "--check", out)
    assert again.returncode == 0 and "valid" in again.stdout


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    missing = emo("extract", tmp_path / "nope")
    assert missing.returncode == 2 and "nope: no such file or folder" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad_modality = emo("extract", tmp_path, "--modality", "smell")
    assert bad_modality.returncode == 2


def test_evaluate_report_and_factsheet_on_the_held_out_actor(fitted: dict[str, Path]) -> None:
    from dataclasses import replace

    from emo.data.clip import write_manifest
    from emo.data.layouts import load_clips

    truth = pd.read_csv(fitted["data"] / "labels_test.csv").set_index("id")
    held_out = [replace(c, label=truth.at[c.id, "label"], actor=truth.at[c.id, "actor"])
                for c in load_clips(fitted["data"]) if c.id in truth.index]
    manifest = write_manifest(held_out, fitted["work"] / "held_out.csv")
    out = fitted["work"] / "evaluation"
    run = emo("evaluate", fitted["model"], manifest, "--cache", fitted["cache"], "-o", out)
    assert run.returncode == 0, run.stderr
    summary = json.loads((out / "evaluation.json").read_text())
    assert summary["n_clips"] == len(held_out) and summary["n_actors"] == 1
    assert summary["uar"]["fused"] > 2 / 7
    assert (out / "report.html").is_file() and (out / "confusion_fused.png").is_file()
    shown = emo("report", fitted["model"])
    assert shown.returncode == 0 and "fused" in shown.stdout
    sheet = emo("factsheet", fitted["model"], "-o", fitted["work"] / "factsheet.md")
    assert sheet.returncode == 0
    assert "UAR" in (fitted["work"] / "factsheet.md").read_text()
