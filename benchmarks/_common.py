"""Shared protocol of the accuracy benchmarks: development actors, untouched actors, baseline.

Every accuracy benchmark runs the flow a user runs, through :mod:`emo.api` only: clips from
the dataset folders (:func:`emo.api.index`) or from imported feature tables
(:func:`emo.api.import_table`), :func:`emo.api.fit` with the default
:class:`~emo.settings.FitConfig` (as ``emo fit`` with no flags), then :func:`emo.api.predict`.

The protocol keeps a fixed set of actors out of all development (:data:`UNTOUCHED`): RAVDESS
actors 13-16 (audio and face), EMO-DB speaker 11, body-kinematics actors F06 and M06. For each
task the printed row holds

- the nested cross-validated UAR of ``emo fit`` on the development actors (outer actor-grouped
  folds only score; every choice is made inside them), as ``emo fit`` reports it;
- the UAR of that model, fitted on all development actors, on the untouched actors, with their
  actor ids known and with the actor column empty (actors inferred by the bundle);
- the plain baseline on the same split: per-actor z-scores and a balanced logistic regression
  (C=0.1), the reference of the issue "Unseen actors";
- the target.

The untouched scores are meant to be looked at once, after every default is fixed. A clip
that gets no prediction counts as wrong. To compare candidate defaults, ``--dev-only`` prints
the nested CV on the development actors alone, for the settings ``--estimator`` and
``--audio-features`` name (e.g. the previous default: ``--estimator ensemble
--audio-features egemaps``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from emo import api
from emo.data.clip import Clip
from emo.models import ActorStandardiser, uar

#: The read-only real-data pack beside the repository (``../shared/data``).
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
#: Actors kept out of all development, per corpus.
UNTOUCHED = {"ravdess": {"13", "14", "15", "16"}, "emodb": {"11"}, "body": {"F06", "M06"}}
#: Inverse regularisation of the baseline's logistic regression.
BASELINE_C = 0.1


@dataclass
class Task:
    """One benchmark task: labelled clips, the untouched actors and the target.

    Attributes
    ----------
    name
        Row title.
    clips
        Every labelled clip of the task (development and untouched actors).
    untouched
        Actor ids kept out of development.
    modalities
        Modalities ``emo fit`` uses.
    target
        Target UAR on unseen actors.
    extra_targets
        Further target notes printed under the table.
    """

    name: str
    clips: list[Clip]
    untouched: set[str]
    modalities: list[str]
    target: float
    extra_targets: list[str] = field(default_factory=list)

    def split(self) -> tuple[list[Clip], list[Clip]]:
        """Development clips and untouched clips."""
        dev = [c for c in self.clips if c.actor not in self.untouched]
        test = [c for c in self.clips if c.actor in self.untouched]
        return dev, test


@dataclass
class Scores:
    """UAR of one task: nested CV, untouched known/hidden (fused and per modality), baseline."""

    nested: dict[str, float]
    known: dict[str, float]
    hidden: dict[str, float]
    baseline: float
    seconds: float


def labelled(clips: Sequence[Clip]) -> list[Clip]:
    """The clips with a class (7-class work drops RAVDESS calm and EMO-DB boredom)."""
    return [c for c in clips if c.label]


def hide_actors(clips: Sequence[Clip]) -> list[Clip]:
    """The same clips with the actor column empty (as the challenge's test descriptors)."""
    return [replace(c, actor=None) for c in clips]


def prediction_uar(prediction: api.Prediction, clips: Sequence[Clip]) -> dict[str, float]:
    """UAR of the fused ``pred`` and of each ``pred_<modality>`` column; a clip with no
    prediction counts as wrong."""
    truth = pd.Series({c.id: c.label for c in clips})
    frame = prediction.frame.set_index("id")
    scores = {}
    for column in [c for c in frame.columns if c == "pred" or c.startswith("pred_")]:
        pred = frame[column].reindex(truth.index).fillna("<none>").astype(str)
        scores["fused" if column == "pred" else column.removeprefix("pred_")] = uar(truth, pred)
    return scores


def baseline_uar(dev: Sequence[Clip], test: Sequence[Clip], modalities: Sequence[str],
                 cache: Path) -> float:
    """Plain baseline: per-actor z-scores (each actor by its own clips, label-free) and a
    balanced logistic regression (C=0.1) on every feature column of ``modalities``."""
    clips = [*dev, *test]
    table = api.feature_table(clips, modalities=list(modalities), cache=cache)
    features = table.drop(columns=["actor", "label"]).astype(float)
    actors = table["actor"].astype(str)
    train = table.index.isin([c.id for c in dev])
    scaler = ActorStandardiser().fit(features[train], groups=actors[train])

    def z(rows: np.ndarray) -> np.ndarray:
        return np.nan_to_num(scaler.transform(features[rows], groups=actors[rows]).to_numpy())

    model = LogisticRegression(C=BASELINE_C, class_weight="balanced", max_iter=5000)
    model.fit(z(train), table["label"][train].astype(str))
    truth = pd.Series({c.id: c.label for c in test})
    pred = pd.Series(model.predict(z(~train)), index=table.index[~train])
    return uar(truth, pred.reindex(truth.index).fillna("<none>"))


def run(task: Task, cache: Path, n_jobs: int, config: api.FitConfig | None = None,
        dev_only: bool = False) -> Scores:
    """Fit ``emo fit``'s defaults (or ``config``) on the development actors and score every
    figure (only the nested CV with ``dev_only``)."""
    dev, test = task.split()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        result = api.fit(dev, out=Path(work) / "model", modalities=task.modalities,
                         cache=cache, n_jobs=n_jobs, report=False, config=config)
        if dev_only:
            return Scores(dict(result.cv.uar), {}, {}, np.nan, time.perf_counter() - start)
        known = api.predict(result.out, test, cache=cache, n_jobs=n_jobs)
        hidden = api.predict(result.out, hide_actors(test), cache=cache, n_jobs=n_jobs)
    return Scores(
        nested=dict(result.cv.uar),
        known=prediction_uar(known, test),
        hidden=prediction_uar(hidden, test),
        baseline=baseline_uar(dev, test, task.modalities, cache),
        seconds=time.perf_counter() - start,
    )


def print_scores(task: Task, scores: Scores) -> None:
    """One table per task: a row per output (fused, then each modality)."""
    dev, test = task.split()
    n_dev = len({c.actor for c in dev})
    print(f"\n{task.name}: {len(dev)} development clips ({n_dev} actors), {len(test)} untouched "
          f"clips (actors {', '.join(sorted(task.untouched))}); {scores.seconds:.0f} s")
    print(f"{'output':10s} {'nested CV dev':>14s} {'untouched known':>16s} "
          f"{'untouched hidden':>17s} {'baseline':>9s} {'target':>7s}")
    names = ["fused", *sorted(n for n in scores.known if n != "fused")]
    for name in names:
        extra = (f"{scores.baseline:9.1%} {task.target:7.0%}" if name == "fused" else "")
        print(f"{name:10s} {scores.nested.get(name, np.nan):14.1%} "
              f"{scores.known.get(name, np.nan):16.1%} {scores.hidden.get(name, np.nan):17.1%} "
              f"{extra}")
    for note in task.extra_targets:
        print(f"  {note}")


def main(tasks: Callable[[Path], list[Task]], description: str,
         argv: list[str] | None = None) -> int:
    """Parse the common options, then run and print every task ``tasks(cache)`` returns."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--cache", type=Path, default=Path("cache"),
                        help="feature cache (audio features are computed once)")
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--dev-only", action="store_true",
                        help="only the nested CV on the development actors (choosing defaults)")
    parser.add_argument("--estimator", help="emo fit --estimator (default: emo fit's)")
    parser.add_argument("--audio-features", help="emo fit --audio-features (default: emo fit's)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    config = api.FitConfig().override(
        estimator=args.estimator, extractors=api.extractor_options(audio=args.audio_features))
    for task in tasks(args.cache):
        print_scores(task, run(task, args.cache, args.jobs, config, args.dev_only))
    return 0
