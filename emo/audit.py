"""Leakage audit: how much the recording set-up alone would tell about the labels.

In the FG-2020 database every video and Kinect file holds one emotion (all takes of it)
and sessions follow a fixed emotion order, so recording names, their order within an
actor's session and the time of a take inside its recording all predict the label.
None of these may become a feature or a normalisation group smaller than an actor's
session. :func:`audit` measures how well each such cue predicts the labels by itself
(leave-one-actor-out, nearest neighbour) and warns when it is far above chance.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from emo.data.clip import Clip


@dataclass(frozen=True)
class Finding:
    """One audit result.

    Attributes
    ----------
    level
        ``"warning"`` (a real risk) or ``"info"``.
    cue
        What was measured.
    score
        The measure (e.g. leave-one-actor-out accuracy of the cue alone), or NaN.
    message
        What it means, in one or two sentences.
    """

    level: str
    cue: str
    score: float
    message: str


def _loao_accuracy(values: np.ndarray, labels: np.ndarray, actors: np.ndarray) -> float:
    """Leave-one-actor-out 1-nearest-neighbour accuracy of a scalar cue."""
    hits = 0
    for actor in np.unique(actors):
        test, train = actors == actor, actors != actor
        if not train.any():
            return float("nan")
        nearest = np.abs(values[test][:, None] - values[train][None, :]).argmin(axis=1)
        hits += int((labels[train][nearest] == labels[test]).sum())
    return hits / len(labels)


def _level(accuracy: float, chance: float, n: int, threshold: float) -> str:
    """``warning`` when accuracy beats both ``threshold`` x chance and chance + 3 standard
    errors (n independent items), else ``info``."""
    noise = 3 * np.sqrt(chance * (1 - chance) / max(n, 1))
    return "warning" if accuracy > max(threshold * chance, chance + noise) else "info"


def _ranks_within(clips: Sequence[Clip], key: Callable[[Clip], str | None]) -> np.ndarray:
    """Rank (0..1) of each clip's recording among its actor's recordings, by name."""
    by_actor: dict[str, set[str]] = defaultdict(set)
    for c in clips:
        by_actor[c.group].add(key(c) or "")
    order = {a: {name: i / max(len(names) - 1, 1) for i, name in enumerate(sorted(names))}
             for a, names in by_actor.items()}
    return np.array([order[c.group][key(c) or ""] for c in clips])


def audit(clips: Sequence[Clip], *, threshold: float = 1.5) -> list[Finding]:
    """Measure leakage risks of a labelled dataset.

    Parameters
    ----------
    clips
        The clips (unlabelled ones are ignored).
    threshold
        Warn when a cue's accuracy exceeds ``threshold`` x chance and chance plus three
        standard errors.

    Returns
    -------
    list of Finding

    Examples
    --------
    >>> from pathlib import Path
    >>> from emo.data.labels import CLASSES
    >>> clips = [Clip(f"{a}{e}{t}", actor=a, label=e, video=Path(f"{a}_{i}.mp4"), start=t)
    ...          for a in "ABCDEF" for i, e in enumerate(CLASSES) for t in (1.0, 2.0)]
    >>> [f.cue for f in audit(clips) if f.level == "warning"]
    ['single-emotion recordings', 'recording order in session']
    """
    labelled = [c for c in clips if c.label]
    findings: list[Finding] = []
    if not labelled:
        return [Finding("info", "labels", float("nan"), "no labelled clip: nothing to audit")]
    labels = np.array([c.label for c in labelled])
    actors = np.array([c.group for c in labelled])
    chance = max(Counter(labels.tolist()).values()) / len(labels)
    for kind, key in (("video", lambda c: c.video), ("skeleton", lambda c: c.skeleton)):
        names = [None if key(c) is None else key(c).name for c in labelled]
        if all(n is None for n in names):
            continue
        per_recording: dict[str, set[str]] = defaultdict(set)
        for name, label in zip(names, labels, strict=True):
            if name is not None:
                per_recording[name].add(label)
        pure = sum(len(v) == 1 for v in per_recording.values()) / len(per_recording)
        shared = sum(1 for n in names if n is not None) > len(per_recording)
        if shared and pure > 0.9:
            findings.append(Finding(
                "warning", "single-emotion recordings", pure,
                f"{pure:.0%} of {len(per_recording)} {kind} files hold one emotion only: the "
                f"{kind} name, its clips' other takes and any per-recording normalisation "
                "would reveal the label. Group and normalise by actor only."))
        ranks = _ranks_within(labelled, lambda c, key=key: None if key(c) is None else key(
            c).name)
        accuracy = _loao_accuracy(ranks, labels, actors)
        level = _level(accuracy, chance, len(per_recording), threshold)
        findings.append(Finding(
            level, "recording order in session", accuracy,
            f"the rank of the {kind} file name within an actor's session predicts the label "
            f"with {accuracy:.0%} accuracy across actors (chance {chance:.0%}); never use file "
            "names, numbers or order as features."))
        break
    starts = np.array([np.nan if c.start is None else c.start for c in labelled])
    if np.isfinite(starts).all():
        accuracy = _loao_accuracy(starts, labels, actors)
        level = _level(accuracy, chance, len(labelled), threshold)
        findings.append(Finding(
            level, "segment start time", accuracy,
            f"the start time of a take predicts the label with {accuracy:.0%} accuracy across "
            f"actors (chance {chance:.0%}); timestamps must not be features."))
    unknown = sum(1 for c in labelled if not c.actor)
    if unknown:
        findings.append(Finding(
            "warning", "unknown actors", unknown / len(labelled),
            f"{unknown} labelled clip(s) have no actor: each forms its own CV group and "
            "per-actor normalisation of them is per clip."))
    sizes = Counter(actors.tolist())
    single = [a for a in sizes if len(set(labels[actors == a])) == 1]
    if single:
        findings.append(Finding(
            "warning", "single-class actors", len(single) / len(sizes),
            f"{len(single)} actor(s) have clips of one class only (e.g. {single[0]}): per-actor "
            "normalisation would then encode the label."))
    findings.append(Finding("info", "actors", float(len(sizes)),
                            f"{len(sizes)} actors, {len(labelled)} labelled clips, "
                            f"{len(set(labels))} classes; chance (majority) {chance:.0%}."))
    return findings
