"""Face extractors: landmark AUs from video or stills (``face_au``), OpenFace CSVs (``openface``).

``face_au`` (the face default) decodes the clip's segment (:mod:`emo.data.video`), tracks
the largest face with the MediaPipe Face Landmarker (:mod:`.landmarks`), turns each frame
into AU-like measures, eye/mouth aspect ratios and head pose (:mod:`.aus`) beside the
landmarker's blendshape scores, and summarises them over
the clip with :func:`emo.features.functionals.functionals`. Only pose angles and
head-frame shape enter: nothing about time, frame numbers or where the face is in the image.
All clips of one video are served by one decoding pass with one tracker
(:mod:`emo.features.frames`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np

from emo.data.clip import Clip
from emo.data.media import is_image
from emo.errors import FeatureError
from emo.features.base import prefixed, register
from emo.features.face.aus import MEASURE_NAMES, clip_functionals, frame_measures
from emo.features.face.landmarks import BLENDSHAPES
from emo.features.face.openface import OpenFaceExtractor, read_openface_csv
from emo.features.frames import FrameExtractor, Tracker

__all__ = ["FEATURE_BLENDSHAPES", "FaceAUExtractor", "OpenFaceExtractor", "clip_functionals",
           "read_openface_csv"]


#: Blendshapes that enter the features: all but ``_neutral``, which the model gives as
#: ~0 on every face (4e-6 on the astronaut photograph).
FEATURE_BLENDSHAPES: tuple[str, ...] = BLENDSHAPES[1:]


@register
class FaceAUExtractor(FrameExtractor):
    """Landmark action units and blendshapes of the largest face: MediaPipe Face Landmarker.

    Features ``face__<measure>_<stat>``: 16 AU-like measures (``AU01`` ... ``AU45``, see
    :func:`emo.features.face.aus.action_units`), eye and mouth aspect ratios (``EAR``,
    ``MAR``), head pose (``yaw``, ``pitch``, ``roll``, degrees) and, with ``blendshapes``,
    the Face Landmarker's blendshape scores (``bs_browDownLeft`` ... ``bs_noseSneerRight``,
    :data:`FEATURE_BLENDSHAPES`), each summarised by mean, std, p10, p50, p90, range
    (p90 - p10), rise and fall (mean slopes per second); plus ``face__face_fraction``,
    the share of analysed frames where a face was found.

    Parameters
    ----------
    fps : float, default=10
        Analysis rate: the frames of a grid of about this many frames per second on the
        video's time line are analysed (:func:`emo.data.video.on_grid`); 0 (or ``None``)
        analyses every frame. The tracker runs on the analysed frames only. At 10 fps the
        features correlate with every-frame analysis at r 0.98 (median over features and
        clips; 0.99 for levels, 0.65 for the rise/fall slopes), at a third of the cost, and
        the synthetic set's face UAR stays within its noise (``benchmarks/extract_speed.py``).
    blendshapes : bool, default=True
        Add the functionals of the 51 blendshape scores.
    max_side : int or None, default=640
        Frames are downscaled so that their longer side is at most this (faster on HD
        video; the landmark model works on a 256 x 256 face crop); ``None`` keeps the size.
    max_faces : int, default=1
        Faces tracked at once; the largest is used.

    Notes
    -----
    Version 4: MediaPipe Tasks Face Landmarker (a new landmarker for every span) instead
    of the legacy Face Mesh solution, and the blendshapes; the ``refine`` setting is gone
    (the Face Landmarker always gives the refined 478 points).

    Examples
    --------
    >>> FaceAUExtractor(fps=10).settings()
    {'fps': 10.0, 'blendshapes': True, 'max_side': 640, 'max_faces': 1}
    >>> FaceAUExtractor(fps=None).settings()["fps"]
    0.0
    """

    name = "face_au"
    version = "4"
    modality = "face"
    setting_names = ("fps", "blendshapes", "max_side", "max_faces")

    def __init__(self, fps: float | None = 10, blendshapes: bool = True,
                 max_side: int | None = 640, max_faces: int = 1) -> None:
        if fps is not None and not fps >= 0:
            raise FeatureError(f"face_au: fps must be >= 0 (0: every frame), not {fps!r}")
        if max_faces < 1:
            raise FeatureError(f"face_au: max_faces must be >= 1, not {max_faces!r}")
        # Normalised types: 15 and 15.0 (and 0 and None) must give the same cache key.
        self.fps = float(fps or 0.0)
        self.blendshapes = bool(blendshapes)
        self.max_side = None if max_side is None else int(max_side)
        self.max_faces = int(max_faces)

    def measure_names(self) -> tuple[str, ...]:
        """Names of the per-frame measures: :data:`MEASURE_NAMES`, then ``bs_<blendshape>``
        with ``blendshapes``."""
        if not self.blendshapes:
            return MEASURE_NAMES
        return (*MEASURE_NAMES, *(f"bs_{name}" for name in FEATURE_BLENDSHAPES))

    def analysis_fps(self) -> float | None:
        """The ``fps`` setting (``None``: every frame)."""
        return self.fps or None

    def video(self, clip: Clip) -> Path | None:
        """The clip's video; still images are analysed one by one (:meth:`extract`)."""
        return None if clip.video is None or is_image(clip.video) else clip.video

    def tracker(self) -> AbstractContextManager[Tracker]:
        """A Face Landmarker tracker in VIDEO mode."""
        from emo.features.face.landmarks import FaceTracker

        return FaceTracker(max_faces=self.max_faces, blendshapes=self.blendshapes)

    def condense(self, raw: np.ndarray) -> np.ndarray:
        """Tracker outputs (frames, 478 * 3 + 52) -> the :meth:`measure_names` columns and
        a last column, 1 where a face was found."""
        from emo.features.face.landmarks import split

        points, scores = split(raw)
        found = np.isfinite(points).all(axis=(1, 2))
        columns = [frame_measures(points)]
        if self.blendshapes:
            columns.append(scores[:, 1:])  # FEATURE_BLENDSHAPES: all but _neutral
        return np.column_stack([*columns, found.astype(float)])

    def summarise(self, clip: Clip, times: np.ndarray, measures: np.ndarray) -> dict[str, float]:
        """Functionals of the clip's frame measures (see the class docstring).

        Raises
        ------
        FeatureError
            When no face is found in any analysed frame.
        """
        found = measures[:, -1] > 0
        if not found.any():
            raise FeatureError(f"no face found in {len(found)} analysed frame(s)",
                               self.video(clip) or clip.video)
        return prefixed("face", clip_functionals(times, measures[:, :-1], self.measure_names(),
                                                 found))

    def extract(self, clip: Clip) -> dict[str, float]:
        """Face features of one clip (see the class docstring).

        Raises
        ------
        MediaError
            Unreadable video, image or segment.
        FeatureError
            When no face is found in any analysed frame.
        """
        path = self.sources(clip)[0]
        if not is_image(path):
            return super().extract(clip)
        from emo.data.video import iter_frames
        from emo.features.face.landmarks import image_landmarks

        frame = next(iter_frames(path))[1]
        points, scores = image_landmarks(frame, max_faces=self.max_faces,
                                         blendshapes=self.blendshapes)
        raw = np.concatenate([points.ravel(), scores])[None]
        return self.summarise(clip, np.zeros(1), self.condense(raw))
