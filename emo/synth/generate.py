"""Assemble the demo dataset: plan, per-actor traits, per-recording rendering, files."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from emo.data.layouts.challenge import DESCRIPTORS, SKELETONS, VIDEOS
from emo.data.skeleton import KINECT_FPS
from emo.synth import face, skeleton, voice
from emo.synth.plan import Actor, Recording, plan
from emo.synth.writer import format_kinect, write_descriptor, write_labels, write_video

#: Audio sample rate of the demo videos.
SAMPLE_RATE = 16_000
#: File with the answers of the test takes.
TEST_LABELS = "labels_test.csv"


@dataclass(frozen=True)
class Traits:
    """Everything that stays the same for one actor across recordings."""

    face: face.FaceActor
    voice: voice.VoiceActor
    body: skeleton.BodyActor


@dataclass(frozen=True)
class Segment:
    """Where one take lies in its recording's files."""

    name: str
    label: str
    actor: str
    video: str
    start: float
    end: float
    kinect: str
    kinect_start: int
    kinect_end: int


def actor_traits(actor: Actor, seed: int, size: tuple[int, int], landmarks: np.ndarray,
                 ) -> Traits:
    """Draw an actor's face, voice and body traits from its own seeded generator.

    Parameters
    ----------
    actor
        The actor (its index seeds the traits).
    seed
        Dataset seed.
    size
        Frame (width, height).
    landmarks
        Base-face landmarks.

    Returns
    -------
    Traits
    """
    rngs = [np.random.default_rng([seed, 1, actor.index, k]) for k in range(3)]
    return Traits(face.face_actor(rngs[0], size, landmarks),
                  voice.VoiceActor.draw(rngs[1], actor.female),
                  skeleton.BodyActor.draw(rngs[2], actor.female))


def render_audio(rec: Recording, traits: Traits, n_samples: int, rng: np.random.Generator,
                 ) -> tuple[np.ndarray, list[tuple[float, np.ndarray, np.ndarray]]]:
    """The recording's sound track and the syllables of each take.

    Parameters
    ----------
    rec, traits
        The recording and its actor's traits.
    n_samples
        Length of the track.
    rng
        Random generator.

    Returns
    -------
    audio : numpy.ndarray
        Background noise plus one utterance per take.
    syllables : list of tuple
        Per take ``(utterance start in seconds, onsets, lengths)``.
    """
    audio = voice.background(n_samples, rng)
    spoken = []
    for take in rec.takes:
        style = voice.take_style(take.label, take.intensity, traits.voice, rng)
        start, duration = take.start + 0.05, take.end - take.start - 0.15
        rate = traits.voice.rate * 2.0**style.rate
        onsets, lengths = voice.syllables(duration, rate, rng)
        utterance = voice.render(duration, SAMPLE_RATE, onsets, lengths, traits.voice, style, rng)
        i = int(round(start * SAMPLE_RATE))
        j = min(n_samples, i + utterance.size)
        audio[i:j] += utterance[: j - i]
        spoken.append((start, onsets, lengths))
    return audio, spoken


def render_frames(rec: Recording, traits: Traits, image: np.ndarray, landmarks: np.ndarray,
                  t: np.ndarray, speech: np.ndarray, size: tuple[int, int],
                  rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Yield the recording's video frames.

    Parameters
    ----------
    rec, traits
        The recording and its actor's traits.
    image, landmarks
        The base face.
    t
        Frame times in seconds.
    speech
        Syllable envelope at ``t`` (moves lips and jaw).
    size
        Frame (width, height).
    rng
        Random generator.

    Yields
    ------
    numpy.ndarray
        RGB uint8 frames.
    """
    grid = face.pixel_grid(size)
    fields, window = face.active_window(
        face.au_fields(landmarks, face.output_to_base(traits.face, landmarks) @ grid), size)
    source = face.recolour(image, traits.face)
    aus = face.activations(t, rec.takes, traits.face, speech, rng)
    head = face.head_motion(t, rng)
    for i in range(t.size):
        to_base = face.output_to_base(traits.face, landmarks, head[i])
        yield face.warp_frame(source, grid, to_base, fields, window, aus[i], size)


def render_kinect(rec: Recording, traits: Traits, rng: np.random.Generator,
                  ) -> tuple[str, np.ndarray]:
    """The recording's Kinect file.

    Parameters
    ----------
    rec
        The recording.
    traits
        Its actor's traits.
    rng
        Random generator.

    Returns
    -------
    text : str
        The file's content (30 fps with jitter and rare dropped frames, starting at an
        arbitrary time; the body stands at a random place and angle in the room).
    times : numpy.ndarray
        Video time (seconds) of each row.
    """
    kt = skeleton.kinect_times(rec.kinect_lead + rec.duration + rec.kinect_tail, rng, KINECT_FPS)
    tv = kt - rec.kinect_lead
    pose = skeleton.pose_track(tv, rec.takes, traits.body, rng)
    joints = skeleton.forward_kinematics(pose, traits.body.segments)
    joints = skeleton.place(joints, rng.uniform(-0.4, 0.4), rng.uniform(2.0, 3.0),
                            rng.uniform(0.7, 1.1), rng.normal(0.0, 0.15))
    joints += rng.normal(0.0, 0.004, joints.shape)
    times_ms = rng.uniform(1_000, 600_000) + 1000.0 * kt
    text = format_kinect(times_ms, int(rng.integers(0, 6)), joints,
                         skeleton.joint_rotations(joints))
    return text, tv


def render_recording(rec: Recording, traits: Traits, image: np.ndarray, landmarks: np.ndarray,
                     out: Path, fps: float, size: tuple[int, int]) -> list[Segment]:
    """Write one recording's video and Kinect file.

    Parameters
    ----------
    rec
        The recording plan.
    traits
        Its actor's traits.
    image, landmarks
        The base face (see :func:`emo.synth.face.base_face`).
    out
        Dataset folder.
    fps
        Video frame rate.
    size
        Frame (width, height).

    Returns
    -------
    list of Segment
        Where each take lies in the files.
    """
    rng_face, rng_voice, rng_body = (np.random.default_rng([*rec.seed, k]) for k in range(3))
    n_frames = int(round(rec.duration * fps))
    t = np.arange(n_frames) / fps
    audio, spoken = render_audio(rec, traits, int(round(n_frames / fps * SAMPLE_RATE)), rng_voice)
    speech = np.zeros(n_frames)
    for start, onsets, lengths in spoken:
        speech = np.maximum(speech, voice.syllable_envelope(t - start, onsets, lengths))
    frames = render_frames(rec, traits, image, landmarks, t, speech, size, rng_face)
    write_video(out / VIDEOS / rec.video, frames, audio, fps, SAMPLE_RATE)
    text, tv = render_kinect(rec, traits, rng_body)
    (out / SKELETONS / rec.kinect).write_text(text, encoding="utf-8")
    return [
        Segment(take.name, take.label, rec.actor.id, rec.video, take.start, take.end,
                rec.kinect, int(np.abs(tv - take.start).argmin()),
                int(np.abs(tv - take.end).argmin()))
        for take in rec.takes
    ]


def _check(actors: int, takes: int, test_actors: int, fps: float, size: tuple[int, int],
           workers: int | None) -> None:
    for name, value, low in (("actors", actors, 1), ("takes", takes, 1),
                             ("test_actors", test_actors, 0)):
        if not isinstance(value, int | np.integer) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if not 1.0 <= fps <= 120.0:
        raise ValueError(f"fps must lie in [1, 120], got {fps!r}")
    if (not isinstance(size, tuple | list) or len(size) != 2
            or any(int(s) != s or s < 64 or s > 2048 or s % 2 for s in size)):
        raise ValueError(f"size must be (width, height), even integers in [64, 2048], got {size!r}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")


def _prepare(out: Path, overwrite: bool) -> None:
    parts = [out / DESCRIPTORS, out / VIDEOS, out / SKELETONS, out / TEST_LABELS]
    if any(p.exists() for p in parts):
        if not overwrite:
            raise ValueError(f"out {out} already holds a dataset; pass overwrite=True")
        for p in parts:
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    for p in parts[:3]:
        p.mkdir(parents=True)


@contextmanager
def _progress(show: bool, total: int) -> Iterator[Callable[[], None]]:
    """A callable that advances a rich progress bar (or does nothing)."""
    if not show:
        yield lambda: None
        return
    from rich.progress import Progress

    with Progress() as bar:
        task = bar.add_task("synthesising recordings", total=total)
        yield lambda: bar.advance(task)


def synthesise(out: str | Path, *, actors: int = 6, takes: int = 3, test_actors: int = 1,
               seed: int = 0, fps: float = 15.0, size: tuple[int, int] = (256, 256),
               progress: bool = False, workers: int | None = None,
               overwrite: bool = False) -> Path:
    """Write a synthetic multimodal emotion dataset in the FG-2020 challenge layout.

    Every actor acts the seven emotions (``An Di Fe Ha Ne Sa Su``), ``takes`` times each,
    with learnable face (action-unit warps of one photograph), voice (source-filter
    synthesis) and body (Kinect v2 skeleton) signal, actor-to-actor variation and noise.

    1. ``out/descriptors/frames_<actor>_<class><take>.txt`` for the labelled actors
       and ``frames_TEST<n>.txt`` (shuffled numbers) for the test actors;
    2. ``out/videos/<opaque>.MP4``: one H.264 + mono AAC file per (actor, emotion),
       all takes one after another with short neutral gaps;
    3. ``out/motion capture/<opaque>.txt``: the matching 30 fps Kinect v2 skeleton file;
    4. ``out/labels_test.csv`` (``id,label,actor``): answers of the test takes.

    Parameters
    ----------
    out
        Dataset folder (created).
    actors
        Actors with labelled takes (ids ``F1, M1, F2, ...``).
    takes
        Takes per actor and emotion.
    test_actors
        Further actors whose takes are written as unlabelled test descriptors.
    seed
        Random seed; the same seed gives the same data.
    fps
        Video frame rate.
    size
        Frame (width, height) in pixels, even numbers.
    progress
        Show a progress bar.
    workers
        Processes rendering recordings in parallel (default: the available cores).
    overwrite
        Replace the dataset parts of an existing ``out`` (otherwise that is an error).

    Returns
    -------
    pathlib.Path
        ``out``.

    Raises
    ------
    ValueError
        For a bad argument (naming it) or an ``out`` that already holds a dataset.
    """
    _check(actors, takes, test_actors, fps, size, workers)
    out = Path(out)
    size = (int(size[0]), int(size[1]))
    _prepare(out, overwrite)
    recordings = plan(actors, takes, test_actors, seed)
    image, landmarks = face.base_face()
    cast = {rec.actor.id: rec.actor for rec in recordings}
    traits = {a: actor_traits(actor, seed, size, landmarks) for a, actor in cast.items()}
    n_workers = min(workers or len(os.sched_getaffinity(0)), len(recordings))
    segments: list[Segment] = []
    # joblib's loky workers are fresh processes (not forks of this one, which may run
    # MediaPipe's threads by now: a fork taken while one of them holds a lock hangs), and
    # unlike multiprocessing's spawn they do not re-run the caller's script
    jobs = Parallel(n_jobs=n_workers, return_as="generator_unordered")(
        delayed(render_recording)(rec, traits[rec.actor.id], image, landmarks, out, fps, size)
        for rec in recordings)
    with _progress(progress, len(recordings)) as advance:
        for recording in jobs:
            segments += recording
            advance()
    tests = []
    for s in segments:
        write_descriptor(out / DESCRIPTORS / f"{s.name}.txt", s.video, s.start, s.end, fps,
                         s.kinect, s.kinect_start, s.kinect_end)
        if s.name.startswith("frames_TEST"):
            tests.append((s.name, s.label, s.actor))
    write_labels(out / TEST_LABELS, tests)
    return out
