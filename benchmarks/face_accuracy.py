"""Face accuracy of `emo fit`'s defaults on unseen actors: RAVDESS OpenFace action units.

Data (read-only pack, never copied): ``ravdess/face_au.parquet``, the clip means of 35
OpenFace 2 AU intensities and presences of the RAVDESS speech videos, actors 01-16 (calm
dropped: 832 labelled clips), imported as ``emo import --modality face --id-column clip_id
--actor-column actor --label-column label7 --drop-columns source_key,emotion,emotion_name``
would (:func:`emo.api.import_table`, actors written ``01``..``16`` like the audio files).

Protocol (see ``benchmarks/_common.py``): development actors 01-12, untouched 13-16. Target on
unseen actors: >= 80 %, never below the plain baseline.

Run: ``.venv/bin/python benchmarks/face_accuracy.py --cache ../cache-real``
"""

from __future__ import annotations

import sys
from pathlib import Path

from _common import DATA, UNTOUCHED, Task, labelled, main

from emo import api
from emo.data.clip import Clip

FACE_TABLE = DATA / "ravdess" / "face_au.parquet"


def face_clips(cache: Path, out: Path | None = None) -> list[Clip]:
    """The imported RAVDESS AU table (optionally writing its manifest to ``out``)."""
    return api.import_table(FACE_TABLE, modality="face", cache=cache, out=out,
                            id_column="clip_id", actor_column="actor", label_column="label7",
                            drop_columns=["source_key", "emotion", "emotion_name"],
                            actor_format="{:02d}")


def tasks(cache: Path) -> list[Task]:
    """RAVDESS face, labelled clips only."""
    return [Task("RAVDESS face (OpenFace AUs imported, 7 classes)", labelled(face_clips(cache)),
                 UNTOUCHED["ravdess"], ["face"], 0.80)]


if __name__ == "__main__":
    sys.exit(main(tasks, __doc__.splitlines()[0]))
