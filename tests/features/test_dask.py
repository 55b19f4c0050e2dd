"""Extraction on a Dask cluster (``emo extract --dask``) equals a local run."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from emo import api
from emo.data.clip import Clip
from emo.features.cache import FeatureCache
from emo.features.extract import collect, run
from tests.features.test_extract import CrashingNumbers, CrashingWindows, NumbersExtractor

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")


def _clips(root: Path) -> list[Clip]:
    """Six short tones from three speakers, one corrupt file and one missing file."""
    sr = 16_000
    t = np.arange(sr) / sr
    clips = []
    for i in range(6):
        path = root / f"tone{i}.wav"
        f0 = 120.0 + 20.0 * i
        sf.write(path, (0.1 * np.sin(2 * np.pi * f0 * t + np.sin(2 * np.pi * 4 * t)) *
                        (1.2 + np.sin(2 * np.pi * 3 * t))).astype("f4"), sr)
        clips.append(Clip(f"tone{i}", actor=f"S{i % 3}", label="Ha", audio=path))
    corrupt = root / "corrupt.wav"
    corrupt.write_bytes(b"RIFF" + np.random.default_rng(0).bytes(3000))
    clips.append(Clip("corrupt", actor="S0", audio=corrupt))
    clips.append(Clip("missing", actor="S1", audio=root / "missing.wav"))
    return clips


def _entries(cache: Path) -> list[str]:
    return sorted(p.name for p in FeatureCache(cache).entries())


def test_dask_cluster_gives_the_local_tables_keys_and_failures(tmp_path: Path) -> None:
    clips = _clips(tmp_path)
    local = api.extract(clips, modalities=["audio"], cache=tmp_path / "local")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client, \
            distributed.get_task_stream(client) as stream:
        workers = set(client.scheduler_info()["workers"])
        remote = api.extract(clips, modalities=["audio"], cache=tmp_path / "dask",
                             dask=cluster.scheduler_address)
    assert local.computed == remote.computed == 6
    assert _entries(tmp_path / "local") == _entries(tmp_path / "dask")
    assert len(_entries(tmp_path / "dask")) == 6
    key = sorted((f.clip_id, f.modality, f.reason) for f in local.failures)
    assert key == sorted((f.clip_id, f.modality, f.reason) for f in remote.failures)
    assert {f.clip_id for f in remote.failures} == {"corrupt", "missing"}
    a = collect(local.tasks, FeatureCache(tmp_path / "local"))["audio"]
    b = collect(remote.tasks, FeatureCache(tmp_path / "dask"))["audio"]
    pd.testing.assert_frame_equal(a.sort_index(), b.sort_index())
    # the 7 tasks (6 tones, the corrupt file) ran on the cluster's workers
    assert len(stream.data) >= 7 and {t["worker"] for t in stream.data} <= workers


# -- poison clips, lost workers, one-thread clusters (issue 22, rows 2 and 11) ------------
@pytest.fixture
def numbers(tmp_path: Path) -> list[Clip]:
    """Four text clips read by the test extractors of test_extract (one empty: a failure)."""
    out = []
    for i, text in enumerate(["1 2 3", "4", "", "5 5"]):
        path = tmp_path / f"c{i}.txt"
        path.write_text(text)
        out.append(Clip(f"c{i}", actor=f"A{i % 2}", label="An", audio=path))
    return out


def _cluster(workers: int) -> distributed.LocalCluster:
    """A LocalCluster of worker processes that gives up on a task after one dead worker."""
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        return distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                        processes=True, dashboard_address=None)


def test_a_poison_clip_fails_alone_and_lost_workers_are_reported(
        tmp_path: Path, numbers: list[Clip], caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "c1.crash").touch()  # CrashingNumbers kills its worker on c1
    windows = [Clip(name, audio=numbers[0].audio, start=float(i), end=i + 1.0)
               for i, name in enumerate(["w0", "w_crash", "w2"])]  # one job; w_crash kills
    cache = FeatureCache(tmp_path / "cache")
    with _cluster(2) as cluster, caplog.at_level(logging.WARNING, "emo"):
        report = run(numbers, {"audio": CrashingNumbers()}, cache,
                     dask=cluster.scheduler_address)
        split = run([numbers[0], *windows], {"audio": CrashingWindows()}, cache,
                    dask=cluster.scheduler_address)
    reasons = {f.clip_id: f.reason for f in report.failures}
    assert set(reasons) == {"c1", "c2"}
    assert re.fullmatch(r".*c1\.txt: every Dask worker that ran it died while extracting "
                        r"audio features: .*", reasons["c1"])
    assert set(collect(report.tasks, cache)["audio"].index) == {"c0", "c3"}
    assert {f.clip_id for f in split.failures} == {"w_crash"}
    assert set(collect(split.tasks, cache)["audio"].index) == {"c0", "w0", "w2"}
    assert "left the cluster" in caplog.text
    # the poison is recorded like any failure: the next run sends nothing to a cluster
    again = run(numbers, {"audio": CrashingNumbers()}, cache, dask="tcp://127.0.0.1:9")
    assert again.computed == 0 and "failed before" in {
        f.clip_id: f.reason for f in again.failures}["c1"]


def test_a_one_thread_cluster_runs_every_task(tmp_path: Path, numbers: list[Clip]) -> None:
    with _cluster(1) as cluster, distributed.Client(cluster) as client, \
            distributed.get_task_stream(client) as stream:
        workers = set(client.scheduler_info()["workers"])
        report = run(numbers, {"audio": NumbersExtractor()}, FeatureCache(tmp_path / "cache"),
                     dask=cluster.scheduler_address)
    assert report.computed == 3 and [f.clip_id for f in report.failures] == ["c2"]
    ran = [t for t in stream.data if t["key"].startswith("_compute_job")]
    assert len(ran) == 4 and {t["worker"] for t in ran} <= workers
