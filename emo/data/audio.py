"""Decoding audio: files (WAV, FLAC, AIFF, MP3...) and the sound track of videos.

:func:`read_audio` returns a mono float32 signal at the requested rate, for the whole
file or a segment of it. The container is chosen by content, not by file name:
libsndfile (via ``soundfile``) reads WAV/FLAC/AIFF/MP3/OGG even when misnamed, and
anything it cannot read (MP4, MOV, M4A, MKV...) is decoded with FFmpeg (via PyAV),
seeking to the segment and stopping at its end. Channels are averaged, then the
signal is resampled with the SoX resampler (``soxr``).

Every failure is a :class:`~emo.errors.MediaError` naming the file.
"""

from __future__ import annotations

import re
from pathlib import Path

import av
import numpy as np
import soundfile as sf
import soxr

from emo.errors import MediaError

#: Shortest segment accepted, in seconds (about one analysis window of the extractors).
MIN_DURATION = 0.06
#: How far a segment end may lie past the end of the file (rounding of video times), in seconds.
END_TOLERANCE = 0.25
#: Suffixes decoded with FFmpeg directly (libsndfile does not read these containers).
FFMPEG_SUFFIXES = (".mp4", ".mov", ".m4a", ".m4v", ".mkv", ".avi", ".webm", ".aac", ".wma")
#: Resampling quality passed to :func:`soxr.resample`.
RESAMPLE_QUALITY = "HQ"


def read_audio(
    path: str | Path,
    *,
    sr: int = 16000,
    start: float | None = None,
    end: float | None = None,
    mono: bool = True,
) -> np.ndarray:
    """Decode an audio file, or the sound track of a video, to float32 samples.

    Parameters
    ----------
    path
        Audio file (WAV 16/24/32-bit, float, FLAC, AIFF, MP3, OGG...) or video
        (MP4, MOV...) with an audio track. The format is found from the content.
    sr
        Output sampling rate in Hz.
    start, end
        Segment in seconds (``None``: from the beginning / to the end). An ``end`` up
        to :data:`END_TOLERANCE` past the end of the file is clipped to it.
    mono
        Average the channels (default); otherwise return ``(samples, channels)``.

    Returns
    -------
    numpy.ndarray
        float32, shape ``(samples,)`` (or ``(samples, channels)`` when not ``mono``).

    Raises
    ------
    MediaError
        When the file is missing, empty, not audio, corrupt or truncated, a video
        without audio track, the segment lies outside the file or is shorter than
        :data:`MIN_DURATION`, or the signal is digital silence.

    Examples
    --------
    >>> import tempfile, soundfile
    >>> tone = np.sin(np.arange(8000) / 10).astype("float32")
    >>> with tempfile.NamedTemporaryFile(suffix=".wav") as f:
    ...     soundfile.write(f.name, tone, 8000)
    ...     read_audio(f.name, sr=16000, start=0.25, end=0.75).shape
    (8000,)
    """
    path = Path(path)
    _check_segment(path, start, end)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise MediaError("file not found", path) from None
    except OSError as exc:
        raise MediaError(f"cannot read file: {exc.strerror}", path) from exc
    if path.is_dir():
        raise MediaError("is a folder, not an audio file", path)
    if size == 0:
        raise MediaError("file is empty (0 bytes)", path)
    if path.suffix.lower() in FFMPEG_SUFFIXES:
        signal, rate = _read_ffmpeg(path, start, end)
    else:
        try:
            signal, rate = _read_sndfile(path, start, end)
        except _Unrecognised as sf_exc:
            try:
                signal, rate = _read_ffmpeg(path, start, end)
            except _Unrecognised as ff_exc:
                raise MediaError(
                    f"not a readable audio or video file ({sf_exc.reason}; {ff_exc.reason})", path
                ) from None
    return _finish(signal, rate, sr, mono, path)


class _Unrecognised(MediaError):
    """A decoder does not recognise the file's format."""


def _check_segment(path: Path, start: float | None, end: float | None) -> None:
    for name, value in (("start", start), ("end", end)):
        if value is not None and not np.isfinite(value):
            raise MediaError(f"segment {name} is not a finite number ({value})", path)
    if start is not None and start < 0:
        raise MediaError(f"segment starts before the file ({start:.3f} s < 0)", path)
    if start is not None and end is not None and end - start < MIN_DURATION:
        raise MediaError(
            f"segment {start:.3f}-{end:.3f} s is shorter than {MIN_DURATION * 1000:.0f} ms", path
        )


def _bounds(
    path: Path, start: float | None, end: float | None, duration: float
) -> tuple[float, float]:
    """Clip a segment to a file of ``duration`` seconds, or raise when it lies outside."""
    first = 0.0 if start is None else start
    last = duration if end is None else end
    if first >= duration or last > duration + END_TOLERANCE:
        raise MediaError(
            f"segment {first:.3f}-{last:.3f} s lies outside the file ({duration:.3f} s long)", path
        )
    return first, min(last, duration)


def _read_sndfile(path: Path, start: float | None, end: float | None) -> tuple[np.ndarray, int]:
    try:
        f = sf.SoundFile(path)
    except sf.LibsndfileError as exc:
        raise _Unrecognised(f"libsndfile: {exc.error_string}", path) from None
    except (RuntimeError, TypeError) as exc:
        raise _Unrecognised(f"libsndfile: {exc}", path) from None
    with f:
        rate = f.samplerate
        _check_header(f, path)
        if f.frames <= 0:
            raise MediaError("audio file holds no samples (truncated?)", path)
        first, last = _bounds(path, start, end, f.frames / rate)
        i0 = round(first * rate)
        n = max(0, min(f.frames, round(last * rate)) - i0)
        try:
            if i0:
                f.seek(i0)
            signal = f.read(n, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise MediaError(f"corrupt or truncated audio data ({exc})", path) from None
        if (n - len(signal)) / rate > END_TOLERANCE:
            raise MediaError(
                f"audio data ends at {(i0 + len(signal)) / rate:.3f} s although the header "
                f"promises {f.frames / rate:.3f} s (truncated file)", path,
            )
    return signal, rate


_SHORT_CHUNK = re.compile(r"^\s*(?:data|SSND) : (\d+) \(should be (\d+)\)", re.MULTILINE)


def _check_header(f: sf.SoundFile, path: Path) -> None:
    """Reject WAV/AIFF files whose data chunk is shorter than their header says.

    libsndfile reads such files silently up to where the bytes end; its log notes the
    mismatch. Streaming writers' placeholder sizes (0, 0xFFFFFFFF) are not truncation.
    """
    if f.format not in ("WAV", "WAVEX", "AIFF", "RF64", "W64"):
        return
    m = _SHORT_CHUNK.search(f.extra_info)
    if m and 0 < int(m[2]) < int(m[1]) < 0x7FFFFFFF:
        raise MediaError(
            f"the header promises {int(m[1])} bytes of audio data, the file holds {int(m[2])} "
            "(truncated file)", path,
        )


def _read_ffmpeg(path: Path, start: float | None, end: float | None) -> tuple[np.ndarray, int]:
    try:
        container = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise _Unrecognised(f"FFmpeg: {exc}", path) from None
    with container:
        if not container.streams.audio:
            what = "video has no audio track" if container.streams.video else "no audio stream"
            raise MediaError(what, path)
        stream = container.streams.audio[0]
        duration = _stream_duration(container, stream)
        first, last = _bounds(path, start, end, duration) if duration else (
            start or 0.0, np.inf if end is None else end)
        if first > 0:
            try:
                container.seek(int(first / stream.time_base), stream=stream)
            except av.FFmpegError:
                container.seek(0, stream=stream)
        chunks, rate = _decode_range(container, stream, first, last, path)
    if not chunks:
        raise MediaError(f"no audio samples in the segment {first:.3f}-{last:.3f} s", path)
    return np.concatenate(chunks), rate


def _stream_duration(container: object, stream: object) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


def _decode_range(container: object, stream: object, first: float, last: float,
                  path: Path) -> tuple[list[np.ndarray], int]:
    chunks: list[np.ndarray] = []
    rate = stream.codec_context.sample_rate or stream.rate
    try:
        for frame in container.decode(stream):
            rate = frame.sample_rate
            t0 = float(frame.pts * frame.time_base) if frame.pts is not None else None
            data = _frame_samples(frame)
            if t0 is None:  # no timestamps: count samples from the start
                t0 = sum(len(c) for c in chunks) / rate
            if t0 >= last:
                break
            lo = max(0, round((first - t0) * rate))
            hi = min(len(data), round((last - t0) * rate))
            if hi > lo:
                chunks.append(data[lo:hi])
    except av.FFmpegError as exc:
        if not chunks:
            raise MediaError(f"corrupt or truncated audio data ({exc})", path) from None
        # a damaged tail after the segment's samples: keep what was decoded
    return chunks, rate


def _frame_samples(frame: object) -> np.ndarray:
    """A decoded PyAV audio frame as float32 ``(samples, channels)``."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if not frame.format.is_planar:
        data = data.reshape(-1, channels).T
    data = data.astype(np.float32, copy=False)
    if frame.format.name.startswith(("s16", "s32", "u8")):
        scale = {"s16": 2**15, "s32": 2**31, "u8": 2**7}[frame.format.name[:3]]
        data = (data - (128 if frame.format.name.startswith("u8") else 0)) / scale
    return np.ascontiguousarray(data.T)


def _finish(signal: np.ndarray, rate: int, sr: int, mono: bool, path: Path) -> np.ndarray:
    if signal.shape[0] < MIN_DURATION * rate:
        raise MediaError(
            f"audio segment is {signal.shape[0] / rate * 1000:.0f} ms long, shorter than "
            f"{MIN_DURATION * 1000:.0f} ms", path,
        )
    if not np.isfinite(signal).all():
        raise MediaError("audio holds NaN or infinite samples (corrupt float data)", path)
    if mono:
        signal = signal.mean(axis=1, dtype=np.float32) if signal.shape[1] > 1 else signal[:, 0]
    if not np.any(signal):
        raise MediaError("audio is digital silence (all samples are zero)", path)
    if rate != sr:
        signal = soxr.resample(signal, rate, sr, quality=RESAMPLE_QUALITY)
    return np.ascontiguousarray(signal, dtype=np.float32)
