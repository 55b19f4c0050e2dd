"""Decode only what fits: frame sizes checked before decoding, media length bounded by
decoding itself (issue 22, rows 1 and 4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emo import api
from emo.data import limits, video
from emo.data.audio import read_audio
from emo.data.media import media_duration
from emo.data.video import VideoReader, iter_frames, video_info
from emo.errors import ConfigError, MediaError
from tests._hostile import bomb_jpeg, lying_mkv
from tests._serving import run_emo, wav
from tests.features._media import ramp, write_video


def test_a_tiny_image_declaring_huge_frames_is_refused_before_decoding(tmp_path: Path) -> None:
    bomb = bomb_jpeg(tmp_path / "big.jpg")
    assert bomb.stat().st_size < 1000
    for read in (video_info, lambda p: list(iter_frames(p)), VideoReader):
        with pytest.raises(MediaError, match="decompression bomb") as caught:
            read(bomb)
        assert caught.value.path == bomb and "megapixels" in str(caught.value)
    with pytest.raises(MediaError, match="9000 x 9000 pixels"):  # below Pillow's own limit
        video_info(bomb_jpeg(tmp_path / "mid.jpg", 9_000, 9_000))
    small = bomb_jpeg(tmp_path / "small.jpg", 8, 8)  # the same bytes, honest size
    assert video_info(small).width == 8 and next(iter_frames(small))[1].shape == (8, 8, 3)


def test_every_video_frame_is_checked_against_the_pixel_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clip = write_video(tmp_path / "v.mp4", ramp(4, (64, 48)))
    assert len(list(iter_frames(clip))) == 4
    monkeypatch.setattr(limits, "MAX_PIXELS", 64 * 48 - 1)
    monkeypatch.setattr(video, "MAX_PIXELS", 64 * 48 - 1)
    with pytest.raises(MediaError, match="64 x 48 pixels exceeds"):
        list(iter_frames(clip))


def test_a_container_lying_about_its_length_is_cut_at_the_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    liar = lying_mkv(tmp_path / "liar.mkv", 6.0)
    assert media_duration(liar) == 0.0  # the header says nothing
    assert read_audio(liar).shape == (6 * 16_000,)  # no limit set: the command line
    monkeypatch.setenv(limits.DURATION_ENV, "2")
    with pytest.raises(MediaError, match="limit of 2 s") as caught:
        read_audio(liar)
    assert caught.value.path == liar
    assert read_audio(liar, start=0.5, end=1.5).shape == (16_000,)  # within the limit
    with pytest.raises(MediaError, match="limit of 2 s"):
        read_audio(wav(tmp_path / "long.wav", 3.0))
    clip = write_video(tmp_path / "v.mp4", ramp(30, (64, 48)) * 3, fps=30)  # 3 s
    with pytest.raises(MediaError, match="limit of 2 s"):
        list(iter_frames(clip))
    assert len(list(iter_frames(clip, end=1.0))) == 30
    for bad in ("0", "-1", "soon"):
        monkeypatch.setenv(limits.DURATION_ENV, bad)
        with pytest.raises(ConfigError, match=limits.DURATION_ENV):
            read_audio(liar)


def test_extract_refuses_the_bomb_naming_it_and_writes_the_good_clip(tmp_path: Path) -> None:
    bomb = bomb_jpeg(tmp_path / "big.jpg")
    good = tmp_path / "good.wav"
    sf.write(good, (0.1 * np.sin(np.arange(16_000) / 7)).astype("f4"), 16_000)
    done = run_emo("extract", bomb, good, "-j", "1", "--cache", tmp_path / "cache",
                   timeout=300)
    assert done.returncode == 1, done.stderr
    assert "big.jpg" in done.stderr and "decompression bomb" in done.stderr
    assert "Traceback" not in done.stderr
    again = api.extract([good], modalities=["audio"], cache=tmp_path / "cache")
    assert (again.cached, again.computed, again.failures) == (1, 0, [])
