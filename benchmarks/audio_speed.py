"""Speed of ``emo extract --modality audio`` against plain openSMILE on the same files, same run.

Clips: RAVDESS actors 01-05 (about 300 speech clips, 16 kHz FLAC) from the read-only data pack,
listed in a temporary manifest CSV (nothing is copied). Rows, all measured in this one run:

* ``openSMILE process_file``: one ``opensmile.Smile(eGeMAPSv02, Functionals)`` per process
  calling ``process_file`` on every file (``-j 2``: a pool of 2 processes) - the baseline;
* ``emo extractor in-process``: :class:`emo.features.audio.EGeMAPS` ``extract`` on every clip
  (decoding with :func:`emo.data.audio.read_audio` + ``process_signal``), no CLI, no cache;
* ``emo extract`` cold / warm: the whole command line as a subprocess
  (``python -m emo extract MANIFEST --modality audio -j N --cache DIR``), first with an empty
  cache, then again on the filled one.

Targets: cold CLI within 15 % of the baseline at the same ``-j``; warm <= 3 % of cold.
Real-time factor (RTF) = wall seconds / seconds of audio (smaller is faster).

Run::

    .venv/bin/python benchmarks/audio_speed.py [--actors 1-5] [--jobs 1 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import soundfile as sf
from _common import Table, timed

from emo.data.clip import Clip, write_manifest
from emo.data.layouts import load_clips

DATA = Path("/work/shared/data/ravdess/audio")


def _smile():
    import opensmile

    return opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                           feature_level=opensmile.FeatureLevel.Functionals)


def _raw_chunk(paths: list[str]) -> int:
    smile = _smile()
    for path in paths:
        smile.process_file(path)
    return len(paths)


def raw_opensmile(paths: list[str], jobs: int) -> int:
    """Baseline: ``Smile.process_file`` on every file, in ``jobs`` processes."""
    if jobs == 1:
        return _raw_chunk(paths)
    chunks = [paths[i::jobs] for i in range(jobs)]
    with ProcessPoolExecutor(jobs) as pool:
        return sum(pool.map(_raw_chunk, chunks))


def in_process(clips: list[Clip]) -> int:
    """The emo extractor (decode + ``process_signal``) in this process, no cache."""
    from emo.features.base import get_extractor

    extractor = get_extractor("audio", "egemaps")
    for clip in clips:
        extractor.extract(clip)
    return len(clips)


def cli_extract(manifest: Path, cache: Path, jobs: int) -> subprocess.CompletedProcess:
    """``python -m emo extract MANIFEST --modality audio -j N --cache DIR``."""
    cmd = [sys.executable, "-m", "emo", "extract", str(manifest), "--modality", "audio",
           "-j", str(jobs), "--cache", str(cache)]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def _actors(text: str) -> set[str]:
    lo, _, hi = text.partition("-")
    return {f"{i:02d}" for i in range(int(lo), int(hi or lo) + 1)}


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--actors", default="1-5", help="actor range, e.g. 1-5")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"skipped: {args.data} not found")
        return 0
    wanted = _actors(args.actors)
    clips = [c for c in load_clips(args.data, label_map={"calm": "calm"}) if c.actor in wanted]
    paths = [str(c.audio) for c in clips]
    seconds = sum(sf.info(p).duration for p in paths)
    print(f"{len(clips)} clips of actors {args.actors}, {seconds:.0f} s of audio")
    with tempfile.TemporaryDirectory(prefix="emo-audio-speed-") as tmp:
        manifest = write_manifest(clips, Path(tmp) / "clips.csv")
        table = Table(["run", "-j", "seconds", "RTF", "vs baseline", "vs cold"], width=34)
        _, t = timed(in_process, clips)
        table.row("emo extractor in-process", 1, t, t / seconds)
        for jobs in args.jobs:
            _, base = timed(raw_opensmile, paths, jobs)
            table.row("openSMILE process_file (baseline)", jobs, base, base / seconds, "1.00x")
            cache = Path(tmp) / f"cache-j{jobs}"
            for run in ("cold", "warm"):
                done, t = timed(cli_extract, manifest, cache, jobs)
                if done.returncode != 0:
                    reason = (done.stderr.strip().splitlines() or ["?"])[-1]
                    print(f"emo extract failed (exit {done.returncode}): {reason}")
                    return 1
                if run == "cold":
                    cold = t
                table.row(f"emo extract, {run} cache", jobs, t, t / seconds,
                          f"{t / base:.2f}x", f"{t / cold:.1%}")
    print("targets: cold <= 1.15x baseline at the same -j; warm <= 3% of cold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
