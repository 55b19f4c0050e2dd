"""Media files by kind: which extensions are audio or video, and clips for loose files.

The one list of media extensions that the folder layouts, ``emo predict FILE`` and the
service all accept. Still images count as one-frame videos, so a folder of face crops
(CK+48) or a single photo works with the face extractor.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from emo.data.clip import Clip
from emo.errors import LayoutError

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
