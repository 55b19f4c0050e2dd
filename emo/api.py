"""The one Python API of emo, shared by the command line, the HTTP service and notebooks.

>>> import emo
>>> clips = emo.index("demo")              # doctest: +SKIP
>>> result = emo.fit("demo", out="model")  # doctest: +SKIP
>>> result.metrics["uar"]                  # doctest: +SKIP
{'audio': 0.71, 'face': 0.78, 'body': 0.66, 'fused': 0.86}
"""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emo._io import atomic_write
from emo.data.clip import Clip, write_manifest
from emo.data.labels import CLASSES
from emo.data.layouts import load_clips
from emo.errors import BundleError, EmoError, LayoutError
from emo.features.base import MODALITIES, Extractor, get_extractor
from emo.features.cache import FeatureCache
from emo.features.extract import ExtractionReport, Failure, collect, run

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("emo")

DataArg = str | Path | Sequence[str | Path]
Progress = Callable[[int], Any] | None

#: Options of each modality's extractor: ``{"audio": {"name": "compare"}, "body": {...}}``.
ExtractorOptions = Mapping[str, Mapping[str, Any]]


def index(data: DataArg, *, out: str | Path | None = None,
          problems: list[EmoError] | None = None, **layout: Any) -> list[Clip]:
    """Read datasets (folders of any known layout, manifests) into clips.

    Parameters
    ----------
    data
        One dataset folder or manifest CSV, or several (joined by clip id).
    out
        When given, write the manifest CSV there.
    problems
        Collects per-item problems instead of raising.
    **layout
        Layout options (``label_map``, ``speaker_pattern``, ``kinect_base``...).

    Returns
    -------
    list of Clip
    """
    clips = load_clips(data, problems=problems, **layout)
    if out is not None:
        write_manifest(clips, out)
    return clips


#: Suffixes of media files taken as loose clips (audio-only or video).
AUDIO_SUFFIXES = (".wav", ".flac", ".aif", ".aiff", ".mp3", ".ogg", ".m4a")
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm", ".png", ".jpg", ".jpeg",
                  ".bmp")


def clips_from_files(files: Sequence[str | Path], *,
                     skeleton: str | Path | None = None) -> list[Clip]:
    """Clips for loose media files, with no layout or manifest (id = file stem).

    Parameters
    ----------
    files
        Video or audio files (a video's sound track serves the audio modality).
    skeleton
        A Kinect skeleton file for the (single) clip.

    Returns
    -------
    list of Clip

    Raises
    ------
    LayoutError
        For a file of unknown kind, or a skeleton with several files.
    """
    clips = []
    for file in map(Path, files):
        suffix = file.suffix.lower()
        if suffix in AUDIO_SUFFIXES:
            clips.append(Clip(file.stem, audio=file, origin=file))
        elif suffix in VIDEO_SUFFIXES:
            clips.append(Clip(file.stem, video=file, origin=file))
        else:
            raise LayoutError("unsupported media type (expected audio or video)", file)
    if skeleton is not None:
        if len(clips) != 1:
            raise LayoutError("--skeleton goes with exactly one media file", skeleton)
        clips[0] = replace(clips[0], skeleton=Path(skeleton))
    return clips


def is_media_file(path: str | Path) -> bool:
    """Whether a path is a loose media file rather than a dataset folder or manifest."""
    path = Path(path)
    return path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES + VIDEO_SUFFIXES


def make_extractors(modalities: Sequence[str] | None = None,
                    options: ExtractorOptions | None = None,
                    clips: Sequence[Clip] | None = None) -> dict[str, Extractor]:
    """One extractor per modality, from names and settings.

    Parameters
    ----------
    modalities
        Modalities to run (default: audio, face, body).
    options
        Per modality, an optional ``name`` and the extractor's settings.
    clips
        When given, modalities no clip has media or an imported table for are left out,
        and a modality every clip has as an imported table gets the table extractor
        (so no media extractor, and none of its heavy imports, is loaded in vain).

    Returns
    -------
    dict
        Modality -> extractor.
    """
    options = options or {}
    out: dict[str, Extractor] = {}
    for modality in modalities or MODALITIES:
        if clips is not None:
            media = any(modality not in c.tables and c.media_for(modality) for c in clips)
            if not media:
                if any(modality in c.tables for c in clips):
                    out[modality] = get_extractor("table", modality=modality)
                continue
        settings = dict(options.get(modality, {}))
        name = settings.pop("name", None)
        out[modality] = get_extractor(modality, name, **settings)
    return out


def _clips(data: DataArg | Sequence[Clip], problems: list[EmoError] | None,
           layout: Mapping[str, Any]) -> list[Clip]:
    if isinstance(data, Sequence) and data and isinstance(data[0], Clip):
        return list(data)  # type: ignore[arg-type]
    return load_clips(data, problems=problems, **layout)  # type: ignore[arg-type]


def extract(
    data: DataArg | Sequence[Clip],
    *,
    modalities: Sequence[str] | None = None,
    cache: str | Path = "cache",
    n_jobs: int = 1,
    retry_failed: bool = False,
    extractors: ExtractorOptions | None = None,
    progress: Progress = None,
    dask: str | None = None,
    **layout: Any,
) -> ExtractionReport:
    """Extract (or find in the cache) the features of every clip and modality.

    Parameters
    ----------
    data
        Dataset folder(s), manifest(s), or clips.
    modalities
        Which modalities (default all three).
    cache
        The cache folder.
    n_jobs
        Worker processes.
    retry_failed
        Retry clips whose failure an earlier run recorded.
    extractors
        Extractor names/settings per modality (see :func:`make_extractors`).
    progress
        Progress callback (see :func:`emo.features.extract.run`).
    dask
        Dask scheduler address or ``local:N``.
    **layout
        Layout options.

    Returns
    -------
    ExtractionReport
        Counts, failures (file + reason) and the tasks, for :func:`feature_table`.
    """
    problems: list[EmoError] = []
    clips = _clips(data, problems, layout)
    report = run(clips, make_extractors(modalities, extractors, clips), FeatureCache(cache),
                 n_jobs=n_jobs, retry_failed=retry_failed, progress=progress, dask=dask)
    _report_index_problems(report, problems)
    return report


def _report_index_problems(report: ExtractionReport, problems: Sequence[EmoError]) -> None:
    """Put the items a layout skipped (malformed descriptors...) first in the failure list."""
    report.failures[:0] = [
        Failure(p.path.stem if p.path is not None else "?", "index", str(p)) for p in problems
    ]


@dataclass
class Features:
    """Clips with their feature tables: what the models layer consumes.

    Attributes
    ----------
    clips
        The clips, in order.
    tables
        Modality -> DataFrame of features indexed by clip id (clips lacking a modality
        or whose extraction failed are absent from its table).
    report
        The extraction report (failures, counts, timings).
    """

    clips: list[Clip]
    tables: dict[str, pd.DataFrame]
    report: ExtractionReport

    def labels(self) -> pd.Series:
        """Labels of the labelled clips that have at least one modality, by id."""
        import pandas as pd

        have = set().union(*(t.index for t in self.tables.values())) if self.tables else set()
        return pd.Series({c.id: c.label for c in self.clips if c.label and c.id in have},
                         dtype=object, name="label")

    def groups(self) -> pd.Series:
        """Actor (grouping key) of every clip, by id; unknown actors are groups of one."""
        import pandas as pd

        return pd.Series({c.id: c.group for c in self.clips}, dtype=object, name="actor")

    def frame(self) -> pd.DataFrame:
        """One joined table: id index, ``actor``, ``label``, then every feature column."""
        import pandas as pd

        meta = pd.DataFrame(
            {"actor": [c.actor for c in self.clips], "label": [c.label for c in self.clips]},
            index=pd.Index([c.id for c in self.clips], name="id"),
        )
        return meta.join(list(self.tables.values()), how="left") if self.tables else meta


def features(data: DataArg | Sequence[Clip], **kwargs: Any) -> Features:
    """Extract through the cache and load the feature tables.

    Parameters
    ----------
    data
        As for :func:`extract`.
    **kwargs
        As for :func:`extract`.

    Returns
    -------
    Features
    """
    cache = FeatureCache(kwargs.get("cache", "cache"))
    layout = {k: v for k, v in kwargs.items() if k not in _EXTRACT_ARGS}
    clips = _clips(data, problems := [], layout)  # type: ignore[var-annotated]
    report = extract(clips, **{k: v for k, v in kwargs.items() if k in _EXTRACT_ARGS})
    _report_index_problems(report, problems)
    tables = collect(report.tasks, cache)
    return Features(clips, tables, report)


_EXTRACT_ARGS = ("modalities", "cache", "n_jobs", "retry_failed", "extractors", "progress",
                 "dask")


def feature_table(data: DataArg | Sequence[Clip], **kwargs: Any) -> pd.DataFrame:
    """One joined table of every clip: id index, ``actor``, ``label``, feature columns.

    Parameters
    ----------
    data
        As for :func:`extract`.
    **kwargs
        As for :func:`extract`.

    Returns
    -------
    pandas.DataFrame
    """
    return features(data, **kwargs).frame()


def import_table(path: str | Path, *, modality: str, cache: str | Path = "cache",
                 out: str | Path | None = None, **options: Any) -> list[Clip]:
    """Import a clip-level feature table into the cache (see :mod:`emo.features.table`).

    Parameters
    ----------
    path
        CSV or Parquet table.
    modality
        The modality of its features.
    cache
        The cache folder.
    out
        When given, write a manifest of the imported clips there.
    **options
        ``id_column``, ``actor_column``, ``label_column``, ``drop_columns``, ``label_map``.

    Returns
    -------
    list of Clip
    """
    from emo.features.table import import_table as _import

    clips = _import(path, cache, modality=modality, **options)
    report = run(clips, {modality: get_extractor("table", modality=modality)},
                 FeatureCache(cache))
    if report.failures:
        raise LayoutError(f"import failed: {report.failures[0]}", path)
    if out is not None:
        write_manifest(clips, out)
    return clips


# -- models -------------------------------------------------------------------------------
@dataclass
class FitConfig:
    """Everything that defines a fit, stored in the bundle.

    Attributes
    ----------
    n_splits
        Outer actor-grouped folds (``min(n_splits, actors)``).
    loso
        Leave-one-actor-out instead of ``n_splits`` folds.
    seed
        Random state of every estimator and split.
    backend
        ``lightgbm`` or ``xgboost``.
    meta
        Fusion meta-learner: ``logreg``, ``gbm`` or ``average``.
    actor_norm
        Label-free per-actor feature standardisation.
    infer_actors
        Learn an identity space so that clips without an actor (challenge test
        descriptors) are normalised per inferred pseudo-actor rather than each alone.
    model
        Extra ModalityClassifier parameters.
    extractors
        Extractor names/settings per modality.
    """

    n_splits: int = 5
    loso: bool = False
    seed: int = 0
    backend: str = "lightgbm"
    meta: str = "logreg"
    actor_norm: bool = True
    infer_actors: bool = True
    model: dict[str, Any] = field(default_factory=dict)
    extractors: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_toml(cls, path: str | Path) -> FitConfig:
        """Read a ``fit.toml`` (top-level keys as the attributes; tables ``model`` and
        ``extractors.<modality>``)."""
        import tomllib

        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise LayoutError(f"cannot read config: {exc}", path) from exc
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise LayoutError(f"unknown config key(s): {', '.join(sorted(unknown))}", path)
        return cls(**data)


@dataclass
class FitResult:
    """What :func:`fit` produced."""

    out: Path
    metrics: dict[str, Any]
    report: ExtractionReport
    cv: Any = None


def _fusion(config: FitConfig, n_jobs: int) -> Any:
    from emo.models import ModalityClassifier, StackingFusion

    base = ModalityClassifier(backend=config.backend, actor_norm=config.actor_norm,
                              random_state=config.seed, **config.model)
    return StackingFusion(base=base, meta=config.meta, n_splits=config.n_splits,
                          random_state=config.seed, n_jobs=n_jobs)


def fit(
    data: DataArg | Sequence[Clip],
    *,
    out: str | Path,
    modalities: Sequence[str] | None = None,
    cache: str | Path = "cache",
    n_jobs: int = 1,
    config: FitConfig | None = None,
    progress: Progress = None,
    report: bool = True,
    **layout: Any,
) -> FitResult:
    """Extract, cross-validate (actor-grouped, nested) and fit the fusion model; save it.

    Parameters
    ----------
    data
        Labelled dataset(s); unlabelled clips are ignored.
    out
        Model folder: bundle, ``metrics.json`` and the report.
    modalities
        Modalities to use (default: every one the data has).
    cache, n_jobs, progress
        As for :func:`extract`.
    config
        Models, CV protocol, seed and extractor settings.
    report
        Also write the HTML/JSON report and confusion matrices.
    **layout
        Layout options.

    Returns
    -------
    FitResult
    """
    from emo.models import cross_validate, save_bundle

    config = config or FitConfig()
    out = Path(out)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    feats = features(data, modalities=modalities, cache=cache, n_jobs=n_jobs,
                     extractors=config.extractors, progress=progress, **layout)
    timings["extract"] = time.perf_counter() - t0
    for modality, seconds in feats.report.seconds.items():
        timings[f"extract_{modality}_cpu"] = seconds
    y = feats.labels()
    if y.empty:
        raise LayoutError("no labelled clip with features: nothing to fit")
    groups = feats.groups().loc[y.index]
    tables = {m: t.loc[t.index.intersection(y.index)] for m, t in feats.tables.items()}
    tables = {m: t for m, t in tables.items() if len(t)}
    fusion = _fusion(config, n_jobs)
    t0 = time.perf_counter()
    cv = cross_validate(fusion, tables, y, groups, n_splits=config.n_splits, loso=config.loso,
                        random_state=config.seed)
    timings["cross_validate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    fusion.fit(tables, y, groups)
    timings["fit"] = time.perf_counter() - t0
    extractors: dict[str, Extractor] = {}
    for task in feats.report.tasks:  # the media extractor of a modality wins over a table
        if task.modality not in extractors or extractors[task.modality].name == "table":
            extractors[task.modality] = task.extractor
    cv_dict = cv.to_dict()
    metrics = {"uar": {k: float(v) for k, v in cv.uar.items()}, **{
        k: v for k, v in cv_dict.items() if k != "uar"}, "timings": timings,
        "n_clips": int(len(y)), "n_actors": int(groups.nunique())}
    meta = {
        "classes": list(fusion.classes_),
        "extractors": {m: e.identity() for m, e in extractors.items()},
        "config": asdict(config),
        "data": _fingerprint(y, groups),
        "cv": metrics,
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
    }
    (out / ACTORS_FILE).unlink(missing_ok=True)
    identifier = _save_identifier(out, tables, groups) if config.infer_actors else None
    if identifier is not None:
        meta["actor_identifier_sha256"] = identifier
    save_bundle(out, fusion, meta)
    atomic_write(out / "metrics.json", json.dumps(metrics, indent=2, default=float).encode())
    if report:
        from emo.report import write_report

        write_report(out, cv, timings=timings, top_features=top_features(fusion), meta=meta)
    return FitResult(out, metrics, feats.report, cv)


ACTORS_FILE = "actors.joblib"


def _joined(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    import pandas as pd

    return pd.concat(list(tables.values()), axis=1, join="outer")


def _save_identifier(out: Path, tables: Mapping[str, pd.DataFrame],
                     groups: pd.Series) -> str | None:
    """Fit and store the identity space that groups unknown-actor clips at prediction;
    return the file's SHA-256 (checked when loading), or None with fewer than 3 actors."""
    import hashlib
    import io

    import joblib

    from emo.models import ActorIdentifier

    if groups.nunique() < 3:
        return None
    buffer = io.BytesIO()
    joblib.dump(ActorIdentifier().fit(_joined(tables), groups), buffer)
    atomic_write(out / ACTORS_FILE, buffer.getvalue())
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def _groups(clips: Sequence[Clip], tables: Mapping[str, pd.DataFrame],
            identifier: Any) -> pd.Series:
    """Actor of each clip; clips without one are grouped into pseudo-actors when the model
    has an identity space (label-free), else each is a group of its own."""
    import pandas as pd

    groups = pd.Series({c.id: c.group for c in clips}, dtype=object)
    unknown = [c.id for c in clips if not c.actor]
    joined = _joined(tables) if tables else None
    if identifier is not None and joined is not None:
        unknown = [i for i in unknown if i in joined.index]
        if unknown:
            pseudo = identifier.predict(joined.loc[unknown])
            groups.loc[unknown] = "~" + pseudo.astype(str)
    return groups


def top_features(fusion: Any, n: int = 15) -> dict[str, pd.Series]:
    """The ``n`` most important features of each modality's classifier."""
    return {m: est.feature_importances_.sort_values(ascending=False).head(n)
            for m, est in fusion.estimators_.items()}


def _fingerprint(y: pd.Series, groups: pd.Series) -> dict[str, Any]:
    import hashlib

    blob = json.dumps(sorted(zip(y.index, y, groups.loc[y.index], strict=True)))
    return {"sha256": hashlib.sha256(blob.encode()).hexdigest(), "n_clips": len(y),
            "classes": {c: int((y == c).sum()) for c in CLASSES if (y == c).any()}}


def load_model(model_dir: str | Path) -> tuple[Any, dict[str, Any], dict[str, Extractor]]:
    """Load a bundle and re-create its extractors, checking versions.

    Returns
    -------
    tuple
        ``(fusion, meta, extractors)``.

    Raises
    ------
    BundleError
        Missing bundle, or extractor versions differing from the installed ones.
    """
    from emo.models import load_bundle

    model_dir = Path(model_dir)
    meta = _read_meta(model_dir)
    extractors: dict[str, Extractor] = {}
    for modality, ident in meta.get("extractors", {}).items():
        name = ident["extractor"]
        if name == "table":
            extractors[modality] = get_extractor("table", modality=modality)
            continue
        extractors[modality] = get_extractor(modality, name, **ident.get("settings", {}))
    expected = {m: e.version for m, e in extractors.items()}
    fusion, meta = load_bundle(model_dir, expected_extractors=expected)
    if meta.get("actor_identifier_sha256"):
        import hashlib
        import io

        import joblib

        path = model_dir / ACTORS_FILE
        data = path.read_bytes() if path.is_file() else b""
        if hashlib.sha256(data).hexdigest() != meta["actor_identifier_sha256"]:
            raise BundleError("missing or altered (checksum differs); refit the model", path)
        meta["actor_identifier"] = joblib.load(io.BytesIO(data))
    return fusion, meta, extractors


def _read_meta(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "bundle.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BundleError("not a model bundle (no bundle.json); run emo fit", model_dir) from exc
    except (OSError, ValueError) as exc:
        raise BundleError(f"unreadable bundle manifest: {exc}", path) from exc


@dataclass
class Prediction:
    """Predictions of a fitted bundle on clips."""

    frame: pd.DataFrame
    report: ExtractionReport
    probabilities: dict[str, pd.DataFrame]


def predict_loaded(model: tuple[Any, dict[str, Any], dict[str, Extractor]],
                   clips: Sequence[Clip], *, cache: str | Path = "cache", n_jobs: int = 1,
                   progress: Progress = None) -> Prediction:
    """Predict clips with a bundle already loaded by :func:`load_model` (the service keeps
    one per worker).

    Parameters
    ----------
    model
        ``(fusion, meta, extractors)`` from :func:`load_model`.
    clips
        The clips.
    cache, n_jobs, progress
        As for :func:`extract`.

    Returns
    -------
    Prediction
    """
    import pandas as pd

    fusion, meta, extractors = model
    report = run(clips, extractors, FeatureCache(cache), n_jobs=n_jobs, progress=progress)
    tables = collect(report.tasks, FeatureCache(cache))
    tables = {m: t.reindex(columns=meta["feature_columns"][m]) for m, t in tables.items()
              if m in meta["feature_columns"]}
    if not tables:
        reasons = "; ".join(str(f) for f in report.failures[:3])
        raise LayoutError("no clip has features for the model's modalities "
                          f"({', '.join(meta['features'])})" + (f": {reasons}" if reasons else ""))
    groups = _groups(clips, tables, meta.get("actor_identifier"))
    fused = fusion.predict_proba(tables, groups=groups)
    singles = fusion.predict_proba_modalities(tables, groups=groups)
    frame = pd.DataFrame({"id": fused.index})
    for modality, proba in singles.items():
        frame[f"pred_{modality}"] = frame["id"].map(proba.idxmax(axis=1))
    frame["pred"] = fused.idxmax(axis=1).to_numpy()
    for cls in fused.columns:
        frame[f"proba_{cls}"] = fused[cls].to_numpy()
    return Prediction(frame, report, {"fused": fused, **singles})


def predict(model_dir: str | Path, data: DataArg | Sequence[Clip], *,
            cache: str | Path = "cache", n_jobs: int = 1, progress: Progress = None,
            **layout: Any) -> Prediction:
    """Predict every clip with a fitted bundle (extracting missing features).

    Parameters
    ----------
    model_dir
        A folder written by :func:`fit`.
    data
        Dataset(s), manifest(s) or clips.
    cache, n_jobs, progress
        As for :func:`extract`.
    **layout
        Layout options.

    Returns
    -------
    Prediction
        ``frame`` has columns ``id``, ``pred_<modality>``, ``pred`` and ``proba_<class>``
        of the fused model, one row per clip with at least one modality.
    """
    model = load_model(model_dir)
    problems: list[EmoError] = []
    clips = _clips(data, problems, layout)
    prediction = predict_loaded(model, clips, cache=cache, n_jobs=n_jobs, progress=progress)
    _report_index_problems(prediction.report, problems)
    return prediction


def evaluate(model_dir: str | Path, data: DataArg | Sequence[Clip], *, out: str | Path,
             cache: str | Path = "cache", n_jobs: int = 1, progress: Progress = None,
             **layout: Any) -> dict[str, Any]:
    """Score a fitted bundle on labelled data it has not seen.

    Writes ``evaluation.json`` and the report (HTML, confusion matrices) to ``out``.

    Parameters
    ----------
    model_dir
        A folder written by :func:`fit`.
    data
        Labelled dataset(s), manifest(s) or clips.
    out
        Output folder.
    cache, n_jobs, progress
        As for :func:`extract`.
    **layout
        Layout options.

    Returns
    -------
    dict
        UAR per modality and fused, per-class recall, confusion matrices, clip counts.
    """
    import pandas as pd

    from emo.models import score_probabilities
    from emo.report import write_report

    clips = _clips(data, None, layout)
    labelled = [c for c in clips if c.label]
    if not labelled:
        raise LayoutError("no labelled clip to evaluate on")
    model = load_model(model_dir)
    t0 = time.perf_counter()
    prediction = predict_loaded(model, labelled, cache=cache, n_jobs=n_jobs, progress=progress)
    seconds = time.perf_counter() - t0
    y = pd.Series({c.id: c.label for c in labelled}, dtype=object)
    groups = pd.Series({c.id: c.group for c in labelled}, dtype=object)
    result = score_probabilities(prediction.probabilities, y, groups,
                                 classes=list(model[1]["classes"]))
    out = Path(out)
    summary = {**result.to_dict(), "model": str(model_dir),
               "failures": [str(f) for f in prediction.report.failures]}
    atomic_write(out / "evaluation.json", json.dumps(summary, indent=2, default=float).encode())
    write_report(out, result, timings={"extract + predict": seconds},
                 top_features=top_features(model[0]),
                 meta={k: v for k, v in model[1].items() if k != "actor_identifier"})
    return summary


def submit(model_dir: str | Path, data: DataArg | Sequence[Clip], *, phase: str,
           out: str | Path, cache: str | Path = "cache", n_jobs: int = 1,
           progress: Progress = None, **layout: Any) -> tuple[Path, Prediction]:
    """Write a challenge submission ZIP from the fused model, then validate it.

    Parameters
    ----------
    model_dir
        A fitted bundle.
    data
        Challenge-layout dataset(s).
    phase
        ``valid`` (every descriptor) or ``test`` (the unlabelled ``frames_TEST*`` ones).
    out
        The ZIP to write.
    cache, n_jobs, progress
        As for :func:`extract`.
    **layout
        Layout options.

    Returns
    -------
    tuple
        The ZIP path and the predictions.
    """
    from emo.submission import expected_ids, write_submission

    clips = _clips(data, None, layout)
    wanted = expected_ids([c.id for c in clips], phase)
    chosen = [c for c in clips if c.id in wanted]
    prediction = predict(model_dir, chosen, cache=cache, n_jobs=n_jobs, progress=progress)
    answers = dict(zip(prediction.frame["id"], prediction.frame["pred"], strict=True))
    path = write_submission(answers, out, phase=phase, expected=wanted)
    return path, prediction
