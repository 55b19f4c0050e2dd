from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from emo._io import atomic_write
from emo.features.cache import LOCK_STRIPES, MISSING, UNCHECKED, DamagedEntryError, FeatureCache

IDENT = {"extractor": "demo", "version": "1", "modality": "audio", "settings": {"sr": 16000}}


def test_key_changes_with_every_part() -> None:
    base = FeatureCache.key(IDENT, ["h1"], [0.0, 1.0])
    assert base == FeatureCache.key(dict(IDENT), ["h1"], [0.0, 1.0])
    assert base != FeatureCache.key({**IDENT, "version": "2"}, ["h1"], [0.0, 1.0])
    assert base != FeatureCache.key({**IDENT, "settings": {"sr": 8000}}, ["h1"], [0.0, 1.0])
    assert base != FeatureCache.key(IDENT, ["h2"], [0.0, 1.0])
    assert base != FeatureCache.key(IDENT, ["h1"], [0.0, 1.5])


def test_put_get_and_metadata(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    cache = FeatureCache(tmp_path)
    key = cache.key(IDENT, ["h"], [None, None])
    assert cache.get(key, IDENT) is None
    path = cache.put(key, IDENT, {"audio__a": 1.5, "audio__b": float("nan")})
    got = cache.get(key, IDENT)
    assert got is not None and got["audio__a"] == 1.5 and got["audio__b"] != got["audio__b"]
    meta = pq.read_schema(path).metadata
    assert meta[b"emo.extractor"] == b"demo" and meta[b"emo.extractor_version"] == b"1"
    assert b"16000" in meta[b"emo.settings"]
    assert not [p for p in path.parent.iterdir() if p.suffix != ".parquet"]


def test_corrupt_entry_is_reported_damaged_and_verify_removes_it(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    key = cache.key(IDENT, ["h"], [])
    path = cache.put(key, IDENT, {"audio__a": 1.0})
    path.write_bytes(path.read_bytes()[:20])
    assert cache.check(key, IDENT) == "truncated or not a Parquet file"
    with pytest.raises(DamagedEntryError, match=f"{path.name}: truncated"):
        cache.get(key, IDENT)
    assert cache.verify() == [path] and not path.exists()
    assert cache.check(key, IDENT) == MISSING and cache.get(key, IDENT) is None


def _flipped(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _same(a: dict[str, float], b: dict[str, float]) -> bool:
    """Equal names and bit-identical values (NaN and signed zeros included)."""
    return list(a) == list(b) and np.array(list(a.values())).tobytes() == np.array(
        list(b.values())).tobytes()


def test_no_single_bit_flip_changes_a_value_silently(tmp_path: Path, shared_data: Path) -> None:
    """A real eGeMAPS entry with each of its bits flipped in turn: the check without decoding
    (what every emo extract runs) sees every flip, and reads give the values written or a
    damaged entry, never other values."""
    from emo.data.clip import Clip
    from emo.features.base import get_extractor
    from emo.features.cache import framing_problem

    extractor = get_extractor("audio", "egemaps")
    clip = Clip("c", audio=next((shared_data / "ravdess" / "audio").rglob("*.flac")))
    features = extractor.extract(clip)
    cache = FeatureCache(tmp_path)
    ident = extractor.identity()
    path = cache.put("k1", ident, features)
    written = path.read_bytes()
    assert framing_problem(written) is None and _same(cache.get("k1", ident), features)
    missed = [bit for bit in range(8 * len(written))
              if framing_problem(_flipped(written, bit)) is None]
    assert missed == []
    for bit in range(0, 8 * len(written), 7):  # through the files, as a user reads them
        path.write_bytes(_flipped(written, bit))
        assert not cache.has("k1", ident)
        with pytest.raises(DamagedEntryError):
            cache.get("k1", ident)


def test_values_changed_behind_a_valid_file_checksum_are_refused(tmp_path: Path) -> None:
    """The second line: page checksums and the digest of the decoded values."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from emo.features.cache import _file_digest_at, _hash_with_zeros

    cache = FeatureCache(tmp_path)
    path = cache.put("k1", IDENT, {"audio__a": 1.0, "audio__b": 2.0})
    table = pq.read_table(path)  # keeps the metadata, with the digest of 1.0, 2.0
    forged = table.set_column(1, "value", pa.array([1.0, 2.5]))
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, forged.schema) as writer:
        writer.write_table(forged)
        writer.add_key_value_metadata({"emo.file_sha256": "0" * 64})
    data = bytearray(sink.getvalue().to_pybytes())
    at = _file_digest_at(data)
    data[at:at + 64] = _hash_with_zeros(data, at)
    path.write_bytes(bytes(data))
    assert cache.has("k1", IDENT)  # the file checksum is right: only decoding can tell
    with pytest.raises(DamagedEntryError, match="checksum of the values differs"):
        cache.get("k1", IDENT)
    assert cache.verify() == [path]


def test_entries_without_checksums_count_as_unchecked(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cache = FeatureCache(tmp_path)
    path = cache.path("k1", IDENT)
    path.parent.mkdir(parents=True)
    table = pa.table({"feature": ["audio__a"], "value": [1.0]})
    pq.write_table(table.replace_schema_metadata({"emo.key": "k1"}), path)  # as emo 0.1 did
    assert cache.check("k1", IDENT) == UNCHECKED and not cache.has("k1", IDENT)
    with pytest.raises(DamagedEntryError, match="without checksums"):
        cache.get("k1", IDENT)
    assert cache.verify() == [path]


def test_content_hash_is_remembered_by_path_size_mtime(tmp_path: Path) -> None:
    media = tmp_path / "a.wav"
    media.write_bytes(b"x" * 1000)
    cache = FeatureCache(tmp_path / "c")
    first = cache.content_hash(media)
    # Same size and mtime but other bytes: the memo answers without reading the file.
    st = media.stat()
    media.write_bytes(b"y" * 1000)
    os.utime(media, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert FeatureCache(tmp_path / "c").content_hash(media) == first
    os.utime(media, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert cache.content_hash(media) != first


def test_failures_are_recorded_and_cleared(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    cache.record_failure("k1", IDENT, "clip1", "x.wav: silent")
    assert cache.failure("k1")["reason"] == "x.wav: silent"
    cache.put("k1", IDENT, {"audio__a": 1.0})
    assert cache.failure("k1") is None


def test_lock_excludes_a_second_holder_and_keeps_lock_files_bounded(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    key = "ab" * 20  # keys are hex digests: their first two digits name the stripe
    with cache.lock(key) as first:
        assert first
        with FeatureCache(tmp_path).lock(key, blocking=False) as second:
            assert not second
    with FeatureCache(tmp_path).lock(key, blocking=False) as again:
        assert again
    for i in range(600):
        with cache.lock(f"{i:040x}"[::-1]):
            pass
    assert len(list((tmp_path / "locks").iterdir())) <= LOCK_STRIPES


def test_atomic_write_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "a" / "f.parquet"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["f.parquet"]


def test_prune_removes_other_versions(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    cache.put("k1", IDENT, {"audio__a": 1.0})
    old = {**IDENT, "version": "0"}
    cache.put("k2", old, {"audio__a": 1.0})
    removed = cache.prune({"demo": "1"})
    assert [p.name for p in removed] == ["demo-0"]
    assert cache.info()["extractors"] == {"audio/demo-1": {"entries": 1, "bytes": cache.path(
        "k1", IDENT).stat().st_size}}


def _dead_pid() -> int:
    """A pid that no process has (a child that has exited and been reaped)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_has_rejects_empty_and_truncated_entries(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    path = cache.put("k1", IDENT, {"audio__a": 1.0, "audio__b": 2.0})
    assert cache.has("k1", IDENT)
    whole = path.read_bytes()
    for damaged in (b"", whole[:-1], whole[: len(whole) // 2], b"PAR1"):
        path.write_bytes(damaged)
        assert not cache.has("k1", IDENT)


def test_sweep_removes_what_killed_runs_left_and_keeps_what_is_in_use(tmp_path: Path) -> None:
    from emo._io import _host

    cache = FeatureCache(tmp_path)
    folder = cache.path("k1", IDENT).parent
    cache.put("k1", IDENT, {"audio__a": 1.0})
    host = _host()
    dead = folder / f".k2.{host}.{_dead_pid()}.abc.tmp"
    alive = folder / f".k3.{host}.{os.getpid()}.abc.tmp"
    foreign_new = folder / ".k4.otherhost.123.abc.tmp"
    foreign_old = folder / ".k5.otherhost.123.abc.tmp"
    for tmp in (dead, alive, foreign_new, foreign_old):
        tmp.write_bytes(b"partial")
    os.utime(foreign_old, (0, 0))
    with cache.lock("held"):
        assert cache.sweep() == 2
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [alive.name, foreign_new.name, cache.path("k1", IDENT).name])


def test_close_leaves_no_sqlite_journal(tmp_path: Path) -> None:
    media = tmp_path / "a.wav"
    media.write_bytes(b"x")
    cache = FeatureCache(tmp_path / "c")
    cache.content_hash(media)
    cache.close()
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["hashes.sqlite"]


def test_a_broken_hash_memo_only_costs_rehashing(tmp_path: Path) -> None:
    import hashlib

    media = tmp_path / "a.wav"
    media.write_bytes(b"abc")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "hashes.sqlite").write_bytes(b"this is not a database" * 100)
    digest = FeatureCache(tmp_path / "c").content_hash(media)
    assert digest == hashlib.sha256(b"abc").hexdigest()


def test_unwritable_cache_raises_cache_error(tmp_path: Path) -> None:
    import pytest

    from emo.errors import CacheError

    (tmp_path / "features").write_text("a file where a folder should be")
    with pytest.raises(CacheError, match="cannot write cache entry"):
        FeatureCache(tmp_path).put("k1", IDENT, {"audio__a": 1.0})


def _count_under_lock(root: Path, n: int) -> None:
    cache = FeatureCache(root)
    counter = root / "counter"
    for _ in range(n):
        with cache.lock("shared") as acquired:
            assert acquired
            value = int(counter.read_text())
            os.sched_yield()
            counter.write_text(str(value + 1))


def test_lock_excludes_other_processes(tmp_path: Path) -> None:
    import multiprocessing

    (tmp_path / "counter").write_text("0")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_count_under_lock, args=(tmp_path, 40)) for _ in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [p.exitcode for p in procs] == [0] * 4
    assert (tmp_path / "counter").read_text() == "160"
    assert len(list((tmp_path / "locks").iterdir())) == 1


def test_verify_removes_entries_in_the_wrong_folder(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    path = cache.put("k1", IDENT, {"audio__a": 1.0})
    moved = cache.path("k1", {**IDENT, "version": "9"})
    moved.parent.mkdir(parents=True)
    moved.write_bytes(path.read_bytes())
    assert cache.verify() == [moved]
    assert cache.get("k1", IDENT) == {"audio__a": 1.0}


def test_prune_forgets_failures_of_other_versions(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    cache.record_failure("k1", IDENT, "c1", "bad")
    cache.record_failure("k2", {**IDENT, "version": "0"}, "c2", "bad")
    cache.prune({"demo": "1"})
    assert cache.failure("k1") is not None and cache.failure("k2") is None
