"""The TESS layout (Toronto Emotional Speech Set): ``<SPK>_<word>_<emotion>`` files.

Accepted trees: ``<speaker>_<class>/`` folders (``OAF_angry/OAF_back_angry.wav``, as
distributed), ``<speaker>/<class>/`` folders (``OAF/angry/OAF_back_angry.flac``), or
files anywhere else below the root. The class comes from the last field of the file
name (``angry``, ``disgust``, ``fear``, ``happy``, ``neutral``, ``ps`` = pleasant
surprise, ``sad``); the speaker from the folder when a folder names one (``OAF``,
``YAF``), else from the file-name prefix.

Quirk of the original corpus: ``OA_bite_neutral.wav`` sits in the OAF neutral folder
with the prefix ``OA``. The folder's speaker wins, so it belongs to ``OAF``; outside a
speaker folder the known typo ``OA`` is read as ``OAF`` (:data:`SPEAKER_TYPOS`).
"""

from __future__ import annotations

import re
from pathlib import Path

from emo.data.clip import Clip
from emo.data.layouts.base import LabelMapper, NamedFiles
from emo.data.media import media_clip

NAME = "tess"

#: Known misspelt speaker prefixes of the original corpus.
SPEAKER_TYPOS: dict[str, str] = {"OA": "OAF"}
_STEM = re.compile(r"^(?P<speaker>[A-Za-z]+)_(?P<word>[A-Za-z]+)_(?P<emotion>[A-Za-z]+)$")
_KNOWN = re.compile(r"^[A-Za-z]+_[A-Za-z]+_(?i:angry|disgust|fear|happy|neutral|ps|sad)$")
_SPEAKER_DIR = re.compile(r"^(?P<speaker>[A-Z]{2,4})(?:_.+)?$")


def _folder_speaker(path: Path, root: Path) -> str | None:
    """The speaker named by the innermost folder between ``root`` and the file that names one."""
    for part in reversed(path.relative_to(root).parts[:-1]):
        m = _SPEAKER_DIR.match(part)
        if m:
            return m["speaker"]
    return None


def _clip_of(root: Path, path: Path, m: re.Match[str], mapper: LabelMapper) -> Clip | None:
    """Id = file stem; the speaker of the folder, else of the file-name prefix."""
    label = mapper(m["emotion"])
    if label is None:
        return None
    prefix = SPEAKER_TYPOS.get(m["speaker"], m["speaker"])
    return media_clip(path.stem, path, _folder_speaker(path, root) or prefix, label)


LAYOUT = NamedFiles(NAME, _STEM, "a TESS name <speaker>_<word>_<emotion>", _clip_of,
                    claims=_KNOWN)
detect = LAYOUT.detect
read = LAYOUT.read
