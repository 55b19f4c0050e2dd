"""Extraction on a Dask cluster (``emo extract --dask``) equals a local run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from emo import api
from emo.data.clip import Clip
from emo.features.cache import FeatureCache
from emo.features.extract import collect

distributed = pytest.importorskip("distributed")


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
