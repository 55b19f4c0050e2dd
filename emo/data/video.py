"""Video and still-image frame decoding (PyAV), for the face and body extractors.

Frames come out as ``(timestamp in seconds, RGB uint8 array H x W x 3)``. A segment
``[start, end)`` is decoded after a seek to the key frame before ``start``, so only the
part that is needed is read; ``fps`` keeps about that many frames per second on a grid
fixed on the video's time line (:func:`on_grid`; the others are decoded, as the codec
needs them, but never converted), and ``max_side`` downscales while converting. Still
images (``.png``, ``.jpg``...) give one frame at time 0; grey images are turned into RGB.

:func:`iter_frames` reads one segment; :class:`VideoReader` decodes several segments of
one file in one pass (seeking over gaps only where a key frame lets it skip decoding),
for extractors that serve many clips of one recording at once.

Sizes are checked before decoding (a still image's header is read with Pillow) and on
every frame, and decoding stops at the length limit (:mod:`emo.data.limits`).

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
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from emo.data.audio import decoder_reason
from emo.data.limits import MAX_PIXELS, check_duration, check_frame_size, max_duration
from emo.data.media import IMAGE_SUFFIXES, is_image
from emo.errors import MediaError

__all__ = ["IMAGE_SUFFIXES", "DecodedFrame", "VideoInfo", "VideoReader", "check_segment",
           "is_image", "iter_frames", "merge_segments", "on_grid", "video_info"]

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


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise MediaError("file not found", path)
    if path.stat().st_size == 0:
        raise MediaError("empty file (0 bytes)", path)


def _image_size(path: Path) -> tuple[int, int]:
    """(width, height) of a still image from its header alone, checked against the limits
    (:func:`~emo.data.limits.check_frame_size`) before anything is decoded."""
    _check_file(path)
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
    except Image.DecompressionBombError:  # above Pillow's own, larger limit
        raise MediaError(f"image declares more than {2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} "
                         f"megapixels, beyond the limit of {MAX_PIXELS / 1e6:g} megapixels "
                         "(decompression bomb?)", path) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise MediaError(f"not a readable image: {decoder_reason(exc)}", path) from None
    check_frame_size(width, height, path)
    return width, height


def _read_image(path: Path) -> np.ndarray:
    _image_size(path)
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
        raise MediaError("not a readable video (truncated or unknown format): "
                         f"{decoder_reason(exc)}", path) from exc


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
        width, height = _image_size(path)
        return VideoInfo(0.0, 1, width, height, 0.0, has_audio=False, has_video=True)
    with _open(path) as container:
        has_audio = bool(container.streams.audio)
        if not container.streams.video:
            return VideoInfo(0.0, 0, 0, 0, 0.0, has_audio=has_audio, has_video=False)
        stream = container.streams.video[0]
        fps, duration, n_frames = _stream_timing(stream, container)
        ctx = stream.codec_context
        if ctx is None:
            raise MediaError("the video track's codec is unknown (damaged header?)", path)
        return VideoInfo(fps, n_frames, int(ctx.width), int(ctx.height), duration,
                         has_audio=has_audio, has_video=True)


def _target_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """Frame size after downscaling so that the longer side is at most ``max_side`` (even)."""
    longest = max(width, height)
    if not max_side or longest <= max_side:
        return width, height
    scale = max_side / longest
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def check_segment(path: Path, start: float | None, end: float | None) -> None:
    """Raise :class:`MediaError` for a segment bound that is not a finite time >= 0, or an
    empty segment."""
    for name, value in (("start", start), ("end", end)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise MediaError(f"segment {name} must be a finite time >= 0 s, not {value!r}", path)
    if start is not None and end is not None and end <= start:
        raise MediaError(f"empty segment: end {end:g} s is not after start {start:g} s", path)


def on_grid(time: float, fps: float | None, source_fps: float) -> bool:
    """Whether the frame at ``time`` is analysed at ``fps`` frames per second.

    The analysis grid is fixed on the video's time line: time is cut into slots of
    ``1 / fps`` seconds from 0, and the first frame of each slot is kept (every k-th
    frame of a constant-rate video, k = ``source_fps / fps``). Whether a frame is kept
    depends on its time alone, never on where decoding started, so a segment analysed
    alone and inside a longer pass sees the same frames.

    Parameters
    ----------
    time
        Presentation time of the frame in seconds.
    fps
        Analysis rate; ``None`` or 0 keeps every frame.
    source_fps
        Frame rate of the video (0 when unknown: every frame is kept).

    Returns
    -------
    bool

    Examples
    --------
    >>> [i for i in range(8) if on_grid(i / 30, 10, 30.0)]
    [0, 3, 6]
    >>> [i for i in range(8) if on_grid(i / 30, 12, 30.0)]
    [0, 2, 5, 7]
    """
    if not fps or source_fps <= 0 or fps >= source_fps:
        return True
    half = 0.5 / source_fps
    return math.floor((time + half) * fps) != math.floor((time + half - 1 / source_fps) * fps)


class DecodedFrame:
    """A decoded video frame, converted to an RGB array only when asked (once per size).

    Attributes
    ----------
    time : float
        Presentation time in seconds.
    """

    __slots__ = ("_frame", "_images", "time")

    def __init__(self, time: float, frame: av.VideoFrame) -> None:
        self.time = time
        self._frame = frame
        self._images: dict[tuple[int, int], np.ndarray] = {}

    def image(self, max_side: int | None = None) -> np.ndarray:
        """The frame as RGB ``uint8`` (height, width, 3), downscaled (area interpolation)
        so that its longer side is at most ``max_side`` (``None``: full size)."""
        frame = self._frame
        size = _target_size(frame.width, frame.height, max_side)
        image = self._images.get(size)
        if image is None:
            if size == (frame.width, frame.height):
                image = _rgb(frame)
            else:
                image = frame.reformat(width=size[0], height=size[1], format="rgb24",
                                       interpolation="AREA").to_ndarray()
            self._images[size] = image
        return image


def _rgb(frame: av.VideoFrame) -> np.ndarray:
    """A frame as RGB ``uint8`` at its own size.

    4:2:0 frames of even size (what H.264 and most cameras give) go through OpenCV's
    vectorised BT.601 conversion, 2.3x faster than FFmpeg's swscale (0.49 against 1.13 ms
    for a 456 x 256 frame), within a few levels of it; other formats through swscale.
    """
    if frame.format.name == "yuv420p" and frame.width % 2 == 0 and frame.height % 2 == 0:
        return cv2.cvtColor(frame.to_ndarray(format="yuv420p"), cv2.COLOR_YUV2RGB_I420)
    return frame.to_ndarray(format="rgb24")


class VideoReader:
    """One video file opened to decode several segments in one pass (a context manager).

    :meth:`frames` decodes the segments in time order. Between two segments it seeks
    only when a key frame lies after the last decoded frame and at or before the next
    segment's start (asked of a second, packet-only handle on the file); otherwise it
    decodes on through the gap, converting nothing. Decoding from the key frame before a
    segment or on from an earlier segment gives the same frames (closed groups of
    pictures), so a segment's frames do not depend on the other segments of the pass.

    Parameters
    ----------
    path
        The video file.

    Raises
    ------
    MediaError
        When the file is missing, empty, unreadable or has no video stream.

    Attributes
    ----------
    path : Path
    fps, duration : float
        Frame rate and length of the video stream (0 when the container does not say).
    n_frames : int
        Frames in the stream (from the container, else estimated).
    last_time : float
        Time of the last decoded frame (``-inf`` before the first).
    exhausted : bool
        Whether decoding reached the end of the stream.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._container = _open(self.path)
        self._probe: av.container.InputContainer | None = None
        try:
            if not self._container.streams.video:
                raise MediaError("no video stream", self.path)
            self._stream = self._container.streams.video[0]
            if is_image(self.path):  # FFmpeg's image demuxer gives no size before decoding
                _image_size(self.path)
            ctx = self._stream.codec_context
            if ctx is not None:  # None: no decoder, decoding fails
                if ctx.width or ctx.height:  # 0 x 0: the size comes with the first frame
                    check_frame_size(int(ctx.width), int(ctx.height), self.path)
                ctx.options = {**ctx.options, "max_pixels": str(MAX_PIXELS)}  # every frame
            self.fps, self.duration, self.n_frames = _stream_timing(self._stream,
                                                                    self._container)
        except BaseException:
            self._container.close()
            raise
        self._time_base = self._stream.time_base or Fraction(1, 1)
        self.half_frame = 0.5 / self.fps if self.fps > 0 else 1e-3
        self.last_time = -math.inf
        self.exhausted = False

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (and the key-frame probe)."""
        self._container.close()
        if self._probe is not None:
            self._probe.close()

    def check_start(self, start: float | None) -> None:
        """Raise :class:`MediaError` when a segment starts after the end of the video."""
        if start is not None and self.duration > 0 and start >= self.duration:
            raise MediaError(
                f"segment starts at {start:g} s, after the end of the video "
                f"({self.duration:g} s, {self.n_frames} frames)", self.path)

    def truncation(self, end: float | None) -> MediaError | None:
        """The error to report for a segment ending at ``end`` when decoding stopped well
        before it and before the declared duration (a truncated file), else ``None``."""
        if not self.exhausted or self.duration <= 0:
            return None
        expected = self.duration if end is None else min(end, self.duration)
        if self.last_time >= expected - max(6 * self.half_frame, 0.1):
            return None
        last = self.last_time
        shown = "no frame" if last == -math.inf else f"the frame at {last:.3f} s"
        return MediaError(f"truncated video: decoding stopped after {shown}, "
                          f"but the video lasts {self.duration:g} s", self.path)

    def frames(self, segments: Sequence[tuple[float, float]]) -> Iterator[DecodedFrame]:
        """Decode the frames of segments ``[start, end)`` (seconds; ``end`` may be ``inf``).

        A frame belongs to a segment when its time lies in ``[start, end)`` to within
        half a frame. Overlapping segments are merged; each frame is yielded once.

        Raises
        ------
        MediaError
            When the stream cannot be decoded (damaged or truncated).
        """
        half = self.half_frame
        pending: DecodedFrame | None = None
        decoded: Iterator[DecodedFrame] | None = None
        for start, end in merge_segments(segments):
            if decoded is None or self._seek_pays(pending, start):
                decoded = self._decode_from(start)
                pending = None
            while True:
                if pending is None:
                    pending = next(decoded, None)
                    if pending is None:
                        return
                if pending.time >= end - half:
                    break  # it may belong to the next segment
                if pending.time >= start - half:
                    yield pending
                pending = None

    def _seek_pays(self, pending: DecodedFrame | None, start: float) -> bool:
        """Whether seeking to ``start`` skips decoding (a key frame lies in the gap)."""
        if pending is not None and pending.time >= start - self.half_frame:
            return False
        return self._key_frame_before(start) > self.last_time

    def _key_frame_before(self, time: float) -> float:
        """Time of the last key frame at or before ``time`` (``-inf`` if unknown)."""
        try:
            if self._probe is None:
                self._probe = av.open(str(self.path), mode="r")
            stream = self._probe.streams.video[0]
            self._probe.seek(int(time / self._time_base), stream=stream, backward=True)
            for packet in self._probe.demux(stream):
                if packet.pts is not None:
                    return float(packet.pts * self._time_base)
        except (av.error.FFmpegError, IndexError):
            pass
        return -math.inf

    def _decode_from(self, start: float) -> Iterator[DecodedFrame]:
        """Frames from the key frame at or before ``start`` (from the first frame at 0).

        Each frame's size is checked, and decoding stops with a :class:`MediaError` at a
        frame past :func:`~emo.data.limits.max_duration`, whatever the header said.
        """
        limit = max_duration()
        try:
            if start > 0 and self._stream.time_base is not None:
                self._container.seek(int(start / self._time_base), stream=self._stream,
                                     backward=True)
            for index, frame in enumerate(self._container.decode(self._stream)):
                t = (float(frame.pts * self._time_base) if frame.pts is not None
                     else index / (self.fps or 1))
                if t > limit:
                    check_duration(t, self.path)
                check_frame_size(frame.width, frame.height, self.path)
                self.last_time = t
                yield DecodedFrame(t, frame)
        except av.error.FFmpegError as exc:
            raise MediaError("cannot decode the video (damaged or truncated): "
                             f"{decoder_reason(exc)}", self.path) from exc
        self.exhausted = True


def merge_segments(segments: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sort segments ``(start, end)`` and merge those that overlap.

    Examples
    --------
    >>> merge_segments([(4.0, 6.0), (0.0, 2.0), (1.0, 3.0), (3.0, 4.0)])
    [(0.0, 3.0), (3.0, 4.0), (4.0, 6.0)]
    """
    merged: list[tuple[float, float]] = []
    for start, end in sorted(segments):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


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
        Target analysis rate: keep about ``fps`` frames per second on the grid of
        :func:`on_grid` (every k-th frame of a constant-rate video, k = source fps /
        ``fps``); ``None`` keeps all frames.
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
    check_segment(path, start, end)
    reader = VideoReader(path)
    try:
        reader.check_start(start)
    except BaseException:
        reader.close()
        raise
    return _segment_frames(reader, start, end, fps, max_side)


def _segment_frames(reader: VideoReader, start: float | None, end: float | None,
                    fps: float | None, max_side: int | None) -> Iterator[tuple[float, np.ndarray]]:
    """Generator behind :func:`iter_frames`; owns (and closes) the reader."""
    n_out = 0
    with reader:
        for frame in reader.frames([(start or 0.0, math.inf if end is None else end)]):
            if on_grid(frame.time, fps, reader.fps):
                n_out += 1
                yield frame.time, frame.image(max_side)
        error = reader.truncation(end)
        if error is not None:
            raise error
    if n_out == 0:
        segment = f"[{start or 0:g}, {'end' if end is None else f'{end:g}'}) s"
        raise MediaError(f"no decodable video frame in the segment {segment}", reader.path)
