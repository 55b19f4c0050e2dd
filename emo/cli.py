"""The ``emo`` command line: a thin shell over :mod:`emo.api`.

Exit codes: 0 when every clip succeeded, 1 when some failed but outputs were written,
2 on usage errors (bad arguments, unreadable data, invalid model or submission).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from emo.errors import EmoError

app = typer.Typer(
    name="emo",
    help="Multimodal emotion recognition: extract cached audio/face/body features, fit "
    "per-modality models and a stacked fusion, write FG-2020 challenge submissions.\n\n"
    "Example: emo synth demo && emo fit demo -o model && emo submit model demo --phase test "
    "-o submission.zip",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
cache_app = typer.Typer(help="Inspect and maintain the feature cache.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")

log = logging.getLogger("emo")


class _State:
    quiet = False
    json = False


STATE = _State()

# -- shared options -----------------------------------------------------------------------
DataArgs = Annotated[list[Path], typer.Argument(
    help="Dataset folder(s) (challenge, RAVDESS, EMO-DB, TESS, <label>/<file>) or manifest "
    "CSV(s); several are joined by clip id.", show_default=False)]
CacheOpt = Annotated[Path, typer.Option("--cache", help="Feature cache folder.")]
JobsOpt = Annotated[int, typer.Option("-j", "--jobs", min=1, help="Worker processes.")]
ModalityOpt = Annotated[str | None, typer.Option(
    "--modality", "-m", help="Comma-separated modalities: audio,face,body (default: all).")]
LabelsOpt = Annotated[Path | None, typer.Option(
    "--labels", help="Label-map CSV (columns from,to; empty 'to' drops the class).")]
SpeakerOpt = Annotated[str | None, typer.Option(
    "--speaker-pattern", help="Regex with a named group 'speaker' applied to file stems "
    "(folders layout), e.g. '^(?P<speaker>[A-Z]+)_'.")]
BodySourceOpt = Annotated[str, typer.Option(
    "--body-source", help="Where body joints come from: the Kinect skeleton file, MediaPipe "
    "pose on the video, or auto (Kinect when the clip has a skeleton file, else video).")]
AudioSetOpt = Annotated[str | None, typer.Option(
    "--audio-features", help="Audio extractor: egemaps (default), compare, egemaps_lld.")]
FaceFpsOpt = Annotated[float | None, typer.Option(
    "--face-fps", min=0, help="Analyse faces at this frame rate; 0 = every frame (default 15).")]
FaceExtractorOpt = Annotated[str | None, typer.Option(
    "--face-features", help="Face extractor: face_au (MediaPipe landmark AUs, default) or "
    "openface (OpenFace 2 per-frame CSVs beside the videos, <video stem>.csv).")]


@app.callback()
def _main(
    verbose: Annotated[int, typer.Option("-v", "--verbose", count=True,
                                         help="More log output (-vv for debug).")] = 0,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only errors.")] = False,
    log_file: Annotated[Path | None, typer.Option("--log-file", help="Also log here.")] = None,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print a machine-readable result on stdout.")] = False,
) -> None:
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[
        min(verbose, 2)]
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        handlers.append(logging.FileHandler(log_file))
    logging.basicConfig(level=level, handlers=handlers, format="%(levelname)s: %(message)s",
                        force=True)
    if log_file is not None:
        handlers[1].setLevel(logging.DEBUG)
        logging.getLogger().setLevel(min(level, logging.DEBUG))
        handlers[0].setLevel(level)
    STATE.quiet, STATE.json = quiet, json_out


def _say(text: str) -> None:
    if not STATE.quiet:
        print(text, file=sys.stderr if STATE.json else sys.stdout)


def _result(payload: dict[str, Any]) -> None:
    if STATE.json:
        print(json.dumps(payload, indent=2, default=str))


@contextlib.contextmanager
def _progress(description: str) -> Iterator[Any]:
    """A rich progress bar driven by the ``progress`` callback of the API."""
    if STATE.quiet or STATE.json:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn(), transient=True)
    task = None

    def advance(n: int) -> None:
        nonlocal task
        if task is None:
            task = bar.add_task(description, total=n)
        else:
            bar.advance(task, n)

    with bar:
        yield advance


def _modalities(value: str | None) -> list[str] | None:
    if value is None:
        return None
    from emo.features.base import MODALITIES

    names = [m.strip() for m in value.split(",") if m.strip()]
    bad = [m for m in names if m not in MODALITIES]
    if bad or not names:
        raise typer.BadParameter(f"unknown modality {', '.join(bad)}; use audio,face,body",
                                 param_hint="--modality")
    return names


def _layout(labels: Path | None = None, speaker_pattern: str | None = None) -> dict[str, Any]:
    from emo.data.labels import read_label_map

    out: dict[str, Any] = {}
    if labels is not None:
        out["label_map"] = read_label_map(labels)
    if speaker_pattern is not None:
        out["speaker_pattern"] = speaker_pattern
    return out


def _extractor_options(body_source: str = "auto", audio: str | None = None,
                       face_fps: float | None = None,
                       face: str | None = None) -> dict[str, dict[str, Any]]:
    if body_source not in ("kinect", "video", "auto"):
        raise typer.BadParameter("use kinect, video or auto", param_hint="--body-source")
    options: dict[str, dict[str, Any]] = {"body": {"source": body_source}}
    if audio:
        options["audio"] = {"name": audio}
    face_options: dict[str, Any] = {"name": face} if face else {}
    if face_fps is not None and face != "openface":
        face_options["fps"] = face_fps or None
    if face_options:
        options["face"] = face_options
    return options


def _failures(report: Any) -> int:
    """Print the failed clips; return the exit code."""
    if not report.failures:
        return 0
    print(f"{len(report.failures)} clip(s) failed:", file=sys.stderr)
    for failure in report.failures:
        print(f"  {failure}", file=sys.stderr)
    return 1


def main() -> None:
    """Entry point: run the app, turning emo errors into one line and exit code 2."""
    try:
        app()
    except EmoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted; finished clips are cached, run again to resume", file=sys.stderr)
        sys.exit(130)


# -- commands -----------------------------------------------------------------------------
@app.command()
def synth(
    out: Annotated[Path, typer.Argument(help="Folder to write the dataset to.")],
    actors: Annotated[int, typer.Option(min=1, help="Labelled actors.")] = 6,
    takes: Annotated[int, typer.Option(min=1, help="Takes per actor and emotion.")] = 3,
    test_actors: Annotated[int, typer.Option(min=0, help="Actors of frames_TEST*.")] = 1,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace a dataset already in OUT.")] = False,
) -> None:
    """Write a synthetic dataset in the FG-2020 challenge layout (videos with sound,
    Kinect skeletons, descriptors).

    Example: emo synth demo --actors 6 --takes 3
    """
    from emo.synth import synthesise

    try:
        path = synthesise(out, actors=actors, takes=takes, test_actors=test_actors, seed=seed,
                          progress=not (STATE.quiet or STATE.json), overwrite=overwrite)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    _say(f"wrote {path}")
    _result({"out": str(path)})


@app.command()
def index(
    data: DataArgs,
    output: Annotated[Path, typer.Option("-o", "--output", help="Manifest CSV to write.")],
    labels: LabelsOpt = None,
    speaker_pattern: SpeakerOpt = None,
) -> None:
    """Read datasets into one manifest CSV (id, actor, label, media, segments).

    Example: emo index ../corpora/ravdess -o ravdess.csv
    """
    from emo import api

    problems: list[EmoError] = []
    clips = api.index(data, out=output, problems=problems,
                      **_layout(labels, speaker_pattern))
    for problem in problems:
        print(f"skipped: {problem}", file=sys.stderr)
    _say(f"{len(clips)} clips -> {output}")
    _result({"clips": len(clips), "manifest": str(output), "problems": [str(p) for p in problems]})
    raise typer.Exit(1 if problems else 0)


@app.command()
def extract(
    data: DataArgs,
    cache: CacheOpt = Path("cache"),
    jobs: JobsOpt = 1,
    modality: ModalityOpt = None,
    retry_failed: Annotated[bool, typer.Option(
        "--retry-failed", help="Retry clips that failed in an earlier run.")] = False,
    dask: Annotated[str | None, typer.Option(
        "--dask", help="Run on a Dask cluster: scheduler address, or local:N.")] = None,
    body_source: BodySourceOpt = "auto",
    audio_features: AudioSetOpt = None,
    face_fps: FaceFpsOpt = None,
    face_features: FaceExtractorOpt = None,
    labels: LabelsOpt = None,
    speaker_pattern: SpeakerOpt = None,
) -> None:
    """Extract features of every clip into the cache (resumable; cached clips are skipped).

    Example: emo extract demo -j 2 --modality audio,face
    """
    from emo import api

    with _progress("extracting") as progress:
        report = api.extract(data, modalities=_modalities(modality), cache=cache, n_jobs=jobs,
                             retry_failed=retry_failed, progress=progress, dask=dask,
                             extractors=_extractor_options(body_source, audio_features,
                                                           face_fps, face_features),
                             **_layout(labels, speaker_pattern))
    _say(f"{report.computed} computed, {report.cached} cached, {len(report.failures)} failed "
         f"(cache: {cache})")
    _result({"computed": report.computed, "cached": report.cached,
             "failures": [vars(f) for f in report.failures]})
    raise typer.Exit(_failures(report))


@app.command("features")
def features_cmd(
    data: DataArgs,
    output: Annotated[Path, typer.Option("-o", "--output",
                                         help="Table to write (.parquet or .csv).")],
    cache: CacheOpt = Path("cache"),
    jobs: JobsOpt = 1,
    modality: ModalityOpt = None,
    body_source: BodySourceOpt = "auto",
    audio_features: AudioSetOpt = None,
    face_fps: FaceFpsOpt = None,
    face_features: FaceExtractorOpt = None,
    labels: LabelsOpt = None,
    speaker_pattern: SpeakerOpt = None,
) -> None:
    """Write one joined table: id, actor, label, then every feature column.

    Example: emo features demo -o features.parquet
    """
    from emo import api

    with _progress("extracting") as progress:
        feats = api.features(data, modalities=_modalities(modality), cache=cache, n_jobs=jobs,
                             progress=progress,
                             extractors=_extractor_options(body_source, audio_features,
                                                           face_fps, face_features),
                             **_layout(labels, speaker_pattern))
    frame = feats.frame()
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix.lower() == ".csv":
        frame.to_csv(output)
    else:
        frame.to_parquet(output)
    _say(f"{frame.shape[0]} clips x {frame.shape[1] - 2} features -> {output}")
    _result({"rows": frame.shape[0], "columns": frame.shape[1], "output": str(output)})
    raise typer.Exit(_failures(feats.report))


@app.command("import")
def import_cmd(
    table: Annotated[Path, typer.Argument(help="Clip-level feature table (CSV or Parquet).")],
    modality: Annotated[str, typer.Option("--modality", "-m",
                                          help="Modality of the features.")] = "face",
    output: Annotated[Path, typer.Option("-o", "--output", help="Manifest CSV to write.")] = Path(
        "imported.csv"),
    cache: CacheOpt = Path("cache"),
    id_column: Annotated[str, typer.Option(help="Clip id column.")] = "id",
    actor_column: Annotated[str, typer.Option(help="Actor column.")] = "actor",
    label_column: Annotated[str, typer.Option(help="Label column (optional).")] = "label",
    drop_columns: Annotated[str, typer.Option(
        help="Comma-separated metadata columns that must not become features.")] = "",
    labels: LabelsOpt = None,
    actor_format: Annotated[str | None, typer.Option(
        help="Python format for actor values, e.g. '{:02d}' to turn 1 into '01'.")] = None,
) -> None:
    """Import precomputed clip-level features (OpenFace AUs, kinematics...) into the cache.

    Example: emo import face_au.parquet --modality face --id-column clip_id
    --label-column label7 -o ravdess_face.csv
    """
    from emo import api

    clips = api.import_table(table, modality=modality, cache=cache, out=output,
                             id_column=id_column, actor_column=actor_column,
                             label_column=label_column,
                             drop_columns=[c.strip() for c in drop_columns.split(",")
                                           if c.strip()], actor_format=actor_format,
                             **({"label_map": _layout(labels)["label_map"]} if labels else {}))
    _say(f"imported {len(clips)} clips ({modality}) -> {output}")
    _result({"clips": len(clips), "manifest": str(output)})


@app.command()
def fit(
    data: DataArgs,
    output: Annotated[Path, typer.Option("-o", "--output", help="Model folder to write.")] = Path(
        "model"),
    cache: CacheOpt = Path("cache"),
    jobs: JobsOpt = 1,
    modality: ModalityOpt = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="fit.toml: models, CV protocol, seed, extractor settings.")] = None,
    folds: Annotated[int | None, typer.Option(help="Outer actor-grouped folds.")] = None,
    loso: Annotated[bool, typer.Option("--loso", help="Leave-one-actor-out CV.")] = False,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    backend: Annotated[str | None, typer.Option(help="lightgbm or xgboost.")] = None,
    meta: Annotated[str | None, typer.Option(help="Fusion: logreg, gbm or average.")] = None,
    infer_actors: Annotated[bool | None, typer.Option(
        "--infer-actors/--no-infer-actors",
        help="Group clips without an actor (frames_TEST*) into inferred pseudo-actors for "
        "per-actor normalisation (default: on).")] = None,
    body_source: BodySourceOpt = "auto",
    audio_features: AudioSetOpt = None,
    face_fps: FaceFpsOpt = None,
    face_features: FaceExtractorOpt = None,
    labels: LabelsOpt = None,
    speaker_pattern: SpeakerOpt = None,
) -> None:
    """Cross-validate (grouped by actor) and fit per-modality models + stacked fusion.

    Prints UAR per modality and fused; writes the bundle, metrics.json and report.html.

    Example: emo fit demo -o model -j 2
    """
    from emo import api

    cfg = api.FitConfig.from_toml(config) if config else api.FitConfig()
    for name, value in (("n_splits", folds), ("seed", seed), ("backend", backend),
                        ("meta", meta), ("infer_actors", infer_actors)):
        if value is not None:
            setattr(cfg, name, value)
    cfg.loso = cfg.loso or loso
    if not cfg.extractors:
        cfg.extractors = _extractor_options(body_source, audio_features, face_fps,
                                            face_features)
    with _progress("extracting") as progress:
        result = api.fit(data, out=output, modalities=_modalities(modality), cache=cache,
                         n_jobs=jobs, config=cfg, progress=progress,
                         **_layout(labels, speaker_pattern))
    _say(_uar_lines(result.metrics))
    _say(f"model -> {output}  (report: {output / 'report.html'})")
    _result({"model": str(output), "uar": result.metrics["uar"],
             "failures": [vars(f) for f in result.report.failures]})
    raise typer.Exit(_failures(result.report))


def _uar_lines(metrics: dict[str, Any], title: str = "UAR (actor-grouped CV):") -> str:
    lines = [title]
    for name, value in metrics["uar"].items():
        folds = metrics.get("uar_folds", {}).get(name)
        spread = ""
        if folds and len(folds) > 1:
            import statistics

            spread = f"  ± {statistics.stdev(folds) * 100:4.1f} across {len(folds)} folds"
        lines.append(f"  {name:<6} {value * 100:5.1f}%{spread}")
    return "\n".join(lines)


@app.command()
def predict(
    model: Annotated[Path, typer.Argument(help="Model folder written by emo fit.")],
    data: DataArgs,
    output: Annotated[Path, typer.Option("-o", "--output", help="Predictions CSV.")] = Path(
        "predictions.csv"),
    cache: CacheOpt = Path("cache"),
    jobs: JobsOpt = 1,
    skeleton: Annotated[Path | None, typer.Option(
        "--skeleton", help="Kinect file for a single loose media file.")] = None,
) -> None:
    """Predict clips: id, pred_<modality>, fused pred and proba_<class> per clip.

    DATA may also be loose media files (video or audio) with no layout or manifest.

    Example: emo predict model demo -o predictions.csv;
    emo predict model clip.mp4 --skeleton clip_kinect.txt
    """
    from emo import api

    source: Any = data
    if all(api.is_media_file(p) for p in data):
        source = api.clips_from_files(data, skeleton=skeleton)
    elif skeleton is not None:
        raise typer.BadParameter("--skeleton goes with a loose media file", param_hint="--skeleton")
    with _progress("extracting") as progress:
        result = api.predict(model, source, cache=cache, n_jobs=jobs, progress=progress)
    output.parent.mkdir(parents=True, exist_ok=True)
    result.frame.to_csv(output, index=False)
    _say(f"{len(result.frame)} predictions -> {output}")
    _result({"predictions": str(output), "rows": len(result.frame)})
    raise typer.Exit(_failures(result.report))


@app.command()
def evaluate(
    model: Annotated[Path, typer.Argument(help="Model folder written by emo fit.")],
    data: DataArgs,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for evaluation.json "
                                         "and the report.")] = Path("evaluation"),
    cache: CacheOpt = Path("cache"),
    jobs: JobsOpt = 1,
) -> None:
    """Score a fitted model on labelled data it has not seen: UAR, per-class recall,
    confusion matrices per modality and fused (JSON + HTML report).

    Example: emo evaluate model heldout_data -o evaluation
    """
    from emo import api

    with _progress("extracting") as progress:
        summary = api.evaluate(model, data, out=output, cache=cache, n_jobs=jobs,
                               progress=progress)
    _say(_uar_lines(summary, "UAR (held-out data):"))
    _say(f"report -> {output / 'report.html'}")
    _result(summary)
    raise typer.Exit(1 if summary["failures"] else 0)


@app.command()
def report(
    model: Annotated[Path, typer.Argument(help="Model folder written by emo fit.")],
) -> None:
    """Print a fitted model's cross-validated scores and timings; the full report is
    MODEL/report.html (written by emo fit; emo evaluate writes one for held-out data).

    Example: emo report model
    """
    path = model / "metrics.json"
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EmoError("no readable metrics.json: run emo fit first", path) from exc
    _say(_uar_lines(metrics))
    for stage, seconds in metrics.get("timings", {}).items():
        _say(f"  {stage:<24} {seconds:8.1f} s")
    _say(f"report: {model / 'report.html'}")
    _result(metrics)


@app.command()
def factsheet(
    model: Annotated[Path, typer.Argument(help="Model folder written by emo fit.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Markdown file to write.")] = Path(
        "factsheet.md"),
) -> None:
    """Draft the challenge FactSheet (Markdown) from a fitted model: features, models,
    fusion, CV protocol and scores, timings, hardware, package versions.

    Example: emo factsheet model -o factsheet.md
    """
    from emo.factsheet import write_factsheet

    path = write_factsheet(model, output)
    _say(f"factsheet -> {path}")
    _result({"factsheet": str(path)})


@app.command()
def submit(
    model: Annotated[Path | None, typer.Argument(help="Model folder written by emo fit.")] = None,
    data: Annotated[list[Path] | None, typer.Argument(
        help="Challenge dataset folder(s) or manifest(s).", show_default=False)] = None,
    phase: Annotated[str, typer.Option(help="valid (every descriptor) or test "
                                            "(frames_TEST*).")] = "test",
    output: Annotated[Path, typer.Option("-o", "--output", help="ZIP to write.")] = Path(
        "submission.zip"),
    cache: CacheOpt = Path("cache"),
    jobs: JobsOpt = 1,
    check: Annotated[Path | None, typer.Option(
        "--check", help="Only validate an existing submission ZIP.")] = None,
) -> None:
    """Write (and re-validate) the challenge submission ZIP, or --check an existing one.

    Example: emo submit model demo --phase test -o submission.zip
    """
    from emo import submission

    if check is not None:
        answers = submission.check(check)
        _say(f"{check}: valid, {len(answers)} predictions")
        _result({"valid": True, "predictions": len(answers)})
        return
    if model is None or not data:
        raise typer.BadParameter("give MODEL and DATA (or --check FILE.zip)")
    from emo import api

    with _progress("extracting") as progress:
        path, result = api.submit(model, data, phase=phase, out=output, cache=cache,
                                  n_jobs=jobs, progress=progress)
    _say(f"{len(result.frame)} predictions -> {path} (validated)")
    _result({"submission": str(path), "predictions": len(result.frame)})
    raise typer.Exit(_failures(result.report))


@app.command()
def audit(
    data: DataArgs,
    labels: LabelsOpt = None,
    speaker_pattern: SpeakerOpt = None,
) -> None:
    """Report leakage risks: how well recording names, their order in a session or take
    times alone predict the labels (they must never be features or normalisation groups).

    Example: emo audit demo
    """
    from emo import api
    from emo.audit import audit as run_audit

    findings = run_audit(api.index(data, **_layout(labels, speaker_pattern)))
    for f in findings:
        line = f"{f.level.upper():<8} {f.cue}: {f.message}"
        if f.level == "warning":
            print(line, file=sys.stderr)
        else:
            _say(line)
    _result({"findings": [vars(f) for f in findings]})


@cache_app.command("info")
def cache_info(cache: CacheOpt = Path("cache")) -> None:
    """Size and entry counts per extractor.

    Example: emo cache info --cache cache
    """
    from emo.features import cache as cache_mod

    info = cache_mod.FeatureCache(cache).info()
    for name, stats in info["extractors"].items():
        _say(f"{name:<30} {stats['entries']:>7} entries  {stats['bytes'] / 1e6:8.1f} MB")
    _say(f"{info['failed']} failed entries, {info['bytes'] / 1e6:.1f} MB in all")
    _result(info)


@cache_app.command("verify")
def cache_verify(cache: CacheOpt = Path("cache")) -> None:
    """Re-read every entry; remove unreadable or inconsistent ones (they are recomputed).

    Example: emo cache verify --cache cache
    """
    from emo.features.cache import FeatureCache

    bad = FeatureCache(cache).verify()
    for path in bad:
        print(f"removed bad entry {path}", file=sys.stderr)
    _say(f"{len(bad)} bad entries removed")
    _result({"removed": [str(p) for p in bad]})
    raise typer.Exit(1 if bad else 0)


@cache_app.command("prune")
def cache_prune(cache: CacheOpt = Path("cache")) -> None:
    """Remove entries made by extractor versions other than the installed ones.

    Example: emo cache prune --cache cache
    """
    from emo.features.base import available_extractors, get_extractor
    from emo.features.cache import FeatureCache

    current = {}
    for modality, names in available_extractors().items():
        if modality != "table":
            for name in names:
                current[name] = get_extractor(modality, name).version
    removed = FeatureCache(cache).prune(current)
    for folder in removed:
        _say(f"removed {folder}")
    _result({"removed": [str(p) for p in removed]})


@app.command()
def serve(
    model: Annotated[Path | None, typer.Option("--model", help="Fitted model folder for "
                                               "/predict.")] = None,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    cache: CacheOpt = Path("cache"),
    workers: Annotated[int, typer.Option(min=1, help="Extraction worker processes.")] = 1,
    max_upload_mb: Annotated[float, typer.Option(
        "--max-upload-mb", min=0.001,
        help="Largest upload (all files of a request), in MB; larger gets 413.")] = 200.0,
    max_duration: Annotated[float, typer.Option(
        "--max-duration", min=0.1,
        help="Longest media accepted, in seconds; longer gets 422.")] = 600.0,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=0.1,
        help="Longest time a request may take, queueing included, in seconds; then 504.")
    ] = 120.0,
    max_queue: Annotated[int, typer.Option(
        "--max-queue", min=0, help="Requests that may wait for a busy worker; more get 503.")
    ] = 16,
) -> None:
    """Serve extraction and prediction over HTTP (FastAPI; docs at /docs, a drop-a-clip page
    at /). Binds to 127.0.0.1 unless told otherwise.

    Example: emo serve --model model --port 8000
    """
    from emo.serve import run_server

    run_server(model=model, host=host, port=port, cache=cache, workers=workers,
               max_upload_mb=max_upload_mb, max_duration_s=max_duration, timeout_s=timeout,
               max_queue=max_queue)


if __name__ == "__main__":  # pragma: no cover
    main()
