"""The one Python API of emo, shared by the command line, the HTTP service and notebooks.

Every function that reads data takes ``data`` (dataset folders of any known layout,
manifest CSVs, loose media files, or :class:`~emo.data.clip.Clip` records; several are
joined by clip id) and the same data options: ``labels`` (a label-map CSV or mapping),
``speaker_pattern`` (folders layout) and ``skeleton`` (a Kinect file for one loose media
file). Extraction options: ``modalities``, ``cache``, ``n_jobs``, ``extractors`` (see
:func:`extractor_options`), ``progress``.

>>> import emo
>>> clips = emo.index("demo/data")                     # doctest: +SKIP
>>> result = emo.fit("demo/data", out="demo/model")    # doctest: +SKIP
>>> result.bundle.scores["uar"]                        # doctest: +SKIP
{'audio': 0.64, 'body': 0.87, 'face': 0.86, 'fused': 0.97}
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emo._io import atomic_path, atomic_write
from emo._native import die_with_parent
from emo.data.clip import Clip, check_unique, write_manifest
from emo.data.labels import CLASSES, read_label_map
from emo.data.layouts import load_clips
from emo.data.limits import set_max_duration
from emo.data.media import (
    AUDIO_SUFFIXES,
    VIDEO_SUFFIXES,
    clips_from_files,
    is_media_file,
    media_duration,
    window_bounds,
    window_clips,
)
from emo.errors import ConfigError, EmoError, LayoutError
from emo.features.base import MODALITIES, Extractor, available_extractors, get_extractor
from emo.features.cache import FeatureCache
from emo.features.extract import ExtractionReport, Failure, collect, run
from emo.models.bundle import Bundle

if TYPE_CHECKING:
    import pandas as pd

    from emo.audit import Finding
    from emo.settings import FitConfig, ServeLimits, cli_options, read_fit_config
    from emo.synth import synthesise

__all__ = [
    "AUDIO_SUFFIXES", "CLASSES", "MODALITIES", "VIDEO_SUFFIXES", "FeatureTables", "FitConfig",
    "FitResult", "Prediction", "ServeLimits", "audit", "cache_info", "cache_prune",
    "cache_verify", "check_submission", "cli_options", "clips_from_files", "evaluate", "extract",
    "extractor_options", "feature_table", "features", "fit", "import_table", "index",
    "is_media_file", "load_model", "make_extractors", "media_duration", "model_summary",
    "parse_modalities", "predict", "predict_windows", "read_fit_config", "submit",
    "start_worker", "synthesise", "warm", "window_bounds", "write_factsheet", "write_table",
]

log = logging.getLogger("emo")

DataArg = str | Path | Sequence[str | Path] | Sequence[Clip]
Progress = Callable[[int], Any] | None
LabelMap = str | Path | Mapping[str, str | None] | None

#: Options of each modality's extractor: ``{"audio": {"name": "compare"}, "body": {...}}``.
ExtractorOptions = Mapping[str, Mapping[str, Any]]


def __getattr__(name: str) -> Any:
    """Settings classes and the demo generator, imported on first use (pydantic and the
    generator are not needed by a cached ``emo extract``)."""
    if name in ("FitConfig", "ServeLimits", "cli_options", "read_fit_config"):
        from emo import settings

        return getattr(settings, name)
    if name == "synthesise":
        from emo.synth import synthesise

        return synthesise
    raise AttributeError(f"module 'emo.api' has no attribute {name!r}")


# -- data ---------------------------------------------------------------------------------
def parse_modalities(text: str | Sequence[str] | None) -> list[str] | None:
    """Modalities from ``"audio,face"`` (or a list); ``None`` for "every one the data has".

    Raises
    ------
    ConfigError
        For an unknown or empty modality list.

    Examples
    --------
    >>> parse_modalities("face, audio")
    ['face', 'audio']
    """
    if text is None:
        return None
    names = [m.strip() for m in (text.split(",") if isinstance(text, str) else text)]
    names = [m for m in names if m]
    bad = [m for m in names if m not in MODALITIES]
    if bad or not names:
        raise ConfigError(f"unknown modality {', '.join(bad) or '(none)'}; use "
                          f"{','.join(MODALITIES)}")
    return names


def _label_map(labels: LabelMap) -> Mapping[str, str | None] | None:
    if labels is None or isinstance(labels, Mapping):
        return labels
    return read_label_map(labels)


def _load(data: DataArg, *, labels: LabelMap = None, speaker_pattern: str | None = None,
          skeleton: str | Path | None = None,
          problems: list[EmoError] | None = None) -> list[Clip]:
    """Clips of datasets, manifests and loose media files (see the module docstring)."""
    items = [data] if isinstance(data, (str, Path, Clip)) else list(data)
    if not items:
        raise LayoutError("no data given")
    if all(isinstance(item, Clip) for item in items):
        return items  # type: ignore[return-value]
    media = [Path(p) for p in items if is_media_file(p)]  # type: ignore[arg-type]
    sources = [p for p in items if not is_media_file(p)]  # type: ignore[arg-type]
    if skeleton is not None and len(media) != 1:
        raise LayoutError("--skeleton goes with exactly one loose media file", skeleton)
    options: dict[str, Any] = {"label_map": _label_map(labels),
                               "speaker_pattern": speaker_pattern}
    clips = load_clips(sources, problems=problems, **options) if sources else []
    if media:
        clips = [*clips, *clips_from_files(media, skeleton=skeleton)]
        check_unique(clips)
    return clips


def index(data: DataArg, *, out: str | Path | None = None, labels: LabelMap = None,
          speaker_pattern: str | None = None, skeleton: str | Path | None = None,
          problems: list[EmoError] | None = None) -> list[Clip]:
    """Read datasets (folders of any known layout, manifests, media files) into clips.

    Parameters
    ----------
    data
        One dataset folder, manifest CSV or media file, or several (joined by clip id).
    out
        When given, write the manifest CSV there.
    labels, speaker_pattern, skeleton
        Data options (see the module docstring).
    problems
        Collects per-item problems (a malformed descriptor...) instead of raising.

    Returns
    -------
    list of Clip
    """
    clips = _load(data, labels=labels, speaker_pattern=speaker_pattern, skeleton=skeleton,
                  problems=problems)
    if out is not None:
        write_manifest(clips, out)
    return clips


def audit(data: DataArg, *, labels: LabelMap = None,
          speaker_pattern: str | None = None) -> list[Finding]:
    """Leakage risks of a dataset: how well recording names, their order in a session or
    take times alone predict the labels (see :func:`emo.audit.audit`)."""
    from emo.audit import audit as run_audit

    return run_audit(_load(data, labels=labels, speaker_pattern=speaker_pattern))


# -- extraction ---------------------------------------------------------------------------
def extractor_options(*, audio: str | None = None, face: str | None = None,
                      face_fps: float | None = None, body_source: str | None = None,
                      pose_fps: float | None = None) -> dict[str, dict[str, Any]]:
    """Extractor options from the command line's flags (``None``: not given).

    Parameters
    ----------
    audio
        Audio extractor name (``egemaps``, ``compare``, ``egemaps_lld``).
    face
        Face extractor name (``face_au``, ``openface``).
    face_fps
        Face analysis rate in frames per second; 0 analyses every frame.
    body_source
        ``kinect``, ``video`` or ``auto``.
    pose_fps
        Body-pose analysis rate for video; 0 analyses every frame.

    Returns
    -------
    dict
        Modality -> options, for ``extractors=`` (only what was given).

    Examples
    --------
    >>> extractor_options(face_fps=0, body_source="kinect")
    {'face': {'fps': 0}, 'body': {'source': 'kinect'}}
    """
    options: dict[str, dict[str, Any]] = {}
    for modality, key, value in (("audio", "name", audio), ("face", "name", face),
                                 ("face", "fps", face_fps), ("body", "source", body_source),
                                 ("body", "pose_fps", pose_fps)):
        if value is not None:
            options.setdefault(modality, {})[key] = value
    return options


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

    Raises
    ------
    ConfigError
        For an unknown extractor name or setting.
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
        try:
            out[modality] = get_extractor(modality, settings.pop("name", None), **settings)
        except EmoError as exc:
            raise ConfigError(f"{modality} extractor: {exc.reason}") from None
    return out


def extract(data: DataArg, **options: Any) -> ExtractionReport:
    """Extract (or find in the cache) the features of every clip and modality, loading no
    table.

    Parameters
    ----------
    data
        Dataset folder(s), manifest(s), media files or clips.
    **options
        The keyword arguments of :func:`features` (an unknown one is an error).

    Returns
    -------
    ExtractionReport
        Counts, failures (file + reason) and the tasks.
    """
    return features(data, tables=False, **options).report


def _load_reporting(data: DataArg, labels: LabelMap, speaker_pattern: str | None,
                    skeleton: str | Path | None) -> tuple[list[Clip], list[EmoError]]:
    """Clips, and the items a layout skipped (a malformed descriptor...) with the reason."""
    problems: list[EmoError] = []
    clips = _load(data, labels=labels, speaker_pattern=speaker_pattern, skeleton=skeleton,
                  problems=problems)
    return clips, problems


def _extract(clips: list[Clip], problems: Sequence[EmoError],
             extractors: Mapping[str, Extractor], cache: str | Path,
             **options: Any) -> ExtractionReport:
    """Run the extractors over clips; the items a layout skipped lead the failure list."""
    report = run(clips, extractors, FeatureCache(cache), **options)
    report.failures[:0] = [
        Failure(p.path.stem if p.path is not None else "?", "index", str(p)) for p in problems
    ]
    return report


@dataclass
class FeatureTables:
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

    def matrix(self) -> pd.DataFrame:
        """Every feature column (``<modality>__<name>``) of every clip with at least one
        modality, indexed by clip id; a missing modality is NaN."""
        import pandas as pd

        if not self.tables:
            return pd.DataFrame(index=pd.Index([], name="id"))
        order = [c.id for c in self.clips]
        joined = pd.concat(list(self.tables.values()), axis=1, join="outer")
        return joined.reindex([i for i in order if i in joined.index])

    def labels(self) -> pd.Series:
        """Labels of the labelled clips that have at least one modality, by id."""
        import pandas as pd

        have = set().union(*(t.index for t in self.tables.values())) if self.tables else set()
        return pd.Series({c.id: c.label for c in self.clips if c.label and c.id in have},
                         dtype=object, name="label")

    def actors(self) -> pd.Series:
        """Actor of every clip, by id (missing for clips whose actor is unknown)."""
        import pandas as pd

        return pd.Series({c.id: c.actor for c in self.clips}, dtype=object, name="actor")

    def frame(self) -> pd.DataFrame:
        """One joined table: id index, ``actor``, ``label``, then every feature column."""
        import pandas as pd

        meta = pd.DataFrame(
            {"actor": [c.actor for c in self.clips], "label": [c.label for c in self.clips]},
            index=pd.Index([c.id for c in self.clips], name="id"),
        )
        return meta.join(list(self.tables.values()), how="left") if self.tables else meta


def features(
    data: DataArg,
    *,
    modalities: Sequence[str] | None = None,
    cache: str | Path = "cache",
    n_jobs: int = 1,
    retry_failed: bool = False,
    extractors: ExtractorOptions | None = None,
    progress: Progress = None,
    dask: str | None = None,
    labels: LabelMap = None,
    speaker_pattern: str | None = None,
    skeleton: str | Path | None = None,
    tables: bool = True,
) -> FeatureTables:
    """Extract through the cache and load the feature tables.

    Parameters
    ----------
    data
        Dataset folder(s), manifest(s), media files or clips.
    modalities
        Which modalities (default: every one the data has).
    cache
        The cache folder.
    n_jobs
        Worker processes.
    retry_failed
        Retry clips whose failure an earlier run recorded.
    extractors
        Extractor names/settings per modality (see :func:`extractor_options`).
    progress
        Progress callback (see :func:`emo.features.extract.run`).
    dask
        Dask scheduler address or ``local:N``.
    labels, speaker_pattern, skeleton
        Data options.
    tables
        Load the feature tables (``False``: only make sure they are cached, as
        :func:`extract` does).

    Returns
    -------
    FeatureTables
    """
    clips, problems = _load_reporting(data, labels, speaker_pattern, skeleton)
    report = _extract(clips, problems, make_extractors(modalities, extractors, clips), cache,
                      n_jobs=n_jobs, retry_failed=retry_failed, progress=progress, dask=dask)
    loaded = collect(report.tasks, FeatureCache(cache)) if tables else {}
    return FeatureTables(clips, loaded, report)


def feature_table(data: DataArg, **options: Any) -> pd.DataFrame:
    """One joined table of every clip: id index, ``actor``, ``label``, feature columns
    (arguments as for :func:`features`)."""
    return features(data, **options).frame()


def import_table(path: str | Path, *, modality: str, cache: str | Path = "cache",
                 out: str | Path | None = None, id_column: str = "id",
                 actor_column: str | None = "actor", label_column: str | None = "label",
                 drop_columns: Sequence[str] = (), labels: LabelMap = None,
                 actor_format: str | None = None) -> list[Clip]:
    """Import a clip-level feature table into the cache (see :mod:`emo.features.table`).

    Parameters
    ----------
    path
        CSV or Parquet table, one row per clip.
    modality
        The modality of its features.
    cache
        The cache folder.
    out
        When given, write a manifest of the imported clips there.
    id_column, actor_column, label_column
        Column names (ids, actors and labels are kept as written, as strings).
    drop_columns
        Numeric metadata columns that must not become features (columns holding no
        number, such as ``gender``, are dropped with a warning).
    labels
        Label map (CSV or mapping).
    actor_format
        Format for actor values, e.g. ``"{:02d}"`` (applied to the number an actor
        reads as when the format does not fit its text).

    Returns
    -------
    list of Clip
    """
    from emo.features.table import import_table as _import

    clips = _import(path, cache, modality=modality, id_column=id_column,
                    actor_column=actor_column, label_column=label_column,
                    drop_columns=drop_columns, label_map=_label_map(labels),
                    actor_format=actor_format)
    report = run(clips, {modality: get_extractor("table", modality=modality)},
                 FeatureCache(cache))
    if report.failures:
        raise LayoutError(f"import failed: {report.failures[0]}", path)
    if out is not None:
        write_manifest(clips, out)
    return clips


# -- models -------------------------------------------------------------------------------
@dataclass
class FitResult:
    """What :func:`fit` produced: the saved bundle, its folder and the extraction report."""

    out: Path
    bundle: Bundle
    report: ExtractionReport
    cv: Any = None

    @property
    def metrics(self) -> dict[str, Any]:
        """The cross-validated scores (``bundle.scores``)."""
        return self.bundle.scores


def fit(
    data: DataArg,
    *,
    out: str | Path,
    config: FitConfig | None = None,
    modalities: Sequence[str] | None = None,
    cache: str | Path = "cache",
    n_jobs: int = 1,
    progress: Progress = None,
    report: bool = True,
    labels: LabelMap = None,
    speaker_pattern: str | None = None,
) -> FitResult:
    """Extract, cross-validate (actor-grouped, nested) and fit the fusion model; save it.

    Parameters
    ----------
    data
        Labelled dataset(s); unlabelled clips are ignored.
    out
        Model folder: the bundle, ``metrics.json`` and the report.
    config
        Models, CV protocol, seed and extractor settings (:class:`~emo.settings.FitConfig`).
    modalities
        Modalities to use (default: every one the data has).
    cache, n_jobs, progress
        As for :func:`extract`.
    report
        Also write the HTML/JSON report and confusion matrices.
    labels, speaker_pattern
        Data options.

    Returns
    -------
    FitResult

    Raises
    ------
    ConfigError
        Bad settings, found before any extraction.
    LayoutError
        No labelled clip with features.
    """
    from emo.models.train import make_fusion, train
    from emo.settings import FitConfig

    config = config or FitConfig()
    if config.model:  # a bad model parameter is refused now, not after extraction
        try:
            make_fusion(config, n_jobs)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"model: {exc}") from None
    clips, problems = _load_reporting(data, labels, speaker_pattern, None)
    chosen = make_extractors(modalities, config.extractors, clips)  # bad settings: now
    out = Path(out)
    t0 = time.perf_counter()
    extraction = _extract(clips, problems, chosen, cache, n_jobs=n_jobs, progress=progress)
    feats = FeatureTables(clips, collect(extraction.tasks, FeatureCache(cache)), extraction)
    extract_timings = {"extract": time.perf_counter() - t0}
    for modality, seconds in feats.report.seconds.items():
        extract_timings[f"extract_{modality}_cpu"] = seconds
    y = feats.labels()
    if y.empty:
        raise LayoutError("no labelled clip with features: nothing to fit")
    X = feats.matrix().loc[y.index]
    groups = _training_groups(feats, y)
    trained = train(X, y, groups, config, n_jobs=n_jobs)
    trained.scores["timings"] = {**extract_timings, **trained.timings}
    extractors: dict[str, dict[str, Any]] = {}
    for task in feats.report.tasks:  # the media extractor of a modality wins over a table
        if task.modality not in extractors or extractors[task.modality]["extractor"] == "table":
            extractors[task.modality] = task.extractor.identity()
    bundle = Bundle(
        fusion=trained.fusion, identifier=trained.identifier, extractors=extractors,
        label_map=dict(_label_map(labels) or {}), config=config.model_dump(),
        scores=trained.scores,
        provenance={"data": _fingerprint(y, groups),
                    "machine": {"platform": platform.platform(),
                                "python": platform.python_version()}},
    )
    bundle.save(out)
    if report:
        from emo.report import write_report

        write_report(out, trained.cv, timings=trained.timings,
                     top_features=bundle.top_features(),
                     meta={"extractors": extractors, "config": bundle.config,
                           "data": bundle.provenance["data"]},
                     actor_inference=trained.scores.get("actor_inference"))
    return FitResult(out, bundle, feats.report, trained.cv)


def _training_groups(feats: FeatureTables, y: pd.Series) -> pd.Series:
    """Actor of each labelled clip; training clips must name their actor."""
    actors = feats.actors().loc[y.index]
    unknown = actors.isna() | (actors.astype(str) == "")
    if unknown.any():
        raise LayoutError(f"{int(unknown.sum())} labelled clip(s) have no actor (e.g. "
                          f"{actors.index[unknown][0]!r}); every training clip needs one for "
                          "actor-grouped cross-validation and per-actor normalisation")
    return actors.astype(str).rename("actor")


def _fingerprint(y: pd.Series, groups: pd.Series) -> dict[str, Any]:
    blob = json.dumps(sorted(zip(y.index, y, groups.loc[y.index], strict=True)))
    return {"sha256": hashlib.sha256(blob.encode()).hexdigest(), "n_clips": len(y),
            "classes": {c: int((y == c).sum()) for c in CLASSES if (y == c).any()}}


def load_model(model: str | Path | Bundle) -> Bundle:
    """Load a bundle written by :func:`fit`, checking checksums and versions.

    Parameters
    ----------
    model
        The model folder (a loaded :class:`~emo.models.Bundle` is returned as it is).

    Returns
    -------
    emo.models.Bundle

    Raises
    ------
    BundleError
        Not a bundle, altered files, another emo major version, or extractor versions
        that differ from the installed ones.
    """
    if isinstance(model, Bundle):
        return model
    bundle = Bundle.load(model)
    bundle.check_extractors({m: e.version for m, e in _bundle_extractors(bundle).items()},
                            model)
    return bundle


def start_worker(parent: int, max_duration: float | None = None) -> None:
    """Prepare a worker process (of the service): it ends with process ``parent``, even
    when that is killed, and its decoders stop past ``max_duration`` seconds of media
    whatever the container headers say.

    Parameters
    ----------
    parent
        Pid of the process that started the worker.
    max_duration
        The longest media decoded, in seconds (``None``: no limit).
    """
    die_with_parent(parent)
    set_max_duration(max_duration)


def warm(model: str | Path | Bundle | None = None, *,
         extractors: bool = True) -> dict[str, dict[str, Any]]:
    """Load, in this process, the media probes of :func:`media_duration` and, unless
    ``extractors`` is false, the model and everything its extractors load on first use
    (MediaPipe graphs, openSMILE), as a service does before its first request.

    Parameters
    ----------
    model
        A model folder or bundle; ``None``: the default extractors.
    extractors
        Whether to warm the extractors (the service's HTTP process only probes media).

    Returns
    -------
    dict
        Modality -> identity (name, version, settings) of each extractor warmed.

    Raises
    ------
    BundleError
        When ``model`` cannot be loaded.
    """
    for module in ("av", "soundfile"):  # what media_duration reads headers with
        importlib.import_module(module)
    if not extractors:
        return {}
    chosen = make_extractors() if model is None else _bundle_extractors(load_model(model))
    for extractor in chosen.values():
        extractor.warm()
    return {m: e.identity() for m, e in chosen.items()}


def _bundle_extractors(bundle: Bundle) -> dict[str, Extractor]:
    """The extractors that compute the bundle's features, re-created from their identities."""
    extractors: dict[str, Extractor] = {}
    for modality, ident in bundle.extractors.items():
        if ident["extractor"] == "table":
            extractors[modality] = get_extractor("table", modality=modality)
        else:
            extractors[modality] = get_extractor(modality, ident["extractor"],
                                                 **ident.get("settings", {}))
    return extractors


def model_summary(model: str | Path) -> dict[str, Any]:
    """The scores, timings and settings of a saved model, without loading it."""
    info = Bundle.read_info(model)
    return {**info["scores"], "config": info["config"], "extractors": info["extractors"]}


@dataclass
class Prediction:
    """Predictions of a fitted bundle.

    Attributes
    ----------
    frame
        One row per clip (or window) with a prediction: ``id`` (``start``, ``end`` for
        windows), ``group`` (the actor or inferred pseudo-actor the clip was normalised
        with), ``pred_<modality>`` (each modality's own classifier), ``pred`` (fused)
        and ``proba_<class>`` (fused probabilities).
    report
        The extraction report; ``report.failures`` names every clip without a prediction
        and why.
    probabilities
        ``"fused"`` and each modality -> probabilities (index clip id, columns classes).
    features
        The feature matrix the model saw (index clip id).
    groups
        The actor or inferred pseudo-actor each clip was normalised with.
    """

    frame: pd.DataFrame
    report: ExtractionReport
    probabilities: dict[str, pd.DataFrame] = field(default_factory=dict)
    features: pd.DataFrame | None = None
    groups: pd.Series | None = None

    def unpredicted(self) -> list[Failure]:
        """The failures of clips (or windows) that got no prediction at all; the others
        are notes on a modality the clip was predicted without."""
        done = set(self.frame["id"])
        return [f for f in self.report.failures if f.clip_id not in done]


def predict(
    model: str | Path | Bundle,
    data: DataArg,
    *,
    cache: str | Path = "cache",
    n_jobs: int = 1,
    progress: Progress = None,
    labels: LabelMap = None,
    speaker_pattern: str | None = None,
    skeleton: str | Path | None = None,
) -> Prediction:
    """Predict every clip with a fitted bundle (extracting missing features).

    A clip none of whose modalities can be read gets no row; it is named, with the
    reason, in ``report.failures``.

    Parameters
    ----------
    model
        A folder written by :func:`fit`, or a loaded bundle (the service keeps one).
    data
        Dataset(s), manifest(s), media files or clips.
    cache, n_jobs, progress
        As for :func:`extract`.
    labels, speaker_pattern, skeleton
        Data options.

    Returns
    -------
    Prediction
    """
    import pandas as pd

    bundle = load_model(model)
    clips, problems = _load_reporting(data, labels, speaker_pattern, skeleton)
    report = _extract(clips, problems, _bundle_extractors(bundle), cache, n_jobs=n_jobs,
                      progress=progress)
    tables = collect(report.tasks, FeatureCache(cache))
    columns = [c for m in bundle.modalities for c in bundle.feature_columns[m]]
    X = FeatureTables(clips, tables, report).matrix().reindex(columns=columns)
    X = X.loc[X.notna().any(axis=1)]
    _name_unpredicted(clips, X.index, report, bundle)
    if X.empty:
        empty = pd.DataFrame(columns=["id", "group", *(f"pred_{m}" for m in bundle.modalities),
                                      "pred", *(f"proba_{c}" for c in bundle.classes)])
        return Prediction(empty, report)
    known = pd.Series({c.id: c.actor or None for c in clips}, dtype=object)
    result = bundle.predict(X, known_actors=known)
    fused = result.fused
    frame = pd.DataFrame({"id": fused.index, "group": result.groups.to_numpy()})
    for modality, proba in result.modalities.items():
        frame[f"pred_{modality}"] = frame["id"].map(proba.idxmax(axis=1))
    frame["pred"] = fused.idxmax(axis=1).to_numpy()
    for cls in fused.columns:
        frame[f"proba_{cls}"] = fused[cls].to_numpy()
    return Prediction(frame, report, {"fused": fused, **result.modalities}, X, result.groups)


def _name_unpredicted(clips: Sequence[Clip], predicted: pd.Index, report: ExtractionReport,
                      bundle: Bundle) -> None:
    """Add a failure for each clip that gets no prediction and is not named yet."""
    named = {f.clip_id for f in report.failures}
    for clip in clips:
        if clip.id not in predicted and clip.id not in named:
            report.failures.append(Failure(clip.id, "all", (
                f"{clip.origin or clip.id}: no media or table for the model's modalities "
                f"({', '.join(bundle.modalities)})")))


def predict_windows(
    model: str | Path | Bundle,
    media: str | Path,
    *,
    window: float = 2.0,
    hop: float | None = None,
    skeleton: str | Path | None = None,
    whole: bool = False,
    duration: float | None = None,
    cache: str | Path = "cache",
    n_jobs: int = 1,
    progress: Progress = None,
) -> Prediction:
    """Predict a recording in sliding windows: one row per window (and, with ``whole``,
    one for the whole recording, first).

    Windows are clips ``<stem>@<start>-<end>`` on the same file, extracted together (with
    the whole recording when asked) in one pass: the file is decoded once and its per-frame
    analysis shared between overlapping windows, and the actor identifier groups all of
    them at once. They carry no actor: they are grouped for per-actor normalisation by the
    bundle's actor identifier like any clips without an actor (a recording may hold
    several people). Without a skeleton file, body comes from video pose.

    Parameters
    ----------
    model
        A model folder or loaded bundle.
    media
        The recording (video with sound, or audio).
    window, hop
        Window length and step in seconds (``hop`` defaults to ``window``).
    skeleton
        A Kinect file recorded with the media (its frames at 30 fps from the media start).
    whole
        Also predict the whole recording (its row has the file's id, start 0 and end
        ``duration``).
    duration
        The media's length in seconds when the caller has read it already (default: read
        from the file's header).
    cache, n_jobs, progress
        As for :func:`extract`.

    Returns
    -------
    Prediction
        ``frame`` has ``id, start, end, group, pred_<modality>, pred, proba_<class>``;
        windows without any readable modality are named in ``report.failures``.
    """
    (clip,) = clips_from_files([media], skeleton=skeleton)
    duration = media_duration(media) if duration is None else duration
    windows = window_clips(clip, window_bounds(duration, window, hop))
    clips = [clip, *windows] if whole else windows
    prediction = predict(model, clips, cache=cache, n_jobs=n_jobs, progress=progress)
    spans = {w.id: (w.start, w.end) for w in windows} | {clip.id: (0.0, duration)}
    frame = prediction.frame
    frame.insert(1, "start", frame["id"].map(lambda i: spans[i][0]))
    frame.insert(2, "end", frame["id"].map(lambda i: spans[i][1]))
    return prediction


def evaluate(model: str | Path, data: DataArg, *, out: str | Path, cache: str | Path = "cache",
             n_jobs: int = 1, progress: Progress = None, labels: LabelMap = None,
             speaker_pattern: str | None = None, hide_actors: bool = False) -> dict[str, Any]:
    """Score a fitted bundle on labelled data it has not seen.

    Writes ``evaluation.json`` and the report (HTML, confusion matrices, UAR per actor) to
    ``out``. The scores cover the clips with a prediction; the others are listed in
    ``failures``.

    Parameters
    ----------
    hide_actors
        Predict as if no clip named its actor (as for challenge test descriptors): the
        bundle's actor identifier groups them, and ``grouping`` says how the clips of each
        actor were grouped. The UAR per actor still uses the actors the data names.

    Returns
    -------
    dict
        UAR per modality and fused (also per actor, ``uar_actors``), per-class recall,
        confusion matrices, clip counts, failures and, when some clips were predicted
        without their actor, ``grouping`` (group -> clips and the actors they came from).
    """
    import pandas as pd

    from emo.models import score_probabilities
    from emo.report import write_report

    clips = [c for c in _load(data, labels=labels, speaker_pattern=speaker_pattern) if c.label]
    if not clips:
        raise LayoutError("no labelled clip to evaluate on")
    bundle = load_model(model)
    shown = [replace(c, actor=None) for c in clips] if hide_actors else clips
    t0 = time.perf_counter()
    prediction = predict(bundle, shown, cache=cache, n_jobs=n_jobs, progress=progress)
    seconds = time.perf_counter() - t0
    y = pd.Series({c.id: c.label for c in clips}, dtype=object)
    groups = pd.Series({c.id: c.group for c in clips}, dtype=object)
    result = score_probabilities(prediction.probabilities, y, groups, classes=bundle.classes)
    grouping = None
    if prediction.groups is not None and any(not c.actor for c in shown):
        grouping = _grouping(prediction.groups, {c.id: c.actor for c in clips})
    out = Path(out)
    summary = {**result.to_dict(), "model": str(model), "grouping": grouping,
               "failures": [str(f) for f in prediction.report.failures]}
    atomic_write(out / "evaluation.json", json.dumps(summary, indent=2, default=float))
    write_report(out, result, timings={"extract + predict": seconds},
                 top_features=bundle.top_features(),
                 meta={"model": str(model), "extractors": bundle.extractors},
                 grouping=grouping)
    return summary


def _grouping(groups: pd.Series, actors: Mapping[str, str | None]) -> dict[str, dict]:
    """Group -> its clip count and, by actor the data names, how many of its clips."""
    out = {}
    for group, ids in sorted(groups.groupby(groups).groups.items()):
        named = [actors[i] for i in ids if actors.get(i)]
        out[str(group)] = {"clips": len(ids),
                           "actors": {str(a): named.count(a) for a in sorted(set(named))}}
    return out


def submit(model: str | Path, data: DataArg, *, phase: str, out: str | Path,
           cache: str | Path = "cache", n_jobs: int = 1, progress: Progress = None,
           labels: LabelMap = None, speaker_pattern: str | None = None
           ) -> tuple[Path, Prediction]:
    """Write a challenge submission ZIP from the fused model, then validate it.

    A descriptor none of whose media can be read still needs an answer for the ZIP to be
    valid: it gets the most frequent training class, and is named in ``report.failures``.

    Parameters
    ----------
    model
        A fitted bundle folder.
    data
        Challenge-layout dataset(s).
    phase
        ``valid`` (every descriptor) or ``test`` (the unlabelled ``frames_TEST*`` ones).
    out
        The ZIP to write.
    cache, n_jobs, progress, labels, speaker_pattern
        As for :func:`predict`.

    Returns
    -------
    tuple
        The ZIP path and the predictions.
    """
    from emo.submission import expected_ids, write_submission

    clips = _load(data, labels=labels, speaker_pattern=speaker_pattern)
    wanted = expected_ids([c.id for c in clips], phase)
    bundle = load_model(model)
    prediction = predict(bundle, [c for c in clips if c.id in wanted], cache=cache,
                         n_jobs=n_jobs, progress=progress)
    answers = dict(zip(prediction.frame["id"], prediction.frame["pred"], strict=True))
    missing = sorted(wanted - set(answers))
    if missing:
        counts = bundle.provenance.get("data", {}).get("classes", {})
        prior = max(bundle.classes, key=lambda c: counts.get(c, 0))
        answers.update(dict.fromkeys(missing, prior))
        log.warning("%d descriptor(s) could not be read; answered with the most frequent "
                    "training class %s", len(missing), prior)
    path = write_submission(answers, out, phase=phase, expected=wanted)
    return path, prediction


def check_submission(path: str | Path, *, phase: str | None = None) -> dict[str, str]:
    """Validate a submission ZIP; its answers (descriptor -> class).

    Raises
    ------
    SubmissionError
        Saying exactly what is wrong.
    """
    from emo.submission import check

    return check(path, phase=phase)


def write_factsheet(model: str | Path, out: str | Path) -> Path:
    """Draft the challenge FactSheet (Markdown) of a fitted model (see
    :mod:`emo.factsheet`)."""
    from emo.factsheet import write_factsheet as _write

    return _write(model, out)


# -- cache --------------------------------------------------------------------------------
def cache_info(cache: str | Path = "cache") -> dict[str, Any]:
    """Entry counts and sizes per extractor, failed entries, total bytes."""
    return FeatureCache(cache).info()


def cache_verify(cache: str | Path = "cache") -> list[Path]:
    """Re-read every entry; remove and return the unreadable or inconsistent ones."""
    return FeatureCache(cache).verify()


def cache_prune(cache: str | Path = "cache") -> list[Path]:
    """Remove entries of extractor versions other than the installed ones; the removed
    folders."""
    current = {}
    for modality, names in available_extractors().items():
        if modality != "table":
            for name in names:
                current[name] = get_extractor(modality, name).version
    return FeatureCache(cache).prune(current)


# -- files --------------------------------------------------------------------------------
def write_table(frame: pd.DataFrame, path: str | Path, *, index: bool = True) -> Path:
    """Write a table atomically: Parquet, or CSV when ``path`` ends in ``.csv``.

    Parameters
    ----------
    frame
        The table (features, predictions...).
    path
        Destination; its folder is created.
    index
        Also write the index.

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".csv":
            frame.to_csv(tmp, index=index)
        else:
            frame.to_parquet(tmp, index=index)
    return path
