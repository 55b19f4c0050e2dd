"""Process-level plumbing close to the OS: native libraries' log lines (MediaPipe's C++
warnings) kept off the user's terminal, the model files shipped with emo
(:func:`model_path`), and worker processes that die with their parent."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from emo.errors import FeatureError

if TYPE_CHECKING:
    import psutil

#: The model files shipped in ``emo/assets`` and their SHA-256 (where each comes from:
#: ``emo/assets/SOURCE.md`` and docs/models.md).
MODELS: dict[str, str] = {
    "face_landmarker.task": "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
    "pose_landmarker_full.task":
        "949ca680de68963a7ca922dc7cf71b446623f49f74f3c1d4dc79ccf68646c1ca",
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


#: Seconds between two looks of the watchdog at the parent process.
WATCH_SECONDS = 1.0
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent: int) -> None:
    """Make this (worker) process end when process ``parent`` ends, even by SIGKILL.

    Called first in every worker process emo starts (the initializer of its pools), with
    the pid of the process that made the pool. On Linux the kernel sends SIGKILL when the
    parent dies (``prctl(PR_SET_PDEATHSIG)``; the pools start their workers from a thread
    that lives as long as they do). Everywhere, a daemon thread looks at the parent every
    :data:`WATCH_SECONDS` and ends this process once the parent is gone, a zombie, or
    replaced (:mod:`psutil` compares creation times, so a reused pid does not fool it).

    Parameters
    ----------
    parent
        Pid of the process whose death should end this one.
    """
    import psutil

    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    try:
        watched = psutil.Process(parent)
    except psutil.Error:  # gone before this worker got here
        os._exit(1)
    threading.Thread(target=_watch, args=(watched,), name="emo-parent-watchdog",
                     daemon=True).start()


def _watch(parent: psutil.Process) -> None:
    """End this process as soon as ``parent`` stops running."""
    import psutil

    with contextlib.suppress(psutil.Error):
        while parent.is_running() and parent.status() != psutil.STATUS_ZOMBIE:
            time.sleep(WATCH_SECONDS)
    os._exit(1)


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
