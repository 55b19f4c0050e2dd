"""Speaker-independent UAR of audio models on RAVDESS (7 classes) and EMO-DB (6 classes).

Data (read-only pack, never copied): ``/work/shared/data/ravdess/audio`` (16 actors, calm
dropped, 831 clips) and ``/work/shared/data/emodb`` (5 speakers, boredom dropped, 208 clips, every
clip cut to 2.000 s). Clips come from the ``ravdess`` / ``emodb`` layouts; features from the
``egemaps``, ``egemaps_lld`` and ``compare`` extractors of :mod:`emo.features.audio`.

Evaluation: pooled out-of-fold UAR; EMO-DB leave-one-speaker-out (5 folds), RAVDESS 8 actor-grouped
folds (2 held-out actors each). Every recipe is fixed in :func:`recipes` (settings written before
any score was seen; no setting is chosen on a test fold). "per-speaker z" is the label-free
standardisation of :class:`emo.models.ActorStandardiser` (each speaker by its own clips).

Features are computed once per (dataset, extractor identity) and kept as one Parquet table in
``--features`` (default ``cache/benchmarks``); with ``--via-api`` they are read through
:func:`emo.api.feature_table` and the emo cache instead (slow for the 6373 ComParE columns, see the
speed report).

Run::

    .venv/bin/python benchmarks/audio_accuracy.py [--datasets ravdess emodb] [--jobs 2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _common import Recipe, Table, blend, columns, gbm_recipe, grouped_cv, sklearn_recipe, timed
from joblib import Parallel, delayed
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from emo.data.clip import Clip
from emo.data.layouts import load_clips
from emo.features.base import get_extractor

ROOT = Path("/work/shared/data")
DATASETS = {"ravdess": ROOT / "ravdess" / "audio", "emodb": ROOT / "emodb"}
#: Actor-grouped folds per dataset (None: leave one speaker out).
FOLDS = {"ravdess": 8, "emodb": None}
#: Published anchors (not comparable one to one: other speakers, full corpora).
ANCHORS = {
    "ravdess": [("anchor: RAVDESS 8-class WavLM (literature)", 0.720),
                ("target: handcrafted, held-out actors", 0.65)],
    "emodb": [("anchor: EMO-DB ComParE+SVM LOSO, full corpus (lit.)", 0.771),
              ("target: handcrafted, held-out speakers", 0.78)],
}
EXTRACTORS = ("egemaps", "egemaps_lld", "compare")


def _extract(name: str, clips: list[Clip]) -> list[dict[str, float]]:
    extractor = get_extractor("audio", name)
    return [extractor.extract(c) for c in clips]


def features(dataset: str, name: str, folder: Path, jobs: int, via_api: bool) -> pd.DataFrame:
    """Feature table (index id; ``actor``, ``label``, features) of one dataset and extractor."""
    path = DATASETS[dataset]
    if via_api:
        from emo.api import feature_table

        return feature_table(path, modalities=["audio"], cache="cache", n_jobs=jobs,
                             extractors={"audio": {"name": name}})
    identity = json.dumps(get_extractor("audio", name).identity(), sort_keys=True)
    key = hashlib.sha256(f"{path}|{identity}".encode()).hexdigest()[:12]
    target = folder / f"{dataset}_{name}_{key}.parquet"
    if target.is_file():
        return pd.read_parquet(target)
    clips = load_clips(path)
    chunks = [clips[i::jobs * 4] for i in range(jobs * 4)]
    rows = Parallel(n_jobs=jobs)(delayed(_extract)(name, chunk) for chunk in chunks)
    by_id = {c.id: r for chunk, part in zip(chunks, rows, strict=True)
             for c, r in zip(chunk, part, strict=True)}
    frame = pd.DataFrame.from_dict(by_id, orient="index")
    meta = pd.DataFrame({"actor": [c.actor for c in clips], "label": [c.label for c in clips]},
                        index=[c.id for c in clips])
    frame = meta.join(frame)
    frame.index.name = "id"
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(target)
    return frame


def load(dataset: str, folder: Path, jobs: int, via_api: bool
         ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """All three feature sets side by side (columns ``<extractor>:audio__...``), labels, actors."""
    frames = {n: features(dataset, n, folder, jobs, via_api) for n in EXTRACTORS}
    first = frames[EXTRACTORS[0]]
    x = pd.concat([f.reindex(first.index).drop(columns=["actor", "label"]).add_prefix(f"{n}:")
                   for n, f in frames.items()], axis=1)
    keep = first["label"].notna()
    return x[keep], first["label"][keep].to_numpy(), first["actor"][keep].astype(str).to_numpy()


def _set(*names: str):
    return lambda column: column.split(":", 1)[0] in names


def recipes() -> dict[str, Recipe]:
    """The recipes compared, in table order (all settings fixed in advance)."""
    rbf = lambda: SVC(C=10, gamma="scale", class_weight="balanced")  # noqa: E731
    linear = lambda: SVC(kernel="linear", C=0.001, class_weight="balanced")  # noqa: E731
    top500 = lambda: make_pipeline(SelectKBest(f_classif, k=500), rbf())  # noqa: E731
    gbm = gbm_recipe(backend="lightgbm", random_state=0, n_jobs=1)
    table: dict[str, Recipe] = {
        "eGeMAPS, SVM rbf, global z (usual recipe)": columns(
            sklearn_recipe(rbf, per_actor=False), _set("egemaps")),
        "eGeMAPS, SVM rbf, per-speaker z": columns(
            sklearn_recipe(rbf, per_actor=True), _set("egemaps")),
        "eGeMAPS, GBM (ModalityClassifier, actor_norm)": columns(gbm, _set("egemaps")),
        "eGeMAPS + LLD functionals, GBM (actor_norm)": columns(
            gbm, _set("egemaps", "egemaps_lld")),
        "ComParE, SVM linear C=0.001, per-speaker z": columns(
            sklearn_recipe(linear, per_actor=True), _set("compare")),
        "ComParE, ANOVA top-500 (in fold), SVM rbf, per-spk z": columns(
            sklearn_recipe(top500, per_actor=True), _set("compare")),
        "all three sets, SVM linear C=0.001, per-speaker z": sklearn_recipe(
            linear, per_actor=True),
    }
    table["blend: ComParE lin-SVM + eGeMAPS rbf-SVM + E+LLD GBM"] = blend(
        table["ComParE, SVM linear C=0.001, per-speaker z"],
        table["eGeMAPS, SVM rbf, per-speaker z"],
        table["eGeMAPS + LLD functionals, GBM (actor_norm)"],
    )
    return table


def main(argv: list[str] | None = None) -> int:
    """Print one table per dataset: anchors, then every recipe's UAR."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--features", type=Path, default=Path("cache/benchmarks"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--via-api", action="store_true",
                        help="read features through emo.api.feature_table and the emo cache")
    parser.add_argument("--only", nargs="*", default=None,
                        help="run only recipes whose name contains one of these words")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=RuntimeWarning)  # constant columns in ANOVA F
    for dataset in args.datasets:
        if not DATASETS[dataset].is_dir():
            print(f"{dataset}: skipped, {DATASETS[dataset]} not found")
            continue
        x, y, actors = load(dataset, args.features, args.jobs, args.via_api)
        split = "leave-one-speaker-out" if FOLDS[dataset] is None else \
            f"{FOLDS[dataset]} actor-grouped folds"
        print(f"\n{dataset}: {len(y)} clips, {len(np.unique(y))} classes, "
              f"{len(np.unique(actors))} speakers, {split}")
        table = Table(["recipe", "UAR", "worst spk", "seconds"], width=58,
                      percent=("UAR", "worst spk"))
        for name, value in ANCHORS[dataset]:
            table.row(name, value)
        for name, recipe in recipes().items():
            if args.only and not any(word in name for word in args.only):
                continue
            (score, per_actor), seconds = timed(grouped_cv, recipe, x, y, actors, FOLDS[dataset])
            table.row(name, score, min(per_actor.values()), seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
