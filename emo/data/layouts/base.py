"""What the file-based layouts share: label mapping, per-file problems, file-name layouts.

:class:`NamedFiles` is a whole layout for corpora whose file names carry the actor and
the class (RAVDESS, EMO-DB, TESS): a pattern for the file stem, and a function that
turns one match into a clip. The plain ``<label>/<file>`` layout
(:mod:`~emo.data.layouts.folders`) uses :class:`LabelMapper` and :func:`collect` too.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from emo.data.clip import Clip
from emo.data.labels import normalise_label
from emo.data.media import media_files
from emo.errors import EmoError, LabelError, LayoutError

log = logging.getLogger("emo")


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


#: ``(root, file, stem match, label mapper) -> Clip``, or ``None`` for a dropped class.
ClipOf = Callable[[Path, Path, re.Match[str], LabelMapper], Clip | None]


@dataclass(frozen=True)
class NamedFiles:
    """A layout whose media file names say who acted which class.

    Attributes
    ----------
    name
        The layout's name, for log messages.
    stem
        Pattern every file stem must match; a file that does not is a problem.
    expected
        What a file name should look like, for the message about one that does not.
    clip_of
        Builds the clip of one file from the match (see :data:`ClipOf`); it may raise
        :class:`LayoutError` for a file that matches but is still wrong.
    claims
        Pattern for :meth:`detect` when it differs from ``stem``.
    join
        Post-processing of all clips (e.g. joining several files of one recording).
    """

    name: str
    stem: re.Pattern[str]
    expected: str
    clip_of: ClipOf
    claims: re.Pattern[str] | None = None
    join: Callable[[list[Clip]], list[Clip]] = list

    def detect(self, root: Path) -> bool:
        """Whether most media files below ``root`` are named as this layout names them."""
        return looks_like(root, self.claims or self.stem)

    def read(
        self,
        root: Path,
        *,
        label_map: Mapping[str, str | None] | None = None,
        problems: list[EmoError] | None = None,
    ) -> list[Clip]:
        """Read the clips of every media file below ``root``, in path order.

        Parameters
        ----------
        root
            The folder of the corpus, with its files at any depth.
        label_map
            Class name or corpus code (lower-cased keys) -> class code; ``None`` drops
            the class. Classes outside the challenge codes are dropped by default and
            counted in the log.
        problems
            Collects the files whose names do not fit (they are skipped); without it the
            first one raises :class:`LayoutError`.

        Returns
        -------
        list of Clip
        """
        mapper = LabelMapper(self.name, label_map)

        def make(path: Path) -> Clip | None:
            match = self.stem.match(path.stem)
            if match is None:
                raise LayoutError(f"not {self.expected}", path)
            return self.clip_of(root, path, match, mapper)

        return self.join(collect(media_files(root), make, problems, mapper))
