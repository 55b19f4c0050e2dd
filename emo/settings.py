"""Settings, validated when read: :class:`FitConfig` (``fit.toml``) and :class:`ServeLimits`.

Both are pydantic models that refuse unknown keys and bad values with the file, the key
and the allowed values, before any work starts; :func:`read_fit_config` turns a
``fit.toml`` into a :class:`FitConfig`, and command-line flags are applied on top with
:meth:`FitConfig.override` (a flag wins over the file; the result is validated again).

Each setting is declared once, here: its type (allowed values as a ``Literal``, from
:mod:`emo.models.choices`), default and ``Field(description=...)``. The command line reads
:func:`cli_options` to make one option per scalar field (the description is its help, the
flag is the field name with dashes unless ``json_schema_extra={"flag": ...}`` names
another), so ``emo fit --help``, ``emo serve --help`` and docs/cli.md follow the fields.

Examples
--------
>>> FitConfig().n_splits
5
>>> FitConfig(meta="nope")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
emo.errors.ConfigError: meta: Input should be 'logreg', 'gbm' or 'average' (got 'nope')
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from emo.errors import ConfigError, EmoError
from emo.features.base import MODALITIES, get_extractor
from emo.models.choices import Estimator, MetaLearner

__all__ = ["CliOption", "FitConfig", "ServeLimits", "cli_options", "read_fit_config"]

#: The modalities (one list, :data:`emo.features.base.MODALITIES`), as a type.
Modality = Literal[MODALITIES]  # type: ignore[valid-type]


def _message(error: ValidationError, path: str | Path | None,
             known: list[str]) -> ConfigError:
    """One :class:`ConfigError` naming the file, each bad key, the problem and the value."""
    parts = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"] if p != "[key]") or "(top level)"
        text = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            text = "unknown key" + (f" (known: {', '.join(known)})" if len(item["loc"]) == 1
                                    else "")
        elif "input" in item and not isinstance(item["input"], dict):
            text += f" (got {item['input']!r})"
        parts.append(f"{key}: {text}")
    return ConfigError("; ".join(parts), path)


class _Settings(BaseModel):
    """Base of the settings models: unknown keys refused, assignments validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _message(exc, None, list(type(self).model_fields)) from None


class FitConfig(_Settings):
    """Everything that defines a fit; stored in the model bundle.

    Each field's description says what it does (``emo fit --help`` shows it). ``model``
    and ``extractors`` are tables of ``fit.toml`` (``[model]``, ``[extractors.<modality>]``);
    the extractor flags of the command line (``--audio-features``, ``--face-fps``...) are
    merged into ``extractors``.
    """

    n_splits: int = Field(
        5, ge=2, le=100, json_schema_extra={"flag": "folds"},
        description="Outer actor-grouped folds of the reported cross-validation (at most "
                    "one per actor).")
    loso: bool = Field(
        False, description="Leave one actor out in the outer cross-validation instead of "
                           "--folds folds.")
    seed: int = Field(0, description="Random seed of every estimator and split.")
    estimator: Estimator = Field(
        "blend", description="Per-modality model: blend (the ensemble on eGeMAPS averaged with "
        "a linear model on the ComParE columns of the egemaps+compare audio set, weight and C "
        "chosen in inner actor-grouped folds; the ensemble alone on other columns), ensemble "
        "(soft vote of a logistic regression, an RBF SVM and LightGBM on per-actor normalised "
        "features), linear (balanced logistic regression, C chosen in inner folds), or boosted "
        "trees alone: lightgbm or xgboost.")
    meta: MetaLearner = Field(
        "logreg", description="Fusion meta-learner: logreg (balanced logistic regression on "
        "the modalities' log-probabilities), gbm (small LightGBM) or average (mean of the "
        "available modalities).")
    actor_norm: bool = Field(True, description="Label-free per-actor feature normalisation.")
    balance_actors: bool = Field(
        True, description="Nudge each actor's predicted class totals towards the training "
        "class proportions (label-free, actors with at least 14 clips), per modality and "
        "fused.")
    infer_actors: bool = Field(
        True, description="Group clips without an actor (challenge test descriptors) into "
        "inferred pseudo-actors for per-actor normalisation.")
    model: dict[str, Any] = Field(
        default_factory=dict, description="Extra parameters of the per-modality estimator "
        "(checked when the model is built).")
    extractors: dict[Modality, dict[str, Any]] = Field(
        default_factory=dict, description="Per modality, an optional name and the "
        "extractor's settings, e.g. {face = {fps = 10}, body = {source = 'kinect'}}.")

    @field_validator("extractors")
    @classmethod
    def _known_extractors(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Build each extractor once: unknown names and settings are refused here, before
        any extraction (the error lists the known ones)."""
        for modality, options in value.items():
            settings = dict(options)
            try:
                get_extractor(modality, settings.pop("name", None), **settings)
            except EmoError as exc:
                raise ValueError(f"{modality}: {exc.reason}") from None
        return value

    def override(self, **flags: Any) -> FitConfig:
        """A copy with command-line flags applied; ``None`` means "not given".

        Flags win over the file. ``extractors`` flags are merged per modality and key
        (``{"face": {"fps": 0}}`` changes only the face frame rate).

        Raises
        ------
        ConfigError
            When a flag's value is invalid.
        """
        data = self.model_dump()
        for name, value in flags.items():
            if value is None:
                continue
            if name == "extractors":
                for modality, options in value.items():
                    merged = {**data["extractors"].get(modality, {}), **options}
                    data["extractors"][modality] = merged
            else:
                data[name] = value
        return FitConfig(**data)


def read_fit_config(path: str | Path) -> FitConfig:
    """Read and validate a ``fit.toml`` (top-level keys as :class:`FitConfig`'s attributes;
    tables ``[model]`` and ``[extractors.<modality>]``).

    Raises
    ------
    ConfigError
        Naming the file: unreadable, not TOML, unknown keys or bad values.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config: {exc.strerror or exc}", path) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid TOML: {exc}", path) from None
    try:
        return FitConfig(**data)
    except ConfigError as exc:
        raise ConfigError(exc.reason, path) from None


class ServeLimits(_Settings):
    """What the HTTP service accepts (``emo serve`` options; descriptions on the fields)."""

    workers: int = Field(1, ge=1, le=64,
                         description="Worker processes (requests computed at once).")
    max_upload_mb: float = Field(
        200.0, gt=0, description="Largest upload (all files of a request), in MB (10**6 "
                                 "bytes); larger gets 413.")
    max_duration_s: float = Field(
        600.0, gt=0, json_schema_extra={"flag": "max-duration"},
        description="Longest media accepted, in seconds; longer gets 422.")
    timeout_s: float = Field(
        120.0, gt=0, json_schema_extra={"flag": "timeout"},
        description="Longest time a request may take, queueing included, in seconds; then "
                    "504.")
    max_queue: int = Field(16, ge=0,
                           description="Requests that may wait for a busy worker; more get 503.")

    @property
    def max_bytes(self) -> int:
        """The upload limit in bytes."""
        return int(self.max_upload_mb * 1e6)



@dataclass(frozen=True)
class CliOption:
    """One command-line option made from a scalar settings field.

    Attributes
    ----------
    field
        The field (and the command's parameter) name.
    flag
        The long flag without dashes (``folds``); a bool gets ``--flag/--no-flag``.
    kind
        ``bool``, ``int``, ``float`` or ``str``.
    help
        The field's description and its default.
    choices
        The allowed values of a ``Literal`` field, else None.
    """

    field: str
    flag: str
    kind: type
    help: str
    choices: tuple[str, ...] | None = None


def cli_options(model: type[BaseModel]) -> list[CliOption]:
    """One :class:`CliOption` per scalar field of a settings model, in field order (tables
    such as ``FitConfig.model`` are left to the settings file).

    Examples
    --------
    >>> [o.flag for o in cli_options(ServeLimits)][:3]
    ['workers', 'max-upload-mb', 'max-duration']
    >>> cli_options(FitConfig)[4].choices
    ('logreg', 'gbm', 'average')
    """
    out = []
    for name, info in model.model_fields.items():
        kind, choices = info.annotation, None
        if get_origin(kind) is Literal:
            kind, choices = str, tuple(map(str, get_args(kind)))
        if kind not in (bool, int, float, str):
            continue
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        default = str(info.default).lower() if kind is bool else info.default
        allowed = f"one of {', '.join(choices)}; " if choices else ""
        out.append(CliOption(name, str(extra.get("flag", name.replace("_", "-"))), kind,
                             f"{info.description} ({allowed}default: {default})", choices))
    return out
