"""The EMO-DB layout: files named ``SSTTTEV`` (Berlin Database of Emotional Speech).

``SS`` is the speaker (``03``...``16``), ``TTT`` the text (``a01``...``b10``), ``E`` the
emotion letter and ``V`` the version, e.g. ``03a01Fa.wav``. Files may sit flat or in
sub-folders. Emotion letters: ``W`` anger (An), ``L`` boredom (dropped by default),
``E`` disgust (Di), ``A`` fear (Fe), ``F`` happiness (Ha), ``T`` sadness (Sa), ``N``
neutral (Ne). A label map may name a class by its letter or its English name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from emo.data.clip import Clip
from emo.data.layouts.folders import LabelMapper, collect, looks_like, media_clip, media_files
from emo.errors import EmoError, LayoutError

NAME = "emodb"

#: Emotion letter -> English class name.
EMOTIONS: dict[str, str] = {
    "W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness",
    "T": "sadness", "N": "neutral",
}
_STEM = re.compile(r"^(?P<speaker>\d\d)(?P<text>[ab]\d\d)(?P<emotion>[A-Z])(?P<version>[a-z])$")


def detect(root: Path) -> bool:
    """Whether most media files below ``root`` are named like EMO-DB recordings."""
    return looks_like(root, _STEM)


def read(
    root: Path,
    *,
    label_map: Mapping[str, str | None] | None = None,
    problems: list[EmoError] | None = None,
) -> list[Clip]:
    """Read an EMO-DB folder.

    Parameters
    ----------
    root
        The folder holding the recordings (any depth).
    label_map
        Class letter or English name (lower-cased keys) -> class code, ``None`` drops.
    problems
        When given, files with malformed names are reported here and skipped;
        otherwise the first one raises :class:`LayoutError`.

    Returns
    -------
    list of Clip
        Id = file stem, actor = speaker (``"03"``...), sorted by path; boredom dropped
        (and counted in the log) unless the label map keeps it.
    """
    mapper = LabelMapper(NAME, label_map)

    def clip_of(path: Path) -> Clip | None:
        m = _STEM.match(path.stem)
        if not m or m["emotion"] not in EMOTIONS:
            raise LayoutError(
                "not an EMO-DB name <speaker 2 digits><text a01..b10><emotion WLEAFTN><version>",
                path,
            )
        label = mapper(m["emotion"], EMOTIONS[m["emotion"]])
        return None if label is None else media_clip(path.stem, path, m["speaker"], label)

    return collect(media_files(root), clip_of, problems, mapper)
