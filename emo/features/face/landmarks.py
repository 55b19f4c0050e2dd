"""MediaPipe Face Mesh wrapper: frames in, 3-D landmarks in pixel units out.

Every span of frames (a clip, or overlapping windows) starts from a fresh Face Mesh state
(:class:`FaceTracker`, :func:`track_landmarks`), so tracking never crosses clips and results
do not depend on batch order or on the number of workers. Building a graph costs ~0.25 s,
as much as analysing 60 frames, so each process keeps one graph per setting and calls its
``reset()`` (close the run, start a new one) before every span, which gives results
identical to a new graph. Videos run in tracking mode
(``static_image_mode=False``); still images run in static mode after an upscale of small
images (:func:`image_landmarks`), which lets Face Mesh find the 48 x 48 faces of CK+48.
Static mode keeps no state from one image to the next, so stills need no reset.
When several faces are found the largest (landmark bounding box area) is kept. The
bundled MediaPipe models are used; nothing is downloaded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from emo.features.frames import GraphTracker, landmark_values, started, track

if TYPE_CHECKING:
    from mediapipe.python.solutions.face_mesh import FaceMesh

__all__ = ["STATIC_MIN_SIDE", "FaceTracker", "image_landmarks", "n_landmarks", "new_face_mesh",
           "track_landmarks", "upscale"]

#: Still images whose shorter side is below this are upscaled (bicubic) to it.
STATIC_MIN_SIDE = 256


def n_landmarks(refine: bool) -> int:
    """Points per face: 478 with the refined eyes and irises, else 468."""
    return 478 if refine else 468


def new_face_mesh(*, static: bool, refine: bool = True, max_faces: int = 1) -> FaceMesh:
    """A fresh MediaPipe Face Mesh graph (a context manager; close it after use).

    Parameters
    ----------
    static
        ``static_image_mode``: detect in every image (stills) instead of tracking (video).
    refine
        Refined eye and lip landmarks plus irises (478 points).
    max_faces
        Faces tracked at once; more than one costs a face detection on every frame in
        which fewer are visible.

    Returns
    -------
    mediapipe.solutions.face_mesh.FaceMesh
    """
    from mediapipe.python.solutions import face_mesh  # heavy: only when faces are analysed

    return face_mesh.FaceMesh(static_image_mode=static, refine_landmarks=refine,
                              max_num_faces=max_faces, min_detection_confidence=0.5,
                              min_tracking_confidence=0.5)


def _largest_face(faces: list[bytes], width: int, height: int, n_points: int) -> np.ndarray:
    """Landmarks of the largest face (landmark bounding box area) in pixel units (z scaled
    like x), from serialised ``NormalizedLandmarkList`` messages; a NaN array without one."""
    if not faces:
        return np.full((n_points, 3), np.nan)
    from mediapipe.framework.formats.landmark_pb2 import NormalizedLandmarkList

    points = [landmark_values(raw, NormalizedLandmarkList, 3) * (width, height, width)
              for raw in faces]
    best = max(points, key=lambda pts: float(np.ptp(pts[:, 0]) * np.ptp(pts[:, 1])))
    return best[:n_points]


class FaceTracker(GraphTracker):
    """This process's Face Mesh graph for some settings, as a frame tracker.

    Parameters
    ----------
    static, refine, max_faces
        See :func:`new_face_mesh`.
    """

    def __init__(self, *, static: bool = False, refine: bool = True, max_faces: int = 1) -> None:
        super().__init__(*_shared_mesh(static, refine, max_faces), "multi_face_landmarks")
        self.n_points = n_landmarks(refine)

    def read(self, packet: Any, image: np.ndarray) -> np.ndarray:
        """``(n_landmarks, 3)`` pixel coordinates of the largest face (NaN: no face)."""
        from mediapipe.python._framework_bindings import _packet_getter

        faces = [] if packet is None else _packet_getter._get_serialized_proto_list(packet)
        return _largest_face(faces, image.shape[1], image.shape[0], self.n_points)


def track_landmarks(
    frames: Iterable[tuple[float, np.ndarray]],
    *,
    refine: bool = True,
    max_faces: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks of the largest face in each frame, from a fresh Face Mesh state.

    Parameters
    ----------
    frames
        ``(timestamp, RGB uint8 image)`` pairs, e.g. from :func:`emo.data.video.iter_frames`.
    refine, max_faces
        See :func:`new_face_mesh`.

    Returns
    -------
    times : numpy.ndarray
        ``(n_frames,)`` timestamps.
    landmarks : numpy.ndarray
        ``(n_frames, n_landmarks(refine), 3)`` pixel coordinates (x right, y down,
        z away from the camera, in x's pixel scale); NaN rows where no face was found.
    """
    tracker = FaceTracker(refine=refine, max_faces=max_faces)
    times, points = track(tracker, frames)
    return times, points.reshape(len(times), tracker.n_points, 3)


@lru_cache(maxsize=8)
def _shared_mesh(static: bool, refine: bool, max_faces: int) -> tuple[FaceMesh, threading.Lock]:
    """This process's graph for these settings, with the lock that serialises its use."""
    return started(new_face_mesh, static=static, refine=refine, max_faces=max_faces), \
        threading.Lock()


def upscale(image: np.ndarray, min_side: int = STATIC_MIN_SIDE) -> np.ndarray:
    """Bicubic upscale so that the shorter side is at least ``min_side`` (grey -> RGB).

    Examples
    --------
    >>> upscale(np.zeros((48, 48), np.uint8)).shape
    (256, 256, 3)
    """
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    height, width = image.shape[:2]
    if min(height, width) >= min_side:
        return image
    factor = min_side / min(height, width)
    size = (round(width * factor), round(height * factor))
    return cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)


def image_landmarks(image: np.ndarray, *, refine: bool = True, max_faces: int = 1,
                    min_side: int = STATIC_MIN_SIDE) -> np.ndarray:
    """Landmarks of the largest face in a still image (static mode, small images upscaled).

    Parameters
    ----------
    image
        RGB or grey uint8 image.
    refine, max_faces
        See :func:`new_face_mesh`.
    min_side
        Upscale target of the shorter side (see :func:`upscale`).

    Returns
    -------
    numpy.ndarray
        ``(n_landmarks(refine), 3)`` in the pixel units of the *original* image; NaN when
        no face is found.
    """
    big = upscale(image, min_side)
    with FaceTracker(static=True, refine=refine, max_faces=max_faces) as tracker:
        pts = tracker.measure(big)  # static mode keeps no state: no reset needed
    return pts * (image.shape[1] / big.shape[1])
