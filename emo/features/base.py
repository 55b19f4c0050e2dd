"""The :class:`Extractor` contract and the registry of extractors by modality and name.

An extractor turns one clip into one row of named float features. Its ``name``,
``version`` and settings enter the cache key and the Parquet metadata, so changing any
of them recomputes. Extractor modules are imported only when their modality runs,
which keeps the command line fast to start.

Clips that read the same media stream (:meth:`Extractor.stream`: the takes of one
recording, sliding windows of one file) are handed together to
:meth:`Extractor.extract_batch`, which may serve them with one decoding pass (see
:mod:`emo.features.frames`); each clip still gets its own features and cache entry.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeAlias

from emo.data.clip import Clip
from emo.errors import FeatureError, MediaError

#: The modalities, in report order.
MODALITIES: tuple[str, ...] = ("audio", "face", "body")

#: Default extractor name per modality.
DEFAULTS: dict[str, str] = {
    "audio": "egemaps+compare", "face": "face_au", "body": "kinematics", "table": "table",
}

#: Module that registers the extractors of each modality (imported lazily).
_MODULES: dict[str, str] = {
    "audio": "emo.features.audio",
    "face": "emo.features.face",
    "body": "emo.features.body",
    "table": "emo.features.table",
}

_REGISTRY: dict[tuple[str, str], Callable[..., Extractor]] = {}

#: :class:`Stream` kind of video files whose frames are analysed (:mod:`emo.features.frames`).
FRAMES = "frames"

#: What computing one clip gave: its features, or the error that prevented them.
Outcome: TypeAlias = dict[str, float] | Exception


@dataclass(frozen=True)
class Stream:
    """A media stream that several clips read: the runner serves them in one batch.

    Attributes
    ----------
    kind : str
        Which extractors can share the batch (all extractors of one kind share one
        :meth:`Extractor.extract_batch`), e.g. ``"frames"`` (video frames, see
        :mod:`emo.features.frames`), ``"audio"`` or ``"kinect"``.
    path : Path
        The file.
    """

    kind: str
    path: Path


class Extractor(ABC):
    """One modality's feature extractor: ``extract(clip) -> {feature name: value}``.

    Subclasses set the class attributes ``name``, ``version`` and ``modality``, take
    their settings as keyword arguments of ``__init__`` stored under the same names,
    and implement :meth:`extract`. Feature names are prefixed ``<modality>__``.
    """

    name: str
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

    def warm(self) -> None:
        """Load, in this process, what the first clip would load (models, graphs), so
        that no request pays for it and memory does not grow with the first clips
        (default: nothing to load)."""
        return None

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

    def stream(self, clip: Clip) -> Stream | None:
        """The stream the clip is computed from; ``None``: the clip is computed alone.

        Tasks of one run whose streams are equal go to one worker together, as one
        call of :meth:`extract_batch` (of the first task's extractor).
        """
        return None

    @staticmethod
    def extract_batch(requests: Sequence[tuple[Extractor, Clip]]) -> Iterator[tuple[int, Outcome]]:
        """Compute clips that share a stream (default: one after the other).

        A clip's features must not depend on which other clips share the batch, so that
        a resumed run equals an uninterrupted one.

        Parameters
        ----------
        requests
            ``(extractor, clip)`` pairs with equal :meth:`stream`.

        Yields
        ------
        tuple of (int, dict or Exception)
            The index of a request and its features, or the exception it raised, as
            soon as each is done; every request once.
        """
        for index, (extractor, clip) in enumerate(requests):
            try:
                yield index, extractor.extract(clip)
            except Exception as exc:  # noqa: BLE001 - one broken clip must not stop the batch
                yield index, exc

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


def register_factory(modality: str, name: str, factory: Callable[..., Extractor]) -> None:
    """Add an extractor made by ``factory(**settings)`` under (modality, name), for one
    class that serves several names (e.g. one openSMILE class per feature set)."""
    _REGISTRY[(modality, name)] = factory


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
    factory = _REGISTRY.get((modality, name))
    if factory is None:
        known = sorted(n for m, n in _REGISTRY if m == modality)
        raise FeatureError(f"unknown {modality} extractor {name!r}; known: {', '.join(known)}")
    try:
        return factory(**settings)
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

