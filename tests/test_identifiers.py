"""Ids, actors and labels stay as written from import to fit, predict and submit.

The organisers' flow on small synthetic tables: ``emo import`` of a face table whose
actors are zero-padded (``01``) or look like numbers, booleans or missing values to
pandas (``1``, ``NA``, ``007``), ``emo fit`` on an audio manifest joined with the
imported face manifest, then ``emo predict`` and ``emo submit`` on test tables without
a label column, with the actors known and with the actor column empty.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from emo import api
from emo.data.labels import CLASSES
from emo.submission import check

ACTORS = ("01", "1", "NA", "007")
TEST_ACTOR = "05"
#: Training ids pandas would read as numbers, booleans or missing values.
TRAIN_IDS = ("007", "1e3", "True", "None", "0.0")
TEST_IDS = ("frames_TEST007", "frames_TEST7", "NA", "nan", "N/A", "-0", "1.50")
RATE = 16000


@dataclass(frozen=True)
class Corpus:
    """Paths of the synthetic corpus: audio manifests and face tables."""

    root: Path
    cache: Path
    truth: dict[str, str]

    def __getitem__(self, name: str) -> Path:
        return self.root / name


def _tone(rng: np.random.Generator, cls: int, actor: int) -> np.ndarray:
    t = np.arange(int(0.5 * RATE)) / RATE
    f0 = 110.0 + 35.0 * cls + 6.0 * actor
    vibrato = 1 + 0.05 * cls * np.sin(2 * np.pi * (2 + cls) * t)
    return (0.2 + 0.05 * cls) * np.sin(2 * np.pi * f0 * vibrato * t) + 0.01 * rng.standard_normal(
        t.size)


def _write(root: Path, name: str, rows: list[dict[str, str]], drop: tuple[str, ...] = ()) -> None:
    columns = [c for c in rows[0] if c not in drop]
    with (root / name).open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    root = tmp_path_factory.mktemp("identifiers")
    rng = np.random.default_rng(7)
    plan = [(a, c) for a in ACTORS for c in CLASSES]
    train_ids = [*TRAIN_IDS, *(f"t{n:02d}" for n in range(len(TRAIN_IDS), len(plan)))]
    sets = {"train": list(zip(train_ids, plan, strict=True)),
            "test": [(i, (TEST_ACTOR, c)) for i, c in zip(TEST_IDS, CLASSES, strict=True)]}
    truth = {}
    for part, items in sets.items():
        audio, face = [], []
        for n, (clip_id, (actor, label)) in enumerate(items):
            k = CLASSES.index(label)
            wav = root / "wav" / f"{part}{n}.wav"
            wav.parent.mkdir(exist_ok=True)
            sf.write(wav, _tone(rng, k, ACTORS.index(actor) if actor in ACTORS else 4), RATE)
            audio.append({"id": clip_id, "actor": actor, "label": label, "audio": str(wav)})
            aus = {f"AU{j:02d}": f"{3.0 * (j == k) + 0.3 * rng.standard_normal():.4f}"
                   for j in range(len(CLASSES))}
            face.append({"id": clip_id, "actor": actor, "label": label, **aus,
                         "gender": "F" if n % 2 else "M"})
            truth[clip_id] = label
        if part == "train":
            _write(root, "train_audio.csv", audio)
            _write(root, "train_face.csv", face)
        else:  # test manifests leave the label empty, test tables have no label column
            audio = [{**row, "label": ""} for row in audio]
            _write(root, "test_audio.csv", audio)
            _write(root, "test_face.csv", face, drop=("label",))
            _write(root, "hidden_audio.csv", [{**row, "actor": ""} for row in audio])
            _write(root, "hidden_face.csv", [{**row, "actor": ""} for row in face],
                   drop=("label",))
    return Corpus(root, root / "cache", truth)


def emo(*args: str | Path) -> subprocess.CompletedProcess[str]:
    run = subprocess.run([sys.executable, "-m", "emo", *map(str, args)], capture_output=True,
                         text=True, timeout=900)
    assert run.returncode == 0, f"emo {' '.join(map(str, args))}:\n{run.stdout}\n{run.stderr}"
    return run


def _manifest(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return [(row["id"], row["actor"]) for row in csv.DictReader(f)]


def _read_predictions(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _check_predictions(frame: pd.DataFrame, truth: dict[str, str]) -> None:
    assert sorted(frame["id"]) == sorted(TEST_IDS)
    right = sum(truth[i] == p for i, p in zip(frame["id"], frame["pred"], strict=True))
    assert right >= 5, frame[["id", "pred"]]  # each prediction is its own clip's


def test_import_fit_predict_submit_through_the_command_line(corpus: Corpus) -> None:
    cache = corpus.cache
    imported = emo("import", corpus["train_face.csv"], "--modality", "face", "--cache", cache,
                   "-o", corpus["M.csv"])
    assert "gender" in imported.stderr  # the text column is dropped, and said so
    assert _manifest(corpus["M.csv"])[:5] == [(i, "01") for i in TRAIN_IDS]
    assert {actor for _, actor in _manifest(corpus["M.csv"])} == set(ACTORS)
    emo("fit", corpus["train_audio.csv"], corpus["M.csv"], "--cache", cache,
        "-o", corpus["model"])
    for part in ("test", "hidden"):
        emo("import", corpus[f"{part}_face.csv"], "--modality", "face", "--cache", cache,
            "-o", corpus[f"{part}_M.csv"])
        expected = "" if part == "hidden" else TEST_ACTOR
        assert _manifest(corpus[f"{part}_M.csv"]) == [(i, expected) for i in TEST_IDS]
        out = corpus[f"{part}_P.csv"]
        emo("predict", corpus["model"], corpus[f"{part}_audio.csv"], corpus[f"{part}_M.csv"],
            "--cache", cache, "-o", out)
        _check_predictions(_read_predictions(out), corpus.truth)
    emo("submit", corpus["model"], corpus["test_audio.csv"], corpus["test_M.csv"], "--phase",
        "test", "--cache", cache, "-o", corpus["test.zip"])
    answers = check(corpus["test.zip"], phase="test")
    assert sorted(answers) == ["frames_TEST007", "frames_TEST7"]


def test_import_fit_predict_through_the_api(corpus: Corpus, tmp_path: Path) -> None:
    cache = corpus.cache
    clips = api.import_table(corpus["train_face.csv"], modality="face", cache=cache,
                             out=tmp_path / "M.csv")
    assert [(c.id, c.actor) for c in clips[:5]] == [(i, "01") for i in TRAIN_IDS]
    table = api.feature_table([corpus["train_audio.csv"], tmp_path / "M.csv"], cache=cache)
    assert set(table["actor"]) == set(ACTORS) and len(table) == len(ACTORS) * len(CLASSES)
    api.fit([corpus["train_audio.csv"], tmp_path / "M.csv"], out=tmp_path / "model",
            cache=cache)
    api.import_table(corpus["hidden_face.csv"], modality="face", cache=cache,
                     out=tmp_path / "hidden_M.csv")
    prediction = api.predict(tmp_path / "model",
                             [corpus["hidden_audio.csv"], tmp_path / "hidden_M.csv"], cache=cache)
    _check_predictions(prediction.frame, corpus.truth)
    prediction.frame.to_csv(tmp_path / "P.csv", index=False)
    assert list(_read_predictions(tmp_path / "P.csv")["id"]) == list(prediction.frame["id"])
