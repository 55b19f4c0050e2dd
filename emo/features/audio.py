"""Audio extractors: openSMILE feature sets on the clip's decoded sound.

One extractor class, :class:`OpenSmileExtractor`, registered under four names, all of
modality ``"audio"``:

``egemaps`` (default)
    The 88 eGeMAPSv02 functionals (Eyben et al., 2016).
``compare``
    The 6373 ComParE 2016 functionals.
``egemaps_lld``
    The 25 eGeMAPSv02 low-level descriptors (100 frames/s) summarised by
    :func:`emo.features.functionals.functionals`, plus the voiced fraction; pitch,
    voice-quality and formant descriptors (``*_sma3nz``) count voiced frames only.
``egemaps+compare``
    Both functional sets from one decoding of the clip: the eGeMAPS names as above, the
    ComParE ones after :data:`COMPARE_PREFIX` (``audio__compare__<name>``), so that a model
    can treat the two groups differently (:class:`~emo.models.linear.BlendClassifier`).

The signal is decoded by :func:`emo.data.audio.read_audio` (any container, the segment
only, mono, resampled) and handed to openSMILE: functionals are read from the array of
``Smile(signal, rate)`` (the values of :meth:`opensmile.Smile.process_signal`'s row without
its DataFrame), low-level descriptors from ``process_signal``; the clips of one file go to
one worker together (:meth:`OpenSmileExtractor.stream`). Each
process builds one ``Smile`` per feature set and level on first use and reuses it:
``process_signal`` keeps no state between calls. Feature names are
``audio__<openSMILE name>``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache, partial
from typing import TYPE_CHECKING, ClassVar

from emo.data.clip import Clip
from emo.errors import FeatureError
from emo.features.base import Extractor, Stream, prefixed, register_factory

if TYPE_CHECKING:  # numpy, opensmile, pandas and the decoders load only when a clip is
    # processed: a run with every clip cached makes the extractor but never calls it
    from pathlib import Path

    import numpy as np
    import opensmile
    import pandas as pd

__all__ = ["COMBINED", "COMPARE_PREFIX", "FEATURE_SETS", "FeatureSet", "OpenSmileExtractor",
           "smile"]

#: Low-level descriptors computed by openSMILE at 100 frames per second.
LLD_RATE = 100.0


@dataclass(frozen=True)
class FeatureSet:
    """One openSMILE configuration offered as an audio extractor.

    Attributes
    ----------
    name
        The extractor name (``--audio-features``).
    smile_set, level
        :class:`opensmile.FeatureSet` and :class:`opensmile.FeatureLevel` member names.
    """

    name: str
    smile_set: str
    level: str = "Functionals"
    prefix: str = ""



#: Prefix of the ComParE names in a combined set (see the module docstring).
COMPARE_PREFIX = "compare__"

#: The feature sets, by extractor name (see the module docstring).
FEATURE_SETS: dict[str, FeatureSet] = {fs.name: fs for fs in (
    FeatureSet("egemaps", "eGeMAPSv02"),
    FeatureSet("compare", "ComParE_2016"),
    FeatureSet("egemaps_lld", "eGeMAPSv02", "LowLevelDescriptors"),
)}
#: Combined sets: extractor name -> the sets computed on one decoded signal.
COMBINED: dict[str, tuple[FeatureSet, ...]] = {
    "egemaps+compare": (FEATURE_SETS["egemaps"],
                        FeatureSet("compare", "ComParE_2016", prefix=COMPARE_PREFIX)),
}


@cache
def smile(feature_set: str, feature_level: str) -> opensmile.Smile:
    """The process-wide ``Smile`` object of a feature set and level, created on first use.

    Parameters
    ----------
    feature_set
        Name of an :class:`opensmile.FeatureSet` member, e.g. ``"eGeMAPSv02"``.
    feature_level
        Name of an :class:`opensmile.FeatureLevel` member, e.g. ``"Functionals"``.

    Returns
    -------
    opensmile.Smile

    Examples
    --------
    >>> smile("eGeMAPSv02", "Functionals") is smile("eGeMAPSv02", "Functionals")
    True
    """
    import opensmile

    return opensmile.Smile(
        feature_set=opensmile.FeatureSet[feature_set],
        feature_level=opensmile.FeatureLevel[feature_level],
    )


@cache
def _functional_names(feature_set: str, start: str) -> tuple[str, ...]:
    """``<start><name>`` of every functional of a feature set, in openSMILE's order."""
    return tuple(f"{start}{name}" for name in smile(feature_set, "Functionals").feature_names)


def smile_frame(signal: np.ndarray, sr: int, feature_set: str, feature_level: str) -> pd.DataFrame:
    """Run openSMILE on a signal: pure computation, no file I/O.

    Parameters
    ----------
    signal
        Mono float samples.
    sr
        Their sampling rate in Hz.
    feature_set, feature_level
        See :func:`smile`.

    Returns
    -------
    pandas.DataFrame
        One row for functionals, one row per frame for low-level descriptors.
    """
    return smile(feature_set, feature_level).process_signal(signal, sr)


def summarise_lld(lld: pd.DataFrame, rate: float = LLD_RATE) -> dict[str, float]:
    """Clip-level functionals of openSMILE low-level descriptors.

    Descriptors named ``*nz`` are 0 in unvoiced frames; those frames are treated as
    missing so that their statistics describe voiced speech only.

    Parameters
    ----------
    lld
        Frames x descriptors, as returned by openSMILE at the ``LowLevelDescriptors`` level.
    rate
        Frames per second.

    Returns
    -------
    dict
        ``"<descriptor>_<stat>"`` for :data:`~emo.features.functionals.DEFAULT_STATS`,
        plus ``voiced_fraction``.

    Examples
    --------
    >>> import pandas as pd
    >>> lld = pd.DataFrame({"F0_sma3nz": [0.0, 20.0, 22.0, 0.0], "Loudness_sma3": [1.0] * 4})
    >>> out = summarise_lld(lld)
    >>> out["F0_sma3nz_mean"], out["Loudness_sma3_std"], out["voiced_fraction"]
    (21.0, 0.0, 0.5)
    """
    import numpy as np

    from emo.features.functionals import DEFAULT_STATS, functionals

    values = lld.to_numpy(dtype=float, copy=True)
    voiced_only = np.array([name.endswith("nz") for name in lld.columns])
    block = values[:, voiced_only]
    block[block == 0] = np.nan
    values[:, voiced_only] = block
    out = functionals(values, list(lld.columns), stats=DEFAULT_STATS, rate=rate)
    pitch = [i for i, name in enumerate(lld.columns) if name.startswith("F0")]
    voiced = np.isfinite(values[:, pitch[0]]) if pitch else np.zeros(len(values), bool)
    out["voiced_fraction"] = float(voiced.mean()) if len(values) else float("nan")
    return out


class OpenSmileExtractor(Extractor):
    """openSMILE features of the clip's audio segment, for one :class:`FeatureSet`.

    Registered once per feature set, under its name (``get_extractor("audio",
    "compare")``); see the module docstring for the sets.

    Parameters
    ----------
    feature_set
        A key of :data:`FEATURE_SETS` or :data:`COMBINED` (fixed by the registered name).
    sample_rate
        Rate the audio is resampled to before openSMILE, in Hz.

    Examples
    --------
    >>> OpenSmileExtractor("compare", sample_rate=8000).identity()["settings"]
    {'sample_rate': 8000}
    >>> OpenSmileExtractor("compare").name
    'compare'
    """

    modality: ClassVar[str] = "audio"
    version: ClassVar[str] = "1"
    setting_names: ClassVar[tuple[str, ...]] = ("sample_rate",)

    def __init__(self, feature_set: str, sample_rate: int = 16000) -> None:
        if not 8000 <= int(sample_rate) <= 96000:
            raise FeatureError(f"sample_rate must lie in 8000-96000 Hz, not {sample_rate}")
        self.feature_sets = COMBINED.get(feature_set) or (FEATURE_SETS[feature_set],)
        self.name = feature_set
        self.sample_rate = int(sample_rate)

    def warm(self) -> None:
        """Load the audio decoder and openSMILE, and run it on one second of quiet noise, so
        that its buffers are allocated before the first clip."""
        import numpy as np

        importlib.import_module("emo.data.audio")  # soundfile, PyAV, soxr
        noise = np.random.default_rng(0).normal(0.0, 1e-3, self.sample_rate).astype(np.float32)
        for part in self.feature_sets:
            smile_frame(noise, self.sample_rate, part.smile_set, part.level)

    def stream(self, clip: Clip) -> Stream | None:
        """The clip's audio file (or video): its clips go to one worker together."""
        path = clip.media_for("audio")
        return None if path is None else Stream("audio", path)

    def extract(self, clip: Clip) -> dict[str, float]:
        """Features of the clip's audio segment, decoded by :func:`emo.data.audio.read_audio`
        (a segment of a compressed file is reached by seeking, so the clip's samples are
        decoded once and do not depend on the other clips of its file) and handed to
        openSMILE (see the module notes)."""
        path = clip.media_for("audio")
        if path is None:
            raise FeatureError(f"clip {clip.id!r} has no audio or video file", clip.origin)
        from emo.data.audio import read_audio

        signal = read_audio(path, sr=self.sample_rate, start=clip.start, end=clip.end)
        features: dict[str, float] = {}
        for part in self.feature_sets:
            features |= self._features(part, signal, path)
        return features

    def _features(self, part: FeatureSet, signal: np.ndarray, path: Path) -> dict[str, float]:
        """``<modality>__<prefix><name>`` features of one feature set of the signal."""
        try:
            if part.level == "Functionals":
                # the array itself: openSMILE's DataFrame and a dict of it cost ~10 % of
                # ComParE's 6373 functionals
                values = smile(part.smile_set, part.level)(signal, self.sample_rate)[0, :, 0]
                names = _functional_names(part.smile_set, f"{self.modality}__{part.prefix}")
                return dict(zip(names, values.tolist(), strict=True))
            frame = smile_frame(signal, self.sample_rate, part.smile_set, part.level)
        except (RuntimeError, ValueError) as exc:
            raise FeatureError(f"openSMILE failed: {exc}", path) from exc
        if frame.empty:
            raise FeatureError("openSMILE returned no frames (segment too short?)", path)
        return prefixed(self.modality, {f"{part.prefix}{k}": v
                                        for k, v in summarise_lld(frame).items()})


for _name in [*FEATURE_SETS, *COMBINED]:
    register_factory("audio", _name, partial(OpenSmileExtractor, _name))
