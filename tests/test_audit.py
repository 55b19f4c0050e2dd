from __future__ import annotations

from pathlib import Path

import numpy as np

from emo.audit import audit
from emo.data.clip import Clip
from emo.data.labels import CLASSES


def _session(order_leaks: bool, seed: int = 0) -> list[Clip]:
    rng = np.random.default_rng(seed)
    clips = []
    for actor in ("F1", "F2", "M1", "M2"):
        names = [f"{rng.integers(1000, 9999)}_{actor}.MP4" for _ in CLASSES]
        if order_leaks:
            names.sort()
        for name, label in zip(names, CLASSES, strict=True):
            for take in range(3):
                clips.append(Clip(f"frames_{actor}_{label}{take + 1}", actor=actor, label=label,
                                  video=Path(name), start=float(rng.uniform(0, 60))))
    return clips


def _by_cue(clips: list[Clip]) -> dict[str, tuple[str, float]]:
    return {f.cue: (f.level, f.score) for f in audit(clips)}


def test_fixed_emotion_order_is_flagged() -> None:
    found = _by_cue(_session(order_leaks=True))
    assert found["single-emotion recordings"][0] == "warning"
    level, accuracy = found["recording order in session"]
    assert level == "warning" and accuracy > 0.9


def test_opaque_random_names_are_not_flagged_as_order_leak() -> None:
    for seed in range(8):
        found = _by_cue(_session(order_leaks=False, seed=seed))
        assert found["recording order in session"][0] == "info"
        assert found["segment start time"][0] == "info"


def test_unknown_actors_and_unlabelled_clips() -> None:
    clips = [Clip("a", label="An", video=Path("x.mp4")), Clip("b", video=Path("y.mp4"))]
    assert _by_cue(clips)["unknown actors"][0] == "warning"
    assert audit([Clip("b", video=Path("y.mp4"))])[0].cue == "labels"
