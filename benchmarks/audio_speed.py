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

A first small table times :func:`emo.data.audio.read_audio` on a 2 s segment near the end of a
120 s MP4 against the whole sound track (seeking, not decoding everything before the segment).

Targets: cold CLI within 5 % of the baseline with one worker (issue 16; 15 % with -j 2);
warm <= 3 % of cold.
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
from dataclasses import replace
from pathlib import Path

import soundfile as sf
from _common import DATA as SHARED_DATA
from _speed import Table, timed

from emo.data.clip import Clip, write_manifest
from emo.data.labels import CLASSES
from emo.data.layouts import load_clips

DATA = SHARED_DATA / "ravdess" / "audio"


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
    paths = [str(c.audio) for c in clips]
    seconds = sum(sf.info(p).duration for p in paths)
    print(f"{len(clips)} clips of actors {args.actors}, {seconds:.0f} s of audio")
    with tempfile.TemporaryDirectory(prefix="emo-audio-speed-") as tmp:
        segment_vs_whole(Path(tmp))
        manifest = write_manifest(clips, Path(tmp) / "clips.csv")
        table = Table(["run", "-j", "seconds", "RTF", "vs baseline", "vs cold"], width=34)
        if not args.skip_in_process:
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
    print("targets: cold <= 1.05x baseline with -j 1, <= 1.15x with -j 2; warm <= 3% of cold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
