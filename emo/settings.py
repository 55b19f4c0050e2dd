"""Settings, validated when read: :class:`FitConfig` (``fit.toml``) and :class:`ServeLimits`.

Both are pydantic models that refuse unknown keys and bad values with the file, the key
and the allowed values, before any work starts; :func:`read_fit_config` turns a
``fit.toml`` into a :class:`FitConfig`, and command-line flags are applied on top with
:meth:`FitConfig.override` (a flag wins over the file; the result is validated again).

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
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from emo.errors import ConfigError, EmoError
from emo.features.base import MODALITIES, get_extractor

__all__ = ["FitConfig", "ServeLimits", "read_fit_config"]

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

    Attributes
    ----------
    n_splits
        Outer actor-grouped folds of the reported cross-validation (``min(n_splits, actors)``).
    loso
        Leave one actor out in the outer loop instead of ``n_splits`` folds.
    seed
        Random state of every estimator and split.
    estimator
        Per-modality model: ``ensemble`` (soft vote of a logistic regression, an RBF SVM
        and LightGBM on per-actor normalised features; :class:`~emo.models.EnsembleClassifier`)
        or boosted trees alone, ``lightgbm`` or ``xgboost``
        (:class:`~emo.models.ModalityClassifier`).
    meta
        Fusion meta-learner: ``logreg``, ``gbm`` or ``average``.
    actor_norm
        Label-free per-actor feature normalisation.
    balance_actors
        Nudge each actor's predicted class totals towards the training class proportions
        (one label-free step, actors with at least 14 clips), per modality and fused.
    infer_actors
        Learn an identity space so that clips without an actor (challenge test descriptors)
        are normalised per inferred pseudo-actor rather than each alone.
    model
        Extra parameters of the per-modality estimator (checked when the model is built).
    extractors
        Per modality, an optional ``name`` and the extractor's settings, e.g.
        ``{"face": {"fps": 10}, "body": {"source": "kinect"}}``.
    """

    n_splits: int = Field(5, ge=2, le=100)
    loso: bool = False
    seed: int = 0
    estimator: Literal["ensemble", "lightgbm", "xgboost"] = "ensemble"
    meta: Literal["logreg", "gbm", "average"] = "logreg"
    actor_norm: bool = True
    balance_actors: bool = True
    infer_actors: bool = True
    model: dict[str, Any] = Field(default_factory=dict)
    extractors: dict[Modality, dict[str, Any]] = Field(default_factory=dict)

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
    """What the HTTP service accepts (``emo serve`` options).

    Attributes
    ----------
    workers
        Worker processes (jobs running at once).
    max_upload_mb
        Largest request body (all files together), in megabytes (10**6 bytes); more: 413.
    max_duration_s
        Longest media, in seconds; longer: 422.
    timeout_s
        Longest time a request may take, queueing included; then 504.
    max_queue
        Requests allowed to wait for a worker; more are answered 503.
    """

    workers: int = Field(1, ge=1, le=64)
    max_upload_mb: float = Field(200.0, gt=0)
    max_duration_s: float = Field(600.0, gt=0)
    timeout_s: float = Field(120.0, gt=0)
    max_queue: int = Field(16, ge=0)

    @property
    def max_bytes(self) -> int:
        """The upload limit in bytes."""
        return int(self.max_upload_mb * 1e6)

