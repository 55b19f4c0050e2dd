"""One clip through ``emo predict``: one pass over the base models against the old two passes.

1. **Model.** ``emo fit`` (:func:`emo.api.fit`, default settings but ``--folds 3``) on
   synthetic voiced tones: 7 classes x ``--speakers`` speakers x ``--takes`` takes, pitch
   and rhythm by class, an offset by speaker (written to ``--work``; no data needed).
2. **Model step, side by side.** For one new clip whose features are cached, the bundle's
   prediction is timed ``--repeats`` times, alternating the two ways in one process:

   - *old*: the fused probabilities (``StackingFusion.predict_proba``) then each modality's
     (``predict_proba_modalities``), as ``api.predict`` did: every base model runs twice;
   - *new*: :meth:`emo.models.Bundle.predict`, one pass (groups, fused and per-modality).

   Printed: the median milliseconds of each, their ratio, and the ``predict_proba`` calls of
   each base model per prediction (counted on the fitted estimators).
3. **Command line, optional.** With ``--baseline-src DIR`` (a source tree of the old emo,
   e.g. ``git archive f618638 | tar -x -C DIR``), ``emo predict MODEL clip.wav`` is run
   ``--cli-repeats`` times by each tree alternately (warm cache, same model folder when the
   bundle formats agree), and the median wall times and their ratio are printed.

Run::

    nice -n 10 .venv/bin/python benchmarks/predict_once.py --work /tmp/emo-predict-once
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from emo import api

SR = 16_000
CLASSES = ("An", "Di", "Fe", "Ha", "Ne", "Sa", "Su")


def tone(path: Path, seconds: float, f0: float, rate: float, seed: int) -> Path:
    """A voiced-like tone: vibrato, a syllable-rate envelope, some noise."""
    t = np.arange(round(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    phase = 2 * np.pi * f0 * t + 0.4 * np.sin(2 * np.pi * 5 * t)
    envelope = 1 + 0.6 * np.sin(2 * np.pi * rate * t)
    signal = 0.1 * envelope * np.sin(phase) + 0.003 * rng.standard_normal(t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, signal.astype("f4"), SR)
    return path


def dataset(root: Path, speakers: int, takes: int) -> Path:
    """A folders-layout dataset (``<class>/S<k>_<class>_<take>.wav``)."""
    for k, label in enumerate(CLASSES):
        for s in range(speakers):
            for take in range(takes):
                tone(root / label / f"S{s}_{label}_{take}.wav", 1.5, 110 + 25 * k + 9 * s,
                     2 + k / 3, seed=1000 * s + 10 * k + take)
    return root


def _counting(estimators: dict[str, Any], counts: Counter[str]) -> None:
    """Count each base model's ``predict_proba`` calls (the real method runs)."""
    for modality, estimator in estimators.items():
        real = estimator.predict_proba

        def counted(*args: Any, _real: Callable = real, _m: str = modality,
                    **kwargs: Any) -> Any:
            counts[_m] += 1
            return _real(*args, **kwargs)

        estimator.predict_proba = counted


def _median_ms(times: list[float]) -> float:
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/emo-predict-once"))
    parser.add_argument("--speakers", type=int, default=4)
    parser.add_argument("--takes", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--baseline-src", type=Path, default=None)
    parser.add_argument("--cli-repeats", type=int, default=5)
    args = parser.parse_args()

    work = args.work
    model, cache = work / "model", work / "cache"
    if not (model / "bundle.json").is_file():
        data = dataset(work / "train", args.speakers, args.takes)
        api.fit(data, out=model, cache=cache, config=api.FitConfig(n_splits=3), report=False,
                speaker_pattern=r"^(?P<speaker>S\d+)_")
    clip = tone(work / "clip.wav", 1.5, 170.0, 3.0, seed=7)
    bundle = api.load_model(model)
    features = api.predict(bundle, [clip], cache=cache).features  # extracts, then cached
    fusion = bundle.fusion

    def old() -> None:
        groups = bundle.groups(features)
        fusion.predict_proba(features, groups=groups)
        fusion.predict_proba_modalities(features, groups=groups)

    def new() -> None:
        bundle.predict(features)

    calls: dict[str, Counter[str]] = {}
    for name, way in (("old", old), ("new", new)):
        counts: Counter[str] = Counter()
        _counting(fusion.estimators_, counts)
        way()
        calls[name] = counts
        for estimator in fusion.estimators_.values():
            del estimator.predict_proba  # the class's method again
    times: dict[str, list[float]] = {"old": [], "new": []}
    old(), new()  # warm
    for _ in range(args.repeats):
        for name, way in (("old", old), ("new", new)):
            t0 = time.perf_counter()
            way()
            times[name].append(time.perf_counter() - t0)
    ms = {name: _median_ms(t) for name, t in times.items()}
    print(f"model step of one clip ({', '.join(bundle.modalities)}; estimator "
          f"{bundle.config.get('estimator')}), median of {args.repeats}:")
    for name in ("old", "new"):
        per_model = ", ".join(f"{m} {n}" for m, n in sorted(calls[name].items()))
        print(f"  {name}: {ms[name]:7.1f} ms   predict_proba calls per base model: {per_model}")
    print(f"  new / old: {ms['new'] / ms['old']:.2f}")

    if args.baseline_src is not None:
        trees = {"old": args.baseline_src.resolve(), "new": Path(__file__).resolve().parents[1]}
        wall: dict[str, list[float]] = {"old": [], "new": []}
        for _ in range(args.cli_repeats):
            for name, src in trees.items():
                env = {**os.environ, "PYTHONPATH": str(src)}
                t0 = time.perf_counter()
                run = subprocess.run([sys.executable, "-m", "emo", "predict", str(model),
                                      str(clip), "--cache", str(cache), "-o",
                                      str(work / f"{name}.csv")], env=env, cwd=work,
                                     capture_output=True, text=True)
                wall[name].append(time.perf_counter() - t0)
                if run.returncode:
                    raise SystemExit(f"{name} emo predict failed: {run.stderr.strip()}")
        cli = {name: _median_ms(t) for name, t in wall.items()}
        print(f"emo predict MODEL clip.wav (warm cache), median of {args.cli_repeats}:")
        for name in ("old", "new"):
            print(f"  {name}: {cli[name]:7.0f} ms")
        print(f"  new / old: {cli['new'] / cli['old']:.2f}")


if __name__ == "__main__":
    main()
