"""The feature cache: one Parquet file per (media content, segment, extractor, settings).

Layout under the cache folder::

    features/<modality>/<extractor>-<version>/<key[:2]>/<key>.parquet   one row of features
    failed/<key>.json                                                   why a clip failed
    locks/<key>.lock                                                    held while computing
    hashes.sqlite                                                       content-hash memo

The key is the SHA-256 of the extractor's name, version and settings, the content
hashes of the media it reads and the segment. Content hashes are computed once and
remembered by (path, size, mtime). Every write goes to a temporary file in the same
folder (never ending in ``.parquet``), is fsynced and renamed into place, so a killed
run leaves nothing a later run would trust. An advisory lock per key (``flock``,
released by the kernel if the process dies) keeps two processes from computing the
same entry twice.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from emo.errors import CacheError, MediaError

FEATURES = "features"
FAILED = "failed"
LOCKS = "locks"
HASHES = "hashes.sqlite"
_CHUNK = 1 << 20


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write bytes to ``path`` atomically (temporary file, fsync, rename, fsync folder).

    Parameters
    ----------
    path
        Destination; its folder is created.
    data
        The content.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, as hex."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


class FeatureCache:
    """A folder of cached feature rows, shared by processes and machines.

    Parameters
    ----------
    root
        The cache folder (created on first write).

    Examples
    --------
    >>> import tempfile
    >>> cache = FeatureCache(tempfile.mkdtemp())
    >>> ident = {"extractor": "demo", "version": "1", "modality": "audio", "settings": {}}
    >>> key = cache.key(ident, ["abc"], [0.0, 1.5])
    >>> path = cache.put(key, ident, {"audio__x": 1.0})
    >>> cache.get(key, ident)
    {'audio__x': 1.0}
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._db: sqlite3.Connection | None = None

    # -- keys ---------------------------------------------------------------------------
    @staticmethod
    def key(identity: Mapping[str, Any], content: list[str], segment: list[Any]) -> str:
        """The cache key of an extractor identity, content hashes and segment."""
        blob = json.dumps(
            {"identity": identity, "content": content, "segment": segment},
            sort_keys=True, separators=(",", ":"), default=str,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:40]

    def content_hash(self, path: Path) -> str:
        """SHA-256 of a media file, remembered by (path, size, mtime) in ``hashes.sqlite``.

        Raises
        ------
        MediaError
            When the file cannot be read.
        """
        try:
            st = path.stat()
        except OSError as exc:
            raise MediaError(f"cannot read: {exc.strerror}", path) from exc
        ident = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        db = self._hash_db()
        row = db.execute(
            "SELECT digest FROM hashes WHERE path=? AND size=? AND mtime=?", ident
        ).fetchone()
        if row:
            return row[0]
        try:
            digest = file_digest(path)
        except OSError as exc:
            raise MediaError(f"cannot read: {exc.strerror}", path) from exc
        with contextlib.suppress(sqlite3.OperationalError):  # a busy memo only costs a rehash
            db.execute("INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?)", (*ident, digest))
            db.commit()
        return digest

    def _hash_db(self) -> sqlite3.Connection:
        if self._db is None:
            self.root.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.root / HASHES, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS hashes (path TEXT PRIMARY KEY, size INTEGER, "
                "mtime INTEGER, digest TEXT)"
            )
            self._db = db
        return self._db

    def __getstate__(self) -> dict[str, Any]:
        return {"root": self.root, "_db": None}

    # -- entries ------------------------------------------------------------------------
    def path(self, key: str, identity: Mapping[str, Any]) -> Path:
        """Where the Parquet file of a key lives."""
        folder = f"{identity['extractor']}-{identity['version']}"
        modality = str(identity["modality"])
        return self.root / FEATURES / modality / folder / key[:2] / f"{key}.parquet"

    def has(self, key: str, identity: Mapping[str, Any]) -> bool:
        """Whether an entry exists (without reading it)."""
        return self.path(key, identity).is_file()

    def get(self, key: str, identity: Mapping[str, Any]) -> dict[str, float] | None:
        """Read an entry's features, or ``None`` when absent or unreadable.

        An unreadable or mismatching file (e.g. written by a crashed foreign tool) is
        treated as absent, so the caller recomputes it.
        """
        path = self.path(key, identity)
        if not path.is_file():
            return None
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception:  # noqa: BLE001 - any unreadable file means "not cached"
            return None
        meta = table.schema.metadata or {}
        if meta.get(b"emo.key", b"").decode() != key:
            return None
        return {name: float(col[0].as_py()) if col[0].is_valid else float("nan")
                for name, col in zip(table.column_names, table.columns, strict=True)}

    def put(self, key: str, identity: Mapping[str, Any], features: Mapping[str, float],
            sources: list[str] | None = None) -> Path:
        """Store one row of features atomically, with the extractor identity as metadata."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from emo import __version__

        meta = {
            "emo.key": key,
            "emo.version": __version__,
            "emo.extractor": str(identity["extractor"]),
            "emo.extractor_version": str(identity["version"]),
            "emo.modality": str(identity["modality"]),
            "emo.settings": json.dumps(identity.get("settings", {}), sort_keys=True),
            "emo.sources": json.dumps(sources or []),
        }
        table = pa.table({k: pa.array([float(v)], pa.float64()) for k, v in features.items()})
        table = table.replace_schema_metadata(meta)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        path = self.path(key, identity)
        atomic_write(path, sink.getvalue().to_pybytes())
        self.clear_failure(key)
        return path

    # -- failures -----------------------------------------------------------------------
    def failure(self, key: str) -> dict[str, Any] | None:
        """The recorded failure of a key, or ``None``."""
        path = self.root / FAILED / f"{key}.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def record_failure(self, key: str, identity: Mapping[str, Any], clip_id: str,
                       reason: str) -> None:
        """Remember that a key failed and why (retried only on request)."""
        record = {"clip": clip_id, "reason": reason, "time": time.time(), **identity}
        atomic_write(self.root / FAILED / f"{key}.json", json.dumps(record).encode())

    def clear_failure(self, key: str) -> None:
        """Forget a recorded failure."""
        with contextlib.suppress(FileNotFoundError):
            (self.root / FAILED / f"{key}.json").unlink()

    # -- locks --------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, key: str, *, blocking: bool = True) -> Iterator[bool]:
        """Hold the advisory lock of a key; yields whether it was acquired.

        The lock file is removed on release; a waiter that finds its file replaced
        retries, so no two holders ever overlap.
        """
        path = self.root / LOCKS / f"{key}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EAGAIN, errno.EACCES):
                    yield False
                    return
                raise CacheError(f"cannot lock: {exc.strerror}", path) from exc
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        try:
            yield True
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            os.close(fd)

    # -- maintenance --------------------------------------------------------------------
    def entries(self) -> Iterator[Path]:
        """Every Parquet entry."""
        yield from sorted((self.root / FEATURES).glob("*/*/*/*.parquet"))

    def info(self) -> dict[str, Any]:
        """Entry counts and sizes per ``<modality>/<extractor>-<version>``."""
        extractors: dict[str, dict[str, int]] = {}
        total = 0
        for path in self.entries():
            name = f"{path.parents[2].name}/{path.parents[1].name}"
            stats = extractors.setdefault(name, {"entries": 0, "bytes": 0})
            size = path.stat().st_size
            stats["entries"] += 1
            stats["bytes"] += size
            total += size
        failed = len(list((self.root / FAILED).glob("*.json")))
        return {"root": str(self.root), "extractors": extractors, "failed": failed,
                "bytes": total}

    def verify(self) -> list[Path]:
        """Re-read every entry; remove and return the ones that are unreadable or whose
        metadata does not match their file name."""
        import pyarrow.parquet as pq

        bad = []
        for path in self.entries():
            try:
                meta = pq.read_schema(path).metadata or {}
                ok = meta.get(b"emo.key", b"").decode() == path.stem
            except Exception:  # noqa: BLE001 - any unreadable file is bad
                ok = False
            if not ok:
                bad.append(path)
                path.unlink(missing_ok=True)
        return bad

    def prune(self, current: Mapping[str, str]) -> list[Path]:
        """Remove entries of extractor versions other than the installed ones.

        Parameters
        ----------
        current
            ``"<extractor>" -> version`` of the installed extractors; folders of other
            versions of those extractors are removed (unknown extractors are kept).

        Returns
        -------
        list of Path
            The removed folders.
        """
        import shutil

        removed = []
        for folder in sorted((self.root / FEATURES).glob("*/*")):
            name, _, version = folder.name.rpartition("-")
            if name in current and current[name] != version:
                shutil.rmtree(folder)
                removed.append(folder)
        return removed
