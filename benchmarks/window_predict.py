"""Sliding-window prediction of a long recording against the same file as one clip (issue 16).

1. **Model.** A synthetic challenge-layout training set (:func:`emo.synth.synthesise`,
   ``--actors`` x 7 emotions x ``--takes``, H.264/AAC at 456 x 256 and 30 fps, Kinect files)
   and ``emo fit`` on it (Kinect body, the defaults otherwise).
2. **Recording.** Two further actors, drawn with another seed (people the model never saw),
   synthesised the same way. Their recordings of six emotions (Neutral left out: neutral is
   what lies between the takes) are concatenated into one H.264/AAC file, the two actors
   taking turns; each recording keeps its neutral lead-in, the neutral gaps between its
   takes and its tail. The spans of the takes on the file's time line and their classes are
   the ground truth (``truth.csv``). There is no skeleton file: body comes from video pose
   (the synthetic videos show a head and still shoulders; the body moves only in the
   Kinect files).
3. **Runs.** ``emo predict MODEL long.mp4 --window W --hop H -o windows.csv`` and
   ``emo predict MODEL long.mp4 -o one.csv`` (the whole file as one clip), each with a cold
   cache of its own, one after the other, under the same load. For each: exit code, wall
   time and the peak resident memory of its process tree (the sum over the command and its
   workers, sampled every 0.1 s; the largest single process from ``wait4`` beside it).
4. **Scores.** Windows written / expected (``(duration - W) / H + 1``), the UAR of the
   fused and of each modality's predictions over the windows whose centre lies inside a
   take (against the take's class; the six acted classes), and how the windows were grouped
   into pseudo-actors (from :func:`emo.api.predict_windows` on the warm cache) against the
   two true actors.

Targets (issue 16): >= 95 % of the windows, UAR >= 60 %, wall time <= 1.5x one clip, peak
memory < 1.5 GB.

The training set, the model and the recording are kept in ``--work`` and reused by later
runs (delete the folder to rebuild them); the prediction caches are new every run.

Run::

    nice -n 10 .venv/bin/python benchmarks/window_predict.py --work /tmp/emo-windows
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
from _speed import load, rss_mb

from emo import api
from emo.data.audio import read_audio
from emo.data.clip import Clip
from emo.data.video import iter_frames, video_info
from emo.errors import BundleError
from emo.models.evaluate import uar
from emo.synth.generate import SAMPLE_RATE
from emo.synth.writer import write_video

#: Frame size and rate of every synthetic video.
SIZE, FPS = (456, 256), 30.0
#: The class the recording leaves out: it is what lies between the takes.
BETWEEN = "Ne"


@dataclass
class Run:
    """One command: exit code, wall seconds, peak memory (MB) of its tree and of one process."""

    code: int
    seconds: float
    tree_mb: float
    process_mb: float
    stderr: str


def command(args: list[str | Path], cwd: Path) -> Run:
    """Run ``emo ARGS`` in ``cwd``, sampling the resident memory of its process tree."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "emo", *map(str, args)], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            with contextlib.suppress(psutil.NoSuchProcess):  # the command has just ended
                peak[0] = max(peak[0], rss_mb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(proc.returncode, seconds, peak[0], usage.ru_maxrss / 1e3, stderr)


def training_model(work: Path, actors: int, takes: int, seed: int, n_jobs: int) -> Path:
    """The model fitted on the training set (both written when missing; the model again
    when it was fitted with other extractor versions)."""
    data, model = work / "train", work / "model"
    if not (data / "videos").is_dir():
        print(f"synthesising the training set: {actors} actors x 7 emotions x {takes} takes",
              flush=True)
        api.synthesise(data, actors=actors, takes=takes, test_actors=0, seed=seed, fps=FPS,
                       size=SIZE, overwrite=True)
    try:
        api.load_model(model)
    except BundleError as exc:  # none yet, or fitted with other extractor versions
        print(f"fitting the model (emo fit, Kinect body): {exc.reason}", flush=True)
    else:
        return model
    fit = command(["fit", data, "-o", model, "--cache", work / "cache-train", "-j", str(n_jobs)],
                  work)
    if fit.code != 0:
        raise SystemExit(f"emo fit exited {fit.code}: {fit.stderr[-2000:]}")
    print(f"  fitted in {fit.seconds:.0f} s", flush=True)
    return model


def session_order(clips: list[Clip], seed: int) -> list[list[Clip]]:
    """The takes of each recording (one video per actor and emotion) but Neutral ones, in
    the order they are played: each actor's recordings shuffled, the actors taking turns."""
    recordings: dict[Path, list[Clip]] = {}
    for clip in sorted(clips, key=lambda c: (c.actor, c.label, c.start)):
        if clip.label != BETWEEN:
            recordings.setdefault(clip.video, []).append(clip)
    rng = np.random.default_rng(seed)
    by_actor: dict[str, list[list[Clip]]] = {}
    for takes in recordings.values():
        by_actor.setdefault(takes[0].actor, []).append(takes)
    turns = [[lists[i] for i in rng.permutation(len(lists))] for lists in by_actor.values()]
    return [r for turn in itertools.zip_longest(*turns) for r in turn if r is not None]


def long_recording(work: Path, takes: int, seed: int) -> tuple[Path, pd.DataFrame]:
    """The two-actor recording and its ground truth (written when missing).

    Returns
    -------
    path : Path
        ``long.mp4``.
    truth : pandas.DataFrame
        One row per take: ``actor, label, start, end`` on the recording's time line.
    """
    path, truth_csv = work / "long.mp4", work / "truth.csv"
    if path.is_file() and truth_csv.is_file():
        return path, pd.read_csv(truth_csv)
    session = api.synthesise(work / "session", actors=2, takes=takes, test_actors=0,
                             seed=seed + 1, fps=FPS, size=SIZE, overwrite=True)
    order = session_order(api.index(session), seed)
    rows, sounds, offset = [], [], 0.0
    for recording in order:
        video = recording[0].video
        seconds = video_info(video).n_frames / FPS
        sound = read_audio(video, sr=SAMPLE_RATE)[:round(seconds * SAMPLE_RATE)]
        sounds.append(np.pad(sound, (0, round(seconds * SAMPLE_RATE) - sound.size)))
        rows += [{"actor": c.actor, "label": c.label, "start": round(offset + c.start, 3),
                  "end": round(offset + c.end, 3)} for c in recording]
        offset += seconds
    frames = (image for recording in order for _, image in iter_frames(recording[0].video))
    write_video(path, frames, np.concatenate(sounds), FPS, SAMPLE_RATE)
    truth = pd.DataFrame(rows)
    truth.to_csv(truth_csv, index=False)
    shutil.rmtree(work / "session")
    return path, truth


def take_of_windows(windows: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """The take (actor, label) each window's centre lies in; windows centred elsewhere
    (a gap, a lead-in, a tail) are left out."""
    centre = ((windows["start"] + windows["end"]) / 2).to_numpy()
    inside = (centre[:, None] >= truth["start"].to_numpy()) & (
        centre[:, None] < truth["end"].to_numpy())
    hit = inside.any(axis=1)
    take = inside.argmax(axis=1)[hit]
    out = windows.loc[hit].copy()
    out["actor"] = truth["actor"].to_numpy()[take]
    out["label"] = truth["label"].to_numpy()[take]
    return out


def pseudo_actors(model: Path, media: Path, window: float, hop: float, cache: Path,
                  truth: pd.DataFrame) -> pd.DataFrame:
    """Windows per (pseudo-actor, true actor), for the windows centred inside a take."""
    prediction = api.predict_windows(model, media, window=window, hop=hop, cache=cache)
    frame = prediction.frame.assign(group=prediction.frame["id"].map(prediction.groups))
    scored = take_of_windows(frame, truth)
    return pd.crosstab(scored["group"], scored["actor"])


def main(argv: list[str] | None = None) -> int:
    """Build (or reuse) the model and the recording, run both commands, print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/emo-windows"),
                        help="folder for the sets, the model and the runs")
    parser.add_argument("--actors", type=int, default=8, help="training actors")
    parser.add_argument("--takes", type=int, default=3, help="training takes per emotion")
    parser.add_argument("--session-takes", type=int, default=5,
                        help="takes per emotion of each actor of the recording")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--window", type=float, default=2.0)
    parser.add_argument("--hop", type=float, default=1.0)
    parser.add_argument("-j", "--jobs", type=int, default=1, help="workers of each command")
    args = parser.parse_args(argv)
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    model = training_model(work, args.actors, args.takes, args.seed, args.jobs)
    media, truth = long_recording(work, args.session_takes, args.seed)
    duration = api.media_duration(media)
    inside = (truth["end"] - truth["start"]).sum()
    print(f"recording: {duration:.1f} s, {len(truth)} takes of {truth['label'].nunique()} "
          f"classes by {truth['actor'].nunique()} actors, {inside:.0f} s inside takes",
          flush=True)
    runs: dict[str, Run] = {}
    jobs = ["-j", str(args.jobs)]
    for name, extra in (("windows", ["--window", args.window, "--hop", args.hop]),
                        ("one clip", [])):
        out = work / f"{name.replace(' ', '_')}.csv"
        cache = work / f"cache-{name.replace(' ', '_')}"
        shutil.rmtree(cache, ignore_errors=True)
        print(f"{load()}: emo predict {'--window' if extra else '(one clip)'} ...", flush=True)
        runs[name] = command(["predict", model, media, *extra, *jobs, "-o", out,
                              "--cache", cache], work)
    print(f"{load()} after the runs\n")
    print(f"{'command':28s} {'exit':>4s} {'wall s':>8s} {'tree MB':>8s} {'1 proc MB':>9s}")
    for name, run in runs.items():
        print(f"{name:28s} {run.code:4d} {run.seconds:8.1f} {run.tree_mb:8.0f} "
              f"{run.process_mb:9.0f}")
        if run.code != 0:
            print("  " + run.stderr.strip()[-1500:].replace("\n", "\n  "))
    windows = pd.read_csv(work / "windows.csv")
    expected = len(api.window_bounds(duration, args.window, args.hop))
    complete = windows.dropna(subset=["start", "end", "pred"])
    ratio = runs["windows"].seconds / runs["one clip"].seconds
    scored = take_of_windows(complete, truth)
    print(f"\nwindows written with start, end, pred: {len(complete)} / {expected} "
          f"({100 * len(complete) / expected:.1f} %; target >= 95 %)")
    print(f"wall time windows / one clip: {ratio:.2f} (target <= 1.5)")
    print(f"peak memory of the windowed run's processes: {runs['windows'].tree_mb:.0f} MB "
          "(target < 1500)")
    print(f"UAR over the {len(scored)} windows centred inside a take "
          f"({scored['label'].nunique()} classes; target >= 60 %):")
    for column in [c for c in complete.columns if c.startswith("pred")]:
        print(f"  {column:12s} {100 * uar(scored['label'], scored[column].fillna('-')):5.1f} %")
    groups = pseudo_actors(model, media, args.window, args.hop, work / "cache-windows", truth)
    print(f"\nwindows (centred in a take) per pseudo-actor and true actor: {len(groups)} "
          f"pseudo-actor(s)\n{groups.to_string()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
