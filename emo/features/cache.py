"""The feature cache: one Parquet file per (media content, segment, extractor, settings).

Layout under the cache folder::

    features/<modality>/<extractor>-<version>/<key[:2]>/<key>.parquet   (feature, value) rows
    failed/<key>.json                                                   why a clip failed
    locks/<key[:2]>.lock                                                held while computing
    hashes.sqlite                                                       content-hash memo

The key is the SHA-256 of the extractor's name, version and settings, the content
hashes of the media it reads and the segment. Content hashes are computed once and
remembered by (path, size, mtime). Every write goes to a temporary file in the same
folder (``.<name>.<host>.<pid>.<random>.tmp``, never ending in ``.parquet``), is
fsynced and renamed into place, so a killed run leaves nothing a later run would
trust; an entry only counts as present when Parquet's magic bytes close it (see
:mod:`emo._io`). A lock per key (:mod:`filelock`, released by the kernel if the process
dies; keys share 256 lock files by prefix) keeps two processes from computing the same
entry twice. What a killed run leaves behind (temporaries of dead processes, SQLite's
``-wal`` file) is harmless and swept by :meth:`FeatureCache.sweep` at the start of the
next run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from emo._io import atomic_write, file_lock, is_orphan
from emo._version import __version__
from emo.errors import CacheError, MediaError

FEATURES = "features"
FAILED = "failed"
LOCKS = "locks"
HASHES = "hashes.sqlite"
_CHUNK = 1 << 20
#: Lock files (``locks/00.lock`` ... ``locks/ff.lock``), shared by keys by their prefix.
LOCK_STRIPES = 256
#: Columns of an entry: one row per feature.
COLUMNS = ["feature", "value"]
_MAGIC = b"PAR1"

log = logging.getLogger(__name__)


def _write(path: Path, data: bytes) -> None:
    """:func:`emo._io.atomic_write`, with a full disk or a read-only folder as a CacheError."""
    try:
        atomic_write(path, data)
    except OSError as exc:
        raise CacheError(f"cannot write cache entry: {exc.strerror or exc}", path) from exc


def is_parquet(path: Path) -> bool:
    """Whether a file is framed like a Parquet file: magic bytes at both ends and a footer
    length that fits (two small reads, no parsing).

    Catches empty and truncated files cheaply; :meth:`FeatureCache.verify` reads them whole.
    """
    try:
        with path.open("rb") as f:
            if f.read(4) != _MAGIC:
                return False
            size = f.seek(0, os.SEEK_END)
            if size < 12:
                return False
            f.seek(-8, os.SEEK_END)
            tail = f.read(8)
    except OSError:
        return False
    return tail[4:] == _MAGIC and int.from_bytes(tail[:4], "little") <= size - 12


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
        self._no_db = False

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

        A broken or foreign ``hashes.sqlite`` only costs re-hashing (with a warning).

        Raises
        ------
        MediaError
            When the file is missing, a folder, or cannot be read.
        """
        try:
            st = path.stat()
        except OSError as exc:
            raise MediaError(f"cannot read: {exc.strerror}", path) from exc
        if not path.is_file():
            raise MediaError("not a file", path)
        ident = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        db = self._hash_db()
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                row = db.execute(
                    "SELECT digest FROM hashes WHERE path=? AND size=? AND mtime=?", ident
                ).fetchone()
                if row:
                    return row[0]
        try:
            digest = file_digest(path)
        except OSError as exc:
            raise MediaError(f"cannot read: {exc.strerror}", path) from exc
        if db is not None:
            with contextlib.suppress(sqlite3.Error):  # a busy memo only costs a rehash
                db.execute("INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?)", (*ident, digest))
                db.commit()
        return digest

    def _hash_db(self) -> sqlite3.Connection | None:
        """The content-hash memo, or ``None`` (hash every time) when it is unusable."""
        if self._db is None and not self._no_db:
            self.root.mkdir(parents=True, exist_ok=True)
            path = self.root / HASHES
            db = sqlite3.connect(path, timeout=30)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS hashes (path TEXT PRIMARY KEY, size INTEGER, "
                    "mtime INTEGER, digest TEXT)"
                )
            except sqlite3.Error as exc:
                db.close()
                log.warning("%s: content-hash memo unusable (%s); hashing every file "
                            "(delete it to start a new one)", path, exc)
                self._no_db = True
                return None
            self._db = db
        return self._db

    def close(self) -> None:
        """Close the content-hash memo; it reopens on demand.

        The last connection to close checkpoints SQLite's write-ahead log and removes
        ``hashes.sqlite-wal`` and ``-shm``.
        """
        if self._db is not None:
            self._db.close()
            self._db = None

    def __getstate__(self) -> dict[str, Any]:
        return {"root": self.root, "_db": None, "_no_db": self._no_db}

    # -- entries ------------------------------------------------------------------------
    def path(self, key: str, identity: Mapping[str, Any]) -> Path:
        """Where the Parquet file of a key lives."""
        folder = f"{identity['extractor']}-{identity['version']}"
        modality = str(identity["modality"])
        return self.root / FEATURES / modality / folder / key[:2] / f"{key}.parquet"

    def has(self, key: str, identity: Mapping[str, Any]) -> bool:
        """Whether a complete entry exists (Parquet magic bytes at both ends; not parsed)."""
        return is_parquet(self.path(key, identity))

    def get(self, key: str, identity: Mapping[str, Any]) -> dict[str, float] | None:
        """Read an entry's features, or ``None`` when absent or unreadable.

        An entry is a long table (columns :data:`COLUMNS`: feature name, value), which
        reads ~100x faster than one row of thousands of columns (ComParE has 6373).

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
        if meta.get(b"emo.key", b"").decode() != key or table.column_names != COLUMNS:
            return None
        values = table.column("value").to_numpy(zero_copy_only=False)
        return dict(zip(table.column("feature").to_pylist(), values.tolist(), strict=True))

    def put(self, key: str, identity: Mapping[str, Any], features: Mapping[str, float],
            sources: list[str] | None = None) -> Path:
        """Store one clip's features atomically, with the extractor identity as metadata.

        Raises
        ------
        CacheError
            When the cache folder cannot be written (full disk, read-only).
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        meta = {
            "emo.key": key,
            "emo.version": __version__,
            "emo.extractor": str(identity["extractor"]),
            "emo.extractor_version": str(identity["version"]),
            "emo.modality": str(identity["modality"]),
            "emo.settings": json.dumps(identity.get("settings", {}), sort_keys=True),
            "emo.sources": json.dumps(sources or []),
        }
        table = pa.table({"feature": pa.array(list(features), pa.string()),
                          "value": pa.array([float(v) for v in features.values()],
                                            pa.float64())})
        table = table.replace_schema_metadata(meta)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        path = self.path(key, identity)
        _write(path, sink.getvalue().to_pybytes())
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
                       reason: str, *, message: str | None = None) -> None:
        """Remember that a key failed and why (retried only on request).

        Parameters
        ----------
        key, identity
            The entry that could not be computed.
        clip_id
            The clip it was computed for.
        reason
            The full message (file: problem).
        message
            The problem without the file name, to restate it for another clip with the
            same content.
        """
        record = {"clip": clip_id, "reason": reason, "time": time.time(), **identity}
        if message is not None:
            record["message"] = message
        _write(self.root / FAILED / f"{key}.json", json.dumps(record).encode())

    def clear_failure(self, key: str) -> None:
        """Forget a recorded failure."""
        with contextlib.suppress(FileNotFoundError):
            (self.root / FAILED / f"{key}.json").unlink()

    # -- locks --------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, key: str, *, blocking: bool = True) -> Iterator[bool]:
        """Hold the inter-process lock of a key; yields whether it was acquired.

        Keys share :data:`LOCK_STRIPES` lock files by their first two hex digits, so the
        lock folder stays small; two keys of one stripe are computed one after the other.
        """
        with file_lock(self.root / LOCKS / f"{key[:2]}.lock", blocking=blocking) as held:
            yield held

    # -- maintenance --------------------------------------------------------------------
    def sweep(self) -> int:
        """Remove what killed runs left: orphaned temporaries.

        Safe while other processes use the cache: a temporary whose writer still runs is
        kept.

        Returns
        -------
        int
            How many files were removed.
        """
        removed = 0
        now = time.time()
        for tmp in [*(self.root / FEATURES).glob("*/*/*/.*.tmp"),
                    *(self.root / FAILED).glob(".*.tmp")]:
            if is_orphan(tmp, now):
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                    removed += 1
        if removed:
            log.debug("%s: swept %d left-over file(s) of killed runs", self.root, removed)
        return removed

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
        """Re-read every entry; remove and return the ones that are unreadable, not one
        row, or whose metadata does not match their file and folder names.

        Left-overs of killed runs are swept as well (see :meth:`sweep`).
        """
        import pyarrow.parquet as pq

        self.sweep()
        bad = []
        for path in self.entries():
            try:
                meta = pq.read_metadata(path)
                kv = meta.metadata or {}
                folder = (f"{kv.get(b'emo.extractor', b'').decode()}-"
                          f"{kv.get(b'emo.extractor_version', b'').decode()}")
                ok = (kv.get(b"emo.key", b"").decode() == path.stem
                      and meta.schema.names == COLUMNS
                      and folder == path.parents[1].name)
            except Exception:  # noqa: BLE001 - any unreadable file is bad
                ok = False
            if not ok:
                bad.append(path)
                path.unlink(missing_ok=True)
        return bad

    def prune(self, current: Mapping[str, str]) -> list[Path]:
        """Remove entries and failure records of extractor versions other than the
        installed ones.

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
        for path in (self.root / FAILED).glob("*.json"):
            record = self.failure(path.stem) or {}
            name = record.get("extractor")
            if name in current and current[name] != str(record.get("version")):
                path.unlink(missing_ok=True)
        self.sweep()
        return removed
