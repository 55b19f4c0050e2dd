"""Process-level plumbing close to the OS: native libraries' log lines (MediaPipe's C++
warnings) kept off the user's terminal, and worker processes that die with their parent."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil


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
