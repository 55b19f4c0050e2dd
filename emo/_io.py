"""Ground floor: atomic file writes and portable inter-process locks.

Every file emo writes (cache entries, manifests, bundles, reports, submissions) goes
through :func:`atomic_write` or :func:`atomic_path`: the content is written to a
temporary file in the destination folder, fsynced, renamed over the destination and the
folder fsynced, so a reader sees the old file or the new one, never half of one, and a
killed process leaves only a temporary that :func:`is_orphan` recognises. Cache entries,
which carry checksums verified on every read, skip the fsyncs (``durable=False``): a power
cut can at worst damage one, and it is then computed again.

Temporaries are named ``.<stem>.<host>.<pid>.<random>.tmp`` (never ending like the
destination), so a sweep can tell an orphan of a dead writer from a file being written.
They are created with mode ``0o666`` less the process umask, like any file ``open`` creates
(not ``0o600`` like :func:`tempfile.mkstemp`), so a cache or a model shared by a group
stays readable by it.

Locks are ``flock`` locks on POSIX and :mod:`filelock` locks (``msvcrt``) on Windows: the
kernel releases them when their process dies. This module imports nothing from emo but the
errors, so :mod:`emo.data`, :mod:`emo.features` and :mod:`emo.models` may all use it.

Examples
--------
>>> import pathlib, tempfile
>>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
>>> atomic_write(target, b"hello")
>>> target.read_bytes()
b'hello'
>>> with atomic_path(target) as tmp:
...     _ = tmp.write_text("bye")
>>> target.read_text()
'bye'
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

__all__ = ["STALE_SECONDS", "atomic_path", "atomic_write", "file_lock", "is_orphan"]

#: Temporaries written on another host, whose processes cannot be checked, count as
#: orphans after this many seconds.
STALE_SECONDS = 24 * 3600


def _host() -> str:
    return socket.gethostname().replace(".", "_") or "host"


def _fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # Windows: folders cannot be opened; NTFS renames are journaled
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    For writers that want a file name (``joblib.dump``, ``DataFrame.to_parquet``). The
    temporary is fsynced before the rename and removed if the block raises.

    Parameters
    ----------
    path
        Destination; its folder is created.

    Yields
    ------
    pathlib.Path
        The temporary file to write (it exists, empty).
    """
    path = Path(path)
    tmp, fd = _new_temporary(path)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        _replace(tmp, path, durable=True)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write(path: str | Path, data: bytes | str, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically: a temporary beside it, renamed over it.

    Parameters
    ----------
    path
        Destination; its folder is created.
    data
        Bytes, or text written as UTF-8.
    durable
        fsync the file before the rename and the folder after it, so that the new content
        survives a power cut. Without it, a killed process still leaves the old file or
        the new one (never half of one), but a power cut may leave a damaged file: for
        files whose readers verify a checksum and can make them again (cache entries).
    """
    path = Path(path)
    tmp, fd = _new_temporary(path)
    try:
        with open(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        _replace(tmp, path, durable=durable)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _new_temporary(path: Path) -> tuple[Path, int]:
    """Create an empty temporary beside ``path`` (and its folder), with the umask's
    permissions; return it and its open file descriptor.

    Like :func:`tempfile.mkstemp` (exclusive creation, a random part in the name) but with
    mode ``0o666``, which the kernel reduces by the umask as for any new file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = path.parent / f".{path.stem}.{_host()}.{os.getpid()}.{secrets.token_hex(6)}.tmp"
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def _replace(tmp: Path, path: Path, *, durable: bool) -> None:
    """Rename a finished temporary over its destination (and fsync the folder)."""
    os.replace(tmp, path)
    if durable:
        _fsync_dir(path.parent)


def is_orphan(tmp: Path, now: float | None = None) -> bool:
    """Whether a temporary of :func:`atomic_path` was left by a writer that no longer runs.

    Parameters
    ----------
    tmp
        A ``.<stem>.<host>.<pid>.<random>.tmp`` file.
    now
        The current time (default: :func:`time.time`).

    Returns
    -------
    bool
        True when its writer ran on this host and is gone, or when it is older than
        :data:`STALE_SECONDS`.
    """
    parts = tmp.name.split(".")
    if len(parts) >= 6 and parts[-4] == _host() and parts[-3].isdigit():
        return not _alive(int(parts[-3]))
    try:
        return (now or time.time()) - tmp.stat().st_mtime > STALE_SECONDS
    except FileNotFoundError:
        return False


def _alive(pid: int) -> bool:
    """Whether a process of this host runs under ``pid``."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # alive but not ours; Windows: no signal 0
        return True
    return True


@contextlib.contextmanager
def file_lock(path: str | Path, *, blocking: bool = True) -> Iterator[bool]:
    """Hold an exclusive inter-process lock on ``path``; yield whether it was acquired.

    The lock file is kept (removing it would let a waiter and a newcomer both hold a
    lock); callers keep the number of lock files bounded. On POSIX the lock is a plain
    ``flock`` on the file (what :mod:`filelock` takes too, at a tenth of its cost: about
    0.03 ms against 0.3-0.5 ms, once per cached clip); elsewhere it is a :mod:`filelock`
    lock.

    Parameters
    ----------
    path
        The lock file (created with its folder, mode ``0o666`` less the umask).
    blocking
        Wait for the lock; otherwise yield ``False`` at once when another process holds it.

    Yields
    ------
    bool
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # Windows
        yield from _filelock(path, blocking)
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _filelock(path: Path, blocking: bool) -> Iterator[bool]:
    """The body of :func:`file_lock` with :mod:`filelock` (where ``fcntl`` is missing)."""
    from filelock import FileLock, Timeout

    lock = FileLock(path, thread_local=False)
    try:
        lock.acquire(timeout=-1 if blocking else 0)
    except Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()
