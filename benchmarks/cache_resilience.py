"""Kill ``emo extract`` at random points, resume, and check the cache lost and redid nothing.

Usage::

    python benchmarks/cache_resilience.py [--data DIR] [--kills 5] [--jobs 2] [--seed 0]

Without ``--data`` a small synthetic challenge-layout dataset is written with
:func:`emo.synth.synthesise`. Three scenarios run side by side on the same data:

1. **reference**: one uninterrupted ``emo extract`` into a fresh cache;
2. **killed**: ``emo extract`` started, its process group SIGKILLed after a random delay,
   restarted, killed again ... ``--kills`` times, then run to the end;
3. **concurrent**: two ``emo extract`` processes started at once on one fresh cache.

After every kill, each file ending in ``.parquet`` must be a complete, readable entry.
Each entry's inode is recorded when first seen; an entry rewritten later (new inode) was
recomputed although finished. At the end, each table is compared value for value with
the reference.

Printed: runs, kills, clips lost (entries seen then gone, target 0), recomputed entries
beyond those in flight at a kill (target 0), partial files that looked complete (target 0),
identical / differing feature values, and wall time relative to the reference.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from emo.features.cache import LOCK_STRIPES, LOCKS, is_parquet


def _emo(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "emo", *map(str, args)]


def _start(*args: str | Path) -> subprocess.Popen:
    return subprocess.Popen(_emo(*args), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, start_new_session=True)


@dataclass
class Outcome:
    """What one scenario did to its cache."""

    name: str
    #: ``emo extract`` processes started, how many were SIGKILLed, entries they computed.
    runs: int = 0
    kills: int = 0
    computed: int = 0
    #: Inode of every complete entry when first seen (a rewrite changes it).
    seen: dict[Path, int] = field(default_factory=dict)
    #: Entries rewritten after they were complete, ``.parquet`` files that did not read,
    #: entries seen complete and then gone.
    recomputed: int = 0
    untrusted: int = 0
    lost: int = 0
    #: Feature columns that differ from the reference run; values equal, values differing,
    #: the largest difference in units of the last place.
    differing: set[str] = field(default_factory=set)
    equal: int = 0
    differ: int = 0
    max_ulp: float = 0.0
    #: Wall time; temporaries, journals or lock files beyond the stripes left at the end.
    seconds: float = 0.0
    leftovers: int = 0


def _snapshot(cache: Path, outcome: Outcome) -> None:
    """Record new entries' inodes; count rewritten ones and partial files posing as entries."""
    for path in (cache / "features").glob("*/*/*/*.parquet"):
        try:
            pq.read_table(path)
            ino = path.stat().st_ino
        except Exception:  # noqa: BLE001 - any unreadable ".parquet" is a cache lie
            outcome.untrusted += 1
            continue
        first = outcome.seen.setdefault(path, ino)
        if first != ino:
            outcome.recomputed += 1
            outcome.seen[path] = ino


def _finish(cache: Path, data: Path, out: Path, reference: pd.DataFrame | None,
            modalities: str, outcome: Outcome) -> pd.DataFrame:
    _snapshot(cache, outcome)
    outcome.lost = sum(not is_parquet(p) for p in outcome.seen)
    subprocess.run(_emo("-q", "features", data, "--cache", cache, "-m", modalities, "-o", out),
                   check=True, stderr=subprocess.DEVNULL)
    table = pd.read_parquet(out).sort_index()
    locks = len(list((cache / LOCKS).glob("*")))  # kept on purpose, at most LOCK_STRIPES
    outcome.leftovers = max(0, locks - LOCK_STRIPES) + len(
        [p for p in cache.rglob("*") if p.name.endswith((".tmp", "-wal", "-shm"))])
    if reference is not None:
        features = table.drop(columns=["actor", "label"])
        a = features.to_numpy(float)
        b = reference.drop(columns=["actor", "label"]).to_numpy(float)
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        outcome.equal, outcome.differ = int(same.sum()), int((~same).sum())
        outcome.differing = set(features.columns[~same.all(axis=0)])
        finite = ~same & np.isfinite(a) & np.isfinite(b)
        if finite.any():
            ulps = np.abs(a[finite] - b[finite]) / np.spacing(np.abs(b[finite]))
            outcome.max_ulp = float(ulps.max())
    return table


def _extract(data: Path, cache: Path, jobs: int, modalities: str) -> int:
    done = subprocess.run(_emo("--json", "extract", data, "--cache", cache, "-j", jobs,
                               "-m", modalities), capture_output=True, text=True)
    if done.returncode == 2:
        raise SystemExit(done.stderr)
    return int(json.loads(done.stdout)["computed"])


def reference_run(data: Path, work: Path, jobs: int, modalities: str,
                  ) -> tuple[Outcome, pd.DataFrame]:
    outcome = Outcome("reference (no kill)", runs=1)
    t0 = time.perf_counter()
    outcome.computed = _extract(data, work / "ref", jobs, modalities)
    outcome.seconds = time.perf_counter() - t0
    table = _finish(work / "ref", data, work / "ref.parquet", None, modalities, outcome)
    outcome.equal = int(table.drop(columns=["actor", "label"]).size)
    return outcome, table


def killed_runs(data: Path, work: Path, jobs: int, modalities: str, kills: int,
                typical: float, reference: pd.DataFrame, rng: random.Random) -> Outcome:
    outcome = Outcome("killed, resumed")
    cache = work / "killed"
    t0 = time.perf_counter()
    while outcome.kills < kills:
        proc = _start("--json", "extract", data, "--cache", cache, "-j", jobs, "-m", modalities)
        outcome.runs += 1
        try:
            out, _ = proc.communicate(timeout=rng.uniform(0.2, 0.7) * typical)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            outcome.kills += 1
            _snapshot(cache, outcome)
            continue
        outcome.computed += int(json.loads(out)["computed"])
        break  # finished before the kill: nothing left to resume
    else:
        outcome.runs += 1
        outcome.computed += _extract(data, cache, jobs, modalities)
    outcome.seconds = time.perf_counter() - t0
    _finish(cache, data, work / "killed.parquet", reference, modalities, outcome)
    return outcome


def concurrent_runs(data: Path, work: Path, jobs: int, modalities: str,
                    reference: pd.DataFrame) -> Outcome:
    outcome = Outcome("2 processes at once", runs=2)
    cache = work / "concurrent"
    t0 = time.perf_counter()
    procs = [_start("--json", "extract", data, "--cache", cache, "-j", jobs, "-m", modalities)
             for _ in range(2)]
    outcome.computed = sum(int(json.loads(p.communicate()[0])["computed"]) for p in procs)
    outcome.seconds = time.perf_counter() - t0
    _finish(cache, data, work / "concurrent.parquet", reference, modalities, outcome)
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="Dataset (default: synthesise one).")
    parser.add_argument("--actors", type=int, default=1, help="Synthetic actors.")
    parser.add_argument("--takes", type=int, default=2, help="Synthetic takes per emotion.")
    parser.add_argument("--kills", type=int, default=5, help="SIGKILLs before the last run.")
    parser.add_argument("--jobs", type=int, default=2, help="Workers per emo extract.")
    parser.add_argument("--modalities", default="audio,face,body")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the kill times.")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="emo-resilience-") as tmp:
        work = Path(tmp)
        data = args.data
        if data is None:
            from emo.synth import synthesise

            data = synthesise(work / "demo", actors=args.actors, takes=args.takes,
                              test_actors=0, seed=args.seed)
        ref, table = reference_run(data, work, args.jobs, args.modalities)
        n_tasks = len(ref.seen)
        outcomes = [ref,
                    killed_runs(data, work, args.jobs, args.modalities, args.kills, ref.seconds,
                                table, rng),
                    concurrent_runs(data, work, args.jobs, args.modalities, table)]
    print(f"\n{table.shape[0]} clips x {args.modalities} = {n_tasks} cache entries, "
          f"-j {args.jobs}, {os.cpu_count()} CPUs\n")
    head = (f"{'scenario':<22} {'runs':>4} {'kills':>5} {'computed':>8} {'lost':>4} "
            f"{'redone':>6} {'untrusted':>9} {'leftover':>8} {'values equal':>14} "
            f"{'max ulp':>7} {'time':>6} {'x ref':>6}")
    print(head)
    print("-" * len(head))
    for o in outcomes:
        print(f"{o.name:<22} {o.runs:>4} {o.kills:>5} {o.computed:>8} {o.lost:>4} "
              f"{o.recomputed:>6} {o.untrusted:>9} {o.leftovers:>8} "
              f"{o.equal:>7}/{o.equal + o.differ:<6} {o.max_ulp:>7.1f} {o.seconds:>5.1f}s "
              f"{o.seconds / ref.seconds:>6.2f}")
    for o in outcomes:
        if o.differing:
            print(f"{o.name}: values differ in {', '.join(sorted(o.differing))}")
    print("\nlost, redone, untrusted: target 0. 'computed' beyond the entries counts work "
          "of runs that finished; killed runs report nothing.")


if __name__ == "__main__":
    main()
