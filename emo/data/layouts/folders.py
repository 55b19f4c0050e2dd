"""The plain ``<label>/<file>`` layout: media files sorted into folders named by class.

A folder whose sub-folders are named by class (``anger/``, ``Happy/``, ``ps/``...)
holding media files, at any depth below the class folder::

    data/angry/clip01.wav
    data/happy/spk2/clip07.wav
    data/unsorted.wav            files directly in the root: unlabelled

Labels are normalised with :func:`~emo.data.labels.normalise_label`. The media kind
comes from the extension (:mod:`emo.data.media`): audio files become the clip's
``audio``, videos and still images (so a folder of face crops such as CK+48 works for
the face extractor) its ``video``. Clip ids are the file stems, or the paths relative
to the root without extension when stems repeat. The speaker comes from the
``speaker_pattern`` option, a regular expression with a named group ``speaker``
searched in the file stem (e.g. ``r"^(?P<speaker>S\\d+)_"`` for CK+); without it, or
when it does not match, the actor is unknown.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from emo.data.clip import Clip
from emo.data.labels import ALIASES
from emo.data.layouts.base import LabelMapper, collect
from emo.data.media import media_clip, media_files
from emo.errors import EmoError, LayoutError

NAME = "folders"

log = logging.getLogger("emo")


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
    problems: list[EmoError] | None = None,
    speaker_pattern: str | re.Pattern[str] | None = None,
) -> list[Clip]:
    """Read a ``<label>/<file>`` tree.

    Parameters
    ----------
    root
        The folder holding the class folders (and maybe unlabelled files).
    label_map
        Extra label names (lower-cased keys) -> class code, or ``None`` to drop.
    problems
        When given, files in a class folder with an unknown name are reported here
        and skipped; otherwise the first one raises :class:`LayoutError`.
    speaker_pattern
        Regular expression with a group ``speaker``, searched in each file stem.

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

