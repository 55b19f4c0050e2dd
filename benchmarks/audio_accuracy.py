"""Audio accuracy of `emo fit`'s defaults on unseen speakers: RAVDESS (7 classes) and EMO-DB.

Data (read-only pack, never copied): ``ravdess/audio`` (actors 01-16, calm dropped, 831
clips) and ``emodb`` (speakers 03 08 09 10 11, boredom dropped, 208 clips, every clip cut to
2.000 s), read with :func:`emo.api.index`; eGeMAPS and ComParE functionals from the FLAC
files (the default audio set ``egemaps+compare``, computed once into ``--cache``).

Protocol (see ``benchmarks/_common.py``): development actors RAVDESS 01-12 and EMO-DB 03 08 09
10; untouched RAVDESS 13-16 and EMO-DB 11. Targets on unseen actors (issue 20): RAVDESS
>= 72 %, EMO-DB >= 78 %, never below the plain baseline (per-actor z-scores and a balanced
logistic regression on the same columns). Published anchors (other speakers, full corpora, not
comparable one to one): RAVDESS 8-class WavLM 72.0 %; EMO-DB ComParE + SVM LOSO 77.1 %.

Run: ``.venv/bin/python benchmarks/audio_accuracy.py --cache ../cache-real``
"""

from __future__ import annotations

import sys
from pathlib import Path

from _common import DATA, UNTOUCHED, Task, labelled, main

from emo import api


def tasks(cache: Path) -> list[Task]:
    """RAVDESS audio and EMO-DB, labelled clips only."""
    return [
        Task("RAVDESS audio (eGeMAPS + ComParE, 7 classes)",
             labelled(api.index(DATA / "ravdess" / "audio")), UNTOUCHED["ravdess"], ["audio"],
             0.72),
        Task("EMO-DB audio (eGeMAPS + ComParE, 6 classes)", labelled(api.index(DATA / "emodb")),
             UNTOUCHED["emodb"], ["audio"], 0.78),
    ]


if __name__ == "__main__":
    sys.exit(main(tasks, __doc__.splitlines()[0]))
