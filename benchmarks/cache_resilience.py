"""Kill ``emo extract`` at random points, resume, and check the cache lost and redid nothing;
damage entries and check that nothing damaged is served; measure what the checksums cost.

Usage::

    python benchmarks/cache_resilience.py [--data DIR] [--kills 5] [--jobs 2] [--seed 0]
        [--modalities audio,face,body]

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

Then, on the reference cache (issue 22, "a cache that never serves damage"):

4. **bit flips**: every single-bit flip of the largest entry, judged by the file checksum
   that every ``emo extract`` checks (:func:`emo.features.cache.framing_problem`) and,
   separately, by decoding alone (page CRCs and the digest of the values): flips seen,
   flips that changed nothing, and flips that changed a value unseen (target 0);
5. **damaged entries**: one bit flipped in the column data of three entries, then
   ``emo extract``: entries computed again (target 3), then ``emo features``: values equal
   to the reference;
6. **checksum cost**: every entry written again with :meth:`FeatureCache.put` and as a plain
   Parquet file of the same table (same options, no checksums), interleaved, best of 3;
   the warm check (:meth:`FeatureCache.check`) against the magic-bytes test alone; and a
   warm ``emo extract``. Targets: writing <= 2 % of the cold extract, the warm check <=
   max(1 % of the cold extract, 0.5 s).
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
import pyarrow as pa
import pyarrow.parquet as pq
from _speed import best_of, load

from emo._io import atomic_write
from emo.features.cache import (
    LOCK_STRIPES,
    LOCKS,
    DamagedEntryError,
    FeatureCache,
    decode_entry,
    framing_problem,
    is_parquet,
)


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


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _identity(path: Path) -> tuple[str, dict]:
    """Key and extractor identity of an entry, from its metadata."""
    meta = pq.read_schema(path).metadata
    return path.stem, {"extractor": meta[b"emo.extractor"].decode(),
                       "version": meta[b"emo.extractor_version"].decode(),
                       "modality": meta[b"emo.modality"].decode(),
                       "settings": json.loads(meta[b"emo.settings"])}


def bit_flips(cache: Path) -> None:
    """Flip every bit of the largest entry; count what each line of defence sees."""
    path = max((cache / "features").glob("*/*/*/*.parquet"), key=lambda p: p.stat().st_size)
    data = path.read_bytes()
    key, _ = _identity(path)
    names, values = decode_entry(data, path, key)
    want = values.tobytes()
    counts = {"file checksum": [0, 0, 0], "decoding alone": [0, 0, 0]}  # seen, same, changed
    for bit in range(8 * len(data)):
        flipped = _flip(data, bit)
        outcomes = {"file checksum": framing_problem(flipped) is not None}
        try:
            got_names, got = decode_entry(flipped, path, key)
            same = got_names == names and got.tobytes() == want
            outcomes["decoding alone"] = None if same else False
        except DamagedEntryError:
            outcomes["decoding alone"] = True
        for line, seen in outcomes.items():
            if seen:
                counts[line][0] += 1
            elif seen is None or line == "file checksum" and _same_after_read(flipped, path,
                                                                              key, want):
                counts[line][1] += 1
            else:
                counts[line][2] += 1
    print(f"\nbit flips of {path.name} ({len(data)} bytes, {len(names)} features): "
          f"{8 * len(data)} flips")
    print(f"{'line of defence':<16} {'seen':>7} {'no change':>9} {'changed, unseen':>15}")
    for line, (seen, same, changed) in counts.items():
        print(f"{line:<16} {seen:>7} {same:>9} {changed:>15}")


def _same_after_read(flipped: bytes, path: Path, key: str, want: bytes) -> bool:
    """Whether a flip the file checksum missed still reads as the written values."""
    try:
        return decode_entry(flipped, path, key)[1].tobytes() == want
    except DamagedEntryError:
        return True  # refused when read: nothing served


def damaged_entries(data: Path, work: Path, jobs: int, modalities: str,
                    reference: pd.DataFrame) -> None:
    """Flip one bit in the column data of three entries; extract must compute them again."""
    import shutil

    cache = work / "damaged"
    shutil.copytree(work / "ref", cache)
    victims = sorted((cache / "features").glob("*/*/*/*.parquet"))[:3]
    for path in victims:
        raw = path.read_bytes()
        path.write_bytes(_flip(raw, 8 * (len(raw) // 4) + 3))
    computed = _extract(data, cache, jobs, modalities)
    outcome = Outcome("damaged")
    _finish(cache, data, work / "damaged.parquet", reference, modalities, outcome)
    print(f"\n{len(victims)} entries damaged (one bit each): emo extract computed {computed} "
          f"again (target {len(victims)}); emo features: {outcome.equal}/"
          f"{outcome.equal + outcome.differ} values equal to the reference")


def checksum_cost(data: Path, work: Path, jobs: int, modalities: str,
                  cold: float) -> None:
    """What writing and checking the checksums cost, against the cold and warm extract."""
    entries = sorted((work / "ref" / "features").glob("*/*/*/*.parquet"))
    store = FeatureCache(work / "rewrite")
    plain = work / "plain"
    items = []
    for path in entries:
        key, identity = _identity(path)
        table = pq.read_table(path)
        features = dict(zip(table.column("feature").to_pylist(),
                            table.column("value").to_pylist(), strict=True))
        items.append((key, identity, features, table))

    def checksummed() -> None:
        for key, identity, features, _ in items:
            store.put(key, identity, features)

    def unchecked() -> None:
        for key, _, _, table in items:
            sink = pa.BufferOutputStream()
            pq.write_table(table.replace_schema_metadata(table.schema.metadata), sink,
                           compression="zstd", use_dictionary=False, write_statistics=False)
            atomic_write(plain / f"{key}.parquet", sink.getvalue().to_pybytes(), durable=False)

    reference_cache = FeatureCache(work / "ref")
    keys = [(key, identity) for key, identity, _, _ in items]
    writes = best_of(3, {"put": checksummed, "plain": unchecked})
    checks = best_of(3, {
        "check": lambda: [reference_cache.check(k, i) for k, i in keys],
        "magic": lambda: [is_parquet(reference_cache.path(k, i)) for k, i in keys]})
    t0 = time.perf_counter()
    _extract(data, work / "ref", jobs, modalities)
    warm = time.perf_counter() - t0
    write_cost = writes["put"] - writes["plain"]
    check_cost = checks["check"] - checks["magic"]
    limit = max(0.01 * cold, 0.5)
    print(f"\nchecksum cost over {len(entries)} entries ({load()}):")
    print(f"  cold emo extract {cold:.2f} s; put {writes['put'] * 1e3:.1f} ms, plain Parquet "
          f"write {writes['plain'] * 1e3:.1f} ms: checksums add {write_cost * 1e3:.1f} ms = "
          f"{write_cost / cold:.2%} of cold (target <= 2 %)")
    print(f"  warm emo extract {warm:.2f} s; check {checks['check'] * 1e3:.1f} ms, magic bytes "
          f"only {checks['magic'] * 1e3:.1f} ms: checksums add {check_cost * 1e3:.1f} ms "
          f"(target <= max(1 % of cold, 0.5 s) = {limit:.2f} s)")


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
        print_outcomes(outcomes, table, n_tasks, args)
        bit_flips(work / "ref")
        damaged_entries(data, work, args.jobs, args.modalities, table)
        checksum_cost(data, work, args.jobs, args.modalities, ref.seconds)


def print_outcomes(outcomes: list[Outcome], table: pd.DataFrame, n_tasks: int,
                   args: argparse.Namespace) -> None:
    """The table of the kill and concurrency scenarios."""
    ref = outcomes[0]
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
