"""The EMO-DB layout: files named ``SSTTTEV`` (Berlin Database of Emotional Speech).

``SS`` is the speaker (``03``...``16``), ``TTT`` the text (``a01``...``b10``), ``E`` the
emotion letter and ``V`` the version, e.g. ``03a01Fa.wav``. Files may sit flat or in
sub-folders. Emotion letters: ``W`` anger (An), ``L`` boredom (dropped by default),
``E`` disgust (Di), ``A`` fear (Fe), ``F`` happiness (Ha), ``T`` sadness (Sa), ``N``
neutral (Ne). A label map may name a class by its letter or its English name.
"""

from __future__ import annotations

import re
from pathlib import Path

from emo.data.clip import Clip
from emo.data.layouts.base import LabelMapper, NamedFiles
from emo.data.media import media_clip

NAME = "emodb"

#: Emotion letter -> English class name.
EMOTIONS: dict[str, str] = {
    "W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness",
    "T": "sadness", "N": "neutral",
}
_STEM = re.compile(
    rf"^(?P<speaker>\d\d)(?P<text>[ab]\d\d)(?P<emotion>[{''.join(EMOTIONS)}])(?P<version>[a-z])$"
)


def _clip_of(root: Path, path: Path, m: re.Match[str], mapper: LabelMapper) -> Clip | None:
    """Id = file stem, actor = speaker as written (``"03"``)."""
    label = mapper(m["emotion"], EMOTIONS[m["emotion"]])
    return None if label is None else media_clip(path.stem, path, m["speaker"], label)


LAYOUT = NamedFiles(
    NAME, _STEM,
    "an EMO-DB name <speaker 2 digits><text a01..b10><emotion WLEAFTN><version>", _clip_of,
)
detect = LAYOUT.detect
read = LAYOUT.read
