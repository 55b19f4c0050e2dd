"""Exception types: one per kind of user mistake, each message naming the file and the problem.

The CLI turns any :class:`EmoError` into one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

from pathlib import Path


class EmoError(Exception):
    """Base class of every error ``emo`` reports to a user.

    Parameters
    ----------
    message
        What is wrong, in one sentence.
    path
        The file or folder concerned, if any; it is put in front of the message.

    Examples
    --------
    >>> str(MediaError("no audio stream", path="clip.mp4"))
    'clip.mp4: no audio stream'
    """

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        self.reason = message
        super().__init__(message if path is None else f"{path}: {message}")


class MediaError(EmoError):
    """A media file (audio, video, skeleton) is missing, unreadable, empty or too short."""


class LayoutError(EmoError):
    """A dataset folder, descriptor or manifest cannot be read as a known layout."""


class LabelError(EmoError):
    """A class label is unknown or a label-map file is malformed."""


class FeatureError(EmoError):
    """An extractor cannot compute features for a clip (e.g. no face found)."""


class CacheError(EmoError):
    """A cache entry is unreadable or inconsistent."""


class BundleError(EmoError):
    """A model bundle is missing, incomplete or made by incompatible versions."""


class ConfigError(EmoError):
    """A setting (``fit.toml``, a command-line flag, a service limit) is unknown or invalid."""


class SubmissionError(EmoError):
    """A challenge submission would be (or is) invalid."""
