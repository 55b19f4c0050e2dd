"""Sliding-window prediction of a recording (:func:`emo.api.predict_windows`): every window
gets a row, and overlapping windows share one analysis of the recording's frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emo import api
from emo.data.video import VideoReader
from emo.features.frames import TaskTracker


@pytest.fixture(scope="module")
def model(tiny_model: dict[str, Path]) -> Path:
    """The session's audio + face + body model of a small synthetic challenge-layout set."""
    return tiny_model["model"]


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recording of an actor the model never saw: two takes and neutral gaps (~6.5 s)."""
    data = api.synthesise(tmp_path_factory.mktemp("windows-recording") / "data", actors=1,
                          takes=2, test_actors=0, seed=1, size=(128, 128), workers=1)
    return min((data / "videos").glob("*.MP4"))


@pytest.fixture
def analysed_frames(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the frames the MediaPipe landmarkers of this process measure (one item each)."""
    measured: list[int] = []
    measure = TaskTracker.measure

    def counting(self: TaskTracker, image: np.ndarray) -> np.ndarray:
        measured.append(1)
        return measure(self, image)

    monkeypatch.setattr(TaskTracker, "measure", counting)
    return measured


def test_every_window_has_a_prediction(model: Path, recording: Path, tmp_path: Path) -> None:
    prediction = api.predict_windows(model, recording, window=2.0, hop=1.0,
                                     cache=tmp_path / "cache")
    bounds = api.window_bounds(api.media_duration(recording), 2.0, 1.0)
    frame = prediction.frame
    assert not prediction.report.failures
    assert list(zip(frame["start"], frame["end"], strict=True)) == bounds
    assert frame["id"].is_unique and frame["pred"].isin(api.CLASSES).all()
    assert frame[["pred_audio", "pred_face"]].notna().all().all()
    assert prediction.groups is not None and prediction.groups.index.equals(
        prediction.features.index)


def test_overlapping_windows_are_analysed_once(model: Path, recording: Path, tmp_path: Path,
                                               analysed_frames: list[int]) -> None:
    api.predict(model, [recording], cache=tmp_path / "one")
    whole = len(analysed_frames)
    analysed_frames.clear()
    windows = api.predict_windows(model, recording, window=2.0, hop=1.0,
                                  cache=tmp_path / "windows")
    covered = windows.frame["end"].max() / api.media_duration(recording)
    # every frame of the windows' union once: not twice (each second is in two windows)
    assert whole * covered - 2 <= len(analysed_frames) <= whole


def test_a_clip_and_its_windows_are_decoded_and_analysed_once(
        model: Path, recording: Path, tmp_path: Path, analysed_frames: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    api.predict(model, [recording], cache=tmp_path / "one")
    whole = len(analysed_frames)
    analysed_frames.clear()
    decodes: list[Path] = []
    open_reader = VideoReader.__init__

    def counting(self: VideoReader, path: str | Path) -> None:
        decodes.append(Path(path))
        open_reader(self, path)

    monkeypatch.setattr(VideoReader, "__init__", counting)
    both = api.predict_windows(model, recording, window=2.0, hop=1.0, whole=True,
                               cache=tmp_path / "both")
    bounds = api.window_bounds(api.media_duration(recording), 2.0, 1.0)
    assert len(both.frame) == len(bounds) + 1 and both.frame["id"].is_unique
    # the whole clip and every window from one decode of the video and one pass of the
    # landmarkers over its frames (the windows lie inside the clip)
    assert decodes == [recording]
    assert len(analysed_frames) == whole
