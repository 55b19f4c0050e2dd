"""The command line as a user runs it (``python -m emo``): exit codes, one-line errors,
settings from fit.toml and flags, unreadable media in every predicting command, windowed
prediction, and the options every data command shares.

The model is the session's ``tone_model``, fitted on tones by :func:`emo.api.fit` (see
:mod:`tests._serving`).
"""

from __future__ import annotations

import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pandas as pd
import pydantic
import pytest
import typer

from emo import api
from emo.cli import app
from emo.data.labels import CLASSES
from tests._serving import SPEAKERS, mp4, noise, run_emo, tone_dataset, wav

#: Commands that read DATA, and those that pick extractors (the others use the model's).
DATA_COMMANDS = ("index", "extract", "features", "fit", "predict", "evaluate", "submit",
                 "audit")
EXTRACTING = ("extract", "features", "fit")


def _one_error_line(run: subprocess.CompletedProcess[str]) -> str:
    """The run's only stderr line (no traceback, no other noise)."""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    return lines[0]


def _params(command: str) -> dict[str, Any]:
    group = typer.main.get_command(app)
    return {p.name: p for p in group.commands[command].params}


def test_usage_and_configuration_errors_exit_2_in_one_line(tmp_path: Path) -> None:
    missing = run_emo("extract", tmp_path / "nope")
    assert missing.returncode == 2 and "nope: no such file or folder" in _one_error_line(missing)
    smell = run_emo("extract", tmp_path, "--modality", "smell")
    assert smell.returncode == 2 and "unknown modality smell" in _one_error_line(smell)
    flag = run_emo("fit", tmp_path, "--meta", "nope")
    assert flag.returncode == 2
    assert "'logreg', 'gbm' or 'average' (got 'nope')" in _one_error_line(flag)
    limit = run_emo("serve", "--workers", "0")
    assert limit.returncode == 2 and "workers" in _one_error_line(limit)


@pytest.mark.parametrize(("toml", "expected"), [
    ('estimator = "nope"\n', "fit.toml: estimator: Input should be 'blend', 'ensemble', "
                             "'linear', 'lightgbm' or 'xgboost' (got 'nope')"),
    ('backend = "nope"\n', "fit.toml: backend: unknown key (known: "),
    ("n_splits = 3\ncolour = 1\n", "fit.toml: colour: unknown key"),
    ('[extractors.audio]\nname = "mfcc"\n', "fit.toml: extractors: audio: unknown audio "
                                              "extractor 'mfcc'; known: "),
])
def test_bad_fit_toml_exits_2_before_any_extraction(tmp_path: Path, toml: str,
                                                    expected: str) -> None:
    data = tone_dataset(tmp_path / "data")
    (tmp_path / "fit.toml").write_text(toml)
    run = run_emo("fit", data, "--config", "fit.toml", "--cache", "cache", "-o", "model",
              "--speaker-pattern", SPEAKERS, cwd=tmp_path)
    assert run.returncode == 2
    assert _one_error_line(run).startswith(f"error: {expected}")
    assert not (tmp_path / "cache").exists() and not (tmp_path / "model").exists()


def test_flags_win_over_the_config_file(tmp_path: Path) -> None:
    data = tone_dataset(tmp_path / "data")
    (tmp_path / "fit.toml").write_text('loso = true\nn_splits = 2\nseed = 1\nmeta = "average"\n'
                                       "[model]\nn_estimators = 20\n"
                                       "[extractors.face]\nfps = 5\nmax_faces = 1\n")
    run = run_emo("fit", data, "--config", "fit.toml", "--no-loso", "--folds", "3", "--seed", "7",
              "--face-fps", "10", "--cache", "cache", "-o", "model", "--speaker-pattern",
              SPEAKERS, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    config = api.model_summary(tmp_path / "model")["config"]
    assert (config["loso"], config["n_splits"], config["seed"]) == (False, 3, 7)
    assert config["meta"] == "average" and config["model"] == {"n_estimators": 20}
    assert config["extractors"]["face"] == {"fps": 10, "max_faces": 1}


def test_predict_names_an_unreadable_file_and_writes_the_others(tone_model: Path,
                                                                tmp_path: Path) -> None:
    broken = noise(tmp_path / "broken.flac")
    alone = run_emo("predict", tone_model, broken, "-o", "alone.csv", "--cache", "cache",
                    cwd=tmp_path)
    assert alone.returncode == 1 and "Traceback" not in alone.stderr
    assert "broken.flac" in alone.stderr and "broken [audio]:" in alone.stderr
    assert pd.read_csv(tmp_path / "alone.csv").empty
    good = wav(tmp_path / "good.wav", 1.5, 170.0)
    both = run_emo("predict", tone_model, good, broken, "-o", "both.csv", "--cache", "cache",
               cwd=tmp_path)
    assert both.returncode == 1 and "broken.flac" in both.stderr
    frame = pd.read_csv(tmp_path / "both.csv")
    assert list(frame["id"]) == ["good"] and frame["pred"].iloc[0] in CLASSES
    again = run_emo("predict", tone_model, good, "-o", "good.csv", "--cache", "cache", cwd=tmp_path)
    assert again.returncode == 0 and again.stderr == ""


def test_predict_of_one_clip_prints_it_and_never_replaces_a_file(tone_model: Path,
                                                                 tmp_path: Path) -> None:
    clip = wav(tmp_path / "clip.wav", 1.0, 170.0)
    (tmp_path / "predictions.csv").write_text("mine\n")
    one = run_emo("predict", tone_model, clip, "--cache", "cache", cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    expected = api.predict(tone_model, [clip], cache=tmp_path / "cache").frame.iloc[0]
    assert one.stdout.strip().startswith(f"clip: {expected['pred']}  (")
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == ["predictions.csv"]
    other = wav(tmp_path / "other.wav", 1.0, 130.0)
    several = run_emo("predict", tone_model, clip, other, "--cache", "cache", cwd=tmp_path)
    assert several.returncode == 0 and "predictions-1.csv" in several.stdout
    assert (tmp_path / "predictions.csv").read_text() == "mine\n"
    assert list(pd.read_csv(tmp_path / "predictions-1.csv")["id"]) == ["clip", "other"]


def test_evaluate_names_unreadable_clips(tone_model: Path, tmp_path: Path) -> None:
    tone_dataset(tmp_path / "held")
    noise(tmp_path / "held" / "broken.wav")
    rows = ["id,actor,label,audio", "broken,A9,An,held/broken.wav"]
    rows += [f"{p.stem},{p.stem[:2]},{p.parent.name},{p.relative_to(tmp_path)}"
             for p in sorted((tmp_path / "held").glob("*/*.wav"))]
    (tmp_path / "held.csv").write_text("\n".join(rows) + "\n")
    run = run_emo("evaluate", tone_model, "held.csv", "-o", "evaluation", "--cache", "cache",
              cwd=tmp_path)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "broken [audio]:" in run.stderr and "broken.wav" in run.stderr
    assert (tmp_path / "evaluation" / "evaluation.json").is_file()


def test_submit_answers_unreadable_descriptors_and_names_them(tone_model: Path,
                                                              tmp_path: Path) -> None:
    data = api.synthesise(tmp_path / "data", actors=1, takes=1, test_actors=1)
    video = sorted((data / "videos").glob("*.MP4"))[0]
    noise(video, video.stat().st_size)
    run = run_emo("submit", tone_model, data, "--phase", "valid", "-o", "valid.zip", "--cache",
                  "cache", cwd=tmp_path)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert video.name in run.stderr
    answers = api.check_submission(tmp_path / "valid.zip", phase="valid")
    assert set(answers) == {p.stem for p in (data / "descriptors").glob("*.txt")}


def test_predict_in_windows(tone_model: Path, tmp_path: Path) -> None:
    long = wav(tmp_path / "long.wav", 5.0, 150.0, seed=3)
    run = run_emo("predict", tone_model, long, "--window", "2", "--hop", "1", "-o", "w.csv",
                  "--cache", "cache", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    frame = pd.read_csv(tmp_path / "w.csv")
    assert list(frame.columns) == ["id", "start", "end", "group", "pred_audio", "pred",
                                   *(f"proba_{c}" for c in CLASSES)]
    assert list(zip(frame["start"], frame["end"], strict=True)) == api.window_bounds(5, 2, 1)
    expected = api.predict_windows(tone_model, long, window=2, hop=1, cache=tmp_path / "cache")
    pd.testing.assert_frame_equal(frame, expected.frame, check_dtype=False)
    noise(tmp_path / "broken.wav")
    mixed = run_emo("predict", tone_model, long, "broken.wav", "--window", "2", "-o", "m.csv",
                "--cache", "cache", cwd=tmp_path)
    assert mixed.returncode == 1 and "broken.wav" in mixed.stderr
    assert "Traceback" not in mixed.stderr
    assert list(pd.read_csv(tmp_path / "m.csv")["start"]) == [0.0, 2.0]
    folder = run_emo("predict", tone_model, tmp_path, "--window", "2", cwd=tmp_path)
    assert folder.returncode == 2 and "--window" in _one_error_line(folder)


def test_extract_takes_loose_media_files(tmp_path: Path) -> None:
    clips = [wav(tmp_path / "a.wav"), mp4(tmp_path / "b.mp4")]
    run = run_emo("--json", "extract", *clips, "--modality", "audio", "--cache", "cache",
              cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert '"computed": 2' in run.stdout
    (tmp_path / "k.txt").write_text("")
    skeleton = run_emo("extract", *clips, "--skeleton", "k.txt", cwd=tmp_path)
    assert skeleton.returncode == 2 and "exactly one" in _one_error_line(skeleton)


def test_every_data_command_shares_one_set_of_data_options() -> None:
    reference = _params("extract")
    for command in DATA_COMMANDS:
        params = _params(command)
        for name in ("data", "labels", "speaker_pattern"):
            assert params[name].help == reference[name].help, (command, name)
        fps = {"face_fps", "pose_fps", "body_source", "modality"} & set(params)
        assert fps == ({"face_fps", "pose_fps", "body_source", "modality"}
                       if command in EXTRACTING else set()), command
    for command in ("index", "extract", "features", "predict"):
        assert _params(command)["skeleton"].opts == ["--skeleton"]
    assert _params("fit")["loso"].secondary_opts == ["--no-loso"]
    assert _params("fit")["infer_actors"].secondary_opts == ["--no-infer-actors"]


def test_speaker_pattern_reaches_the_api(tmp_path: Path) -> None:
    data = tone_dataset(tmp_path / "data")
    run = run_emo("index", data, "--speaker-pattern", SPEAKERS, "-o", "m.csv", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert set(pd.read_csv(tmp_path / "m.csv")["actor"]) == {"A0", "A1", "A2"}


def test_an_unexpected_error_is_one_line_and_v_shows_the_traceback(tmp_path: Path) -> None:
    code = ("import sys; from emo import api, cli\n"
            "def boom(cache): raise RuntimeError('boom')\n"
            "api.cache_info = boom; sys.argv = ['emo', *sys.argv[1:], 'cache', 'info']\n"
            "cli.main()")
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert quiet.returncode == 1
    assert _one_error_line(quiet).startswith("internal error: RuntimeError: boom")
    verbose = subprocess.run([sys.executable, "-c", code, "-v"], capture_output=True, text=True)
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr


def test_help_states_the_exit_codes() -> None:
    run = run_emo("--help")
    assert run.returncode == 0
    assert "Exit codes: 0 every clip" in " ".join(run.stdout.split())


def _words(text: str) -> str:
    """Text with its line breaks undone (help wraps lines, also after a hyphen)."""
    return " ".join(text.split()).replace("- ", "-")


@pytest.mark.parametrize(("command", "settings"), [("fit", "FitConfig"),
                                                   ("serve", "ServeLimits")])
def test_help_shows_every_scalar_setting_with_its_description(command: str,
                                                              settings: str) -> None:
    """Adding an option is one field in emo/settings.py: the help is made from the fields."""
    model = getattr(api, settings)
    options = api.cli_options(model)
    scalar = [name for name, info in model.model_fields.items()
              if info.annotation in (bool, int, float)
              or typing.get_origin(info.annotation) is typing.Literal]
    assert [o.field for o in options] == scalar and scalar
    shown = _words(run_emo(command, "--help").stdout)
    for option in options:
        assert f"--{option.flag}" in shown
        assert _words(model.model_fields[option.field].description) in shown, option.field
    params = _params(command)
    assert {o.field for o in options} <= set(params)


def test_a_new_settings_field_becomes_an_option() -> None:
    class Extended(api.FitConfig):
        shrink: float = pydantic.Field(0.5, description="How much to shrink the moon.")

    (option,) = [o for o in api.cli_options(Extended) if o.field == "shrink"]
    assert (option.flag, option.kind) == ("shrink", float)
    assert option.help == "How much to shrink the moon. (default: 0.5)"


def test_importing_the_command_line_loads_no_settings_or_models() -> None:
    code = ("import sys, emo.cli; print(sorted(m for m in ('pydantic', 'sklearn', 'emo.settings',"
            " 'emo.models.fusion') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.stdout.strip() == "[]", run.stderr


def test_report_prints_the_uar_of_each_actor(tone_model: Path) -> None:
    run = run_emo("report", tone_model)
    assert run.returncode == 0, run.stderr
    per_actor = api.model_summary(tone_model)["uar_actors"]["fused"]
    assert f"fused, per actor: A0 {per_actor['A0'] * 100:.1f}%" in run.stdout
