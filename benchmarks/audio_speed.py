"""Speed of ``emo extract --modality audio`` against plain openSMILE on the same files, same run.

Clips: RAVDESS actors 01-05 (about 300 speech clips, 16 kHz FLAC) from the read-only data pack,
listed in a temporary manifest CSV (nothing is copied). For each feature set (``--features``,
default ``egemaps compare``: eGeMAPSv02 and ComParE_2016 functionals), rows all measured in
this one run:

* ``openSMILE process_file``: one ``opensmile.Smile(<set>, Functionals)`` per process
  calling ``process_file`` on every file (``-j 2``: a pool of 2 processes) - the baseline;
* ``emo extractor in-process``: the :class:`emo.features.audio.OpenSmileExtractor`'s
  ``extract`` on every clip (decoding with :func:`emo.data.audio.read_audio` + openSMILE),
  no CLI, no cache;
* ``emo extract`` cold / warm: the whole command line as a subprocess
  (``python -m emo extract MANIFEST --modality audio --audio-features SET -j N --cache DIR``),
  first with an empty cache, then again on the filled one.

With ``--repeat R`` the baseline and the cold and warm runs alternate R times (a fresh cache
for each cold run) and the shortest time of each is kept, so that load from other processes
hits both sides alike.

A first small table times :func:`emo.data.audio.read_audio` on a 2 s segment near the end of a
120 s MP4 against the whole sound track (seeking, not decoding everything before the segment).

Targets (issues 16 and 20): cold CLI <= 1.05x the baseline with one worker (1.15x with -j 2);
warm <= max(1 % of cold, 0.5 s).
Real-time factor (RTF) = wall seconds / seconds of audio (smaller is faster).

Run::

    .venv/bin/python benchmarks/audio_speed.py [--actors 1-5] [--jobs 1 2]
        [--features egemaps compare] [--repeat 1]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import soundfile as sf
from _common import DATA as SHARED_DATA
from _speed import Table, load, timed

from emo.data.clip import Clip, write_manifest
from emo.data.labels import CLASSES
from emo.data.layouts import load_clips

DATA = SHARED_DATA / "ravdess" / "audio"


def _raw_chunk(paths: list[str], feature_set: str) -> int:
    import opensmile

    smile = opensmile.Smile(feature_set=opensmile.FeatureSet[feature_set],
                            feature_level=opensmile.FeatureLevel.Functionals)
    for path in paths:
        smile.process_file(path)
    return len(paths)


def raw_opensmile(paths: list[str], jobs: int, feature_set: str) -> int:
    """Baseline: ``Smile.process_file`` on every file, in ``jobs`` processes."""
    if jobs == 1:
        return _raw_chunk(paths, feature_set)
    chunks = [paths[i::jobs] for i in range(jobs)]
    with ProcessPoolExecutor(jobs) as pool:
        return sum(pool.map(_raw_chunk, chunks, [feature_set] * jobs))


def in_process(clips: list[Clip], name: str) -> int:
    """The emo extractor (decode + openSMILE) in this process, no cache."""
    from emo.features.base import get_extractor

    extractor = get_extractor("audio", name)
    for clip in clips:
        extractor.extract(clip)
    return len(clips)


def cli_extract(manifest: Path, cache: Path, jobs: int,
                name: str) -> subprocess.CompletedProcess:
    """``python -m emo extract MANIFEST --modality audio --audio-features NAME -j N
    --cache DIR``."""
    cmd = [sys.executable, "-m", "emo", "extract", str(manifest), "--modality", "audio",
           "--audio-features", name, "-j", str(jobs), "--cache", str(cache)]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def _cli(manifest: Path, cache: Path, jobs: int, name: str) -> float:
    """Wall seconds of one ``emo extract`` (raising when it fails)."""
    done, t = timed(cli_extract, manifest, cache, jobs, name)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["?"])[-1]
        raise SystemExit(f"emo extract failed (exit {done.returncode}): {reason}")
    return t


def compare_one(name: str, clips: list[Clip], manifest: Path, work: Path, jobs: int,
                repeat: int, seconds: float, table: Table) -> None:
    """Rows of one feature set and worker count: baseline, cold and warm CLI, alternated."""
    from emo.features.audio import FEATURE_SETS

    paths = [str(c.audio) for c in clips]
    base = cold = warm = float("inf")
    for r in range(repeat):
        base = min(base, timed(raw_opensmile, paths, jobs, FEATURE_SETS[name].smile_set)[1])
        cache = work / f"cache-{name}-j{jobs}-{r}"
        cold = min(cold, _cli(manifest, cache, jobs, name))
        warm = min(warm, _cli(manifest, cache, jobs, name))
    table.row(f"{name}: openSMILE process_file", jobs, base, base / seconds, "1.00x")
    for run, t in (("cold", cold), ("warm", warm)):
        table.row(f"{name}: emo extract, {run} cache", jobs, t, t / seconds,
                  f"{t / base:.3f}x", f"{t / cold:.1%}")


def _long_video(path: Path, seconds: float = 120.0, sr: int = 16000) -> Path:
    """An MP4 with a tiny video stream and ``seconds`` of AAC noise (for the seek row)."""
    import av
    import numpy as np

    noise = (0.1 * np.random.default_rng(0).standard_normal(round(seconds * sr))).astype("f4")
    with av.open(str(path), "w") as out:
        video = out.add_stream("mpeg4", rate=1)
        video.width = video.height = 32
        video.pix_fmt = "yuv420p"
        sound = out.add_stream("aac", rate=sr, layout="mono")
        frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
        frame.pts = 0
        out.mux(video.encode(frame))
        out.mux(video.encode(None))
        for i in range(0, noise.size, 1024):
            chunk = av.AudioFrame.from_ndarray(noise[None, i:i + 1024], format="fltp",
                                               layout="mono")
            chunk.sample_rate, chunk.pts = sr, i
            out.mux(sound.encode(chunk))
        out.mux(sound.encode(None))
    return path


def segment_vs_whole(folder: Path) -> None:
    """Print how long a 2 s segment near the end of a 120 s MP4 takes against the whole track."""
    from emo.data.audio import read_audio

    path = _long_video(folder / "long.mp4")
    table = Table(["read_audio on a 120 s MP4 (AAC)", "seconds", "vs whole"], width=34)
    _, whole = timed(read_audio, path)
    table.row("whole sound track", whole, "1.00x")
    _, part = timed(lambda: read_audio(path, start=110.0, end=112.0))
    table.row("segment 110-112 s (seek)", part, f"{part / whole:.3f}x")


def _actors(text: str) -> set[str]:
    lo, _, hi = text.partition("-")
    return {f"{i:02d}" for i in range(int(lo), int(hi or lo) + 1)}


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--actors", default="1-5", help="actor range, e.g. 1-5")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--features", nargs="+", default=["egemaps", "compare"],
                        help="audio feature sets (extractor names)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="alternate baseline and CLI runs this often; keep the best")
    parser.add_argument("--skip-in-process", action="store_true",
                        help="skip the row of the extractor called in this process")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"skipped: {args.data} not found")
        return 0
    wanted = _actors(args.actors)
    # calm clips are kept too (unlabelled: a manifest holds challenge codes only)
    clips = [replace(c, label=c.label if c.label in CLASSES else None)
             for c in load_clips(args.data, label_map={"calm": "calm"}) if c.actor in wanted]
    seconds = sum(sf.info(str(c.audio)).duration for c in clips)
    print(f"{len(clips)} clips of actors {args.actors}, {seconds:.0f} s of audio; {load()}")
    with tempfile.TemporaryDirectory(prefix="emo-audio-speed-") as tmp:
        segment_vs_whole(Path(tmp))
        manifest = write_manifest(clips, Path(tmp) / "clips.csv")
        table = Table(["run", "-j", "seconds", "RTF", "vs baseline", "vs cold"], width=40)
        for name in args.features:
            if not args.skip_in_process:
                _, t = timed(in_process, clips, name)
                table.row(f"{name}: emo extractor in-process", 1, t, t / seconds)
            for jobs in args.jobs:
                compare_one(name, clips, manifest, Path(tmp), jobs, args.repeat, seconds, table)
    print(f"{load()}\ntargets: cold <= 1.05x baseline with -j 1, <= 1.15x with -j 2; "
          "warm <= max(1% of cold, 0.5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
