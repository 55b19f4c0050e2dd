"""Audio + face fusion accuracy of `emo fit`'s defaults on unseen RAVDESS actors.

Data (read-only pack, never copied): RAVDESS actors 01-16, the audio manifest of
``ravdess/audio`` (eGeMAPS + ComParE from the FLAC files) joined by clip id with the imported
OpenFace AU table (as in ``face_accuracy.py``), i.e. ``emo fit AUDIO_MANIFEST.csv
FACE_MANIFEST.csv`` with no other flag; calm dropped (832 labelled clips; one has a face but no
audio). The single-modality rows are the fused bundle's own ``pred_audio`` / ``pred_face``.

Protocol (see ``benchmarks/_common.py``): development actors 01-12, untouched 13-16. Targets on
unseen actors (issue 20): fused >= 90 % and >= the best single modality + 5 points; with the
actor column empty within 2 points of actors known. Anchor: audio+face late fusion on RAVDESS,
80.1 % accuracy (Luna-Jimenez et al., 2021).

Run: ``.venv/bin/python benchmarks/fusion_accuracy.py --cache ../cache-real``
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import DATA, UNTOUCHED, Task, labelled, main
from face_accuracy import face_clips

from emo import api


def tasks(cache: Path) -> list[Task]:
    """RAVDESS audio + face, joined through their manifests as `emo fit` reads them."""
    with tempfile.TemporaryDirectory() as work:
        audio = Path(work) / "audio.csv"
        face = Path(work) / "face.csv"
        api.index(DATA / "ravdess" / "audio", out=audio)
        face_clips(cache, out=face)
        clips = labelled(api.index([audio, face]))
    return [Task("RAVDESS audio + face (eGeMAPS + ComParE, OpenFace AUs)", clips,
                 UNTOUCHED["ravdess"], ["audio", "face"], 0.90,
                 ["target: fused >= best single + 5 points; hidden within 2 points of known"])]


if __name__ == "__main__":
    sys.exit(main(tasks, __doc__.splitlines()[0]))
