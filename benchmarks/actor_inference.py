"""Actor inference on unseen RAVDESS actors: pseudo-actor counts, ARI, fused UAR known vs hidden.

Data (read-only pack, never copied): RAVDESS audio (eGeMAPS + ComParE of the FLAC files) + imported
OpenFace AUs, 7 classes, as in ``fusion_accuracy.py``. Flow: :func:`emo.api.fit` with the
default settings (its bundle holds the fitted :class:`emo.models.ActorIdentifier`), then
:func:`emo.api.predict` of the test actors once with their actors known and once with the actor
column empty, the hidden actors predicted in separate groups of 1, 2 and 4 actors (each group
its own ``emo predict`` call). A clip that gets no prediction counts as wrong.

Protocol (see ``benchmarks/_common.py``): development actors 01-12, untouched 13-16.

- development: ``emo fit`` on 8 development actors, test groups from the other 4 (first split
  01-08 / 09-12, then ``--splits - 1`` seeded random splits);
- ``--simulate``: the leave-actors-out simulation that ``emo fit`` reports
  (:func:`emo.models.simulate_inference`, groups of 1, 2 and 4 actors, fold models of an
  actor-grouped 4-fold CV of the default fusion) on the 12 development actors, once per seed
  of the actor folds (``--seeds``), with the identifier's defaults and ``--emotion-weight``s;
- ``--untouched``: ``emo fit`` on 01-12, groups from 13-16; look at it once, at the end.

Target (issue "Unseen actors"): fused UAR with the actors hidden within 2 points of actors
known, pooled over the groups, and no group more than 5 points below its known score.

Run: ``.venv/bin/python benchmarks/actor_inference.py --cache ../cache-real [--simulate
[--seeds 4] [--emotion-weight 0 1]] [--untouched]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from _common import UNTOUCHED, hide_actors
from fusion_accuracy import tasks

from emo import api
from emo.data.clip import Clip
from emo.models import ActorIdentifier, actor_folds, simulate_inference, uar
from emo.models.identity import _ari
from emo.models.train import make_fusion
from emo.settings import FitConfig

SIZES = (1, 2, 4)


def fused(prediction: api.Prediction, clips: Sequence[Clip]) -> pd.Series:
    """Fused prediction of each clip (``"<none>"`` where there is none)."""
    frame = prediction.frame.set_index("id")["pred"]
    return frame.reindex([c.id for c in clips]).fillna("<none>").astype(str)


def evaluate(dev: list[Clip], test: list[Clip], cache: Path, n_jobs: int) -> pd.DataFrame:
    """Fit on ``dev``; one row per hidden group of ``test``: size, actors found, ARI, UAR known
    and hidden of the group, and its clips' true, known and hidden predictions."""
    actors = sorted({c.actor for c in test})
    rows = []
    with tempfile.TemporaryDirectory() as work:
        model = api.fit(dev, out=Path(work) / "model", cache=cache, n_jobs=n_jobs,
                        report=False).out
        bundle = api.load_model(model)
        print(f"  identifier calibration: {bundle.identifier.calibration_}")
        known = fused(api.predict(bundle, test, cache=cache, n_jobs=n_jobs), test)
        for size in SIZES:
            for first in range(0, len(actors), size):
                group = [c for c in test if c.actor in actors[first:first + size]]
                start = time.perf_counter()
                prediction = api.predict(bundle, hide_actors(group), cache=cache, n_jobs=n_jobs)
                seconds = time.perf_counter() - start
                truth = pd.Series({c.id: c.label for c in group})
                inferred = prediction.groups.reindex(truth.index).fillna("<none>")
                rows.append({
                    "size": size, "actors": ",".join(actors[first:first + size]),
                    "found": inferred.nunique(),
                    "ari": _ari(np.array([c.actor for c in group]), inferred.to_numpy()),
                    "known": uar(truth, known.loc[truth.index]),
                    "hidden": uar(truth, fused(prediction, group)),
                    "truth": truth, "pred_known": known.loc[truth.index],
                    "pred_hidden": fused(prediction, group), "seconds": seconds,
                })
    return pd.DataFrame(rows)


def report(title: str, runs: pd.DataFrame) -> None:
    """Per size: groups, actors found (exact share), ARI, pooled UAR known/hidden, worst loss."""
    print(f"\n{title}")
    print(f"{'size':>4s} {'groups':>6s} {'found (mean)':>12s} {'exact':>6s} {'ARI':>6s} "
          f"{'UAR known':>9s} {'hidden':>7s} {'loss':>6s} {'worst group':>11s}")
    for size, part in runs.groupby("size"):
        truth = pd.concat(list(part["truth"]))
        known = uar(truth, pd.concat(list(part["pred_known"])))
        hidden = uar(truth, pd.concat(list(part["pred_hidden"])))
        worst = (part["known"] - part["hidden"]).max()
        print(f"{size:4d} {len(part):6d} {part['found'].mean():12.2f} "
              f"{(part['found'] == size).mean():6.0%} {part['ari'].mean():6.2f} {known:9.1%} "
              f"{hidden:7.1%} {known - hidden:+6.1%} {worst:+11.1%}")
    wrong = runs[runs["found"] != runs["size"]]
    for _, row in wrong.iterrows():
        print(f"  actors {row['actors']}: {row['found']} pseudo-actors, UAR "
              f"{row['known']:.1%} -> {row['hidden']:.1%}")


def simulate(dev: list[Clip], cache: Path, n_jobs: int, seeds: int,
             weights: Sequence[float]) -> None:
    """:func:`simulate_inference` on the development actors with out-of-fold fused models of
    the default settings, per identifier emotion weight and seed of the actor folds."""
    table = api.feature_table(dev, modalities=["audio", "face"], cache=cache)
    X = table.drop(columns=["actor", "label"]).astype(float)
    y, groups = table["label"].astype(str), table["actor"].astype(str)
    start = time.perf_counter()
    fold_models = []
    for train, test in actor_folds(y, groups, n_splits=4):
        model = make_fusion(FitConfig(), n_jobs).fit(X.iloc[train], y.iloc[train],
                                                     groups=groups.iloc[train])
        fold_models.append((X.index[test], model))
    print(f"\nsimulate_inference on the {groups.nunique()} development actors (fold models "
          f"{time.perf_counter() - start:.0f} s)")
    for weight in weights:
        rows = []
        for seed in range(seeds):
            result = simulate_inference(ActorIdentifier(emotion_weight=weight), X, groups, y=y,
                                        fold_models=fold_models, sizes=SIZES,
                                        random_state=seed)
            rows += [{"size": int(size), "seed": seed, **summary}
                     for size, summary in result["sizes"].items()]
        table = pd.DataFrame(rows).drop(columns="seed").groupby("size").mean()
        print(f"emotion_weight {weight:g}, mean over {seeds} seed(s) (folds of "
              f"{result['fold_size']}):")
        print(table.to_string(float_format=lambda v: f"{v:.3f}"))


def main(argv: list[str] | None = None) -> int:
    """Run the development splits, then the simulation and untouched runs when asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("cache"))
    parser.add_argument("-j", "--jobs", type=int, default=1)
    parser.add_argument("--splits", type=int, default=3, help="development splits (8 / 4; 0: none)")
    parser.add_argument("--simulate", action="store_true", help="simulate_inference on 01-12")
    parser.add_argument("--seeds", type=int, default=1, help="simulation seeds (actor folds)")
    parser.add_argument("--emotion-weight", type=float, nargs="+",
                        default=[ActorIdentifier().emotion_weight],
                        help="identifier emotion weights simulated")
    parser.add_argument("--untouched", action="store_true", help="score actors 13-16 (once)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    clips = tasks(args.cache)[0].clips
    dev = [c for c in clips if c.actor not in UNTOUCHED["ravdess"]]
    names = sorted({c.actor for c in dev})
    rng = np.random.default_rng(0)
    splits = [names[8:]] + [sorted(rng.choice(names, 4, replace=False))
                            for _ in range(args.splits - 1)]
    runs = []
    for held in splits[:args.splits]:
        print(f"development split: fit on {len(names) - len(held)} actors, test {held}")
        runs.append(evaluate([c for c in dev if c.actor not in held],
                             [c for c in dev if c.actor in held], args.cache, args.jobs))
    if runs:
        report("development actors (fit on 8, groups of the other 4), pooled over splits",
               pd.concat(runs, ignore_index=True))
    if args.simulate:
        simulate(dev, args.cache, args.jobs, args.seeds, args.emotion_weight)
    if args.untouched:
        test = [c for c in clips if c.actor in UNTOUCHED["ravdess"]]
        report("UNTOUCHED actors 13-16 (fit on 01-12)", evaluate(dev, test, args.cache, args.jobs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
