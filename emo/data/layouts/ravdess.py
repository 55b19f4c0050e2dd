"""The RAVDESS layout: files named ``MM-VV-EE-II-SS-RR-AA`` (e.g. ``03-01-05-01-02-01-12.wav``).

Fields: ``MM`` modality (01 audio-video, 02 video-only, 03 audio-only), ``VV`` vocal
channel (01 speech, 02 song), ``EE`` emotion (01 neutral, 02 calm, 03 happy, 04 sad,
05 angry, 06 fearful, 07 disgust, 08 surprised), ``II`` intensity, ``SS`` statement,
``RR`` repetition, ``AA`` actor. Files may sit in ``Actor_NN/`` folders or anywhere below
the root.

The three modality versions of one recording become one clip whose id is the stem with
the modality set to ``03`` (so audio files keep their own stem, and an imported table
keyed by audio stems joins): the ``03`` file is its ``audio``, the ``01`` video (or
else the silent ``02`` one) its ``video``; without an audio file the sound track of the
``01`` video is used. Calm (02) has no challenge code and is dropped by default; a label
map may name a class by its code (``"02"``) or its name (``"calm"``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from emo.data.clip import Clip
from emo.data.layouts.folders import LabelMapper, collect, looks_like, media_files, media_kind
from emo.errors import EmoError, LayoutError

NAME = "ravdess"

#: Emotion code -> RAVDESS class name.
EMOTIONS: dict[str, str] = {
    "01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
    "06": "fearful", "07": "disgust", "08": "surprised",
}
_STEM = re.compile(
    r"^(?P<modality>\d\d)-(?P<rest>\d\d-(?P<emotion>\d\d)-\d\d-\d\d-\d\d-(?P<actor>\d\d))$"
)
_MODALITIES = {"01": "video", "02": "video", "03": "audio"}


def detect(root: Path) -> bool:
    """Whether most media files below ``root`` are named like RAVDESS recordings."""
    return looks_like(root, _STEM)


def read(
    root: Path,
    *,
    label_map: Mapping[str, str | None] | None = None,
    problems: list[EmoError] | None = None,
) -> list[Clip]:
    """Read a RAVDESS folder (audio-only, audio-video and video-only files).

    Parameters
    ----------
    root
        The folder holding the recordings (any depth, e.g. ``Actor_01/``).
    label_map
        Emotion code or name (lower-cased keys) -> class code, ``None`` drops.
    problems
        When given, files with malformed names are reported here and skipped;
        otherwise the first one raises :class:`LayoutError`.

    Returns
    -------
    list of Clip
        Actor = the last field (``"01"``...``"24"``), sorted by id; calm dropped (and
        counted in the log) unless the label map keeps it.
    """
    mapper = LabelMapper(NAME, label_map)
    media: dict[str, dict[str, Path]] = {}

    def clip_of(path: Path) -> Clip | None:
        m = _STEM.match(path.stem)
        kind = m and _MODALITIES.get(m["modality"])
        if not m or m["emotion"] not in EMOTIONS or kind != media_kind(path):
            raise LayoutError(
                "not a RAVDESS name MM-VV-EE-II-SS-RR-AA with modality 01/02 (video) or "
                "03 (audio) and emotion 01-08", path,
            )
        label = mapper(m["emotion"], EMOTIONS[m["emotion"]])
        if label is None:
            return None
        found = media.setdefault(f"03-{m['rest']}", {})
        if m["modality"] != "02" or "01" not in found:  # the video with sound wins
            found[m["modality"]] = path
        return Clip(id=f"03-{m['rest']}", actor=m["actor"], label=label)

    clips = {c.id: c for c in collect(media_files(root), clip_of, problems, mapper)}
    return [
        Clip(id=i, actor=c.actor, label=c.label, audio=media[i].get("03"),
             video=media[i].get("01") or media[i].get("02"))
        for i, c in sorted(clips.items())
    ]
