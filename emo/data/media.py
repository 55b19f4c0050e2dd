"""Media files by kind: which extensions are audio or video, and clips for loose files.

The one list of media extensions that the folder layouts, ``emo predict FILE`` and the
service all accept. Still images count as one-frame videos, so a folder of face crops
(CK+48) or a single photo works with the face extractor.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from emo.data.clip import Clip
from emo.data.skeleton import KINECT_FPS
from emo.errors import ConfigError, LayoutError, MediaError

#: Extensions read as audio.
AUDIO_SUFFIXES: tuple[str, ...] = (
    ".wav", ".flac", ".mp3", ".ogg", ".opus", ".aiff", ".aif", ".aifc", ".m4a", ".au", ".caf",
)
#: Extensions read as video (still images count as one-frame videos).
VIDEO_SUFFIXES: tuple[str, ...] = (
    ".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm", ".png", ".jpg", ".jpeg", ".bmp",
)
MEDIA_SUFFIXES = AUDIO_SUFFIXES + VIDEO_SUFFIXES
#: File name endings read as still images (one frame).
IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
)


def is_image(path: str | Path) -> bool:
    """Whether a path names a still image (by its suffix, see :data:`IMAGE_SUFFIXES`).

    Examples
    --------
    >>> is_image("face.PNG"), is_image("clip.mp4")
    (True, False)
    """
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def media_kind(path: str | Path) -> str | None:
    """``"audio"``, ``"video"`` or ``None`` from a file's extension.

    Examples
    --------
    >>> media_kind("a.FLAC"), media_kind(Path("S005_001.png")), media_kind("x.txt")
    ('audio', 'video', None)
    """
    suffix = Path(path).suffix.lower()
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return None


def is_media_file(path: str | Path) -> bool:
    """Whether a path is an existing media file (rather than a dataset folder or manifest)."""
    return Path(path).is_file() and media_kind(path) is not None


def media_files(root: Path) -> Iterator[Path]:
    """Media files below ``root`` in sorted order, skipping hidden files and folders."""
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).parts
        if path.is_file() and media_kind(path) and not any(p.startswith(".") for p in rel):
            yield path


def media_clip(clip_id: str, path: Path, actor: str | None = None,
               label: str | None = None) -> Clip:
    """A clip for one media file, as its ``audio`` or ``video`` according to the extension."""
    return Clip(id=clip_id, actor=actor, label=label, origin=path,
                **{media_kind(path) or "audio": path})


def clips_from_files(files: Sequence[str | Path], *,
                     skeleton: str | Path | None = None) -> list[Clip]:
    """Clips for loose media files, outside any layout or manifest; each id is the file stem.

    Parameters
    ----------
    files
        Video or audio files (a video's sound track serves the audio modality).
    skeleton
        A Kinect skeleton file that goes with the only file given.

    Returns
    -------
    list of Clip
        In the order given, actor and label unknown.

    Raises
    ------
    LayoutError
        For a file whose extension is neither audio nor video, or a skeleton given
        with more than one file.
    """
    clips = []
    for file in map(Path, files):
        if media_kind(file) is None:
            raise LayoutError(f"unsupported media type (expected audio {', '.join(AUDIO_SUFFIXES)}"
                              f" or video {', '.join(VIDEO_SUFFIXES)})", file)
        clips.append(media_clip(file.stem, file))
    if skeleton is not None:
        if len(clips) != 1:
            raise LayoutError("--skeleton goes with exactly one loose media file", skeleton)
        clips[0] = replace(clips[0], skeleton=Path(skeleton))
    return clips


def window_bounds(duration: float, window: float, hop: float | None = None
                  ) -> list[tuple[float, float]]:
    """Sliding windows ``[start, end)`` over a recording: every window of length
    ``window`` starting at multiples of ``hop`` that fits in ``duration`` (one window of
    the whole recording when it is shorter than ``window``).

    Parameters
    ----------
    duration
        Length of the recording in seconds.
    window
        Window length in seconds.
    hop
        Step between window starts (default: ``window``, no overlap).

    Returns
    -------
    list of (start, end)

    Examples
    --------
    >>> window_bounds(5.0, 2.0, 1.0)
    [(0.0, 2.0), (1.0, 3.0), (2.0, 4.0), (3.0, 5.0)]
    >>> window_bounds(1.5, 2.0)
    [(0.0, 1.5)]
    """
    hop = hop or window
    if not window > 0 or not hop > 0:
        raise ConfigError(f"window and hop must be > 0 seconds, got {window} and {hop}")
    if duration <= window:
        return [(0.0, float(round(duration, 6)))]
    count = int((duration - window) / hop + 1e-9) + 1
    return [(float(round(k * hop, 6)), float(round(k * hop + window, 6))) for k in range(count)]


def media_duration(path: str | Path) -> float:
    """Length of an audio or video file in seconds (0 for a still image), from its header.

    Raises
    ------
    MediaError
        When the file cannot be opened as audio or video.
    """
    import av
    import soundfile

    path = Path(path)
    if is_image(path):
        return 0.0
    with contextlib.suppress(soundfile.LibsndfileError, RuntimeError, TypeError):
        return float(soundfile.info(path).duration)  # WAV/FLAC/AIFF/OGG/MP3: a header read
    try:
        with av.open(str(path)) as container:
            if container.duration is not None:
                return container.duration / av.time_base
            return max((float(s.duration * s.time_base) for s in container.streams
                        if s.duration is not None and s.time_base is not None), default=0.0)
    except (av.FFmpegError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise MediaError(f"not a readable audio or video file: {exc}", path) from None


def window_clips(clip: Clip, bounds: Sequence[tuple[float, float]]) -> list[Clip]:
    """The windows ``[start, end)`` of a clip as clips ``<id>@<start>-<end>`` on the same
    media (its Kinect frames cut to each window at :data:`~emo.data.skeleton.KINECT_FPS`).

    Examples
    --------
    >>> clip = media_clip("talk", Path("talk.wav"))
    >>> [w.id for w in window_clips(clip, window_bounds(3.0, 2.0, 1.0))]
    ['talk@0.000-2.000', 'talk@1.000-3.000']
    """
    windows = []
    for t0, t1 in bounds:
        frames = {}
        if clip.skeleton is not None:
            first = round(t0 * KINECT_FPS)
            frames = {"skeleton_start": first,
                      "skeleton_end": max(first, round(t1 * KINECT_FPS) - 1)}
        windows.append(replace(clip, id=f"{clip.id}@{t0:.3f}-{t1:.3f}", start=t0, end=t1,
                               **frames))
    return windows
