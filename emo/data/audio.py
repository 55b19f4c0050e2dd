"""Decoding audio: files (WAV, FLAC, AIFF, MP3...) and the sound track of videos.

:func:`read_audio` returns a mono float32 signal at the requested rate, for the whole
file or a segment of it. The container is chosen by content, not by file name:
libsndfile (via ``soundfile``) reads WAV/FLAC/AIFF/MP3/OGG even when misnamed, and
anything it cannot read (MP4, MOV, M4A, MKV...) is decoded with FFmpeg (via PyAV),
seeking to the segment and stopping at its end. Files whose first bytes are those of a
video container (ISO MP4/MOV, Matroska/WebM, AVI), or whose name says so, go to FFmpeg
directly. Channels are averaged, then the signal is resampled with the SoX resampler
(``soxr``).

Damaged files are refused rather than guessed at: a sample rate outside
:data:`MIN_RATE`-:data:`MAX_RATE` (a corrupt header would otherwise turn one second
into hours of resampled audio), less data than the header promises, undecodable
frames. Samples are read in blocks, so a header promising more than the file holds
costs no memory, and decoding stops at the length limit of :mod:`emo.data.limits` (when
one is set) whatever the container says. Every failure is a
:class:`~emo.errors.MediaError` naming the file, with the decoder's reason free of error
numbers.
"""

from __future__ import annotations

import contextlib
import math
import re
from pathlib import Path

import av
import numpy as np
import soundfile as sf
import soxr

from emo.data.limits import check_duration, max_duration
from emo.errors import MediaError

#: Shortest segment accepted, in seconds (about one analysis window of the extractors).
MIN_DURATION = 0.06
#: How far a segment end may lie past the end of the file (rounding of video times), in seconds.
END_TOLERANCE = 0.25
#: Suffixes decoded with FFmpeg directly (libsndfile does not read these containers).
FFMPEG_SUFFIXES = (".mp4", ".mov", ".m4a", ".m4v", ".mkv", ".avi", ".webm", ".aac", ".wma")
#: How far before a segment's start FFmpeg seeks, in seconds: a decoder drops what it
#: decodes first after a seek (AAC's pre-roll frame: seen with PyAV 19's FFmpeg), so the
#: seek lands early and the samples before the start are cut.
SEEK_PREROLL = 0.5
#: Resampling quality passed to :func:`soxr.resample`.
RESAMPLE_QUALITY = "HQ"
#: Sample rates accepted, in Hz: below, speech features mean nothing; above, not audio.
MIN_RATE, MAX_RATE = 4_000, 768_000
#: Samples read from libsndfile at a time.
BLOCK_FRAMES = 1 << 18
#: ``SoundFile.frames`` at or above this means "length unknown" (a streamed FLAC).
_UNKNOWN_FRAMES = 1 << 62


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
        without audio track, its sample rate is outside :data:`MIN_RATE`-:data:`MAX_RATE`,
        the segment lies outside the file or is shorter than :data:`MIN_DURATION`, or the
        signal is digital silence.

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
    decoders = (_read_ffmpeg,) if _for_ffmpeg(path) else (_read_sndfile, _read_ffmpeg)
    reasons = []
    for decode in decoders:
        try:
            signal, rate = decode(path, start, end)
        except _Unrecognised as exc:
            reasons.append(exc.reason)
        else:
            return _finish(signal, rate, sr, mono, path)
    raise MediaError(f"not a readable audio or video file ({'; '.join(reasons)})", path)


class _Unrecognised(MediaError):
    """A decoder does not recognise the file's format."""


def _for_ffmpeg(path: Path) -> bool:
    """Whether the file is a video container (by name or first bytes), which only FFmpeg reads.

    libsndfile's MP3 probe takes an MP4 for MPEG audio and "decodes" noise, so content
    is checked before the name is trusted.
    """
    if path.suffix.lower() in FFMPEG_SUFFIXES:
        return True
    try:
        with path.open("rb") as f:
            head = f.read(12)
    except OSError as exc:
        raise MediaError(f"cannot read file: {exc.strerror}", path) from exc
    return (head[4:8] == b"ftyp" or head.startswith(b"\x1a\x45\xdf\xa3")
            or (head.startswith(b"RIFF") and head[8:12] == b"AVI "))


def decoder_reason(exc: Exception) -> str:
    """A decoder's error message without error numbers, file names or "Error :" prefixes.

    Parameters
    ----------
    exc
        An error of FFmpeg (PyAV), libsndfile (soundfile) or another decoder.

    Returns
    -------
    str
        What went wrong, for a :class:`~emo.errors.MediaError` that names the file itself.

    Examples
    --------
    >>> decoder_reason(av.InvalidDataError(1094995529, "Invalid data", "clip.mp4"))
    'Invalid data'
    >>> decoder_reason(sf.LibsndfileError(1, "Error opening 'x.wav': "))
    'Format not recognised'
    """
    if isinstance(exc, av.FFmpegError):
        return exc.strerror or type(exc).__name__
    text = exc.error_string if isinstance(exc, sf.LibsndfileError) else str(exc)
    return re.sub(r"^Error\s*:\s*", "", text).rstrip(". ")


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
    path: Path, start: float | None, end: float | None, duration: float | None
) -> tuple[float, float]:
    """Clip a segment to a file of ``duration`` seconds, or raise when it lies outside.

    With an unknown ``duration`` the segment is taken as given (``inf`` for no end).
    """
    first = 0.0 if start is None else start
    if duration is None:
        return first, math.inf if end is None else end
    last = duration if end is None else end
    if first >= duration or last > duration + END_TOLERANCE:
        raise MediaError(
            f"segment {first:.3f}-{last:.3f} s lies outside the file ({duration:.3f} s long)", path
        )
    return first, min(last, duration)


def _read_sndfile(path: Path, start: float | None, end: float | None) -> tuple[np.ndarray, int]:
    try:
        f = sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise _Unrecognised(f"libsndfile: {decoder_reason(exc)}", path) from None
    with f:
        rate = f.samplerate
        _check_header(f, path)
        if f.frames <= 0:
            raise MediaError("audio file holds no samples (truncated?)", path)
        if f.frames >= _UNKNOWN_FRAMES:  # a streamed FLAC: libsndfile fails at its end
            raise _Unrecognised("libsndfile: length unknown", path)
        check_duration(f.frames / rate, path)  # libsndfile reads no more than the header says
        first, last = _bounds(path, start, end, f.frames / rate)
        i0 = round(first * rate)
        n = min(f.frames, round(last * rate)) - i0
        try:
            if i0:
                f.seek(i0)
            signal = _read_blocks(f, n)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise MediaError(f"corrupt or truncated audio data (libsndfile: {decoder_reason(exc)})",
                             path) from None
        if (n - len(signal)) / rate > END_TOLERANCE:
            raise MediaError(
                f"audio data ends at {(i0 + len(signal)) / rate:.3f} s although the header "
                f"promises {f.frames / rate:.3f} s (truncated file)", path,
            )
    return signal, rate


def _read_blocks(f: sf.SoundFile, n: int) -> np.ndarray:
    """Up to ``n`` frames from the current position, float32 ``(frames, channels)``.

    Read block by block until the data ends, so memory follows what the file holds,
    not what its header claims.
    """
    blocks = []
    while n > 0:
        block = f.read(min(BLOCK_FRAMES, n), dtype="float32", always_2d=True)
        if not len(block):
            break
        blocks.append(block)
        n -= len(block)
    return np.concatenate(blocks) if blocks else np.empty((0, f.channels), np.float32)


def _check_rate(rate: float, path: Path) -> None:
    if not MIN_RATE <= rate <= MAX_RATE:
        raise MediaError(f"sample rate {rate:g} Hz is outside {MIN_RATE}-{MAX_RATE} Hz "
                         "(corrupt header?)", path)


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
        raise _Unrecognised(f"FFmpeg: {decoder_reason(exc)}", path) from None
    with container:
        if not container.streams.audio:
            what = "video has no audio track" if container.streams.video else "no audio stream"
            raise MediaError(what, path)
        stream = container.streams.audio[0]
        if stream.codec_context is None:
            raise MediaError("the audio track's codec is unknown (damaged header?)", path)
        first, last = _bounds(path, start, end, _stream_duration(container, stream) or None)
        if first > SEEK_PREROLL and stream.time_base is not None:
            # no usable index (damaged file): decode from the start, dropping what precedes
            with contextlib.suppress(av.FFmpegError):
                container.seek(int((first - SEEK_PREROLL) / stream.time_base), stream=stream)
        chunks, rate = _decode_range(container, stream, first, last, path)
    if not chunks:
        where = "the file" if start is None and end is None else (
            f"the segment {first:.3f}-{last:.3f} s")
        raise MediaError(f"no audio samples could be decoded in {where} (damaged?)", path)
    return np.concatenate(chunks), rate


def _stream_duration(container: object, stream: object) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


def _decode_range(container: object, stream: object, first: float, last: float,
                  path: Path) -> tuple[list[np.ndarray], int]:
    """Decode ``[first, last)`` of an audio stream; stop with a :class:`MediaError` at a
    frame past :func:`~emo.data.limits.max_duration`, whatever the header said."""
    chunks: list[np.ndarray] = []
    rate = stream.codec_context.sample_rate or stream.rate
    limit = max_duration()
    try:
        for frame in container.decode(stream):
            rate = frame.sample_rate
            t0 = float(frame.pts * frame.time_base) if frame.pts is not None else None
            data = _frame_samples(frame)
            if t0 is None:  # no timestamps: count samples from the start
                t0 = sum(len(c) for c in chunks) / rate
            if t0 >= last:
                break
            if t0 + len(data) / rate > limit:
                check_duration(t0 + len(data) / rate, path)
            lo = max(0, round((first - t0) * rate))
            stop = (last - t0) * rate  # inf for "to the end"
            hi = len(data) if stop >= len(data) else round(stop)
            if hi > lo:
                chunks.append(data[lo:hi])
    except av.FFmpegError as exc:
        if not chunks:
            raise MediaError(f"corrupt or truncated audio data (FFmpeg: {decoder_reason(exc)})",
                             path) from None
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
    _check_rate(rate, path)
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
