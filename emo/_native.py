"""Keep native libraries' log lines (MediaPipe's C++ warnings) off the user's terminal."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator


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
