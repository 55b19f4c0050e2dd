"""The extraction runner, with a small real extractor defined here (reads numbers from text)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import pytest

from emo.data.clip import Clip
from emo.errors import MediaError
from emo.features.base import Extractor, Outcome, Stream
from emo.features.cache import FeatureCache
from emo.features.extract import Task, collect, jobs, run


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


class SlowNumbers(NumbersExtractor):
    """NumbersExtractor that takes a while and logs every call to a file (any process)."""

    name: ClassVar[str] = "slow_numbers"
    setting_names: ClassVar[tuple[str, ...]] = ("scale", "log")

    def __init__(self, scale: float = 1.0, log: str = "") -> None:
        super().__init__(scale)
        self.log = log

    def extract(self, clip: Clip) -> dict[str, float]:
        import os
        import time

        with open(self.log, "a") as f:
            f.write(f"{os.getpid()} {clip.id}\n")
        time.sleep(0.05)
        return super().extract(clip)


def _run_in_child(clips: list[Clip], root: Path, log: str, n_jobs: int) -> None:
    report = run(clips, {"audio": SlowNumbers(log=log)}, FeatureCache(root), n_jobs=n_jobs)
    assert report.computed + report.cached == 6


def test_two_runs_at_once_compute_each_entry_and_failure_once(tmp_path: Path) -> None:
    import multiprocessing

    clips = []
    for i in range(8):
        path = tmp_path / f"m{i}.txt"
        path.write_text({2: " ", 5: "\n"}.get(i, f"{i} {i + 1}"))  # 2, 5 fail
        clips.append(Clip(f"m{i}", actor="A", audio=path))
    log = tmp_path / "calls.log"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_run_in_child, args=(clips, tmp_path / "cache", str(log), 1))
             for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    calls = [line.split()[1] for line in log.read_text().splitlines()]
    assert sorted(calls) == [f"m{i}" for i in range(8)]  # each once, the 2 failures included
    assert len({line.split()[0] for line in log.read_text().splitlines()}) == 2
    # lock files are kept (removing them would race), one per key stripe at most
    assert len(list((tmp_path / "cache" / "locks").iterdir())) <= 8


def test_failure_of_identical_content_names_this_clips_file(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("")
    (tmp_path / "b.txt").write_text("")
    clips = [Clip("a", audio=tmp_path / "a.txt"), Clip("b", audio=tmp_path / "b.txt")]
    cache = FeatureCache(tmp_path / "cache")
    for report in (run(clips, {"audio": NumbersExtractor()}, cache),
                   run(clips, {"audio": NumbersExtractor()}, cache)):
        reasons = {f.clip_id: f.reason for f in report.failures}
        assert reasons["a"].startswith(f"{tmp_path / 'a.txt'}: no numbers")
        assert reasons["b"].startswith(f"{tmp_path / 'b.txt'}: no numbers")
        assert "same content as clip 'a'" in reasons["b"]


def test_damaged_entry_is_recomputed_alone_and_a_vanished_one_is_not_hidden(
        tmp_path: Path, clips: list[Clip], caplog: pytest.LogCaptureFixture) -> None:
    from emo.errors import CacheError

    cache = FeatureCache(tmp_path / "cache")
    first = run(clips, {"audio": NumbersExtractor()}, cache)
    reference = collect(first.tasks, cache)["audio"]
    entry = cache.path(first.tasks[0].key, first.tasks[0].extractor.identity())
    entry.write_bytes(entry.read_bytes()[:30])  # as a crash of a non-atomic writer would
    again = run(clips, {"audio": NumbersExtractor()}, cache)
    assert (again.computed, again.cached) == (1, 2)
    assert collect(again.tasks, cache)["audio"].equals(reference)
    # one flipped bit anywhere: the next run names the clip and computes it again
    whole = bytearray(entry.read_bytes())
    whole[len(whole) // 3] ^= 0x10
    entry.write_bytes(bytes(whole))
    with caplog.at_level("WARNING"):
        again = run(clips, {"audio": NumbersExtractor()}, cache)
    assert (again.computed, again.cached) == (1, 2)
    assert "clip 'c0' [audio]: cached features damaged" in caplog.text
    # damaged or vanished after run(): collect names the clip and computes it again
    caplog.clear()
    entry.unlink()
    forged = cache.path(first.tasks[1].key, first.tasks[1].extractor.identity())
    forged.write_bytes(b"PAR1" + b"\0" * 64 + b"PAR1")
    with caplog.at_level("WARNING"):
        assert collect(again.tasks, cache)["audio"].equals(reference)
    assert "clip 'c1' [audio]: cached features" in caplog.text
    assert cache.has(first.tasks[0].key, first.tasks[0].extractor.identity())
    # and when it cannot be computed again, the clip is named with the reason
    entry.unlink()
    clips[0].audio.unlink()
    with pytest.raises(CacheError, match="clip 'c0' .*cannot be computed again: .*c0.txt"):
        collect(again.tasks, cache)


def test_order_does_not_change_the_table(tmp_path: Path, clips: list[Clip]) -> None:
    forward = run(clips, {"audio": NumbersExtractor()}, FeatureCache(tmp_path / "a"))
    backward = run(clips[::-1], {"audio": NumbersExtractor()}, FeatureCache(tmp_path / "b"),
                   n_jobs=2)
    a = collect(forward.tasks, FeatureCache(tmp_path / "a"))["audio"]
    b = collect(backward.tasks, FeatureCache(tmp_path / "b"))["audio"]
    assert list(b.index) == ["c3", "c1", "c0"]
    assert a.equals(b.loc[a.index])
    for root in (tmp_path / "a", tmp_path / "b"):
        assert sorted(p.name for p in root.iterdir() if p.is_file()) == ["hashes.sqlite"]
        assert len(list((root / "locks").iterdir())) <= 4  # one per computed key at most


class CrashingNumbers(NumbersExtractor):
    """Kills its own worker process on a clip whose file has a ``.crash`` twin (as a segfault
    in a media library would)."""

    name: ClassVar[str] = "crashing_numbers"

    def extract(self, clip: Clip) -> dict[str, float]:
        import os
        import signal

        if clip.media_for("audio").with_suffix(".crash").exists():
            os.kill(os.getpid(), signal.SIGKILL)
        return super().extract(clip)


@pytest.mark.parametrize("crashing", [["c1"], ["c0", "c1"]])
def test_a_dead_worker_fails_only_its_clip_and_the_batch_goes_on(
        tmp_path: Path, clips: list[Clip], crashing: list[str]) -> None:
    cache = FeatureCache(tmp_path / "cache")
    for clip_id in crashing:
        (tmp_path / f"{clip_id}.crash").touch()
    report = run(clips, {"audio": CrashingNumbers()}, cache, n_jobs=2)
    reasons = {f.clip_id: f.reason for f in report.failures}
    assert set(reasons) == {*crashing, "c2", "missing"}
    for clip_id in crashing:
        assert re.fullmatch(rf".*{clip_id}\.txt: the worker process died \(SIGKILL\(-9\)\) "
                            r"while extracting audio features: .*", reasons[clip_id])
    good = {"c0", "c1", "c3"} - set(crashing)
    # (a clip finished by the other worker as the pool broke is found stored when rerun)
    assert report.computed + report.cached == len(good)
    assert set(collect(report.tasks, cache)["audio"].index) == good
    # The crash is recorded like any failure: the next run computes nothing.
    again = run(clips, {"audio": CrashingNumbers()}, cache, n_jobs=2)
    assert (again.computed, again.cached) == (0, len(good))
    assert all("failed before" in f.reason for f in again.failures if f.clip_id in crashing)


class CrashingWindows(CrashingNumbers):
    """Windows of one file form one job; the clip named ``*crash*`` kills the worker."""

    name: ClassVar[str] = "crashing_windows"

    def stream(self, clip: Clip) -> Stream:
        return Stream("numbers", clip.media_for("audio"))

    def extract(self, clip: Clip) -> dict[str, float]:
        import os
        import signal

        if "crash" in clip.id:
            os.kill(os.getpid(), signal.SIGKILL)
        return NumbersExtractor.extract(self, clip)


def test_a_job_that_kills_its_worker_is_split_into_its_clips(tmp_path: Path,
                                                             clips: list[Clip]) -> None:
    windows = [Clip(name, audio=clips[0].audio, start=float(i), end=i + 1.0)
               for i, name in enumerate(["w0", "w_crash", "w2"])]
    report = run([*clips, *windows], {"audio": CrashingWindows()},
                 FeatureCache(tmp_path / "cache"), n_jobs=2)
    assert {f.clip_id for f in report.failures} == {"w_crash", "c2", "missing"}
    table = collect(report.tasks, FeatureCache(tmp_path / "cache"))["audio"]
    assert set(table.index) == {"c0", "c1", "c3", "w0", "w2"}


def test_joblib_pools_still_work_after_a_parallel_run(tmp_path: Path,
                                                      clips: list[Clip]) -> None:
    from joblib import Parallel, delayed

    run(clips, {"audio": NumbersExtractor()}, FeatureCache(tmp_path / "cache"), n_jobs=2)
    assert Parallel(n_jobs=2)(delayed(abs)(-i) for i in range(3)) == [0, 1, 2]
class LinesExtractor(Extractor):
    """Sum of lines ``start..end`` of a text file; the clips of one file share one read,
    logged to a file (any process)."""

    name: ClassVar[str] = "lines"
    version: ClassVar[str] = "1"
    modality: ClassVar[str] = "audio"
    setting_names: ClassVar[tuple[str, ...]] = ("log",)

    def __init__(self, log: str = "") -> None:
        self.log = log

    def stream(self, clip: Clip) -> Stream | None:
        return Stream("lines", clip.audio)

    @staticmethod
    def extract_batch(requests: Sequence[tuple[Extractor, Clip]]) -> Iterator[tuple[int, Outcome]]:
        extractor, first = requests[0]
        with open(extractor.log, "a") as f:  # type: ignore[attr-defined]
            f.write(f"{first.audio.name} {len(requests)}\n")
        lines = first.audio.read_text().splitlines()
        for index, (_, clip) in enumerate(requests):
            values = [float(v) for v in lines[int(clip.start):int(clip.end)]]
            yield index, ({"audio__sum": sum(values)} if values
                          else MediaError("no lines in the segment", clip.audio))

    def extract(self, clip: Clip) -> dict[str, float]:
        ((_, outcome),) = self.extract_batch([(self, clip)])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def test_clips_of_one_file_are_one_job_resumable_clip_by_clip(tmp_path: Path) -> None:
    clips = []
    for offset, name in enumerate(("x", "y")):
        path = tmp_path / f"{name}.txt"
        path.write_text("\n".join(str(100 * offset + i) for i in range(10)))
        clips += [Clip(f"{name}{k}", audio=path, start=s, end=e)
                  for k, (s, e) in enumerate([(0, 3), (3, 6), (6, 10), (10, 12)])]
    log = tmp_path / "reads.log"
    extractor = LinesExtractor(log=str(log))
    cache = FeatureCache(tmp_path / "cache")
    report = run(clips, {"audio": extractor}, cache, n_jobs=2)
    assert sorted(log.read_text().splitlines()) == ["x.txt 4", "y.txt 4"]  # one read a file
    assert report.computed == 6 and {f.clip_id for f in report.failures} == {"x3", "y3"}
    reasons = {f.clip_id: f.reason for f in report.failures}
    assert reasons["x3"].endswith("x.txt: no lines in the segment")
    first = collect(report.tasks, cache)["audio"]
    assert first.loc["y1", "audio__sum"] == 103 + 104 + 105
    # An entry lost (a killed run): the next run computes that clip alone, to the same value.
    lost = next(t for t in report.tasks if t.clip.id == "x1")
    cache.path(lost.key, lost.extractor.identity()).unlink()
    log.unlink()
    again = run(clips, {"audio": extractor}, cache)
    assert (again.computed, again.cached, log.read_text()) == (1, 5, "x.txt 1\n")
    assert collect(again.tasks, cache)["audio"].equals(first)


def test_jobs_group_by_stream_frames_first_longest_first(tmp_path: Path) -> None:
    from emo.features.base import get_extractor

    face, audio = get_extractor("face"), get_extractor("audio")
    short, long = tmp_path / "short.mp4", tmp_path / "long.mp4"
    clips = [Clip("s1", video=short, start=0.0, end=2.0), Clip("l1", video=long, start=0.0,
                                                                end=3.0),
             Clip("l2", video=long, start=4.0, end=8.0)]
    tasks = [Task(c, e, f"{e.modality}-{c.id}") for e in (audio, face) for c in clips]
    assert [[t.key for t in job] for job in jobs(tasks)] == [
        ["face-l1", "face-l2"], ["face-s1"], ["audio-s1"], ["audio-l1", "audio-l2"]]
