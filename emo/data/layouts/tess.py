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
from collections.abc import Mapping
from pathlib import Path

from emo.data.clip import Clip
from emo.data.layouts.folders import LabelMapper, collect, looks_like, media_clip, media_files
from emo.errors import EmoError, LayoutError

NAME = "tess"

#: Known misspelt speaker prefixes of the original corpus.
SPEAKER_TYPOS: dict[str, str] = {"OA": "OAF"}
_STEM = re.compile(r"^(?P<speaker>[A-Za-z]+)_(?P<word>[A-Za-z]+)_(?P<emotion>[A-Za-z]+)$")
_KNOWN = re.compile(r"^[A-Za-z]+_[A-Za-z]+_(?i:angry|disgust|fear|happy|neutral|ps|sad)$")
_SPEAKER_DIR = re.compile(r"^(?P<speaker>[A-Z]{2,4})(?:_.+)?$")


def detect(root: Path) -> bool:
    """Whether most media files below ``root`` are named ``<SPK>_<word>_<TESS emotion>``."""
    return looks_like(root, _KNOWN)


def _folder_speaker(path: Path, root: Path) -> str | None:
    """The speaker named by the innermost folder between ``root`` and the file that names one."""
    for part in reversed(path.relative_to(root).parts[:-1]):
        m = _SPEAKER_DIR.match(part)
        if m:
            return m["speaker"]
    return None


def read(
    root: Path,
    *,
    label_map: Mapping[str, str | None] | None = None,
    problems: list[EmoError] | None = None,
) -> list[Clip]:
    """Read a TESS folder.

    Parameters
    ----------
    root
        The dataset folder.
    label_map
        Emotion name as in the file names (lower-cased keys) -> class code, ``None`` drops.
    problems
        When given, files with malformed names or unknown emotions are reported here
        and skipped; otherwise the first one raises :class:`LayoutError`.

    Returns
    -------
    list of Clip
        Id = file stem, sorted by path.
    """
    mapper = LabelMapper(NAME, label_map)

    def clip_of(path: Path) -> Clip | None:
        m = _STEM.match(path.stem)
        if not m:
            raise LayoutError("not a TESS name <speaker>_<word>_<emotion>", path)
        label = mapper(m["emotion"])
        if label is None:
            return None
        prefix = SPEAKER_TYPOS.get(m["speaker"], m["speaker"])
        return media_clip(path.stem, path, _folder_speaker(path, root) or prefix, label)

    return collect(media_files(root), clip_of, problems, mapper)
