"""Synthetic talking faces: one photograph animated by smooth, landmark-anchored warps.

The base image is ``skimage.data.astronaut()`` (public domain). MediaPipe Face Mesh
finds its 478 landmarks once; every action unit (AU) below is then a displacement field,
a sum of Gaussian radial basis functions centred on a landmark group, optionally gated
so that it only moves what lies below a line (the jaw below the lips). A frame is the
base image warped by the weighted sum of AU fields (``cv2.remap``), seen through a
per-actor similarity transform (scale, position, in-plane rotation, aspect) with small
head motion, and recoloured per actor.

All functions are pure array functions except :func:`base_face`, which runs MediaPipe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from emo._native import model_path, native_logs_captured
from emo.synth.plan import Take
from emo.synth.timeline import envelope, smooth_noise

#: Action units that the warps implement, in the column order of activation arrays.
AUS: tuple[str, ...] = (
    "AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU10",
    "AU12", "AU15", "AU20", "AU23", "AU25", "AU26", "AU45",
)


@dataclass(frozen=True)
class Component:
    """One Gaussian displacement group of an action unit.

    Attributes
    ----------
    landmarks
        MediaPipe Face Mesh indices of the centres.
    outward, down
        Displacement at unit activation, in face widths; ``outward`` points away from
        the face's vertical midline (mirrored left/right), ``down`` points down.
    sigma
        Width of each Gaussian, in face widths.
    gate
        Pair of landmark indices; when given, the field only acts below the midpoint
        of the two (a soft step), so that lips and jaw open without dragging the upper lip.
    """

    landmarks: tuple[int, ...]
    outward: float
    down: float
    sigma: float
    gate: tuple[int, int] | None = None


_INNER_BROW = (55, 107, 65, 285, 336, 295)
_OUTER_BROW = (70, 46, 63, 300, 276, 293)
_UPPER_LID = (159, 158, 160, 386, 385, 387)
_LOWER_LID = (145, 144, 153, 374, 373, 380)
_CORNERS = (61, 291)
_LIP_GATE = (13, 14)

#: The displacement recipe of each action unit (FACS-like appearance changes).
AU_COMPONENTS: dict[str, tuple[Component, ...]] = {
    "AU1": (Component(_INNER_BROW, 0.0, -0.07, 0.09),),
    "AU2": (Component(_OUTER_BROW, 0.0, -0.07, 0.09),),
    "AU4": (Component(_INNER_BROW + (105, 334), -0.035, 0.05, 0.08),),
    "AU5": (Component(_UPPER_LID, 0.0, -0.028, 0.045),),
    "AU6": (Component((50, 280, 118, 347, 101, 330), 0.0, -0.05, 0.09),
            Component(_LOWER_LID, 0.0, -0.015, 0.04)),
    "AU7": (Component(_LOWER_LID, 0.0, -0.025, 0.04),),
    "AU9": (Component((48, 278, 98, 327, 129, 358), 0.0, -0.04, 0.07),
            Component((55, 285), 0.0, 0.02, 0.06)),
    "AU10": (Component((0, 37, 267, 40, 270), 0.0, -0.04, 0.06),),
    "AU12": (Component(_CORNERS, 0.05, -0.06, 0.08),),
    "AU15": (Component(_CORNERS, 0.0, 0.055, 0.08),),
    "AU20": (Component(_CORNERS, 0.07, 0.01, 0.08),),
    "AU23": (Component(_CORNERS, -0.04, 0.0, 0.07),),
    "AU25": (Component((14, 17, 84, 314), 0.0, 0.03, 0.06, _LIP_GATE),),
    "AU26": (Component((152, 148, 377, 176, 400, 17, 14), 0.0, 0.08, 0.16, _LIP_GATE),),
    "AU45": (Component(_UPPER_LID, 0.0, 0.035, 0.045),),
}

#: Prototypical AU pattern of each emotion (EMFACS-inspired), AU name -> weight.
EMOTION_AUS: dict[str, dict[str, float]] = {
    "An": {"AU4": 1.0, "AU5": 0.5, "AU7": 0.8, "AU23": 0.9},
    "Di": {"AU9": 1.0, "AU10": 0.9, "AU15": 0.5, "AU4": 0.3},
    "Fe": {"AU1": 0.9, "AU2": 0.6, "AU4": 0.6, "AU5": 0.9, "AU20": 1.0, "AU26": 0.5},
    "Ha": {"AU6": 0.9, "AU12": 1.0, "AU25": 0.3},
    "Ne": {},
    "Sa": {"AU1": 0.8, "AU4": 0.6, "AU15": 0.9},
    "Su": {"AU1": 1.0, "AU2": 1.0, "AU5": 0.9, "AU26": 0.9},
}


@dataclass(frozen=True)
class FaceActor:
    """Per-actor appearance and expressive style.

    Attributes
    ----------
    scale
        Output pixels per base-image pixel.
    angle
        In-plane head rotation in radians.
    aspect
        Horizontal stretch of the face (face shape).
    centre
        Output position (x, y) of the face centre.
    gain, offset, gamma
        Colour: ``(base ** gamma) * gain + offset`` per RGB channel (values 0-1).
    baseline
        Resting AU activations (face shape at rest), one per :data:`AUS`.
    style
        Per-AU multipliers of the emotion patterns (individual ways of showing them).
    expressivity
        Global multiplier of emotional expression.
    blink_rate
        Blinks per second.
    """

    scale: float
    angle: float
    aspect: float
    centre: tuple[float, float]
    gain: tuple[float, float, float]
    offset: float
    gamma: float
    baseline: np.ndarray
    style: np.ndarray
    expressivity: float
    blink_rate: float


@lru_cache(maxsize=1)
def base_face() -> tuple[np.ndarray, np.ndarray]:
    """The base photograph and its Face Landmarker landmarks.

    Returns
    -------
    image : numpy.ndarray
        ``skimage.data.astronaut()``, RGB uint8, 512 x 512.
    landmarks : numpy.ndarray
        (478, 2) landmark positions in pixels (x, y), found once by the MediaPipe Face
        Landmarker shipped with emo (IMAGE mode).

    Raises
    ------
    RuntimeError
        If MediaPipe finds no face (it always does on this image).
    """
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision
    from skimage import data

    image = np.ascontiguousarray(data.astronaut())
    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model_path("face_landmarker.task"))),
        running_mode=vision.RunningMode.IMAGE, num_faces=1)
    with native_logs_captured(), vision.FaceLandmarker.create_from_options(options) as marker:
        result = marker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=image))
    if not result.face_landmarks:
        raise RuntimeError("MediaPipe found no face in the base image")
    h, w = image.shape[:2]
    landmarks = np.array([[p.x * w, p.y * h] for p in result.face_landmarks[0]],
                         dtype=np.float64)
    return image, landmarks


def face_width(landmarks: np.ndarray) -> float:
    """Face width in pixels: distance between the cheek contour points 234 and 454."""
    return float(np.linalg.norm(landmarks[454] - landmarks[234]))


def face_actor(rng: np.random.Generator, size: tuple[int, int], landmarks: np.ndarray,
               ) -> FaceActor:
    """Draw one actor's appearance and expressive style.

    Parameters
    ----------
    rng
        Random generator.
    size
        Output frame (width, height).
    landmarks
        Base landmarks, to size the face in the frame.

    Returns
    -------
    FaceActor
    """
    w, h = size
    k = len(AUS)
    baseline = rng.normal(0.0, 0.22, k) * (rng.random(k) < 0.6)
    baseline[AUS.index("AU45")] = 0.0
    return FaceActor(
        scale=0.42 * min(w, h) / face_width(landmarks) * rng.uniform(0.85, 1.15),
        angle=float(np.deg2rad(rng.normal(0.0, 5.0))),
        aspect=float(rng.uniform(0.92, 1.08)),
        centre=(w / 2 + rng.normal(0, 0.05 * w), h * 0.5 + rng.normal(0, 0.05 * h)),
        gain=tuple(float(g) for g in rng.uniform(0.75, 1.15, 3)),
        offset=float(rng.uniform(-0.05, 0.08)),
        gamma=float(rng.uniform(0.8, 1.25)),
        baseline=baseline,
        style=np.exp(rng.normal(0.0, 0.4, k)),
        expressivity=float(rng.uniform(0.45, 1.25)),
        blink_rate=float(rng.uniform(0.15, 0.5)),
    )


def recolour(image: np.ndarray, actor: FaceActor) -> np.ndarray:
    """Apply the actor's colour, brightness and gamma to an RGB uint8 image."""
    x = (image.astype(np.float32) / 255.0) ** actor.gamma
    x = x * np.asarray(actor.gain, dtype=np.float32) + actor.offset
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def output_to_base(actor: FaceActor, landmarks: np.ndarray, head: np.ndarray | None = None,
                   ) -> np.ndarray:
    """The affine map from output pixels to base-image pixels.

    Parameters
    ----------
    actor
        Sets scale, rotation, aspect and position of the face.
    landmarks
        Base landmarks (their mean is the face centre).
    head
        Optional small head motion ``(d_angle rad, dx px, dy px, d_log_scale)``.

    Returns
    -------
    numpy.ndarray
        (2, 3) matrix ``M`` with ``base = M @ [x, y, 1]``.
    """
    da, dx, dy, ds = (0.0, 0.0, 0.0, 0.0) if head is None else head
    a = actor.angle + da
    c, si = np.cos(a), np.sin(a)
    # inverse of scale * rotation(a) * diag(aspect, 1)
    inverse = np.array([[c / actor.aspect, si / actor.aspect], [-si, c]])
    inverse /= actor.scale * np.exp(ds)
    centre = np.asarray(actor.centre) + (dx, dy)
    shift = landmarks.mean(axis=0) - inverse @ centre
    return np.hstack([inverse, shift[:, None]])


def pixel_grid(size: tuple[int, int]) -> np.ndarray:
    """Homogeneous output pixel coordinates, shape (3, height * width)."""
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([xs.ravel(), ys.ravel(), np.ones(w * h, np.float32)])


def au_fields(landmarks: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Displacement fields of all action units at given base-image points.

    Parameters
    ----------
    landmarks
        (478, 2) base landmarks.
    points
        (2, n) base-image positions where the fields are evaluated.

    Returns
    -------
    numpy.ndarray
        (len(AUS), 2 * n) float32: per AU the x displacements then the y displacements
        (base pixels) at unit activation.
    """
    width = face_width(landmarks)
    mid_x = landmarks[:, 0].mean()
    x, y = points
    fields = np.zeros((len(AUS), 2, x.size), dtype=np.float64)
    for k, au in enumerate(AUS):
        for comp in AU_COMPONENTS[au]:
            part = np.zeros((2, x.size))
            for i in comp.landmarks:
                cx, cy = landmarks[i]
                g = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * (comp.sigma * width) ** 2))
                part[0] += np.sign(cx - mid_x) * comp.outward * width * g
                part[1] += comp.down * width * g
            part /= max(1.0, _overlap(landmarks[list(comp.landmarks)], comp.sigma * width))
            if comp.gate is not None:
                line = landmarks[list(comp.gate), 1].mean()
                part *= 1.0 / (1.0 + np.exp(-(y - line) / (0.012 * width)))
            fields[k] += part
    return fields.reshape(len(AUS), -1).astype(np.float32)


def _overlap(centres: np.ndarray, sigma: float) -> float:
    """Largest sum of Gaussians at a centre, to keep overlapping groups at nominal size."""
    d2 = ((centres[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    return float(np.exp(-d2 / (2 * sigma**2)).sum(1).max())


def active_window(fields: np.ndarray, size: tuple[int, int], tol: float = 0.01,
                  ) -> tuple[np.ndarray, tuple[slice, slice]]:
    """Crop AU fields to the rectangle where any of them moves a pixel by more than ``tol``.

    Parameters
    ----------
    fields
        (len(AUS), 2 * height * width) fields from :func:`au_fields` on the output grid.
    size
        Output (width, height).
    tol
        Displacement (pixels) below which a field counts as zero.

    Returns
    -------
    fields : numpy.ndarray
        (len(AUS), 2 * n) fields inside the window (x block then y block).
    window : tuple of slice
        Rows and columns of the window.
    """
    w, h = size
    grid = fields.reshape(len(fields), 2, h, w)
    rows, cols = np.nonzero((np.abs(grid) > tol).any(axis=(0, 1)))
    if rows.size == 0:
        rows, cols = np.array([0]), np.array([0])
    window = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    return np.ascontiguousarray(grid[:, :, window[0], window[1]].reshape(len(fields), -1)), window


def warp_frame(source: np.ndarray, grid: np.ndarray, to_base: np.ndarray, fields: np.ndarray,
               window: tuple[slice, slice], activations: np.ndarray, size: tuple[int, int],
               ) -> np.ndarray:
    """Render one frame.

    Parameters
    ----------
    source
        Recoloured base image, RGB uint8.
    grid
        Output pixel grid from :func:`pixel_grid`.
    to_base
        (2, 3) output-to-base map of this frame (:func:`output_to_base`).
    fields, window
        AU fields inside a window of the output frame (:func:`active_window`).
    activations
        (len(AUS),) AU activations of this frame.
    size
        Output (width, height).

    Returns
    -------
    numpy.ndarray
        RGB uint8 frame (height, width, 3).
    """
    w, h = size
    maps = (to_base.astype(np.float32) @ grid).reshape(2, h, w)
    rows, cols = window
    shape = (2, rows.stop - rows.start, cols.stop - cols.start)
    maps[:, rows, cols] -= (activations.astype(np.float32) @ fields).reshape(shape)
    return cv2.remap(source, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def blinks(t: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Eye-blink activation: brief (about 0.2 s) closings at random times (Poisson)."""
    duration = float(t[-1] - t[0]) if t.size else 0.0
    times = rng.uniform(t[0], t[-1], rng.poisson(rate * duration)) if t.size else []
    out = np.zeros_like(t)
    for c in times:
        out = np.maximum(out, np.clip(1.0 - np.abs(t - c) / 0.1, 0.0, 1.0))
    return out


def emotion_pattern(label: str, actor: FaceActor, rng: np.random.Generator) -> np.ndarray:
    """AU weights of one take: the emotion prototype, the actor's style and take noise.

    A couple of unrelated AUs are mixed in at low weight, as actors rarely pose clean
    prototypes.
    """
    pattern = np.array([EMOTION_AUS[label].get(au, 0.0) for au in AUS])
    pattern *= actor.style * np.exp(rng.normal(0.0, 0.4, len(AUS)))
    stray = rng.choice(len(AUS) - 1, size=2, replace=False)
    pattern[stray] += rng.uniform(0.0, 0.6, 2)
    return pattern


def activations(t: np.ndarray, takes: Sequence[Take], actor: FaceActor, speech: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """AU activations of a whole recording, frame by frame.

    Parameters
    ----------
    t
        Frame times in seconds.
    takes
        The recording's takes (their emotion, timing and intensity).
    actor
        The actor (resting face, style, expressivity, blink rate).
    speech
        Syllable envelope at ``t`` (0-1), which opens lips and jaw while talking.
    rng
        Random generator.

    Returns
    -------
    numpy.ndarray
        (len(t), len(AUS)), clipped to [-0.6, 1.6] to keep the warps plausible.
    """
    out = np.tile(actor.baseline, (t.size, 1))
    out += 0.08 * smooth_noise(t, rng, len(AUS), max_hz=1.5)
    for take in takes:
        weight = envelope(t, take) * take.intensity * actor.expressivity
        out += weight[:, None] * emotion_pattern(take.label, actor, rng)[None, :]
    out[:, AUS.index("AU25")] += 0.35 * speech
    out[:, AUS.index("AU26")] += 0.3 * speech
    out[:, AUS.index("AU45")] += blinks(t, actor.blink_rate, rng)
    return np.clip(out, -0.6, 1.6)


def head_motion(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Small head motion per frame: (d_angle rad, dx px, dy px, d_log_scale), shape (T, 4)."""
    return smooth_noise(t, rng, 4) * np.array([0.025, 2.0, 2.0, 0.015])
