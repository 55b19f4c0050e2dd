"""The ``emo`` command line: a thin shell over :mod:`emo.api`.

Every option's help is written once: the settings' options (``emo fit``'s model and CV
settings, ``emo serve``'s limits) are made from the fields of :class:`emo.settings.FitConfig`
and :class:`emo.settings.ServeLimits` (their descriptions are the help), the others' help is
in :data:`HELP`. Options several commands share are defined once, as option groups (the
classes of :data:`_GROUPS`: the data and how to read it, the cache and workers, the
extractors, the fit settings, the service limits) that :class:`_Grouped` expands into typer
parameters when typer builds the command, so that ``import emo.cli`` loads no settings model.
Errors reach the user as one line (``-v`` adds the traceback), with the exit codes of
:data:`EXIT_CODES`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import json
import logging
import statistics
import sys
import typing
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from emo import api
from emo.errors import ConfigError, EmoError, FeatureError, MediaError

#: The exit codes, as ``emo --help`` and docs/cli.md state them.
EXIT_CODES = (
    "Exit codes: 0 every clip (or window) done; 1 some or all clips could not be read, each "
    "named with the reason on stderr, the others written (also for an unexpected internal "
    "error); 2 usage or configuration error (bad option, unknown modality, invalid fit.toml "
    "value, missing data, unusable model), reported before any work."
)

app = typer.Typer(
    name="emo",
    help="Multimodal emotion recognition: extract cached audio/face/body features, fit "
    "per-modality models and a stacked fusion, predict clips or sliding windows of long "
    f"recordings, write FG-2020 challenge submissions.\n\n{EXIT_CODES}\n\n"
    "Errors are one line on stderr; -v adds the details (traceback).\n\n"
    "Example: emo synth demo && emo fit demo -o model && emo submit model demo --phase test "
    "-o submission.zip",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
cache_app = typer.Typer(help="Inspect and maintain the feature cache.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")

log = logging.getLogger("emo")


class _State:
    quiet = False
    json = False


STATE = _State()

# -- options: one help text per flag, each option defined once ------------------------------
#: Help of every argument and option, by argument name or long flag.
HELP = {
    "DATA": "Dataset folder(s) (challenge, RAVDESS, EMO-DB, TESS, <label>/<file> layouts), "
            "manifest CSV(s) or loose media files (audio, or video with sound; id = file "
            "stem); several are joined by clip id.",
    "MODEL":
        "Model folder written by emo fit.",
    "--labels":
        "Label-map CSV (columns from,to; empty 'to' drops the class).",
    "--speaker-pattern": "Regex with a named group 'speaker' applied to file stems (folders "
                         "layout), e.g. '^(?P<speaker>[A-Z]+)_'.",
    "--skeleton":
        "Kinect skeleton file recorded with the one loose media file given.",
    "--cache":
        "Feature cache folder.",
    "--jobs":
        "Worker processes.",
    "--modality":
        f"Comma-separated modalities: {','.join(api.MODALITIES)} (default: all the data has).",
    "--audio-features":
        "Audio extractor: egemaps+compare (default: both sets), egemaps, compare, egemaps_lld.",
    "--face-features": "Face extractor: face_au (MediaPipe landmark AUs, default) or openface "
                       "(OpenFace 2 per-frame CSVs beside the videos, <video stem>.csv).",
    "--face-fps":
        "Analyse faces at this frame rate; 0 = every frame (default: the extractor's).",
    "--pose-fps":
        "Analyse body pose on video at this rate; 0 = every frame (default: the extractor's).",
    "--body-source": "Where body joints come from: kinect (the skeleton file), video "
                     "(MediaPipe pose) or auto (Kinect when the clip has a skeleton file, else "
                     "video; default).",
    "--verbose":
        "More log output and error details (-vv for debug).",
    "--quiet":
        "Only errors.",
    "--log-file":
        "Also log here.",
    "--json":
        "Print a machine-readable result on stdout.",
    "--retry-failed":
        "Retry clips that failed in an earlier run.",
    "--dask":
        "Run on a Dask cluster: scheduler address, or local:N.",
    "--config": "fit.toml: models, CV protocol, seed, extractor settings. A flag given on the "
                "command line wins over the same setting in the file.",
    "--hide-actors": "Predict as if no clip named its actor (like challenge test "
                     "descriptors) and report how the clips of each actor were grouped.",
    "--window": "Predict each media file in sliding windows of this many seconds: one row per "
                "window (id, start, end, pred_<modality>, pred, proba_<class>).",
    "--hop":
        "Step between window starts, in seconds (default: the window).",
    "--phase":
        "valid (every descriptor) or test (frames_TEST*).",
    "--check":
        "Only validate an existing submission ZIP.",
    "--model":
        "Fitted model folder for /predict.",
    "--host":
        "Interface to bind.",
    "--port":
        "TCP port.",
    "--actors":
        "Labelled actors.",
    "--takes":
        "Takes per actor and emotion.",
    "--test-actors":
        "Actors of frames_TEST*.",
    "--overwrite":
        "Replace a dataset already in OUT.",
    "--id-column":
        "Clip id column.",
    "--actor-column":
        "Actor column.",
    "--label-column":
        "Label column (optional).",
    "--drop-columns":
        "Comma-separated numeric metadata columns that must not become features (text "
        "columns are dropped anyway, with a warning).",
    "--actor-format":
        "Python format for actor values, e.g. '{:02d}' to turn 1 into '01'.",
}


def _opt(*flags: str, help: str | None = None, **settings: Any) -> Any:
    """A typer option whose help is ``HELP`` of its long flag (``--x`` of ``--x/--no-x``),
    unless given."""
    long = next(f for f in flags if f.startswith("--")).split("/")[0]
    return typer.Option(*flags, help=help or HELP[long], **settings)


def _arg(name: str, **settings: Any) -> Any:
    """A typer argument whose help is ``HELP[name]``."""
    return typer.Argument(help=HELP[name], show_default=False, **settings)


DataArgs = Annotated[list[Path], _arg("DATA")]
ModelArg = Annotated[Path, _arg("MODEL")]
LabelsOpt = Annotated[Path | None, _opt("--labels")]
SpeakerOpt = Annotated[str | None, _opt("--speaker-pattern")]
SkeletonOpt = Annotated[Path | None, _opt("--skeleton")]
CacheOpt = Annotated[Path, _opt("--cache")]
JobsOpt = Annotated[int, _opt("-j", "--jobs", min=1)]


@dataclasses.dataclass(frozen=True)
class _Data:
    """The DATA of a command and the options that say how to read it."""

    data: DataArgs
    labels: LabelsOpt = None
    speaker_pattern: SpeakerOpt = None

    def options(self) -> dict[str, Any]:
        """The API's data keywords."""
        return {"labels": self.labels, "speaker_pattern": self.speaker_pattern}


@dataclasses.dataclass(frozen=True)
class _MediaData(_Data):
    """DATA where a loose media file may come with its Kinect skeleton."""

    skeleton: SkeletonOpt = None

    def options(self) -> dict[str, Any]:
        """The API's data keywords, ``skeleton`` included."""
        return {**super().options(), "skeleton": self.skeleton}


@dataclasses.dataclass(frozen=True)
class _OptionalData(_Data):
    """DATA that a command may do without (``emo submit --check``)."""

    data: Annotated[list[Path] | None, _arg("DATA")] = None  # type: ignore[assignment]


@dataclasses.dataclass(frozen=True)
class _Work:
    """Where features are cached and how many processes compute them."""

    cache: CacheOpt = Path("cache")
    jobs: JobsOpt = 1

    def options(self) -> dict[str, Any]:
        """The API's ``cache`` and ``n_jobs`` keywords."""
        return {"cache": self.cache, "n_jobs": self.jobs}


@dataclasses.dataclass(frozen=True)
class _Extraction:
    """The user's choice of modalities and extractors (``None``: not given)."""

    modality: Annotated[str | None, _opt("--modality", "-m")] = None
    audio_features: Annotated[str | None, _opt("--audio-features")] = None
    face_features: Annotated[str | None, _opt("--face-features")] = None
    face_fps: Annotated[float | None, _opt("--face-fps", min=0)] = None
    pose_fps: Annotated[float | None, _opt("--pose-fps", min=0)] = None
    body_source: Annotated[str | None, _opt("--body-source")] = None

    def modalities(self) -> list[str] | None:
        """The chosen modalities (``None``: every one the data has)."""
        return api.parse_modalities(self.modality)

    def extractors(self) -> dict[str, dict[str, Any]]:
        """Per modality, the extractor options given on the command line."""
        return api.extractor_options(audio=self.audio_features, face=self.face_features,
                                     face_fps=self.face_fps, body_source=self.body_source,
                                     pose_fps=self.pose_fps)


def _dataclass_parameters(group: type) -> list[inspect.Parameter]:
    """The typer parameters of a dataclass option group: one per field."""
    hints = typing.get_type_hints(group, include_extras=True)
    return [inspect.Parameter(
        f.name, inspect.Parameter.KEYWORD_ONLY, annotation=hints[f.name],
        default=inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default)
        for f in dataclasses.fields(group)]


class _SettingsOptions:
    """An option group made from a settings model: one option per scalar field (see
    :func:`emo.settings.cli_options`); a value not given on the command line is ``None``,
    so the model's default (or the settings file) applies."""

    #: Name of the settings model in :mod:`emo.api`.
    model = ""

    def __init__(self, **values: Any) -> None:
        self.given = {k: v for k, v in values.items() if v is not None}

    @classmethod
    def parameters(cls) -> list[inspect.Parameter]:
        """One typer parameter per scalar field of the model."""
        params = []
        for option in api.cli_options(getattr(api, cls.model)):
            flag = (f"--{option.flag}/--no-{option.flag}" if option.kind is bool
                    else f"--{option.flag}")
            typed = typer.Option(flag, help=option.help, show_default=False)
            params.append(inspect.Parameter(  # values are checked by the settings model
                option.field, inspect.Parameter.KEYWORD_ONLY, default=None,
                annotation=Annotated[option.kind | None, typed]))
        return params


class _FitSettings(_SettingsOptions):
    """``--config`` and the flags that override its settings (``FitConfig`` fields)."""

    model = "FitConfig"

    def __init__(self, config: Path | None = None, **values: Any) -> None:
        super().__init__(**values)
        self.config = config

    @classmethod
    def parameters(cls) -> list[inspect.Parameter]:
        """``--config``, then the settings' options."""
        config = inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, default=None,
                                   annotation=Annotated[Path | None, _opt("--config")])
        return [config, *super().parameters()]

    def read(self, extractors: dict[str, dict[str, Any]]) -> api.FitConfig:
        """The fit settings: the file's (or the defaults), the flags winning.

        Raises
        ------
        ConfigError
            Naming the file, the key and the allowed values.
        """
        settings = api.read_fit_config(self.config) if self.config else api.FitConfig()
        return settings.override(**self.given, extractors=extractors)


class _Limits(_SettingsOptions):
    """What the service accepts (``ServeLimits`` fields)."""

    model = "ServeLimits"


_GROUPS = (_Data, _MediaData, _OptionalData, _Work, _Extraction, _FitSettings, _Limits)


class _Grouped:
    """A command whose parameters typed with an option group are expanded into the group's
    own parameters; the command gets one group object built from them.

    The expansion is made when typer first reads the signature (when it builds the
    command line), not at import.
    """

    def __init__(self, command: Callable[..., None]) -> None:
        self.command = command
        self.__name__ = command.__name__
        self.__qualname__ = command.__qualname__
        self.__module__ = command.__module__
        self.__doc__ = command.__doc__

    @functools.cached_property
    def _plan(self) -> tuple[inspect.Signature, dict[str, tuple[type, list[str]]]]:
        hints = typing.get_type_hints(self.command, include_extras=True)
        params: list[inspect.Parameter] = []
        groups: dict[str, tuple[type, list[str]]] = {}
        for name, param in inspect.signature(self.command).parameters.items():
            group = hints[name]
            if group not in _GROUPS:
                params.append(param.replace(kind=inspect.Parameter.KEYWORD_ONLY,
                                            annotation=group))
                continue
            own = (group.parameters() if issubclass(group, _SettingsOptions)
                   else _dataclass_parameters(group))
            groups[name] = (group, [p.name for p in own])
            params += own
        return inspect.Signature(params), groups

    @property
    def __signature__(self) -> inspect.Signature:
        return self._plan[0]

    @property
    def __annotations__(self) -> dict[str, Any]:  # type: ignore[override]
        return {p.name: p.annotation for p in self.__signature__.parameters.values()}

    def __call__(self, **values: Any) -> None:
        for name, (group, fields) in self._plan[1].items():
            values[name] = group(**{f: values.pop(f) for f in fields})
        self.command(**values)


# -- output -------------------------------------------------------------------------------
@app.callback()
def _main(
    verbose: Annotated[int, _opt("-v", "--verbose", count=True)] = 0,
    quiet: Annotated[bool, _opt("-q", "--quiet")] = False,
    log_file: Annotated[Path | None, _opt("--log-file")] = None,
    json_out: Annotated[bool, _opt("--json")] = False,
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
    warnings.showwarning = _show_warning


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: typing.TextIO | None = None, line: str | None = None) -> None:
    """Python warnings (e.g. "only 3 actors: ... noisy") as one log line each, without the
    source file and line that Python prints (``-v`` adds where it came from)."""
    log.warning("%s", message)
    log.info("  (%s: %s:%d)", category.__name__, filename, lineno)


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


def _finish(failures: Sequence[Any], what: str = "clip(s) could not be read") -> None:
    """Name every failure with its reason on stderr; exit 1 if there is one, else 0."""
    if failures:
        print(f"{len(failures)} {what}:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
    raise typer.Exit(1 if failures else 0)


def _one_line(text: str) -> str:
    return " ".join(str(text).split("\n"))


def main() -> None:
    """Entry point: run the app; no traceback reaches the user (``-v`` shows it)."""
    try:
        app()
    except EmoError as exc:
        log.info("details:", exc_info=exc)
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        sys.exit(1 if isinstance(exc, MediaError | FeatureError) else 2)
    except Exception as exc:  # a bug: say what, keep the traceback for -v
        log.info("details:", exc_info=exc)
        print(f"internal error: {type(exc).__name__}: {_one_line(str(exc))} (run with -v for "
              "the traceback)", file=sys.stderr)
        sys.exit(1)


def _uar_lines(scores: dict[str, Any], title: str = "UAR (actor-grouped CV):") -> str:
    lines = [title]
    for name, value in scores["uar"].items():
        folds = scores.get("uar_folds", {}).get(name)
        spread = ""
        if folds and len(folds) > 1:
            spread = f"  ± {statistics.stdev(folds) * 100:4.1f} across {len(folds)} folds"
        lines.append(f"  {name:<6} {value * 100:5.1f}%{spread}")
    actors = scores.get("uar_actors", {}).get("fused", {})
    if actors:
        lines.append("  fused, per actor: " + ", ".join(f"{a} {v * 100:.1f}%"
                                                     for a, v in actors.items()))
    return "\n".join(lines)


# -- commands -----------------------------------------------------------------------------
@app.command()
def synth(
    out: Annotated[Path, typer.Argument(help="Folder to write the dataset to.")],
    actors: Annotated[int, _opt("--actors", min=1)] = 6,
    takes: Annotated[int, _opt("--takes", min=1)] = 3,
    test_actors: Annotated[int, _opt("--test-actors", min=0)] = 1,
    seed: Annotated[int, _opt("--seed", help="Random seed.")] = 0,
    overwrite: Annotated[bool, _opt("--overwrite/--no-overwrite")] = False,
) -> None:
    """Write a synthetic dataset in the FG-2020 challenge layout (videos with sound,
    Kinect skeletons, descriptors).

    Example: emo synth demo --actors 6 --takes 3
    """
    try:
        path = api.synthesise(out, actors=actors, takes=takes, test_actors=test_actors,
                              seed=seed, progress=not (STATE.quiet or STATE.json),
                              overwrite=overwrite)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    _say(f"wrote {path}")
    _result({"out": str(path)})


@app.command()
@_Grouped
def index(
    source: _MediaData,
    output: Annotated[Path, _opt("-o", "--output", help="Manifest CSV to write.")],
) -> None:
    """Read datasets (and loose media files) into one manifest CSV (id, actor, label, media,
    segments).

    Example: emo index ../corpora/ravdess -o ravdess.csv
    """
    problems: list[EmoError] = []
    clips = api.index(source.data, out=output, problems=problems, **source.options())
    _say(f"{len(clips)} clips -> {output}")
    _result({"clips": len(clips), "manifest": str(output), "problems": [str(p) for p in problems]})
    _finish(problems, "item(s) skipped")


@app.command()
@_Grouped
def extract(
    source: _MediaData,
    work: _Work,
    extraction: _Extraction,
    retry_failed: Annotated[bool, _opt("--retry-failed/--no-retry-failed")] = False,
    dask: Annotated[str | None, _opt("--dask")] = None,
) -> None:
    """Extract features of every clip into the cache (resumable; cached clips are skipped).

    Example: emo extract demo -j 2 --modality audio,face; emo extract clip.mp4 --skeleton
    clip_kinect.txt
    """
    modalities, extractors = extraction.modalities(), extraction.extractors()
    with _progress("extracting") as progress:
        report = api.extract(source.data, modalities=modalities, extractors=extractors,
                             retry_failed=retry_failed, progress=progress, dask=dask,
                             **work.options(), **source.options())
    _say(f"{report.computed} computed, {report.cached} cached, {len(report.failures)} failed "
         f"(cache: {work.cache})")
    _result({"computed": report.computed, "cached": report.cached,
             "failures": [vars(f) for f in report.failures]})
    _finish(report.failures)


@app.command("features")
@_Grouped
def features_cmd(
    source: _MediaData,
    work: _Work,
    extraction: _Extraction,
    output: Annotated[Path, _opt("-o", "--output", help="Table to write (.parquet or .csv).")],
) -> None:
    """Write one joined table: id, actor, label, then every feature column.

    Example: emo features demo -o features.parquet
    """
    modalities, extractors = extraction.modalities(), extraction.extractors()
    with _progress("extracting") as progress:
        feats = api.features(source.data, modalities=modalities, extractors=extractors,
                             progress=progress, **work.options(), **source.options())
    frame = feats.frame()
    api.write_table(frame, output)
    _say(f"{frame.shape[0]} clips x {frame.shape[1] - 2} features -> {output}")
    _result({"rows": frame.shape[0], "columns": frame.shape[1], "output": str(output)})
    _finish(feats.report.failures)


@app.command("import")
def import_cmd(
    table: Annotated[Path, typer.Argument(help="Clip-level feature table (CSV or Parquet).")],
    modality: Annotated[str, _opt("--modality", "-m", help="Modality of the features.")] = "face",
    output: Annotated[Path, _opt("-o", "--output", help="Manifest CSV to write.")] = Path(
        "imported.csv"),
    cache: CacheOpt = Path("cache"),
    id_column: Annotated[str, _opt("--id-column")] = "id",
    actor_column: Annotated[str, _opt("--actor-column")] = "actor",
    label_column: Annotated[str, _opt("--label-column")] = "label",
    drop_columns: Annotated[str, _opt("--drop-columns")] = "",
    labels: LabelsOpt = None,
    actor_format: Annotated[str | None, _opt("--actor-format")] = None,
) -> None:
    """Import precomputed clip-level features (OpenFace AUs, kinematics...) into the cache.

    Ids, actors and labels are kept as written (01, 007, NA stay so; an empty cell is
    missing). Columns of numbers become features; columns holding no number (gender,
    filename...) are dropped with a warning. Writes a manifest to give with other DATA.

    Example: emo import face_au.parquet --modality face --id-column clip_id
    --label-column label7 -o ravdess_face.csv
    """
    (modality_name,) = api.parse_modalities(modality)
    clips = api.import_table(table, modality=modality_name, cache=cache, out=output,
                             id_column=id_column, actor_column=actor_column,
                             label_column=label_column,
                             drop_columns=[c.strip() for c in drop_columns.split(",")
                                           if c.strip()], labels=labels,
                             actor_format=actor_format)
    _say(f"imported {len(clips)} clips ({modality_name}) -> {output}")
    _result({"clips": len(clips), "manifest": str(output)})


@app.command()
@_Grouped
def fit(
    source: _Data,
    work: _Work,
    extraction: _Extraction,
    settings: _FitSettings,
    output: Annotated[Path, _opt("-o", "--output", help="Model folder to write.")] = Path(
        "model"),
) -> None:
    """Cross-validate (grouped by actor) and fit per-modality models + stacked fusion.

    Settings come from --config (fit.toml) and the flags; a flag wins over the file. Bad
    settings exit 2 before any extraction. Prints UAR per modality and fused; writes the
    bundle, metrics.json and report.html.

    Example: emo fit demo -o model -j 2 --config fit.toml --no-loso --face-fps 10
    """
    config = settings.read(extraction.extractors())
    modalities = extraction.modalities()
    with _progress("extracting") as progress:
        result = api.fit(source.data, out=output, config=config, modalities=modalities,
                         progress=progress, **work.options(), **source.options())
    _say(_uar_lines(result.metrics))
    _say(f"model -> {output}  (report: {output / 'report.html'})")
    _result({"model": str(output), "uar": result.metrics["uar"],
             "failures": [vars(f) for f in result.report.failures]})
    _finish(result.report.failures)


@app.command()
@_Grouped
def predict(
    model: ModelArg,
    source: _MediaData,
    work: _Work,
    window: Annotated[float | None, _opt("--window")] = None,
    hop: Annotated[float | None, _opt("--hop")] = None,
    output: Annotated[Path | None, _opt("-o", "--output", help=(
        "Predictions CSV. Without it, one clip's prediction is printed and no file is "
        "written; several clips go to predictions.csv, or predictions-1.csv... when that "
        "exists (an existing file is never replaced without -o)."))] = None,
) -> None:
    """Predict clips: id, group (actor or inferred pseudo-actor), pred_<modality>, fused
    pred and proba_<class> per clip (or per window with --window). The model's own
    extractors are used. One clip without -o: the class and top probabilities are printed.

    Exits 1 naming each clip (or window) without a prediction and why; the others are
    written.

    Example: emo predict model clip.wav; emo predict model demo -o predictions.csv; emo
    predict model clip.mp4 --skeleton clip_kinect.txt; emo predict model long.mp4 --window 2
    --hop 1 -o windows.csv
    """
    bundle = api.load_model(model)
    if window is None:
        with _progress("extracting") as progress:
            result = api.predict(bundle, source.data, progress=progress, **work.options(),
                                 **source.options())
        frame, failures = result.frame, result.report.failures
    else:
        frame, failures = _predict_windows(bundle, source, work, window, hop)
    what = ("clip(s) or window(s) without a prediction" if window else
            "clip(s) could not be read")
    if output is None and window is None and len(frame) <= 1:
        for row in frame.to_dict("records"):
            _say(_prediction_line(row, bundle.classes))
        _result({"predictions": frame.to_dict("records"),
                 "failures": [str(f) for f in failures]})
        _finish(failures, what)
    output = output or _free_name(Path("predictions.csv"))
    api.write_table(frame, output, index=False)
    _say(f"{len(frame)} predictions -> {output}")
    _result({"predictions": str(output), "rows": len(frame),
             "failures": [str(f) for f in failures]})
    _finish(failures, what)


def _prediction_line(row: dict[str, Any], classes: Sequence[str], top: int = 3) -> str:
    """``id: class (p1 class1, p2 class2, ...)`` with the ``top`` fused probabilities."""
    ranked = sorted(classes, key=lambda c: -row[f"proba_{c}"])[:top]
    shares = ", ".join(f"{c} {row[f'proba_{c}'] * 100:.0f}%" for c in ranked)
    return f"{row['id']}: {row['pred']}  ({shares}; group {row['group']})"


def _free_name(path: Path) -> Path:
    """``path``, or ``<stem>-1<suffix>``, ``<stem>-2<suffix>``... the first that does not
    exist."""
    candidate, n = path, 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def _predict_windows(bundle: Any, source: _MediaData, work: _Work, window: float,
                     hop: float | None) -> tuple[Any, list[str]]:
    """Windowed predictions of every media file, and the windows (or files) without one."""
    import pandas as pd

    not_media = [str(p) for p in source.data if not api.is_media_file(p)]
    if not_media:
        raise ConfigError(f"--window predicts media files; not an audio or video file: "
                          f"{', '.join(not_media)}")
    frames, failures = [], []
    for media in source.data:
        try:
            with _progress(f"{media.name}: windows") as progress:
                result = api.predict_windows(bundle, media, window=window, hop=hop,
                                             skeleton=source.skeleton, progress=progress,
                                             **work.options())
        except MediaError as exc:
            failures.append(str(exc))
            continue
        frames.append(result.frame)
        unpredicted = result.unpredicted()
        failures += map(str, unpredicted)
        for failure in result.report.failures:
            if failure not in unpredicted:  # predicted from its other modalities
                log.info("%s", failure)
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["id", "start", "end", "pred"])
    return frame, failures


@app.command()
@_Grouped
def evaluate(
    model: ModelArg,
    source: _Data,
    work: _Work,
    output: Annotated[Path, _opt("-o", "--output", help="Folder for evaluation.json and the "
                                                        "report.")] = Path("evaluation"),
    hide_actors: Annotated[bool, _opt("--hide-actors/--no-hide-actors")] = False,
) -> None:
    """Score a fitted model on labelled data it has not seen: UAR (also per actor),
    per-class recall, confusion matrices per modality and fused (JSON + HTML report);
    --hide-actors also shows how the clips of each actor were grouped.

    Example: emo evaluate model heldout_data -o evaluation --hide-actors
    """
    with _progress("extracting") as progress:
        summary = api.evaluate(model, source.data, out=output, progress=progress,
                               hide_actors=hide_actors, **work.options(), **source.options())
    _say(_uar_lines(summary, "UAR (held-out data):"))
    _say(f"report -> {output / 'report.html'}")
    _result(summary)
    _finish(summary["failures"])


@app.command()
def report(model: ModelArg) -> None:
    """Print a fitted model's cross-validated scores and timings; the full report is
    MODEL/report.html (written by emo fit; emo evaluate writes one for held-out data).

    Example: emo report model
    """
    summary = api.model_summary(model)
    _say(_uar_lines(summary))
    for stage, seconds in summary.get("timings", {}).items():
        _say(f"  {stage:<24} {seconds:8.1f} s")
    _say(f"report: {model / 'report.html'}")
    _result(summary)


@app.command()
def factsheet(
    model: ModelArg,
    output: Annotated[Path, _opt("-o", "--output", help="Markdown file to write.")] = Path(
        "factsheet.md"),
) -> None:
    """Draft the challenge FactSheet (Markdown) from a fitted model: features, models,
    fusion, CV protocol and scores, timings, hardware, package versions.

    Example: emo factsheet model -o factsheet.md
    """
    path = api.write_factsheet(model, output)
    _say(f"factsheet -> {path}")
    _result({"factsheet": str(path)})


@app.command()
@_Grouped
def submit(
    model: Annotated[Path | None, _arg("MODEL")] = None,
    source: _OptionalData = _OptionalData(),
    work: _Work = _Work(),
    phase: Annotated[str, _opt("--phase")] = "test",
    check: Annotated[Path | None, _opt("--check")] = None,
    output: Annotated[Path, _opt("-o", "--output", help="ZIP to write.")] = Path(
        "submission.zip"),
) -> None:
    """Write (and re-validate) the challenge submission ZIP, or --check an existing one.

    A descriptor that cannot be read gets the most frequent training class; it is named
    on stderr and the exit code is 1.

    Example: emo submit model demo --phase test -o submission.zip; emo submit --check
    submission.zip
    """
    if check is not None:
        answers = api.check_submission(check)
        _say(f"{check}: valid, {len(answers)} predictions")
        _result({"valid": True, "predictions": len(answers)})
        return
    if model is None or not source.data:
        raise typer.BadParameter("give MODEL and DATA (or --check FILE.zip)")
    with _progress("extracting") as progress:
        path, result = api.submit(model, source.data, phase=phase, out=output,
                                  progress=progress, **work.options(), **source.options())
    _say(f"{len(result.frame)} predictions -> {path} (validated)")
    _result({"submission": str(path), "predictions": len(result.frame)})
    _finish(result.report.failures)


@app.command()
@_Grouped
def audit(source: _Data) -> None:
    """Report leakage risks: how well recording names, their order in a session or take
    times alone predict the labels (they must never be features or normalisation groups).

    Example: emo audit demo
    """
    findings = api.audit(source.data, **source.options())
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
    info = api.cache_info(cache)
    for name, stats in info["extractors"].items():
        _say(f"{name:<30} {stats['entries']:>7} entries  {stats['bytes'] / 1e6:8.1f} MB")
    _say(f"{info['failed']} failed entries, {info['bytes'] / 1e6:.1f} MB in all")
    _result(info)


@cache_app.command("verify")
def cache_verify(cache: CacheOpt = Path("cache")) -> None:
    """Decode every entry and check its checksums; remove damaged ones (recomputed by the next
    emo extract).

    Example: emo cache verify --cache cache
    """
    bad = api.cache_verify(cache)
    _say(f"{len(bad)} bad entries removed")
    _result({"removed": [str(p) for p in bad]})
    _finish([f"removed bad entry {p}" for p in bad], "bad cache entries")


@cache_app.command("prune")
def cache_prune(cache: CacheOpt = Path("cache")) -> None:
    """Remove entries made by extractor versions other than the installed ones.

    Example: emo cache prune --cache cache
    """
    removed = api.cache_prune(cache)
    for folder in removed:
        _say(f"removed {folder}")
    _result({"removed": [str(p) for p in removed]})


@app.command()
@_Grouped
def serve(
    limits: _Limits,
    model: Annotated[Path | None, _opt("--model")] = None,
    host: Annotated[str, _opt("--host")] = "127.0.0.1",
    port: Annotated[int, _opt("--port")] = 8000,
    cache: CacheOpt = Path("cache"),
) -> None:
    """Serve extraction and prediction over HTTP (FastAPI; docs at /docs, a drop-a-clip page
    with a timeline of windowed predictions at /). Binds to 127.0.0.1 unless told otherwise.

    Example: emo serve --model model --port 8000 --workers 2 --max-upload-mb 50
    """
    from emo.serve import run_server

    run_server(model=model, host=host, port=port, cache=cache, **limits.given)


if __name__ == "__main__":  # pragma: no cover
    main()
