"""The plain ``<label>/<file>`` layout, and helpers shared by the file-name layouts.

A folder whose sub-folders are named by class (``anger/``, ``Happy/``, ``ps/``...)
holding media files, at any depth below the class folder::

    data/angry/clip01.wav
    data/happy/spk2/clip07.wav
    data/unsorted.wav            files directly in the root: unlabelled

Labels are normalised with :func:`~emo.data.labels.normalise_label`. The media kind
comes from the extension: :data:`AUDIO_SUFFIXES` become the clip's ``audio``,
:data:`VIDEO_SUFFIXES` (videos and still images, so a folder of face crops such as
CK+48 works for the face extractor) its ``video``. Clip ids are the file stems, or the
paths relative to the root without extension when stems repeat. The speaker comes
from the ``speaker_pattern`` option, a regular expression with a named group
``speaker`` searched in the file stem (e.g. ``r"^(?P<speaker>S\\d+)_"`` for CK+);
without it, or when it does not match, the actor is unknown.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from emo.data.clip import Clip
from emo.data.labels import ALIASES, normalise_label
from emo.errors import EmoError, LabelError, LayoutError

NAME = "folders"

#: Extensions read as audio.
AUDIO_SUFFIXES: tuple[str, ...] = (
    ".wav", ".flac", ".mp3", ".ogg", ".opus", ".aiff", ".aif", ".aifc", ".m4a", ".au", ".caf",
)
#: Extensions read as video (still images count as one-frame videos).
VIDEO_SUFFIXES: tuple[str, ...] = (
    ".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm", ".png", ".jpg", ".jpeg", ".bmp",
)
MEDIA_SUFFIXES = AUDIO_SUFFIXES + VIDEO_SUFFIXES

log = logging.getLogger("emo")


def media_kind(path: Path) -> str | None:
    """``"audio"``, ``"video"`` or ``None`` from a file's extension.

    Examples
    --------
    >>> media_kind(Path("a.FLAC")), media_kind(Path("S005_001.png")), media_kind(Path("x.txt"))
    ('audio', 'video', None)
    """
    suffix = path.suffix.lower()
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return None


def media_files(root: Path) -> Iterator[Path]:
    """Media files below ``root`` in sorted order, skipping hidden files and folders."""
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).parts
        if path.is_file() and media_kind(path) and not any(p.startswith(".") for p in rel):
            yield path


def looks_like(root: Path, pattern: re.Pattern[str], sample: int = 20) -> bool:
    """Whether most of the first ``sample`` media files below ``root`` have stems matching."""
    if not root.is_dir():
        return False
    stems = []
    for path in media_files(root):
        stems.append(path.stem)
        if len(stems) >= sample:
            break
    hits = sum(bool(pattern.match(s)) for s in stems)
    return bool(stems) and hits * 2 > len(stems)


def media_clip(clip_id: str, path: Path, actor: str | None, label: str | None) -> Clip:
    """A clip for one media file, its kind (audio/video) set from the extension."""
    return Clip(id=clip_id, actor=actor, label=label, **{media_kind(path) or "audio": path})


class LabelMapper:
    """Normalise corpus labels, counting the classes dropped on the way.

    Parameters
    ----------
    layout
        Layout name, for the log message.
    label_map
        User mapping applied first (see :func:`~emo.data.labels.normalise_label`).

    Examples
    --------
    >>> m = LabelMapper("demo")
    >>> m("02", "calm"), m("05", "angry"), dict(m.dropped)
    (None, 'An', {'calm': 1})
    >>> LabelMapper("demo", {"02": "Ne"})("02", "calm")
    'Ne'
    """

    def __init__(self, layout: str, label_map: Mapping[str, str | None] | None = None) -> None:
        self.layout = layout
        self.label_map = {str(k).lower(): v for k, v in (label_map or {}).items()}
        self.dropped: Counter[str] = Counter()

    def __call__(self, *names: str) -> str | None:
        """Map a class given by one or more names (corpus code, English name).

        The label map may name the class by any of them; the built-in aliases see
        the last one. ``None`` means dropped (counted) or unlabelled (empty name).
        """
        for name in names:
            if name.lower() in self.label_map:
                label = self.label_map[name.lower()]
                if label is None:
                    self.dropped[names[-1]] += 1
                return label
        label = normalise_label(names[-1])
        if label is None and names[-1].strip():
            self.dropped[names[-1]] += 1
        return label

    def report(self) -> None:
        """Log how many clips of which classes were dropped."""
        if self.dropped:
            counts = ", ".join(f"{k}: {v}" for k, v in sorted(self.dropped.items()))
            log.info("%s: dropped %d clip(s) of classes outside the challenge codes (%s); "
                     "keep them with a label map", self.layout, sum(self.dropped.values()), counts)


def collect(
    paths: Iterable[Path],
    make: Callable[[Path], Clip | None],
    problems: list[EmoError] | None,
    mapper: LabelMapper,
) -> list[Clip]:
    """Build one clip per file, skip dropped ones, and route per-file problems.

    Parameters
    ----------
    paths
        The media files.
    make
        ``path -> Clip``, or ``None`` for a dropped class; an :class:`EmoError` it raises
        is appended to ``problems`` (and the file skipped) when given, else propagates.
        A :class:`LabelError` (unknown class) becomes a :class:`LayoutError` on the file.
    problems
        See :func:`~emo.data.layouts.load_clips`.
    mapper
        Its dropped counts are logged at the end.

    Returns
    -------
    list of Clip
    """
    clips: list[Clip] = []
    for path in paths:
        try:
            try:
                clip = make(path)
            except LabelError as exc:
                raise LayoutError(exc.reason, path) from None
        except EmoError as exc:
            if problems is None:
                raise
            problems.append(exc)
            continue
        if clip is not None:
            clips.append(clip)
    mapper.report()
    return clips


def compile_speaker_pattern(pattern: str | re.Pattern[str] | None) -> re.Pattern[str] | None:
    """Compile a ``speaker_pattern`` option, checking its named group ``speaker``.

    Raises
    ------
    LayoutError
        When the expression is invalid or has no group named ``speaker``.
    """
    if pattern is None:
        return None
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise LayoutError(
            f"speaker_pattern {pattern!r} is not a valid regular expression: {exc}"
        ) from None
    if "speaker" not in compiled.groupindex:
        raise LayoutError(f"speaker_pattern {pattern!r} needs a named group (?P<speaker>...)")
    return compiled


def detect(root: Path) -> bool:
    """Whether ``root`` has a sub-folder named by a known class that holds media files."""
    if not root.is_dir():
        return False
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        if sub.name.lower() in ALIASES and next(media_files(sub), None) is not None:
            return True
    return False


def read(
    root: Path,
    *,
    label_map: Mapping[str, str | None] | None = None,
    speaker_pattern: str | re.Pattern[str] | None = None,
    problems: list[EmoError] | None = None,
) -> list[Clip]:
    """Read a ``<label>/<file>`` tree.

    Parameters
    ----------
    root
        The dataset folder.
    label_map
        Extra label names (lower-cased keys) -> class code, or ``None`` to drop.
    speaker_pattern
        Regular expression with a group ``speaker``, searched in each file stem.
    problems
        When given, files in a class folder with an unknown name are reported here
        and skipped; otherwise the first one raises :class:`LayoutError`.

    Returns
    -------
    list of Clip
        Sorted by path; classes without a challenge code are dropped (and counted in
        the log) unless the label map keeps them.
    """
    pattern = compile_speaker_pattern(speaker_pattern)
    mapper = LabelMapper(NAME, label_map)
    files = list(media_files(root))
    stems = Counter(p.stem for p in files)

    def clip_of(path: Path) -> Clip | None:
        rel = path.relative_to(root)
        label = None
        if len(rel.parts) > 1:
            label = mapper(rel.parts[0])
            if label is None:
                return None
        match = pattern.search(path.stem) if pattern else None
        actor = match["speaker"] if match and match["speaker"] else None
        clip_id = path.stem if stems[path.stem] == 1 else rel.with_suffix("").as_posix()
        return media_clip(clip_id, path, actor, label)

    clips = collect(files, clip_of, problems, mapper)
    if pattern is not None:
        unmatched = sum(c.actor is None for c in clips)
        if unmatched:
            log.warning("%s: speaker_pattern matched no speaker in %d file name(s) under %s",
                        NAME, unmatched, root)
    return clips

