"""The extraction runner, with a small real extractor defined here (reads numbers from text)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from emo.data.clip import Clip
from emo.errors import MediaError
from emo.features.base import Extractor
from emo.features.cache import FeatureCache
from emo.features.extract import collect, run


class NumbersExtractor(Extractor):
    """Mean and count of the numbers in a text file; counts its calls."""

    name: ClassVar[str] = "numbers"
    version: ClassVar[str] = "1"
    modality: ClassVar[str] = "audio"
    setting_names: ClassVar[tuple[str, ...]] = ("scale",)
    calls = 0

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def extract(self, clip: Clip) -> dict[str, float]:
        type(self).calls += 1
        path = clip.media_for("audio")
        values = [float(x) for x in path.read_text().split()]
        if not values:
            raise MediaError("no numbers", path)
        return {"audio__mean": self.scale * sum(values) / len(values),
                "audio__n": float(len(values))}


@pytest.fixture
def clips(tmp_path: Path) -> list[Clip]:
    out = []
    for i, text in enumerate(["1 2 3", "4", "", "5 5"]):
        path = tmp_path / f"c{i}.txt"
        path.write_text(text)
        out.append(Clip(f"c{i}", actor=f"A{i % 2}", label="An", audio=path))
    out.append(Clip("missing", audio=tmp_path / "nope.txt"))
    out.append(Clip("video_only_face", video=None))
    return out


def test_run_caches_reports_failures_and_resumes(tmp_path: Path, clips: list[Clip]) -> None:
    cache = FeatureCache(tmp_path / "cache")
    NumbersExtractor.calls = 0
    report = run(clips, {"audio": NumbersExtractor()}, cache)
    assert (report.computed, report.cached) == (3, 0)
    reasons = {f.clip_id: f.reason for f in report.failures}
    assert set(reasons) == {"c2", "missing"}
    assert "c2.txt: no numbers" in reasons["c2"] and "nope.txt: file not found" in reasons[
        "missing"]
    tables = collect(report.tasks, cache)
    assert tables["audio"].loc["c0", "audio__mean"] == 2.0
    assert list(tables["audio"].index) == ["c0", "c1", "c3"]

    # Nothing changed: nothing recomputed, the failure is remembered, not retried.
    again = run(clips, {"audio": NumbersExtractor()}, cache)
    assert (again.computed, again.cached, NumbersExtractor.calls) == (0, 3, 4)
    assert any("failed before" in f.reason for f in again.failures)
    retried = run(clips, {"audio": NumbersExtractor()}, cache, retry_failed=True)
    assert NumbersExtractor.calls == 5 and retried.computed == 0


def test_settings_content_and_segment_changes_recompute(tmp_path: Path,
                                                        clips: list[Clip]) -> None:
    cache = FeatureCache(tmp_path / "cache")
    good = [c for c in clips if c.id in ("c0", "c1")]
    run(good, {"audio": NumbersExtractor()}, cache)
    assert run(good, {"audio": NumbersExtractor(scale=2.0)}, cache).computed == 2
    good[0].audio.write_text("1 2 3 4")
    assert run(good, {"audio": NumbersExtractor()}, cache).computed == 1
    moved = [Clip("c1", audio=good[1].audio, start=0.5)]
    assert run(moved, {"audio": NumbersExtractor()}, cache).computed == 1


def test_same_media_under_another_id_reuses_the_entry(tmp_path: Path, clips: list[Clip]) -> None:
    cache = FeatureCache(tmp_path / "cache")
    run(clips[:1], {"audio": NumbersExtractor()}, cache)
    renamed = [Clip("other", actor="B", label="Sa", audio=clips[0].audio)]
    report = run(renamed, {"audio": NumbersExtractor()}, cache)
    assert (report.computed, report.cached) == (0, 1)
    assert list(collect(report.tasks, cache)["audio"].index) == ["other"]


def test_parallel_run_equals_serial_run(tmp_path: Path, clips: list[Clip]) -> None:
    serial = run(clips, {"audio": NumbersExtractor()}, FeatureCache(tmp_path / "a"))
    parallel = run(clips, {"audio": NumbersExtractor()}, FeatureCache(tmp_path / "b"), n_jobs=2)
    assert parallel.computed == serial.computed == 3
    a = collect(serial.tasks, FeatureCache(tmp_path / "a"))["audio"]
    b = collect(parallel.tasks, FeatureCache(tmp_path / "b"))["audio"]
    assert a.sort_index().equals(b.sort_index())
    assert {f.clip_id for f in parallel.failures} == {"c2", "missing"}
