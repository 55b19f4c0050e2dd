"""Audio extractors: openSMILE feature sets on the clip's decoded sound.

Three extractors, all of modality ``"audio"``:

``egemaps`` (default)
    The 88 eGeMAPSv02 functionals (Eyben et al., 2016).
``compare``
    The 6373 ComParE 2016 functionals.
``egemaps_lld``
    The 25 eGeMAPSv02 low-level descriptors (100 frames/s) summarised by
    :func:`emo.features.functionals.functionals`, plus the voiced fraction; pitch,
    voice-quality and formant descriptors (``*_sma3nz``) count voiced frames only.

The signal is decoded by :func:`emo.data.audio.read_audio` (any container, the segment
only, mono, resampled) and handed to :meth:`opensmile.Smile.process_signal`. Each
process builds one ``Smile`` per feature set and level on first use and reuses it:
``process_signal`` keeps no state between calls. Feature names are
``audio__<openSMILE name>``.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from emo.data.clip import Clip
from emo.errors import FeatureError
from emo.features.base import Extractor, prefixed, register
from emo.features.functionals import DEFAULT_STATS, functionals

if TYPE_CHECKING:  # opensmile, pandas and the decoders load only when a clip is processed
    import opensmile
    import pandas as pd

__all__ = ["ComParE", "EGeMAPS", "EGeMAPSLLD", "smile"]

#: Low-level descriptors computed by openSMILE at 100 frames per second.
LLD_RATE = 100.0


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


class _Smile(Extractor):
    """Shared part of the openSMILE extractors: decode the segment, run, name the features."""

    modality: ClassVar[str] = "audio"
    setting_names: ClassVar[tuple[str, ...]] = ("sample_rate",)
    feature_set: ClassVar[str]
    feature_level: ClassVar[str] = "Functionals"

    def __init__(self, sample_rate: int = 16000) -> None:
        if not 8000 <= int(sample_rate) <= 96000:
            raise FeatureError(f"sample_rate must lie in 8000-96000 Hz, not {sample_rate}")
        self.sample_rate = int(sample_rate)

    def extract(self, clip: Clip) -> dict[str, float]:
        """Features of the clip's audio segment (see the module docstring)."""
        path = clip.media_for("audio")
        if path is None:
            raise FeatureError(f"clip {clip.id!r} has no audio or video file", clip.origin)
        from emo.data.audio import read_audio

        signal = read_audio(path, sr=self.sample_rate, start=clip.start, end=clip.end)
        try:
            frame = smile_frame(signal, self.sample_rate, self.feature_set, self.feature_level)
        except (RuntimeError, ValueError) as exc:
            raise FeatureError(f"openSMILE failed: {exc}", path) from exc
        if frame.empty:
            raise FeatureError("openSMILE returned no frames (segment too short?)", path)
        return prefixed(self.modality, self._summarise(frame))

    def _summarise(self, frame: pd.DataFrame) -> dict[str, float]:
        return frame.iloc[0].to_dict()


@register
class EGeMAPS(_Smile):
    """The 88 eGeMAPSv02 functionals of the clip's audio segment.

    Parameters
    ----------
    sample_rate
        Rate the audio is resampled to before openSMILE, in Hz.
    """

    name: ClassVar[str] = "egemaps"
    version: ClassVar[str] = "1"
    feature_set: ClassVar[str] = "eGeMAPSv02"


@register
class ComParE(_Smile):
    """The 6373 ComParE 2016 functionals of the clip's audio segment.

    Parameters
    ----------
    sample_rate
        Rate the audio is resampled to before openSMILE, in Hz.
    """

    name: ClassVar[str] = "compare"
    version: ClassVar[str] = "1"
    feature_set: ClassVar[str] = "ComParE_2016"


@register
class EGeMAPSLLD(_Smile):
    """eGeMAPSv02 low-level descriptors summarised by :func:`summarise_lld`.

    Parameters
    ----------
    sample_rate
        Rate the audio is resampled to before openSMILE, in Hz.
    """

    name: ClassVar[str] = "egemaps_lld"
    version: ClassVar[str] = "1"
    feature_set: ClassVar[str] = "eGeMAPSv02"
    feature_level: ClassVar[str] = "LowLevelDescriptors"

    def _summarise(self, frame: pd.DataFrame) -> dict[str, float]:
        return summarise_lld(frame)
