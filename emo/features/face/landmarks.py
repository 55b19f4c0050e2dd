"""MediaPipe Face Landmarker: frames in, 3-D landmarks in pixel units and blendshapes out.

The Face Landmarker of MediaPipe Tasks (``emo/assets/face_landmarker.task``, shipped with
emo: nothing is downloaded) gives 478 landmarks (Face Mesh v2 with irises) and 52
blendshape scores (:data:`BLENDSHAPES`) per face. Every span of frames (a clip, or
overlapping windows) gets a new landmarker in VIDEO mode (:class:`FaceTracker`,
:func:`track_landmarks`), so tracking never crosses clips and results do not depend on
batch order or on the number of workers. Still images go through IMAGE mode after an
upscale of small images (:func:`image_landmarks`), which lets it find the 48 x 48 faces of
CK+48. When several faces are found the largest (landmark bounding box area) is kept.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import numpy as np

from emo.features.frames import TaskTracker, task_options, track

__all__ = ["BLENDSHAPES", "N_LANDMARKS", "STATIC_MIN_SIDE", "FaceTracker", "image_landmarks",
           "new_face_landmarker", "split", "track_landmarks", "upscale"]

#: Still images whose shorter side is below this are upscaled (bicubic) to it.
STATIC_MIN_SIDE = 256
#: Points per face (Face Mesh v2 with irises).
N_LANDMARKS = 478
#: The Face Landmarker's blendshape categories, in its output order.
BLENDSHAPES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
    "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft",
    "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight",
    "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft",
    "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen",
    "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower",
    "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight",
    "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight",
)


def new_face_landmarker(*, static: bool, max_faces: int = 1, blendshapes: bool = True) -> Any:
    """A new MediaPipe Face Landmarker on the shipped model (close it after use).

    Parameters
    ----------
    static
        IMAGE mode (stills: detection in every image) instead of VIDEO mode (tracking).
    max_faces
        Faces found at once; more than one costs a face detection on every frame in which
        fewer are visible.
    blendshapes
        Also compute the 52 blendshape scores.

    Returns
    -------
    mediapipe.tasks.python.vision.FaceLandmarker
    """
    from mediapipe.tasks.python import vision  # heavy: only when faces are analysed

    options = task_options("face_landmarker.task", vision.FaceLandmarkerOptions,
                           running_mode="IMAGE" if static else "VIDEO", num_faces=max_faces,
                           min_face_detection_confidence=0.5, min_face_presence_confidence=0.5,
                           min_tracking_confidence=0.5, output_face_blendshapes=blendshapes)
    return vision.FaceLandmarker.create_from_options(options)


def split(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks ``(..., 478, 3)`` and blendshapes ``(..., 52)`` from :class:`FaceTracker`
    outputs ``(..., 478 * 3 + 52)``.

    Examples
    --------
    >>> points, scores = split(np.zeros((5, N_LANDMARKS * 3 + len(BLENDSHAPES))))
    >>> points.shape, scores.shape
    ((5, 478, 3), (5, 52))
    """
    cut = N_LANDMARKS * 3
    return raw[..., :cut].reshape(*raw.shape[:-1], N_LANDMARKS, 3), raw[..., cut:]


def _largest_face(result: Any, width: int, height: int) -> np.ndarray:
    """The largest face (landmark bounding box area) of a Face Landmarker result: its
    landmarks in pixel units (z scaled like x), then its blendshapes, flat; NaN without a
    face (and blendshapes NaN when they were not computed)."""
    out = np.full(N_LANDMARKS * 3 + len(BLENDSHAPES), np.nan)
    if not result.face_landmarks:
        return out
    faces = [np.array([(p.x, p.y, p.z) for p in face]) * (width, height, width)
             for face in result.face_landmarks]
    best = max(range(len(faces)),
               key=lambda i: float(np.ptp(faces[i][:, 0]) * np.ptp(faces[i][:, 1])))
    out[:N_LANDMARKS * 3] = faces[best].ravel()
    if result.face_blendshapes:
        out[N_LANDMARKS * 3:] = [c.score for c in result.face_blendshapes[best]]
    return out


class FaceTracker(TaskTracker):
    """A Face Landmarker as a frame tracker: a new one in VIDEO mode for every span.

    Parameters
    ----------
    static, max_faces, blendshapes
        See :func:`new_face_landmarker`.
    """

    def __init__(self, *, static: bool = False, max_faces: int = 1,
                 blendshapes: bool = True) -> None:
        super().__init__(lambda: new_face_landmarker(static=static, max_faces=max_faces,
                                                     blendshapes=blendshapes), static=static)

    def read(self, result: Any, image: np.ndarray) -> np.ndarray:
        """``(478 * 3 + 52,)``: pixel coordinates and blendshapes of the largest face
        (see :func:`split`; NaN: no face)."""
        return _largest_face(result, image.shape[1], image.shape[0])


def track_landmarks(
    frames: Iterable[tuple[float, np.ndarray]],
    *,
    max_faces: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Landmarks and blendshapes of the largest face in each frame, from a new landmarker.

    Parameters
    ----------
    frames
        ``(timestamp, RGB uint8 image)`` pairs, e.g. from :func:`emo.data.video.iter_frames`.
    max_faces
        See :func:`new_face_landmarker`.

    Returns
    -------
    times : numpy.ndarray
        ``(n_frames,)`` timestamps.
    landmarks : numpy.ndarray
        ``(n_frames, 478, 3)`` pixel coordinates (x right, y down, z away from the camera,
        in x's pixel scale); NaN rows where no face was found.
    blendshapes : numpy.ndarray
        ``(n_frames, 52)`` scores in [0, 1] (:data:`BLENDSHAPES`); NaN without a face.
    """
    times, raw = track(FaceTracker(max_faces=max_faces), frames)
    points, scores = split(raw.reshape(len(times), -1))
    return times, points, scores


def _still_tracker(max_faces: int, blendshapes: bool) -> tuple[FaceTracker, threading.Lock]:
    """This process's IMAGE-mode tracker for these settings, with the lock that serialises
    its use (a forked child makes its own: MediaPipe's dispatcher thread is not copied)."""
    return _process_still_tracker(os.getpid(), max_faces, blendshapes)


@lru_cache(maxsize=4)
def _process_still_tracker(pid: int, max_faces: int, blendshapes: bool,
                           ) -> tuple[FaceTracker, threading.Lock]:
    """:func:`_still_tracker` of process ``pid``.

    The landmarker is closed when that process exits, before MediaPipe's dispatcher
    threads stop (a landmarker closed later writes a traceback to stderr), by the hook
    that ``concurrent.futures`` itself uses to stop its threads,
    ``threading._register_atexit``; a forked child that inherits the hook skips it.
    """
    tracker = FaceTracker(static=True, max_faces=max_faces, blendshapes=blendshapes)
    threading._register_atexit(_close_in, pid, tracker)  # type: ignore[attr-defined]
    return tracker, threading.Lock()


def _close_in(pid: int, tracker: FaceTracker) -> None:
    """Close ``tracker`` if this is process ``pid``."""
    if os.getpid() == pid:
        tracker.close()


def upscale(image: np.ndarray, min_side: int = STATIC_MIN_SIDE) -> np.ndarray:
    """Bicubic upscale so that the shorter side is at least ``min_side`` (grey -> RGB).

    Examples
    --------
    >>> upscale(np.zeros((48, 48), np.uint8)).shape
    (256, 256, 3)
    """
    import cv2  # OpenCV loads when stills are analysed

    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    height, width = image.shape[:2]
    if min(height, width) >= min_side:
        return image
    factor = min_side / min(height, width)
    size = (round(width * factor), round(height * factor))
    return cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)


def image_landmarks(image: np.ndarray, *, max_faces: int = 1, blendshapes: bool = True,
                    min_side: int = STATIC_MIN_SIDE) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks and blendshapes of the largest face in a still image (IMAGE mode, small
    images upscaled).

    Parameters
    ----------
    image
        RGB or grey uint8 image.
    max_faces, blendshapes
        See :func:`new_face_landmarker`.
    min_side
        Upscale target of the shorter side (see :func:`upscale`).

    Returns
    -------
    landmarks : numpy.ndarray
        ``(478, 3)`` in the pixel units of the *original* image; NaN when no face is found.
    blendshapes : numpy.ndarray
        ``(52,)`` scores (NaN without a face or with ``blendshapes=False``).
    """
    big = upscale(image, min_side)
    tracker, lock = _still_tracker(max_faces, blendshapes)
    with lock, tracker:
        points, scores = split(tracker.measure(big))  # IMAGE mode keeps no state
    return points * (image.shape[1] / big.shape[1]), scores
