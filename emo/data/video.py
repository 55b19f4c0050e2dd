"""Video and still-image frame decoding (PyAV), for the face and body extractors.

Frames come out as ``(timestamp in seconds, RGB uint8 array H x W x 3)``. A segment
``[start, end)`` is decoded after a seek to the key frame before ``start``, so only the
part that is needed is read; ``fps`` keeps about that many frames per second (the others
are decoded, as the codec needs them, but never converted), and ``max_side`` downscales
while converting. Still images (``.png``, ``.jpg``...) give one frame at time 0; grey
images are turned into RGB.

Every problem with a file (missing, empty, not a video, truncated, no video stream,
segment outside the video) is a :class:`~emo.errors.MediaError` naming the file.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "grey.png"
>>> import cv2; _ = cv2.imwrite(str(path), np.full((4, 6), 128, np.uint8))
>>> [(t, f.shape, f.dtype.name) for t, f in iter_frames(path)]
[(0.0, (4, 6, 3), 'uint8')]
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from emo.errors import MediaError

__all__ = ["IMAGE_SUFFIXES", "VideoInfo", "is_image", "iter_frames", "video_info"]

#: File name endings read as still images (one frame).
IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
)


@dataclass(frozen=True)
class VideoInfo:
    """What a media file holds.

    Attributes
    ----------
    fps : float
        Average frame rate of the video stream (0 for a still image).
    n_frames : int
        Number of video frames (from the container, else estimated from duration x fps).
    width, height : int
        Frame size in pixels.
    duration : float
        Length of the video stream in seconds (0 for a still image).
    has_audio, has_video : bool
        Whether the file has an audio / a video stream.
    """

    fps: float
    n_frames: int
    width: int
    height: int
    duration: float
    has_audio: bool
    has_video: bool


def is_image(path: str | Path) -> bool:
    """Whether a path names a still image (by its suffix, see :data:`IMAGE_SUFFIXES`)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise MediaError("file not found", path)
    if path.stat().st_size == 0:
        raise MediaError("empty file (0 bytes)", path)


def _read_image(path: Path) -> np.ndarray:
    _check_file(path)
    data = np.fromfile(path, dtype=np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise MediaError("not a readable image", path)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _open(path: Path) -> av.container.InputContainer:
    _check_file(path)
    try:
        return av.open(str(path), mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise MediaError(f"not a readable video (truncated or unknown format): {exc}",
                         path) from exc


def _stream_timing(stream: av.video.stream.VideoStream,
                   container: av.container.InputContainer) -> tuple[float, float, int]:
    """(fps, duration s, n_frames) of a video stream, estimated when the container is silent."""
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / av.time_base
    else:
        duration = 0.0
    n_frames = int(stream.frames) or round(duration * fps)
    return fps, duration, n_frames


def video_info(path: str | Path) -> VideoInfo:
    """Frame rate, frame count, size, duration and streams of a video or still image.

    Parameters
    ----------
    path
        Video file (anything FFmpeg reads) or still image (:data:`IMAGE_SUFFIXES`).

    Returns
    -------
    VideoInfo

    Raises
    ------
    MediaError
        When the file is missing, empty or unreadable.
    """
    path = Path(path)
    if is_image(path):
        height, width = _read_image(path).shape[:2]
        return VideoInfo(0.0, 1, width, height, 0.0, has_audio=False, has_video=True)
    with _open(path) as container:
        has_audio = bool(container.streams.audio)
        if not container.streams.video:
            return VideoInfo(0.0, 0, 0, 0, 0.0, has_audio=has_audio, has_video=False)
        stream = container.streams.video[0]
        fps, duration, n_frames = _stream_timing(stream, container)
        ctx = stream.codec_context
        return VideoInfo(fps, n_frames, int(ctx.width), int(ctx.height), duration,
                         has_audio=has_audio, has_video=True)


def _target_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """Frame size after downscaling so that the longer side is at most ``max_side`` (even)."""
    longest = max(width, height)
    if not max_side or longest <= max_side:
        return width, height
    scale = max_side / longest
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def _check_segment(path: Path, start: float | None, end: float | None) -> None:
    for name, value in (("start", start), ("end", end)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise MediaError(f"segment {name} must be a finite time >= 0 s, not {value!r}", path)
    if start is not None and end is not None and end <= start:
        raise MediaError(f"empty segment: end {end:g} s is not after start {start:g} s", path)


def iter_frames(
    path: str | Path,
    *,
    start: float | None = None,
    end: float | None = None,
    fps: float | None = None,
    max_side: int | None = None,
) -> Iterator[tuple[float, np.ndarray]]:
    """Decode the frames of a video segment (or the one frame of a still image).

    The file is opened and checked when this function is called, so a bad file raises
    here, before the first frame.

    Parameters
    ----------
    path
        Video file or still image.
    start, end
        Segment ``[start, end)`` in seconds on the video's time line (``None``: from the
        first / to the last frame). Ignored for still images.
    fps
        Target analysis rate: keep about ``fps`` frames per second (every k-th frame of
        a constant-rate video, k = source fps / ``fps``); ``None`` keeps all frames.
    max_side
        Downscale (area interpolation) so that the longer side is at most this many
        pixels; ``None`` keeps the size. Small images are never upscaled.

    Returns
    -------
    Iterator of (float, numpy.ndarray)
        ``(timestamp, frame)``: presentation time in seconds (0 for a still image) and
        the RGB ``uint8`` image, shape (height, width, 3). Decoding errors met later
        (a damaged or truncated stream) raise :class:`~emo.errors.MediaError` from the
        iteration.

    Raises
    ------
    MediaError
        Missing, empty, unreadable or truncated file, no video stream, a segment that
        is empty or starts after the end of the video, or no decodable frame in the
        segment.
    """
    path = Path(path)
    if fps is not None and not fps > 0:
        raise MediaError(f"analysis fps must be > 0, not {fps!r}", path)
    if is_image(path):
        frame = _read_image(path)
        width, height = _target_size(frame.shape[1], frame.shape[0], max_side)
        if (width, height) != (frame.shape[1], frame.shape[0]):
            frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
        return iter([(0.0, frame)])
    _check_segment(path, start, end)
    container = _open(path)
    try:
        if not container.streams.video:
            raise MediaError("no video stream", path)
        stream = container.streams.video[0]
        src_fps, duration, n_frames = _stream_timing(stream, container)
        if start is not None and duration > 0 and start >= duration:
            raise MediaError(
                f"segment starts at {start:g} s, after the end of the video "
                f"({duration:g} s, {n_frames} frames)", path)
    except BaseException:
        container.close()
        raise
    return _decode(path, container, stream, (start, end), fps, (src_fps, duration), max_side)


def _decode(
    path: Path,
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    segment: tuple[float | None, float | None],
    fps: float | None,
    timing: tuple[float, float],
    max_side: int | None,
) -> Iterator[tuple[float, np.ndarray]]:
    """Generator behind :func:`iter_frames`; owns (and closes) the container."""
    start, end = segment
    src_fps, duration = timing
    half_frame = 0.5 / src_fps if src_fps > 0 else 1e-3
    step = 1.0 / fps if fps else 0.0
    next_keep = -math.inf
    n_out = 0
    t = -math.inf
    try:
        stream.thread_type = "AUTO"
        size = _target_size(stream.codec_context.width, stream.codec_context.height, max_side)
        if start and stream.time_base is not None:
            container.seek(int(start / stream.time_base), stream=stream, backward=True)
        time_base = stream.time_base or Fraction(1, 1)
        for index, frame in enumerate(container.decode(stream)):
            t = float(frame.pts * time_base) if frame.pts is not None else index / (src_fps or 1)
            if start is not None and t < start - half_frame:
                continue
            if end is not None and t >= end - half_frame:
                break
            if t < next_keep - half_frame:
                continue
            next_keep = next_keep + step if next_keep + step > t else t + step
            if size == (frame.width, frame.height):
                image = frame.to_ndarray(format="rgb24")
            else:
                image = frame.reformat(width=size[0], height=size[1], format="rgb24",
                                       interpolation="AREA").to_ndarray()
            n_out += 1
            yield t, image
        else:
            _check_complete(path, t, end, duration, half_frame)
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot decode the video (damaged or truncated): {exc}", path) from exc
    finally:
        container.close()
    if n_out == 0:
        segment = f"[{start or 0:g}, {'end' if end is None else f'{end:g}'}) s"
        raise MediaError(f"no decodable video frame in the segment {segment}", path)


def _check_complete(path: Path, last: float, end: float | None, duration: float,
                    half_frame: float) -> None:
    """Raise when decoding stopped well before the segment end and the declared duration."""
    expected = duration if end is None else min(end, duration)
    if duration > 0 and last < expected - max(6 * half_frame, 0.1):
        shown = "no frame" if last == -math.inf else f"the frame at {last:.3f} s"
        raise MediaError(f"truncated video: decoding stopped after {shown}, "
                         f"but the video lasts {duration:g} s", path)
