"""The :class:`Extractor` contract and the registry of extractors by modality and name.

An extractor turns one clip into one row of named float features. Its ``name``,
``version`` and settings enter the cache key and the Parquet metadata, so changing any
of them recomputes. Extractor modules are imported only when their modality runs,
which keeps the command line fast to start.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from emo.data.clip import Clip
from emo.errors import FeatureError, MediaError

#: The modalities, in report order.
MODALITIES: tuple[str, ...] = ("audio", "face", "body")

#: Default extractor name per modality.
DEFAULTS: dict[str, str] = {
    "audio": "egemaps", "face": "face_au", "body": "kinematics", "table": "table",
}

#: Module that registers the extractors of each modality (imported lazily).
_MODULES: dict[str, str] = {
    "audio": "emo.features.audio",
    "face": "emo.features.face",
    "body": "emo.features.body",
    "table": "emo.features.table",
}

_REGISTRY: dict[tuple[str, str], type[Extractor]] = {}


class Extractor(ABC):
    """One modality's feature extractor: ``extract(clip) -> {feature name: value}``.

    Subclasses set the class attributes ``name``, ``version`` and ``modality``, take
    their settings as keyword arguments of ``__init__`` stored under the same names,
    and implement :meth:`extract`. Feature names are prefixed ``<modality>__``.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    modality: ClassVar[str]
    #: Names of the ``__init__`` arguments that make up :meth:`settings`.
    setting_names: ClassVar[tuple[str, ...]] = ()

    def settings(self) -> dict[str, Any]:
        """The settings that change the output (JSON-serialisable), for the cache key."""
        return {k: getattr(self, k) for k in self.setting_names}

    def identity(self) -> dict[str, Any]:
        """Name, version and settings, as stored in the cache key and Parquet metadata."""
        return {"extractor": self.name, "version": self.version, "modality": self.modality,
                "settings": self.settings()}

    def applies(self, clip: Clip) -> bool:
        """Whether the clip has the media this extractor reads."""
        return clip.media_for(self.modality) is not None

    def sources(self, clip: Clip) -> list[Path]:
        """The files whose content the features depend on (hashed into the cache key).

        Raises
        ------
        MediaError
            When a file is missing.
        """
        path = clip.media_for(self.modality)
        if path is None:
            raise MediaError(f"clip {clip.id!r} has no {self.modality} media", clip.origin)
        if not path.is_file():
            raise MediaError("file not found" + _named_by(clip), path)
        return [path]

    def segment(self, clip: Clip) -> list[Any]:
        """The part of the sources used (seconds for audio/video), for the cache key."""
        return [clip.start, clip.end]

    @abstractmethod
    def extract(self, clip: Clip) -> dict[str, float]:
        """Compute the features of one clip.

        Parameters
        ----------
        clip
            The clip; fresh per-clip state (trackers, graphs) is created inside.

        Returns
        -------
        dict
            Feature name (prefixed ``<modality>__``) -> float.

        Raises
        ------
        MediaError, FeatureError
            With the file and the reason, when the clip cannot be processed.
        """

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"{type(self).__name__}({args})"


def _named_by(clip: Clip) -> str:
    return f" (named by {clip.origin})" if clip.origin else ""


def register(cls: type[Extractor]) -> type[Extractor]:
    """Class decorator adding an extractor to the registry under (modality, name)."""
    _REGISTRY[(cls.modality, cls.name)] = cls
    return cls


def get_extractor(modality: str, name: str | None = None, /, **settings: Any) -> Extractor:
    """Create an extractor by modality and name.

    Parameters
    ----------
    modality
        ``"audio"``, ``"face"``, ``"body"`` or ``"table"`` (imported features).
    name
        Extractor name; the modality's default (:data:`DEFAULTS`) when ``None``.
    **settings
        Passed to the extractor's ``__init__``; unknown ones are an error.

    Returns
    -------
    Extractor

    Raises
    ------
    FeatureError
        For an unknown modality, name or setting.
    """
    if modality not in _MODULES:
        raise FeatureError(f"unknown modality {modality!r}; known: {', '.join(MODALITIES)}")
    importlib.import_module(_MODULES[modality])
    name = name or DEFAULTS.get(modality, "")
    cls = _REGISTRY.get((modality, name))
    if cls is None:
        known = sorted(n for m, n in _REGISTRY if m == modality)
        raise FeatureError(f"unknown {modality} extractor {name!r}; known: {', '.join(known)}")
    try:
        return cls(**settings)
    except TypeError as exc:
        raise FeatureError(f"bad settings for {modality} extractor {name!r}: {exc}") from exc


def available_extractors() -> dict[str, list[str]]:
    """Names of all extractors by modality (imports every modality module)."""
    for module in _MODULES.values():
        importlib.import_module(module)
    out: dict[str, list[str]] = {}
    for modality, name in sorted(_REGISTRY):
        out.setdefault(modality, []).append(name)
    return out


def prefixed(modality: str, values: Mapping[str, float]) -> dict[str, float]:
    """Prefix feature names with ``<modality>__`` and cast values to float.

    Examples
    --------
    >>> prefixed("body", {"hand_speed_p90": 1})
    {'body__hand_speed_p90': 1.0}
    """
    return {f"{modality}__{k}": float(v) for k, v in values.items()}

