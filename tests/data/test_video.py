"""Video and still-image decoding on small files written by the tests."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import soundfile

from emo.data.video import VideoInfo, iter_frames, video_info
from emo.errors import MediaError

FPS = 30
N_FRAMES = 45
SIZE = (64, 48)  # width, height


def _write_mp4(path: Path, *, n: int = N_FRAMES, size: tuple[int, int] = SIZE,
               noise: bool = False, options: dict[str, str] | None = None) -> Path:
    """H.264 MP4 whose frame i is grey level 5 * i (or random noise, which compresses badly)."""
    rng = np.random.default_rng(0)
    width, height = size
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(n):
            image = (rng.integers(0, 256, (height, width, 3), dtype=np.uint8) if noise
                     else np.full((height, width, 3), 5 * i, dtype=np.uint8))
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_mp4(tmp_path_factory.mktemp("video") / "ramp.mp4")


def _index(frame: np.ndarray) -> int:
    """Frame number encoded in the grey level."""
    return round(float(frame.mean()) / 5)


def test_video_info(mp4: Path) -> None:
    info = video_info(mp4)
    assert info == VideoInfo(fps=30.0, n_frames=N_FRAMES, width=64, height=48,
                             duration=pytest.approx(N_FRAMES / FPS), has_audio=False,
                             has_video=True)


def test_all_frames_in_order(mp4: Path) -> None:
    frames = list(iter_frames(mp4))
    assert len(frames) == N_FRAMES
    times = np.array([t for t, _ in frames])
    np.testing.assert_allclose(times, np.arange(N_FRAMES) / FPS, atol=1e-6)
    assert all(f.shape == (48, 64, 3) and f.dtype == np.uint8 for _, f in frames)
    assert [_index(f) for _, f in frames] == list(range(N_FRAMES))


def test_segment_seeks_to_start(mp4: Path) -> None:
    frames = list(iter_frames(mp4, start=0.5, end=1.0))
    assert [_index(f) for _, f in frames] == list(range(15, 30))
    assert all(0.5 - 1e-6 <= t < 1.0 for t, _ in frames)


def test_segment_end_past_video_keeps_what_exists(mp4: Path) -> None:
    frames = list(iter_frames(mp4, start=1.2, end=9.0))
    assert [_index(f) for _, f in frames] == list(range(36, N_FRAMES))


@pytest.mark.parametrize(("fps", "expected"), [(10, list(range(0, 45, 3))),
                                               (15, list(range(0, 45, 2))),
                                               (30, list(range(45))), (100, list(range(45)))])
def test_fps_keeps_every_kth_frame(mp4: Path, fps: float, expected: list[int]) -> None:
    assert [_index(f) for _, f in iter_frames(mp4, fps=fps)] == expected


def test_max_side_downscales(mp4: Path) -> None:
    _, frame = next(iter_frames(mp4, max_side=32))
    assert frame.shape == (24, 32, 3)
    _, frame = next(iter_frames(mp4, max_side=1000))
    assert frame.shape == (48, 64, 3)


def test_grey_image_gives_one_rgb_frame(tmp_path: Path) -> None:
    grey = np.tile(np.arange(20, dtype=np.uint8) * 10, (10, 1))
    path = tmp_path / "face.png"
    cv2.imwrite(str(path), grey)
    frames = list(iter_frames(path, start=3.0, fps=5))
    assert len(frames) == 1
    t, frame = frames[0]
    assert t == 0.0 and frame.shape == (10, 20, 3)
    for channel in range(3):
        np.testing.assert_array_equal(frame[..., channel], grey)
    assert video_info(path) == VideoInfo(0.0, 1, 20, 10, 0.0, has_audio=False, has_video=True)


def test_colour_image_is_rgb(tmp_path: Path) -> None:
    bgr = np.zeros((8, 8, 3), np.uint8)
    bgr[..., 2] = 255  # red in OpenCV's BGR order
    path = tmp_path / "red.bmp"
    cv2.imwrite(str(path), bgr)
    _, frame = next(iter_frames(path))
    assert frame[0, 0].tolist() == [255, 0, 0]


# --- bad input: a MediaError naming the file -------------------------------------------


def _raises_naming(path: Path, match: str, **kwargs: object) -> None:
    with pytest.raises(MediaError, match=match) as info:
        list(iter_frames(path, **kwargs))  # type: ignore[arg-type]
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    _raises_naming(tmp_path / "nope.mp4", "not found")
    with pytest.raises(MediaError, match="not found"):
        video_info(tmp_path / "nope.mp4")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.touch()
    _raises_naming(path, "empty")


def test_zero_length_mp4(tmp_path: Path) -> None:
    path = tmp_path / "zero.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()
    _raises_naming(path, "no video stream|no decodable")


@pytest.mark.parametrize("options", [None, {"movflags": "faststart"}])
def test_mp4_cut_to_20_kb(tmp_path: Path, options: dict[str, str] | None) -> None:
    full = _write_mp4(tmp_path / "full.mp4", n=30, size=(128, 96), noise=True, options=options)
    assert full.stat().st_size > 60_000
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[:20_000])
    _raises_naming(cut, "truncated|damaged")


def test_not_a_video(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("these are not frames\n" * 50)
    _raises_naming(path, r"not a readable video \(truncated or unknown format\): Invalid data "
                   r"found when processing input$")  # no [Errno ...], no second file name


def test_unknown_codec(mp4: Path, tmp_path: Path) -> None:
    path = tmp_path / "codec.mp4"  # no codec tag, no decoder configuration: no codec context
    path.write_bytes(mp4.read_bytes().replace(b"avc1", b"zzzz").replace(b"avcC", b"zzzz"))
    with pytest.raises(MediaError, match=r"codec\.mp4: the video track's codec is unknown"):
        video_info(path)
    _raises_naming(path, r"cannot decode the video \(damaged or truncated\): Decoder not found$")


def test_unreadable_image(tmp_path: Path) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG but no more")
    _raises_naming(path, "not a readable image")


def test_no_video_stream(tmp_path: Path) -> None:
    path = tmp_path / "voice.wav"
    soundfile.write(path, np.zeros(8000), 16000)
    _raises_naming(path, "no video stream")
    info = video_info(path)
    assert info.has_audio and not info.has_video


def test_segment_after_end(mp4: Path) -> None:
    _raises_naming(mp4, "after the end", start=5.0, end=6.0)


@pytest.mark.parametrize(("start", "end"), [(1.0, 0.5), (-1.0, None), (float("nan"), None)])
def test_bad_segment(mp4: Path, start: float, end: float | None) -> None:
    _raises_naming(mp4, "segment", start=start, end=end)


def test_bad_fps(mp4: Path) -> None:
    _raises_naming(mp4, "fps", fps=0)
