"""One decoding pass per video (:mod:`emo.features.frames`): spans, the analysis grid,
determinism of takes, windows sharing one tracking run, errors, and the real face tracker.

A small frame extractor defined here measures the grey level of ramp videos (frame i has
grey level 4 i) with a stateful tracker, so that which frames were analysed, and whether
the state was reset at each take, can be read off the features.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from emo.data.clip import Clip
from emo.errors import MediaError
from emo.features.frames import FrameExtractor, Tracker, analyse
from tests.features._media import face_video, ramp, write_video


class CountingTracker(Tracker):
    """Measures (frame number from the grey level, frames since the last reset)."""

    measured: ClassVar[int] = 0

    def __enter__(self) -> CountingTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def reset(self) -> None:
        self.since_reset = 0

    def measure(self, image: np.ndarray) -> np.ndarray:
        type(self).measured += 1
        self.since_reset += 1
        return np.array([round(float(image.mean()) / 4), self.since_reset])


class RampExtractor(FrameExtractor):
    """First and last analysed frame numbers, their count, and the tracker's state."""

    name: ClassVar[str] = "ramp"
    version: ClassVar[str] = "1"
    modality: ClassVar[str] = "face"
    setting_names: ClassVar[tuple[str, ...]] = ("fps",)
    max_side = None

    def __init__(self, fps: float = 0.0) -> None:
        self.fps = fps

    def analysis_fps(self) -> float | None:
        return self.fps or None

    def tracker(self) -> AbstractContextManager[Tracker]:
        return CountingTracker()

    def summarise(self, clip: Clip, times: np.ndarray, measures: np.ndarray) -> dict[str, float]:
        return {"face__first": measures[0, 0], "face__last": measures[-1, 0],
                "face__n": float(len(times)), "face__state": measures[0, 1]}


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seconds of ramp at 30 fps (frames 0-59)."""
    return write_video(tmp_path_factory.mktemp("frames") / "ramp.mp4", ramp(60))


def _run(requests: list[tuple[FrameExtractor, Clip]]) -> dict[str, dict[str, float]]:
    out = {}
    for index, outcome in analyse(requests):
        assert isinstance(outcome, dict), outcome
        out[requests[index][1].id] = outcome
    assert len(out) == len(requests)
    return out


def test_takes_in_one_pass_equal_takes_alone(video: Path) -> None:
    extractor = RampExtractor()
    takes = [Clip("a", video=video, start=0.2, end=0.9), Clip("b", video=video, start=1.0,
                                                              end=1.4),
             Clip("c", video=video, start=1.6, end=None)]
    together = _run([(extractor, c) for c in reversed(takes)])
    assert together == {c.id: _run([(extractor, c)])[c.id] for c in takes}
    assert together["a"] == {"face__first": 6, "face__last": 26, "face__n": 21, "face__state": 1}
    assert together["c"]["face__state"] == 1  # a fresh tracker state for every take
    assert (together["c"]["face__first"], together["c"]["face__last"]) == (48, 59)


def test_overlapping_windows_share_one_tracking_run(video: Path) -> None:
    extractor = RampExtractor()
    windows = [Clip(f"w{t:g}", video=video, start=t, end=t + 0.6) for t in (0.0, 0.3, 0.6)]
    windows.append(Clip("w1.5", video=video, start=1.5, end=2.0))
    CountingTracker.measured = 0
    out = _run([(extractor, w) for w in windows])
    assert CountingTracker.measured == 51  # frames 0-35 and 45-59 once each, not 69 times
    assert [out[w.id]["face__n"] for w in windows] == [18, 18, 18, 15]
    assert [out[w.id]["face__first"] for w in windows] == [0, 9, 18, 45]
    # w0.3 and w0.6 continue the run started by w0; w1.5 overlaps none and starts its own.
    assert [out[w.id]["face__state"] for w in windows] == [1, 10, 19, 1]


def test_the_analysis_grid_is_fixed_on_the_time_line(video: Path) -> None:
    extractor = RampExtractor(fps=10)
    alone = _run([(extractor, Clip("x", video=video, start=0.2, end=1.0))])["x"]
    assert (alone["face__first"], alone["face__last"], alone["face__n"]) == (6, 27, 8)
    late = _run([(extractor, Clip("y", video=video, start=0.22, end=1.0))])["y"]
    assert late["face__first"] == 9  # the next frame of the grid, not the first of the clip


def test_face_and_body_extractors_share_the_decode(video: Path) -> None:
    """Two extractors in one pass each see their own grid; a bad segment fails alone."""
    every, tenth = RampExtractor(), RampExtractor(fps=10)
    clip = Clip("t", video=video, start=1.0, end=2.0)
    late = Clip("late", video=video, start=9.0, end=10.0)
    answers = dict(analyse([(every, clip), (tenth, clip), (every, late)]))
    assert answers[0]["face__n"] == 30 and answers[1]["face__n"] == 10
    assert isinstance(answers[2], MediaError) and "after the end of the video" in str(answers[2])


def test_an_unreadable_video_fails_every_clip(tmp_path: Path) -> None:
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(100))
    clips = [Clip("a", video=path, start=0.0, end=1.0), Clip("b", video=path)]
    answers = dict(analyse([(RampExtractor(), c) for c in clips]))
    assert set(answers) == {0, 1}
    assert all(isinstance(a, MediaError) and str(path) in str(a) for a in answers.values())


def test_face_au_takes_in_one_pass_equal_takes_alone(tmp_path: Path) -> None:
    """The real Face Landmarker tracker: every take starts a new one."""
    from emo.features.face import FaceAUExtractor

    path = face_video(tmp_path / "drift.mp4", 40)
    extractor = FaceAUExtractor(fps=15)
    takes = [Clip("a", video=path, start=0.0, end=0.6), Clip("b", video=path, start=0.7,
                                                              end=1.5)]
    together = _run([(extractor, c) for c in takes])
    assert together == {c.id: extractor.extract(c) for c in takes}


def test_warm_loads_the_models_the_first_clip_would_load() -> None:
    from emo._native import model_path
    from emo.features.base import get_extractor

    model_path.cache_clear()
    get_extractor("body", source="kinect").warm()  # Kinect joints need no model
    assert model_path.cache_info().currsize == 0
    get_extractor("body", source="auto").warm()
    get_extractor("face").warm()
    assert model_path.cache_info().currsize == 2  # face and pose, checked once each
