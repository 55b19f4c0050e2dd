"""Native libraries: their log lines (MediaPipe's C++ warnings) kept off the user's
terminal, and the model files shipped with emo (:func:`model_path`)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from emo.errors import FeatureError

#: The model files shipped in ``emo/assets`` and their SHA-256 (where each comes from:
#: ``emo/assets/SOURCE.md`` and docs/models.md).
MODELS: dict[str, str] = {
    "face_landmarker.task": "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
    "pose_landmarker_full.task":
        "4b9f0721e57f561ff256316b89d76d2a1955507a547df5df2fe35851eaf2d2f7",
}
#: The folder of the shipped models (package data of the wheel).
ASSETS = Path(__file__).parent / "assets"


@contextlib.contextmanager
def native_logs_captured() -> Iterator[None]:
    """Send file descriptor 2 to a temporary file while native code runs.

    MediaPipe writes warnings straight to fd 2 at every graph start ("Feedback manager
    requires a model with a single signature..."), which environment variables do not
    silence. What was written is dropped when the block succeeds and written back to the
    real stderr when it raises, so no diagnostic of a failure is lost.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


@cache
def model_path(name: str) -> Path:
    """The path of a model shipped with emo, checked once per process against its SHA-256.

    Parameters
    ----------
    name
        A key of :data:`MODELS`, e.g. ``"face_landmarker.task"``.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FeatureError
        When the file is missing or its content is not the one recorded (a damaged
        installation: reinstall emo).

    Examples
    --------
    >>> model_path("face_landmarker.task").name
    'face_landmarker.task'
    """
    path = ASSETS / name
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise FeatureError(f"model file missing or unreadable ({exc.strerror}); "
                           "reinstall emo", path) from None
    if digest != MODELS[name]:
        raise FeatureError(f"model file damaged: sha256 {digest}, expected {MODELS[name]}; "
                           "reinstall emo", path)
    return path
