"""Tests of the demo dataset generator: layout, formats, determinism and signal."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import av
import numpy as np
import pytest

from emo.data.layouts.challenge import parse_descriptor
from emo.data.skeleton import KINECT_COLUMNS, KINECT_JOINTS
from emo.features.face.landmarks import track_landmarks
from emo.synth import synthesise
from emo.synth.generate import SAMPLE_RATE
from emo.synth.plan import cast, plan

FPS = 15.0
HANDS = [KINECT_JOINTS.index("HandLeft"), KINECT_JOINTS.index("HandRight")]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 labelled actors x 7 emotions x 1 take, plus 1 test actor."""
    return synthesise(tmp_path_factory.mktemp("synth") / "demo", actors=2, takes=1,
                      test_actors=1, seed=3, fps=FPS, size=(128, 128), workers=2)


def _descriptors(root: Path) -> dict[str, object]:
    return {p.stem: parse_descriptor(p.read_text(), p)
            for p in sorted((root / "descriptors").glob("*.txt"))}


def _kinect(path: Path) -> np.ndarray:
    return np.loadtxt(path, delimiter=";", usecols=range(KINECT_COLUMNS))


def test_layout(tiny: Path) -> None:
    names = set(_descriptors(tiny))
    labelled = {f"frames_{a}_{c}1" for a in ("F1", "M1")
                for c in ("An", "Di", "Fe", "Ha", "Ne", "Sa", "Su")}
    assert names == labelled | {f"frames_TEST{i}" for i in range(1, 8)}
    videos = sorted((tiny / "videos").glob("*.MP4"))
    kinects = sorted((tiny / "motion capture").glob("*.txt"))
    assert len(videos) == len(kinects) == 21
    with (tiny / "labels_test.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["label"] for r in rows) == ["An", "Di", "Fe", "Ha", "Ne", "Sa", "Su"]
    assert {r["actor"] for r in rows} == {"F2"}
    assert {r["id"] for r in rows} == {f"frames_TEST{i}" for i in range(1, 8)}


def test_descriptors_agree_with_media(tiny: Path) -> None:
    for name, d in _descriptors(tiny).items():
        assert d.start_frame == round(d.start * FPS) and d.end_frame == round(d.end * FPS)
        assert 2.0 <= d.end - d.start <= 3.0, name
        rows = _kinect(tiny / "motion capture" / d.skeleton)
        assert 0 <= d.skeleton_start < d.skeleton_end < len(rows)
        times = rows[:, 0] / 1000.0
        assert abs(times[d.skeleton_end] - times[d.skeleton_start] - (d.end - d.start)) < 0.05


def test_kinect_rows(tiny: Path) -> None:
    path = next((tiny / "motion capture").glob("*.txt"))
    lines = path.read_text().splitlines()
    assert all(line.endswith(";") and line.count(";") == KINECT_COLUMNS for line in lines)
    rows = _kinect(path)
    step = np.diff(rows[:, 0])
    assert rows[0, 0] > 0 and step.min() > 20 and np.std(step) > 0
    pos = rows[:, 2:].reshape(len(rows), len(KINECT_JOINTS), 6)[:, :, :3]
    assert 1.5 < np.median(pos[:, :, 2]) < 3.5
    head, foot = KINECT_JOINTS.index("Head"), KINECT_JOINTS.index("FootLeft")
    assert 1.3 < np.median(pos[:, head, 1] - pos[:, foot, 1]) < 1.9


def test_video_and_audio_streams(tiny: Path) -> None:
    path = next((tiny / "videos").glob("*.MP4"))
    with av.open(str(path)) as box:
        video, audio = box.streams.video[0], box.streams.audio[0]
        assert video.codec_context.name == "h264" and audio.codec_context.name == "aac"
        assert audio.channels == 1 and audio.sample_rate == SAMPLE_RATE
        n_frames = sum(1 for _ in box.decode(video=0))
    with av.open(str(path)) as box:
        n_samples = sum(f.samples for f in box.decode(audio=0))
    assert abs(n_samples / SAMPLE_RATE - n_frames / FPS) < 0.15


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_determinism(tiny: Path, tmp_path: Path) -> None:
    again = synthesise(tmp_path / "again", actors=2, takes=1, test_actors=1, seed=3, fps=FPS,
                       size=(128, 128), workers=1)
    assert _digest(again) == _digest(tiny)


def test_plan_hides_the_emotion_in_file_names() -> None:
    recordings = plan(4, 2, 1, seed=0)
    for actor in cast(4, 1):
        own = [r for r in recordings if r.actor == actor]
        by_name = [r.label for r in sorted(own, key=lambda r: r.video)]
        assert sorted(by_name) == sorted(r.label for r in own)
    assert [r.label for r in sorted(recordings[:7], key=lambda r: r.video)] != sorted(
        r.label for r in recordings[:7])


@pytest.mark.parametrize(("argument", "value"), [("actors", 0), ("takes", 0),
                                                 ("test_actors", -1), ("fps", 0.0),
                                                 ("size", (100, 101))])
def test_bad_arguments(tmp_path: Path, argument: str, value: object) -> None:
    with pytest.raises(ValueError, match=argument):
        synthesise(tmp_path / "x", **{argument: value})


def test_refuses_to_overwrite(tiny: Path) -> None:
    with pytest.raises(ValueError, match="overwrite"):
        synthesise(tiny, actors=1, takes=1)


def _take_audio(root: Path, d: object) -> np.ndarray:
    with av.open(str(root / "videos" / d.video)) as box:
        x = np.concatenate([f.to_ndarray().ravel() for f in box.decode(audio=0)])
    return x[int(d.start * SAMPLE_RATE): int(d.end * SAMPLE_RATE)]


def test_anger_is_louder_and_moves_faster_than_sadness(tiny: Path) -> None:
    ds = _descriptors(tiny)
    for actor in ("F1", "M1"):
        an, sa = ds[f"frames_{actor}_An1"], ds[f"frames_{actor}_Sa1"]
        rms = [np.sqrt(np.mean(_take_audio(tiny, d) ** 2)) for d in (an, sa)]
        assert rms[0] > 2 * rms[1]
        speed = []
        for d in (an, sa):
            rows = _kinect(tiny / "motion capture" / d.skeleton)[d.skeleton_start:d.skeleton_end]
            hands = rows[:, 2:].reshape(len(rows), -1, 6)[:, HANDS, :3]
            speed.append(np.abs(np.diff(hands, axis=0)).sum(-1).mean())
        assert speed[0] > 1.5 * speed[1]


def test_mediapipe_tracks_the_face_in_the_video(tiny: Path) -> None:
    path = sorted((tiny / "videos").glob("*.MP4"))[0]
    with av.open(str(path)) as box:
        frames = [(i / 30, f.to_ndarray(format="rgb24")) for i, f in
                  enumerate(box.decode(video=0))]
    _, points, _ = track_landmarks(frames)
    assert np.isfinite(points).all(axis=(1, 2)).mean() > 0.95
