"""Limits on what a media file may make the decoders hold: frame size and media length.

A hostile file can declare far more than it holds (a 631-byte JPEG declaring 30000 x
30000 pixels makes a decoder allocate gigabytes). Sizes are checked from the headers
*before* decoding (:func:`check_frame_size`), and again on every decoded frame; decoding
stops as soon as the decoded media passes :func:`max_duration` (container headers may lie
about the length, so the limit bounds the decoding itself).

The length limit is off unless set: the command line reads recordings of any length,
while the service (``emo serve``) sets it in its workers from ``--max-duration``
through the environment variable :data:`DURATION_ENV`, which every decoder reads.

Examples
--------
>>> from pathlib import Path
>>> check_frame_size(640, 480, Path("face.jpg"))
>>> check_frame_size(30000, 30000, Path("big.jpg"))
Traceback (most recent call last):
...
emo.errors.MediaError: big.jpg: frame of 30000 x 30000 pixels exceeds the limit of 50 ...
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from emo.errors import ConfigError, MediaError

__all__ = ["DURATION_ENV", "MAX_PIXELS", "check_duration", "check_frame_size", "max_duration",
           "set_max_duration"]

#: Largest frame accepted, in pixels (width x height): an 8K UHD frame has 33 million.
MAX_PIXELS = 50_000_000
#: Environment variable holding the longest media decoded, in seconds (unset: no limit).
DURATION_ENV = "EMO_MAX_DURATION_S"


def check_frame_size(width: int, height: int, path: Path) -> None:
    """Refuse a frame whose size is not positive or above :data:`MAX_PIXELS`.

    Parameters
    ----------
    width, height
        The size a header declares (or a decoded frame has), in pixels.
    path
        The file, named in the error.

    Raises
    ------
    MediaError
        When the frame is empty or too large.
    """
    if width <= 0 or height <= 0:
        raise MediaError(f"frame size {width} x {height} pixels is empty (damaged header?)", path)
    if width * height > MAX_PIXELS:
        raise MediaError(f"frame of {width} x {height} pixels exceeds the limit of "
                         f"{MAX_PIXELS / 1e6:g} megapixels (decompression bomb?)", path)


def max_duration() -> float:
    """The longest media the decoders read, in seconds (``inf`` when no limit is set).

    Raises
    ------
    ConfigError
        When :data:`DURATION_ENV` holds something else than a positive number.
    """
    value = os.environ.get(DURATION_ENV, "").strip()
    if not value:
        return math.inf
    try:
        limit = float(value)
    except ValueError:
        limit = math.nan
    if not limit > 0:
        raise ConfigError(f"{DURATION_ENV}={value!r} is not a positive number of seconds")
    return limit


def check_duration(seconds: float, path: Path) -> None:
    """Refuse media decoded (or declared) past :func:`max_duration`.

    Parameters
    ----------
    seconds
        A time reached in the media.
    path
        The file, named in the error.

    Raises
    ------
    MediaError
        When ``seconds`` exceeds the limit.
    """
    limit = max_duration()
    if seconds > limit:
        raise MediaError(f"media lasts more than the limit of {limit:g} s", path)


def set_max_duration(seconds: float | None) -> None:
    """Set (or, with ``None``, lift) the length limit of this process's decoders and of
    the processes it starts afterwards (through :data:`DURATION_ENV`).

    Parameters
    ----------
    seconds
        The longest media decoded, in seconds.
    """
    if seconds is None:
        os.environ.pop(DURATION_ENV, None)
    else:
        os.environ[DURATION_ENV] = repr(float(seconds))
