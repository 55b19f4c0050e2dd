"""Time of `emo fit` with its defaults on 1,000 synthetic clips of 3 modalities (<= 90 s).

The flow a user runs, through :mod:`emo.api` only: three clip-level feature tables (random
but class-dependent features of 16 actors: audio 88 + 6,373 / face 35 / body 299 columns
like the default audio set eGeMAPS + ComParE, OpenFace AUs and the kinematics table, 5 %
missing values, each modality missing for 10 % of the clips) are imported (``emo import``,
not timed), then :func:`emo.api.fit` (``emo fit AUDIO.csv FACE.csv BODY.csv``) is timed as a
whole: reading the cached tables, the nested actor-grouped cross-validation (5 outer folds;
in each, the stacking fusion's 5 inner folds and one final fit per modality), the final fit
on every clip, the actor identifier's calibration and its simulated inference, the bundle
and the report. Its own timings (``metrics.json``) show where the time goes.

Run: ``.venv/bin/python benchmarks/fit_speed.py [--jobs N]`` (``--jobs 1`` also prints the CPU
time, a load-independent measure on a busy machine).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from emo import api

CLASSES = ["An", "Di", "Fe", "Ha", "Ne", "Sa", "Su"]
WIDTHS = {"audio": 88, "face": 35, "body": 299}
#: ComParE columns of the default audio set (``audio__compare__<name>``, beside eGeMAPS).
COMPARE_WIDTH = 6373
TARGET_SECONDS = 90.0


def synthetic(n_clips: int = 1000, n_actors: int = 16, seed: int = 0
              ) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Feature matrix, labels and actors: class means on a few columns, actor offsets on all;
    every clip keeps at least one modality (the first is never dropped where the others are)."""
    rng = np.random.default_rng(seed)
    ids = pd.Index([f"clip{i:04d}" for i in range(n_clips)])
    y = pd.Series(rng.choice(CLASSES, n_clips), index=ids)
    groups = pd.Series([f"A{a:02d}" for a in rng.integers(0, n_actors, n_clips)], index=ids)
    codes = y.map(CLASSES.index).to_numpy()
    blocks = []
    dropped = rng.random((len(WIDTHS), n_clips)) < 0.1
    dropped[0] &= ~dropped[1:].all(axis=0)
    for lacking, (name, width) in zip(dropped, WIDTHS.items(), strict=True):
        class_means = rng.normal(0, 0.6, size=(len(CLASSES), width)) * (rng.random(width) < 0.2)
        actor_means = {a: rng.normal(0, 1, width) for a in groups.unique()}
        values = rng.normal(size=(n_clips, width)) + class_means[codes]
        values += np.stack([actor_means[a] for a in groups])
        values[rng.random(values.shape) < 0.05] = np.nan
        values[lacking] = np.nan
        blocks.append(pd.DataFrame(values, index=ids,
                                   columns=[f"{name}__f{j:03d}" for j in range(width)]))
        if name == "audio":  # ComParE: noisier copies of the same cues, many correlated
            mix = rng.normal(size=(width, COMPARE_WIDTH)) / np.sqrt(width)
            compare = np.nan_to_num(values) @ mix + rng.normal(size=(n_clips, COMPARE_WIDTH))
            compare[lacking] = np.nan
            blocks.append(pd.DataFrame(compare, index=ids, columns=[
                f"audio__compare__f{j:04d}" for j in range(COMPARE_WIDTH)]))
    return pd.concat(blocks, axis=1), y, groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="emo fit -j")
    args = parser.parse_args()
    X, y, groups = synthetic()
    with tempfile.TemporaryDirectory(prefix="emo-fit-speed-") as tmp:
        work = Path(tmp)
        manifests = []
        for modality in WIDTHS:
            table = X.filter(like=f"{modality}__").dropna(how="all")
            table.columns = table.columns.str.removeprefix(f"{modality}__")
            path = work / f"{modality}.parquet"
            table.assign(actor=groups, label=y).rename_axis("id").reset_index().to_parquet(path)
            manifests.append(work / f"{modality}.csv")
            api.import_table(path, modality=modality, cache=work / "cache", out=manifests[-1])
        cpu, start = time.process_time(), time.perf_counter()
        result = api.fit(manifests, out=work / "model", cache=work / "cache", n_jobs=args.jobs)
        total, cpu = time.perf_counter() - start, time.process_time() - cpu
    timings = result.metrics["timings"]
    print(f"clips {len(y)}, actors {groups.nunique()}, modalities "
          f"{', '.join(f'{m} {w}' for m, w in WIDTHS.items())} + compare {COMPARE_WIDTH}, "
          f"jobs {args.jobs}, "
          f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} (wall times assume an "
          "idle machine)")
    print("UAR (nested CV) " + "  ".join(f"{k} {v:.1%}" for k, v in result.cv.uar.items()))
    print("emo fit's own timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()
                                               if not k.endswith("_cpu")))
    print(f"api.fit (emo fit) {total:.1f} s wall (target <= {TARGET_SECONDS:.0f} s)")
    if args.jobs == 1:  # all work in this process: CPU time is immune to other load
        print(f"CPU time {cpu:.1f} s, i.e. about {cpu / 2:.1f} s on 2 idle cores with --jobs 2")


if __name__ == "__main__":
    main()
