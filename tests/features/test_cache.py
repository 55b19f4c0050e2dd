from __future__ import annotations

import os
from pathlib import Path

from emo.features.cache import FeatureCache, atomic_write

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


def test_corrupt_entry_reads_as_missing_and_verify_removes_it(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    key = cache.key(IDENT, ["h"], [])
    path = cache.put(key, IDENT, {"audio__a": 1.0})
    path.write_bytes(path.read_bytes()[:20])
    assert cache.get(key, IDENT) is None
    assert cache.verify() == [path] and not path.exists()


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


def test_lock_excludes_a_second_holder_and_cleans_up(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    with cache.lock("k") as first:
        assert first
        with FeatureCache(tmp_path).lock("k", blocking=False) as second:
            assert not second
    assert not list((tmp_path / "locks").iterdir())


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
