"""The cache never lies and never loses work, seen from the command line.

On a small synthetic challenge-layout dataset (7 clips x audio, face, body): tables do
not depend on the number of workers or the clip order; a run killed with SIGKILL loses
nothing finished and the next run computes only what is missing; two ``emo extract``
processes on one cache compute every entry once; exit codes say whether anything failed.

Tables are compared value for value, to within 4 units in the last place: the body
extractor's head angles were seen to differ in the last bit between repeated extractions
of one clip in one process (intermittently, on a loaded machine).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emo.features.cache import LOCK_STRIPES, LOCKS, is_parquet
from tests._serving import held_locks

#: The kill and concurrency tests skip the slow face modality: 7 clips x audio, body.
FAST = "audio,body"
N_TASKS = 14


def emo(*args: str | Path, check: int | None = 0) -> subprocess.CompletedProcess:
    """Run the CLI; assert its exit code unless ``check`` is None."""
    done = subprocess.run([sys.executable, "-m", "emo", *map(str, args)], capture_output=True,
                          text=True, timeout=600)
    if check is not None:
        assert done.returncode == check, done.stderr[-2000:]
    return done


def start(*args: str | Path) -> subprocess.Popen:
    """Start the CLI in its own process group (so the group can be killed)."""
    return subprocess.Popen([sys.executable, "-m", "emo", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def counts(stdout: str) -> tuple[int, int]:
    """(computed, cached) from ``emo --json extract``."""
    result = json.loads(stdout)
    return result["computed"], result["cached"]


def entries(cache: Path) -> dict[Path, int]:
    """Complete Parquet entries and their inodes (a rewrite changes the inode)."""
    return {p: p.stat().st_ino for p in (cache / "features").glob("*/*/*/*.parquet")
            if is_parquet(p)}


def table(data: Path, cache: Path, out: Path, *extra: str) -> pd.DataFrame:
    emo("features", data, "--cache", cache, "-o", out, *extra)
    return pd.read_parquet(out).sort_index()


def assert_same_table(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Same ids, columns, labels and NaNs; feature values equal to within 4 ulp."""
    assert list(got.index) == list(want.index) and list(got.columns) == list(want.columns)
    assert got[["actor", "label"]].equals(want[["actor", "label"]])
    a = got.drop(columns=["actor", "label"]).to_numpy(float)
    b = want.drop(columns=["actor", "label"]).to_numpy(float)
    assert (np.isnan(a) == np.isnan(b)).all()
    finite = ~np.isnan(a)
    np.testing.assert_array_max_ulp(a[finite], b[finite], maxulp=4)


def _columns(frame: pd.DataFrame, modalities: str) -> pd.DataFrame:
    keep = tuple(f"{m}__" for m in modalities.split(","))
    return frame[[c for c in frame.columns if c in ("actor", "label") or c.startswith(keep)]]


def assert_clean(cache: Path) -> None:
    """No temporary or SQLite journal outlives a run that was not killed; lock files
    (kept, one per key prefix) are bounded."""
    assert len(list((cache / LOCKS).iterdir())) <= LOCK_STRIPES
    assert not [p for p in cache.rglob("*") if p.name.endswith(".tmp")]
    assert not [p for p in cache.iterdir() if p.name.endswith(("-wal", "-shm", "-journal"))]


def assert_clean_and_equal(demo: Path, cache: Path, reference: pd.DataFrame,
                           tmp_path: Path) -> None:
    """The cache is clean and its table equals the uninterrupted single-worker run's."""
    assert_clean(cache)
    got = table(demo, cache, tmp_path / "t.parquet", "-m", FAST)
    assert_same_table(got, _columns(reference, FAST))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from emo.synth import synthesise

    return synthesise(tmp_path_factory.mktemp("demo") / "demo", actors=1, takes=1,
                      test_actors=0, seed=5)


@pytest.fixture(scope="module")
def reference(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The table of one uninterrupted single-worker run."""
    folder = tmp_path_factory.mktemp("ref")
    ref = table(demo, folder / "cache", folder / "ref.parquet", "-j", "1")
    assert ref.shape[0] == 7 and ref.shape[1] > 50
    assert_clean(folder / "cache")
    return ref


def test_workers_and_clip_order_do_not_change_the_table(demo: Path, reference: pd.DataFrame,
                                                        tmp_path: Path) -> None:
    emo("index", demo, "-o", tmp_path / "m.csv")
    rows = (tmp_path / "m.csv").read_text().splitlines()
    (tmp_path / "reversed.csv").write_text("\n".join([rows[0], *rows[:0:-1]]) + "\n")
    got = table(tmp_path / "reversed.csv", tmp_path / "cache", tmp_path / "t.parquet", "-j", "2")
    assert_same_table(got, reference)
    assert_clean(tmp_path / "cache")


def _keys(data: Path, modalities: str) -> list[str]:
    """The cache keys of every (clip, modality) of ``data``, as ``emo extract`` plans them."""
    from emo import api
    from emo.features.cache import FeatureCache
    from emo.features.extract import ExtractionReport, plan

    clips = api.index(data)
    extractors = api.make_extractors(modalities.split(","), clips=clips)
    with tempfile.TemporaryDirectory() as scratch:
        return [t.key for t in plan(clips, extractors, FeatureCache(scratch), ExtractionReport())]


def test_a_killed_run_resumes_with_nothing_lost_or_redone(demo: Path, reference: pd.DataFrame,
                                                          tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    keys = _keys(demo, FAST)
    assert len(keys) == N_TASKS
    # While this process holds the lock of one key, the run cannot finish: the kill lands in
    # the middle of the run however fast the machine is (other jobs may still be computing).
    with held_locks(cache, keys[-1:]):
        proc = start("extract", demo, "--cache", cache, "-j", "2", "-m", FAST)
        deadline = time.monotonic() + 300
        while len(entries(cache)) < 4 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    done = entries(cache)
    assert 4 <= len(done) < N_TASKS
    for path in cache.rglob("*.parquet"):  # whatever ends in .parquet is complete
        pd.read_parquet(path)

    computed, cached = counts(emo("--json", "extract", demo, "--cache", cache, "-j", "2",
                                  "-m", FAST).stdout)
    assert (computed, cached) == (N_TASKS - len(done), len(done))
    after = entries(cache)
    assert {p: after[p] for p in done} == done, "an entry finished before the kill was redone"
    assert_clean_and_equal(demo, cache, reference, tmp_path)


def test_two_processes_on_one_cache_compute_each_entry_once(demo: Path, reference: pd.DataFrame,
                                                            tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    procs = [start("--json", "extract", demo, "--cache", cache, "-j", "2", "-m", FAST)
             for _ in range(2)]
    results = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results[0][1][-2000:]
    (c1, k1), (c2, k2) = (counts(out) for out, _ in results)
    assert c1 + c2 == N_TASKS and k1 + k2 == N_TASKS
    assert len(entries(cache)) == N_TASKS
    assert_clean_and_equal(demo, cache, reference, tmp_path)


def test_damaged_entries_are_named_and_recomputed(demo: Path, reference: pd.DataFrame,
                                                  tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    emo("extract", demo, "--cache", cache, "-m", "body")
    truncated, flipped, forged = sorted(entries(cache))[:3]
    truncated.write_bytes(truncated.read_bytes()[:100])
    data = bytearray(flipped.read_bytes())
    data[len(data) // 3] ^= 0x04  # one bit in the data pages: the framing still looks right
    flipped.write_bytes(bytes(data))
    again = emo("--json", "extract", demo, "--cache", cache, "-m", "body")
    assert counts(again.stdout) == (2, 5)
    assert re.search(r"clip '.*' \[body\]: cached features damaged \(checksum differs\) "
                     rf"\({re.escape(str(flipped))}\); computing them again", again.stderr)
    # Right magic bytes, wrong content, written after extract: features computes it again.
    forged.write_bytes(b"PAR1" + b"\0" * 64 + b"PAR1")
    got = table(demo, cache, tmp_path / "t.parquet", "-m", "body")
    assert_same_table(got, _columns(reference, "body"))
    verified = emo("cache", "verify", "--cache", cache)
    assert "0 bad entries removed" in verified.stdout + verified.stderr


def test_exit_codes_and_retry_failed(demo: Path, tmp_path: Path) -> None:
    video = next((demo / "videos").glob("*.MP4"))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(video.read_bytes()[:5000])
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"id,actor,label,video\ngood,A,An,{video}\nbad,A,Sa,{broken}\n")
    cache = tmp_path / "cache"
    first = emo("extract", manifest, "--cache", cache, "-m", "audio", check=1)
    assert f"bad [audio]: {broken}" in first.stderr and "good" not in first.stderr
    again = emo("extract", manifest, "--cache", cache, "-m", "audio", check=1)
    assert "failed before; --retry-failed to retry" in again.stderr
    retried = emo("--json", "extract", manifest, "--cache", cache, "-m", "audio",
                  "--retry-failed", check=1)
    assert "failed before" not in retried.stdout and counts(retried.stdout) == (0, 1)
    broken.write_bytes(video.read_bytes())  # new content, new key: computed, not "failed"
    assert counts(emo("--json", "extract", manifest, "--cache", cache, "-m", "audio").stdout) == (
        0, 2)
    emo("extract", tmp_path / "nowhere", "--cache", cache, check=2)
    emo("extract", manifest, "--cache", cache, "-m", "smell", check=2)

