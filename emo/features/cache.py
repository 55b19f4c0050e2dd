"""The feature cache: one Parquet file per (media content, segment, extractor, settings).

Layout under the cache folder::

    features/<modality>/<extractor>-<version>/<key[:2]>/<key>.parquet   (feature, value) rows
    failed/<key>.json                                                   why a clip failed
    locks/<key[:2]>.lock                                                held while computing
    hashes.sqlite                                                       content-hash memo

The key is the SHA-256 of the extractor's name, version and settings, the content
hashes of the media it reads and the segment. Content hashes are computed once and
remembered by (path, size, mtime). Every write goes to a temporary file in the same
folder (``.<name>.<host>.<pid>.<random>.tmp``, never ending in ``.parquet``) and is
renamed into place, so a killed run leaves nothing a later run would trust (see
:mod:`emo._io`). Entries are not fsynced (about 6 ms a clip): their checksums are verified
on every read, so what a power cut may damage is computed again. A lock per key
(:mod:`filelock`, released by the kernel if the process dies; keys share 256 lock files by
prefix) keeps two processes from computing the same entry twice. What a killed run leaves
behind (temporaries of dead processes, SQLite's ``-wal`` file) is harmless and swept by
:meth:`FeatureCache.sweep` at the start of the next run.

**Checksums.** Every entry carries Parquet's CRC-32 page checksums and two SHA-256 digests
in its Parquet key-value metadata, all written with it in one atomic file:

- ``emo.file_sha256``, of the whole file with this digest's own 64 characters read as
  ``0``: the file is written once with zeros there, hashed, and the zeros are replaced by
  the digest (same length, so the footer stays valid). :meth:`FeatureCache.check` verifies
  it without decoding or importing pyarrow (one read of the file and a hash, about 0.05 ms
  for a ComParE entry), so every ``emo extract`` sees any damaged byte and computes the
  entry again. The digest is found in the footer by its Thrift compact encoding (key
  ``emo.file_sha256``, then a 64-character value).
- ``emo.sha256``, of the content: the feature names (joined by NUL) and the values as
  little-endian float64 bytes. :meth:`FeatureCache.get` also decodes the pages (verifying
  their checksums) and recomputes it, so a read gives exactly the values written or
  reports the entry damaged: no damaged entry is ever served.

Entries of an older emo, without digests, count as absent and are computed again.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emo._io import atomic_write, file_lock, is_orphan
from emo._version import __version__
from emo.errors import CacheError, MediaError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

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
#: Key-value metadata of an entry: SHA-256 of its content (names and values) and of the
#: file (see the module notes).
CONTENT_DIGEST = "emo.sha256"
FILE_DIGEST = "emo.file_sha256"
#: How a 64-character ``emo.file_sha256`` value is encoded in the footer (Thrift compact
#: protocol: field 1, binary, length, key; field 2, binary, length 64).
_FILE_DIGEST_TAG = b"\x18" + bytes([len(FILE_DIGEST)]) + FILE_DIGEST.encode() + b"\x18\x40"
_ZEROS = b"0" * 64
#: What :meth:`FeatureCache.check` says of an absent entry and of one written without
#: checksums (by an older emo).
MISSING = "missing"
UNCHECKED = "written without checksums by an older emo"

log = logging.getLogger(__name__)


def _write(path: Path, data: bytes, *, durable: bool = True) -> None:
    """:func:`emo._io.atomic_write`, with a full disk or a read-only folder as a CacheError."""
    try:
        atomic_write(path, data, durable=durable)
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


def content_digest(names: Sequence[str], values: np.ndarray) -> str:
    """SHA-256 of an entry's content: its feature names and float64 values, as hex.

    Examples
    --------
    >>> import numpy as np
    >>> a = content_digest(["x", "y"], np.array([1.0, 2.0]))
    >>> a == content_digest(["x", "y"], np.array([1.0, 2.0 + 1e-15]))
    False
    """
    import numpy as np

    h = _names_column(tuple(names))[1].copy()
    h.update(np.ascontiguousarray(values, dtype="<f8").tobytes())
    return h.hexdigest()


@functools.lru_cache(maxsize=16)
def _names_column(names: tuple[str, ...]) -> tuple[pa.Array, Any]:
    """The Arrow column of feature names and the SHA-256 state of their NUL-joined text.

    Every clip of an extractor has the same names (the same string objects, so the look-up
    is cheap): ComParE's 6373 are converted and hashed once per process, not per clip.
    """
    import pyarrow as pa

    return pa.array(names, pa.string()), hashlib.sha256("\0".join(names).encode())


def _file_digest_at(data: bytes) -> int | None:
    """Where the 64 characters of ``emo.file_sha256`` lie in an entry's bytes, or ``None``
    when the footer does not hold them once (no digest, or a damaged footer)."""
    footer_size = int.from_bytes(data[-8:-4], "little")
    start = len(data) - 8 - footer_size
    at = data.find(_FILE_DIGEST_TAG, start, len(data) - 8)
    if at < 0 or data.find(_FILE_DIGEST_TAG, at + 1, len(data) - 8) >= 0:
        return None
    at += len(_FILE_DIGEST_TAG)
    return at if at + 64 <= len(data) - 8 else None


def _hash_with_zeros(data: bytes, at: int) -> bytes:
    """SHA-256 (hex, as bytes) of ``data`` with the 64 bytes at ``at`` read as ``0``."""
    view = memoryview(data)
    h = hashlib.sha256(view[:at])
    h.update(_ZEROS)
    h.update(view[at + 64:])
    return h.hexdigest().encode()


def framing_problem(data: bytes) -> str | None:
    """What is wrong with an entry's bytes without decoding them (``None``: nothing).

    Checks the Parquet framing (magic bytes at both ends, a footer length that fits) and
    the ``emo.file_sha256`` digest of the file (see the module notes). Imports no pyarrow.

    Returns
    -------
    str or None
        ``"truncated or not a Parquet file"``, :data:`UNCHECKED` (an entry of an older emo:
        metadata but no digest), ``"damaged (no checksum found)"`` or
        ``"damaged (checksum differs)"``.
    """
    size = len(data)
    if (size < 12 or data[:4] != _MAGIC or data[-4:] != _MAGIC
            or int.from_bytes(data[-8:-4], "little") > size - 12):
        return "truncated or not a Parquet file"
    at = _file_digest_at(data)
    if at is None:
        footer = data[-8 - int.from_bytes(data[-8:-4], "little"):-8]
        old = b"emo.key" in footer and FILE_DIGEST.encode() not in footer
        return UNCHECKED if old else "damaged (no checksum found)"
    if _hash_with_zeros(data, at) != data[at:at + 64]:
        return "damaged (checksum differs)"
    return None


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
                # a memo: a commit need not reach the disk (a lost one costs a rehash)
                db.execute("PRAGMA synchronous=NORMAL")
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
        """Whether an intact entry exists (see :meth:`check`)."""
        return self.check(key, identity) is None

    def check(self, key: str, identity: Mapping[str, Any]) -> str | None:
        """What is wrong with an entry, without decoding it; ``None`` when it is intact.

        One read of the file, its Parquet framing and the SHA-256 of its column data
        (:func:`framing_problem`); :meth:`get` verifies the decoded content as well.

        Returns
        -------
        str or None
            :data:`MISSING`, :data:`UNCHECKED`, or why the entry is damaged.
        """
        try:
            data = self.path(key, identity).read_bytes()
        except FileNotFoundError:
            return MISSING
        except OSError as exc:
            return f"unreadable ({exc.strerror or exc})"
        return framing_problem(data)

    def get(self, key: str, identity: Mapping[str, Any]) -> dict[str, float] | None:
        """Read an entry's features, exactly as written, or ``None`` when it is absent.

        The column data's digest, every page's CRC-32 and the digest of the decoded names
        and values are checked (see the module notes). An entry is a long table (columns
        :data:`COLUMNS`: feature name, value), which reads ~100x faster than one row of
        thousands of columns (ComParE has 6373).

        Raises
        ------
        DamagedEntryError
            When the entry exists but fails a check, or belongs to another key (it is left
            in place: see :meth:`discard`).
        """
        path = self.path(key, identity)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise DamagedEntryError(f"unreadable ({exc.strerror or exc})", path) from exc
        problem = framing_problem(data)
        if problem is not None:
            raise DamagedEntryError(problem, path)
        names, values = decode_entry(data, path, key)
        return dict(zip(names, values.tolist(), strict=True))

    def discard(self, key: str, identity: Mapping[str, Any]) -> None:
        """Remove an entry (a damaged one, before it is computed again)."""
        self.path(key, identity).unlink(missing_ok=True)

    def put(self, key: str, identity: Mapping[str, Any], features: Mapping[str, float],
            sources: list[str] | None = None) -> Path:
        """Store one clip's features atomically, with the extractor identity and the
        checksums (see the module notes) as metadata.

        Raises
        ------
        CacheError
            When the cache folder cannot be written (full disk, read-only).
        """
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        names = tuple(features)
        values = np.fromiter(features.values(), dtype=np.float64, count=len(names))
        meta = {
            "emo.key": key,
            "emo.version": __version__,
            "emo.extractor": str(identity["extractor"]),
            "emo.extractor_version": str(identity["version"]),
            "emo.modality": str(identity["modality"]),
            "emo.settings": json.dumps(identity.get("settings", {}), sort_keys=True),
            "emo.sources": json.dumps(sources or []),
            CONTENT_DIGEST: content_digest(names, values),
        }
        table = pa.table({"feature": _names_column(names)[0], "value": values})
        table = table.replace_schema_metadata(meta)
        sink = io.BytesIO()
        # names are unique and values are read whole: dictionaries and statistics would
        # only cost time (about half of the write for ComParE's 6373 rows)
        with pq.ParquetWriter(sink, table.schema, compression="zstd", use_dictionary=False,
                              write_statistics=False, write_page_checksum=True) as writer:
            writer.write_table(table)
            writer.add_key_value_metadata({FILE_DIGEST: _ZEROS.decode()})
        data = bytearray(sink.getbuffer())
        at = _file_digest_at(data)
        if at is None or data[at:at + 64] != _ZEROS:  # pyarrow wrote the footer differently
            raise CacheError(f"cannot place the checksum in the entry (pyarrow {pa.__version__})",
                             self.path(key, identity))
        data[at:at + 64] = _hash_with_zeros(data, at)
        path = self.path(key, identity)
        _write(path, bytes(data), durable=False)  # checksummed: see the module notes
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
        """Read every entry whole; remove and return the ones that fail a check of
        :meth:`get` (digests, page checksums, decoding), were written without checksums,
        or whose metadata does not match their file and folder names.

        Left-overs of killed runs are swept as well (see :meth:`sweep`). The removed
        entries are computed again by the next ``emo extract``.
        """
        self.sweep()
        bad = []
        for path in self.entries():
            try:
                data = path.read_bytes()
                ok = framing_problem(data) is None
                if ok:
                    decode_entry(data, path, path.stem, folder=path.parents[1].name)
            except (OSError, DamagedEntryError):
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


class DamagedEntryError(CacheError):
    """A cache entry that exists but fails a check: it must not be served."""


def decode_entry(data: bytes, path: Path, key: str, *,
                 folder: str | None = None) -> tuple[list[str], np.ndarray]:
    """Decode an entry (verifying page checksums) and check its content digest and metadata.

    Parameters
    ----------
    data
        The file's bytes.
    path
        The file, for messages.
    key
        The key it must be the entry of.
    folder
        ``<extractor>-<version>`` it must have been written by, if checked.

    Returns
    -------
    names, values

    Raises
    ------
    DamagedEntryError
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(pa.BufferReader(data), page_checksum_verification=True).read()
    except Exception as exc:  # noqa: BLE001 - any failure to decode is damage
        raise DamagedEntryError(f"damaged ({type(exc).__name__})", path) from None
    meta = table.schema.metadata or {}
    if meta.get(b"emo.key", b"").decode(errors="replace") != key:
        raise DamagedEntryError("belongs to another key", path)
    if folder is not None and folder != (
            f"{meta.get(b'emo.extractor', b'').decode(errors='replace')}-"
            f"{meta.get(b'emo.extractor_version', b'').decode(errors='replace')}"):
        raise DamagedEntryError("written by another extractor version", path)
    if (table.column_names != COLUMNS or table.schema.field("value").type != pa.float64()
            or table.schema.field("feature").type != pa.string()):
        raise DamagedEntryError("not a table of (feature, value) rows", path)
    names = table.column("feature").to_pylist()
    values = table.column("value").to_numpy()
    if (None in names
            or content_digest(names, values).encode() != meta.get(CONTENT_DIGEST.encode())):
        raise DamagedEntryError("damaged (checksum of the values differs)", path)
    return names, values
