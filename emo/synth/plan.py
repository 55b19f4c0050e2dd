"""The plan of a demo dataset: actors, recordings, takes, their timing and opaque file names.

Everything here is pure bookkeeping drawn from a seeded generator; no signal and no I/O.
A *recording* is one (actor, emotion) session, stored as one video and one Kinect file
holding all takes of that emotion one after another, with short neutral gaps between them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emo.data.labels import CLASSES

#: Seconds of neutral behaviour before the first take of a recording.
LEAD_IN = (0.5, 1.0)
#: Seconds of one take.
TAKE_SECONDS = (2.0, 3.0)
#: Seconds of neutral behaviour between two takes.
GAP_SECONDS = (0.3, 0.6)
#: Seconds after the last take.
TAIL_SECONDS = (0.3, 0.6)
#: Seconds the Kinect recording starts before the video, and ends after it.
KINECT_MARGIN = (0.5, 2.5)


@dataclass(frozen=True)
class BySex:
    """The range of an actor trait that depends on the sex (voice register, body size).

    Attributes
    ----------
    female, male
        ``(low, high)`` bounds of the trait for a female and for a male actor.

    Examples
    --------
    >>> height = BySex(female=(1.55, 1.75), male=(1.68, 1.90))
    >>> 1.68 <= height.draw(np.random.default_rng(0), female=False) <= 1.90
    True
    """

    female: tuple[float, float]
    male: tuple[float, float]

    def draw(self, rng: np.random.Generator, female: bool) -> float:
        """One actor's value: uniform between the bounds of its sex (``female`` or male)."""
        low, high = self.female if female else self.male
        return float(rng.uniform(low, high))


@dataclass(frozen=True)
class Actor:
    """One simulated actor.

    Attributes
    ----------
    id, female
        ``F1``, ``M1``, ``F2``... (alternating female / male), and the sex, which sets the
        voice register and the body size.
    test
        Whether the actor's takes are written as unlabelled ``frames_TEST<n>``.
    index
        Position in the cast, used to seed the actor's traits.
    """

    id: str
    female: bool
    test: bool
    index: int


def cast(actors: int, test_actors: int) -> list[Actor]:
    """Name the actors: alternating ``F``/``M`` with a running number per sex.

    Parameters
    ----------
    actors
        Number of actors with labelled takes.
    test_actors
        Number of further actors whose takes are test takes.

    Returns
    -------
    list of Actor

    Examples
    --------
    >>> [a.id for a in cast(3, 1)]
    ['F1', 'M1', 'F2', 'M2']
    """
    out = []
    for i in range(actors + test_actors):
        female = i % 2 == 0
        out.append(Actor(f"{'F' if female else 'M'}{i // 2 + 1}", female, i >= actors, i))
    return out


@dataclass(frozen=True)
class Take:
    """One take inside a recording, on the video time line (seconds).

    Attributes
    ----------
    name
        Descriptor stem, ``frames_F1_An2`` or ``frames_TEST7``.
    label
        Emotion code.
    number
        Take number within the recording, from 1.
    start, end
        Bounds of the take.
    onset, apex, release
        The expression rises from ``onset`` to ``apex``, holds until ``release`` and
        fades back by ``end``.
    intensity
        How strongly the take is acted (about 0.5-1.3), shared by all modalities.
    """

    name: str
    label: str
    number: int
    start: float
    end: float
    onset: float
    apex: float
    release: float
    intensity: float


@dataclass(frozen=True)
class Recording:
    """One (actor, emotion) session: one video file and one Kinect file.

    Attributes
    ----------
    actor
        Who acts.
    label
        Emotion of every take.
    takes
        The takes in time order.
    duration
        Length of the video in seconds.
    video, kinect
        Opaque file names.
    kinect_lead, kinect_tail
        Seconds the Kinect recording starts before and ends after the video.
    seed
        Entropy for the recording's own random generator.
    """

    actor: Actor
    label: str
    takes: tuple[Take, ...]
    duration: float
    video: str
    kinect: str
    kinect_lead: float
    kinect_tail: float
    seed: tuple[int, ...]


def expression_times(start: float, end: float, rng: np.random.Generator) -> tuple[float, ...]:
    """Draw onset, apex and release times of an expression inside a take.

    Parameters
    ----------
    start, end
        Bounds of the take in seconds.
    rng
        Random generator.

    Returns
    -------
    tuple of float
        ``(onset, apex, release)`` with ``start <= onset < apex < release < end``.
    """
    span = end - start
    onset = start + span * rng.uniform(0.03, 0.15)
    apex = onset + span * rng.uniform(0.12, 0.25)
    release = end - span * rng.uniform(0.12, 0.25)
    return onset, apex, max(release, apex + 0.1 * span)


def _opaque_names(n: int, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """Video names like ``927_0216_01.MP4`` and Kinect names like ``20170902_092359_00.txt``.

    Numbers and clock times grow in session order, which is shuffled by the caller.
    """
    prefix = rng.integers(100, 1000)
    clip = np.cumsum(rng.integers(1, 40, size=n)) + rng.integers(0, 5000)
    day = rng.integers(1, 29)
    month = rng.integers(1, 13)
    clock = np.cumsum(rng.integers(60, 900, size=n)) + rng.integers(8 * 3600, 12 * 3600)
    videos = [f"{prefix}_{c:04d}_01.MP4" for c in clip]
    kinects = [
        f"2017{month:02d}{day:02d}_{s // 3600:02d}{s // 60 % 60:02d}{s % 60:02d}_00.txt"
        for s in clock
    ]
    return videos, kinects


def plan(
    actors: int, takes: int, test_actors: int, seed: int
) -> list[Recording]:
    """Plan the whole dataset.

    Parameters
    ----------
    actors
        Actors with labelled takes.
    takes
        Takes per (actor, emotion).
    test_actors
        Actors whose takes become ``frames_TEST<n>`` (numbered in shuffled order).
    seed
        Seed of the plan.

    Returns
    -------
    list of Recording
        One per (actor, emotion), actors in cast order, emotions in session order.
    """
    rng = np.random.default_rng([seed, 0])
    recordings: list[Recording] = []
    cast_list = cast(actors, test_actors)
    n_test = test_actors * len(CLASSES) * takes
    test_numbers = iter(rng.permutation(n_test) + 1)
    for actor in cast_list:
        order = rng.permutation(len(CLASSES))
        videos, kinects = _opaque_names(len(CLASSES), rng)
        for session, k in enumerate(order):
            label = CLASSES[k]
            t = rng.uniform(*LEAD_IN)
            take_list = []
            for number in range(1, takes + 1):
                if number > 1:
                    t += rng.uniform(*GAP_SECONDS)
                start, end = t, t + rng.uniform(*TAKE_SECONDS)
                name = (f"frames_TEST{next(test_numbers)}" if actor.test
                        else f"frames_{actor.id}_{label}{number}")
                take_list.append(Take(name, label, number, start, end,
                                      *expression_times(start, end, rng),
                                      intensity=float(rng.uniform(0.35, 1.25))))
                t = end
            recordings.append(Recording(
                actor=actor, label=label, takes=tuple(take_list),
                duration=t + rng.uniform(*TAIL_SECONDS),
                video=videos[session], kinect=kinects[session],
                kinect_lead=float(rng.uniform(*KINECT_MARGIN)),
                kinect_tail=float(rng.uniform(*KINECT_MARGIN)),
                seed=(seed, 2, len(recordings)),
            ))
    return recordings
