"""Body accuracy of `emo fit`'s defaults on unseen actors: clip-level kinematic features.

Data (read-only pack, never copied): ``body_kinematics/features.csv`` (Zhang et al. 2020,
PhysioNet; 708 motion-capture trials of 11 actors, 7 classes, 299 kinematic features), imported
as ``emo import --modality body --id-column filename --actor-column actor_ID --label-column
emotion --drop-columns gender,num_frames,duration`` would (:func:`emo.api.import_table`).

Protocol (see ``benchmarks/_common.py``): development actors F01-F05 and M01-M05, untouched
F06 and M06. Target on unseen actors: >= 60 %, never below the plain baseline. Anchors from the
literature for this corpus: SVM on kinematic features 61.3 %, human raters 61.9 %.

Run: ``.venv/bin/python benchmarks/body_accuracy.py --cache ../cache-real``
"""

from __future__ import annotations

import sys
from pathlib import Path

from _common import DATA, UNTOUCHED, Task, labelled, main

from emo import api

BODY_TABLE = DATA / "body_kinematics" / "features.csv"


def tasks(cache: Path) -> list[Task]:
    """The body-kinematics table, every clip labelled."""
    clips = api.import_table(BODY_TABLE, modality="body", cache=cache, id_column="filename",
                             actor_column="actor_ID", label_column="emotion",
                             drop_columns=["gender", "num_frames", "duration"])
    return [Task("body kinematics (imported table, 7 classes)", labelled(clips),
                 UNTOUCHED["body"], ["body"], 0.60)]


if __name__ == "__main__":
    sys.exit(main(tasks, __doc__.splitlines()[0]))
