"""End to end through the command line: synth -> extract -> fit (the session's
``tiny_model``, see conftest) -> predict -> submit."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from emo.data.labels import CLASSES
from emo.submission import check
from tests._serving import run_emo


def test_fit_writes_bundle_metrics_and_report(tiny_model: dict[str, Path]) -> None:
    metrics = json.loads((tiny_model["model"] / "metrics.json").read_text())
    uar = metrics["uar"]
    assert set(uar) == {"audio", "face", "body", "fused"}
    assert all(isinstance(v, float) and 0 <= v <= 1 for v in uar.values())
    # Real signal: every modality far above chance (1/7) even on 3 actors.
    assert min(uar.values()) > 0.3
    assert uar["fused"] >= max(uar["audio"], uar["face"], uar["body"]) - 0.1
    assert (tiny_model["model"] / "report.html").is_file()
    bundle = json.loads((tiny_model["model"] / "bundle.json").read_text())
    assert set(bundle["classes"]) == set(CLASSES)


def test_predict_gives_every_clip_and_column(tiny_model: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "pred.csv"
    run = run_emo("predict", tiny_model["model"], tiny_model["data"], "--cache",
                  tiny_model["cache"], "-o", out)
    assert run.returncode == 0, run.stderr
    frame = pd.read_csv(out)
    n_descriptors = len(list((tiny_model["data"] / "descriptors").glob("*.txt")))
    assert len(frame) == n_descriptors
    assert {"id", "pred", "pred_audio", "pred_face", "pred_body"} <= set(frame.columns)
    proba = frame[[f"proba_{c}" for c in CLASSES]]
    assert (proba.sum(axis=1) - 1).abs().max() < 1e-6
    assert set(frame["pred"]) <= set(CLASSES)
    # Held-out test actor: predictions carry signal.
    truth = pd.read_csv(tiny_model["data"] / "labels_test.csv").set_index("id")["label"]
    test = frame.set_index("id").loc[truth.index, "pred"]
    assert (test == truth).mean() > 2 / 7


@pytest.mark.parametrize("phase", ["test", "valid"])
def test_submit_writes_a_valid_zip(tiny_model: dict[str, Path], phase: str,
                                   tmp_path: Path) -> None:
    out = tmp_path / f"{phase}.zip"
    run = run_emo("submit", tiny_model["model"], tiny_model["data"], "--phase", phase, "--cache",
              tiny_model["cache"], "-o", out)
    assert run.returncode == 0, run.stderr
    answers = check(out, phase=phase)
    names = {p.stem for p in (tiny_model["data"] / "descriptors").glob("*.txt")}
    if phase == "test":
        names = {n for n in names if n.startswith("frames_TEST")}
    assert set(answers) == names
    again = run_emo("submit", "--check", out)
    assert again.returncode == 0 and "valid" in again.stdout


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    missing = run_emo("extract", tmp_path / "nope")
    assert missing.returncode == 2 and "nope: no such file or folder" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad_modality = run_emo("extract", tmp_path, "--modality", "smell")
    assert bad_modality.returncode == 2


def test_evaluate_report_and_factsheet_on_the_held_out_actor(tiny_model: dict[str, Path],
                                                            tmp_path: Path) -> None:
    from dataclasses import replace

    from emo.data.clip import write_manifest
    from emo.data.layouts import load_clips

    truth = pd.read_csv(tiny_model["data"] / "labels_test.csv").set_index("id")
    held_out = [replace(c, label=truth.at[c.id, "label"], actor=truth.at[c.id, "actor"])
                for c in load_clips(tiny_model["data"]) if c.id in truth.index]
    manifest = write_manifest(held_out, tmp_path / "held_out.csv")
    out = tmp_path / "evaluation"
    run = run_emo("evaluate", tiny_model["model"], manifest, "--cache", tiny_model["cache"],
                  "-o", out)
    assert run.returncode == 0, run.stderr
    summary = json.loads((out / "evaluation.json").read_text())
    assert summary["n_clips"] == len(held_out) and summary["n_actors"] == 1
    assert summary["uar"]["fused"] > 2 / 7
    assert (out / "report.html").is_file() and (out / "confusion_fused.png").is_file()
    shown = run_emo("report", tiny_model["model"])
    assert shown.returncode == 0 and "fused" in shown.stdout
    sheet = run_emo("factsheet", tiny_model["model"], "-o", tmp_path / "factsheet.md")
    assert sheet.returncode == 0
    assert "UAR" in (tmp_path / "factsheet.md").read_text()
