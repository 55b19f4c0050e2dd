"""Media kinds by extension and clips for loose media files."""

from __future__ import annotations

from pathlib import Path

import pytest

from emo.data.media import clips_from_files, is_media_file, media_files
from emo.errors import LayoutError


def test_loose_files_become_audio_or_video_clips(tmp_path: Path) -> None:
    for name in ("a.FLAC", "b.mp4", "c.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [is_media_file(tmp_path / n) for n in ("a.FLAC", "b.mp4", "notes.txt", "gone.wav")] \
        == [True, True, False, False]
    audio, video, still = clips_from_files([tmp_path / "a.FLAC", tmp_path / "b.mp4",
                                            tmp_path / "c.png"])
    assert (audio.id, audio.audio, audio.video) == ("a", tmp_path / "a.FLAC", None)
    assert (video.id, video.video, still.video) == ("b", tmp_path / "b.mp4", tmp_path / "c.png")
    assert audio.origin == tmp_path / "a.FLAC"
    (one,) = clips_from_files([tmp_path / "b.mp4"], skeleton=tmp_path / "k.txt")
    assert one.skeleton == tmp_path / "k.txt"


def test_unknown_kinds_and_misplaced_skeletons_are_refused(tmp_path: Path) -> None:
    with pytest.raises(LayoutError, match=r"notes\.txt.*unsupported media type"):
        clips_from_files([tmp_path / "notes.txt"])
    with pytest.raises(LayoutError, match="exactly one loose media file"):
        clips_from_files([tmp_path / "a.wav", tmp_path / "b.wav"], skeleton=tmp_path / "k.txt")


def test_media_files_skip_hidden_entries(tmp_path: Path) -> None:
    for name in ("x/a.wav", ".cache/b.wav", "x/.c.wav", "x/d.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    assert list(media_files(tmp_path)) == [tmp_path / "x/a.wav"]
