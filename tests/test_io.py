"""The atomic-write helper: files follow the umask (a cache or model shared by a group)."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from emo._io import atomic_path, atomic_write
from emo.features.cache import FeatureCache

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")


@pytest.fixture
def umask() -> Iterator[None]:
    """Restore the process umask after a test changed it."""
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o002, 0o022, 0o077])
def test_written_files_follow_the_umask(tmp_path: Path, umask: None, mask: int) -> None:
    os.umask(mask)
    atomic_write(tmp_path / "a.txt", "text")
    with atomic_path(tmp_path / "b.bin") as tmp:
        tmp.write_bytes(b"bytes")
    ident = {"extractor": "demo", "version": "1", "modality": "audio", "settings": {}}
    cache = FeatureCache(tmp_path / "cache")
    entry = cache.put(cache.key(ident, ["h"], []), ident, {"audio__x": 1.0})
    for path in (tmp_path / "a.txt", tmp_path / "b.bin", entry):
        assert _mode(path) == 0o666 & ~mask, path
    assert _mode(entry.parent) == 0o777 & ~mask


def test_replacing_a_file_takes_the_umask_not_the_old_mode(tmp_path: Path,
                                                           umask: None) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    target.chmod(0o600)
    os.umask(0o002)
    atomic_write(target, "new")
    assert target.read_text() == "new" and _mode(target) == 0o664


@pytest.mark.parametrize("durable", [True, False])
def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path: Path, durable: bool) -> None:
    target = tmp_path / "sub" / "a.bin"
    atomic_write(target, b"one", durable=durable)
    atomic_write(target, "two", durable=durable)
    assert target.read_bytes() == b"two"
    with pytest.raises(TypeError):
        atomic_write(target, 3, durable=durable)  # type: ignore[arg-type]
    assert target.read_bytes() == b"two" and [p.name for p in target.parent.iterdir()] == [
        "a.bin"]


def test_a_held_lock_refuses_a_second_holder_until_released(tmp_path: Path,
                                                           umask: None) -> None:
    from emo._io import file_lock

    os.umask(0o002)
    path = tmp_path / "locks" / "00.lock"
    with file_lock(path) as held:
        assert held
        with file_lock(path, blocking=False) as second:
            assert not second
    with file_lock(path, blocking=False) as again:
        assert again
    assert _mode(path) == 0o664 and path.exists()  # kept, shared by the group
