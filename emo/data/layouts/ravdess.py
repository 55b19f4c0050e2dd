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
from pathlib import Path

from emo.data.clip import Clip, merge_clips
from emo.data.layouts.base import LabelMapper, NamedFiles
from emo.data.media import media_clip, media_kind
from emo.errors import LayoutError

NAME = "ravdess"

#: Emotion code -> RAVDESS class name.
EMOTIONS: dict[str, str] = {
    "01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
    "06": "fearful", "07": "disgust", "08": "surprised",
}
_STEM = re.compile(
    r"^(?P<modality>\d\d)-(?P<rest>\d\d-(?P<emotion>0[1-8])-\d\d-\d\d-\d\d-(?P<actor>\d\d))$"
)
_MODALITIES = {"01": "video", "02": "video", "03": "audio"}
_EXPECTED = ("a RAVDESS name MM-VV-EE-II-SS-RR-AA with modality 01/02 (video) or 03 (audio) "
             "and emotion 01-08")


def _clip_of(root: Path, path: Path, m: re.Match[str], mapper: LabelMapper) -> Clip | None:
    """One file's part of its recording's clip: id with modality ``03``, actor as written."""
    if _MODALITIES.get(m["modality"]) != media_kind(path):
        raise LayoutError(f"not {_EXPECTED}", path)
    label = mapper(m["emotion"], EMOTIONS[m["emotion"]])
    return None if label is None else media_clip(f"03-{m['rest']}", path, m["actor"], label)


def _join(clips: list[Clip]) -> list[Clip]:
    """One clip per recording, sorted by id: the ``01`` video (else ``02``) and the audio."""
    return merge_clips([sorted(clips, key=lambda c: (c.id, (c.video or c.audio).name))])


LAYOUT = NamedFiles(NAME, _STEM, _EXPECTED, _clip_of, join=_join)
detect = LAYOUT.detect
read = LAYOUT.read
