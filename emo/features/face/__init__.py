"""Face extractors: landmark AUs from video or stills (``face_au``), OpenFace CSVs (``openface``).

``face_au`` (the face default) decodes the clip's segment (:mod:`emo.data.video`), tracks
the largest face with MediaPipe Face Mesh (:mod:`.landmarks`), turns each frame into AU-like
measures, eye/mouth aspect ratios and head pose (:mod:`.aus`), and summarises them over
the clip with :func:`emo.features.functionals.functionals`. Only pose angles and
head-frame shape enter: nothing about time, frame numbers or where the face is in the image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emo.data.clip import Clip
from emo.data.video import is_image, iter_frames
from emo.errors import FeatureError
from emo.features.base import Extractor, prefixed, register
from emo.features.face.aus import MEASURE_NAMES, clip_functionals, frame_measures
from emo.features.face.landmarks import image_landmarks, track_landmarks
from emo.features.face.openface import OpenFaceExtractor, read_openface_csv

__all__ = ["FaceAUExtractor", "OpenFaceExtractor", "clip_functionals", "read_openface_csv"]


@register
class FaceAUExtractor(Extractor):
    """Landmark action units of the largest face: MediaPipe Face Mesh + AU geometry.

    Features ``face__<measure>_<stat>``: 16 AU-like measures (``AU01`` ... ``AU45``, see
    :func:`emo.features.face.aus.action_units`), eye and mouth aspect ratios (``EAR``,
    ``MAR``) and head pose (``yaw``, ``pitch``, ``roll``, degrees), each summarised by mean,
    std, p10, p50, p90, range (p90 - p10), rise and fall (mean slopes per second); plus
    ``face__face_fraction``, the share of analysed frames where a face was found.

    Parameters
    ----------
    fps : float or None, default=15
        Analysis rate: about this many frames per second are analysed; ``None`` analyses
        every frame.
    refine : bool, default=True
        Refined eye/lip landmarks (478 points; better lids for AU05/AU07/AU45).
    max_side : int or None, default=640
        Frames are downscaled so that their longer side is at most this (faster on HD
        video; Face Mesh works on a 192 x 192 face crop); ``None`` keeps the size.
    max_faces : int, default=1
        Faces tracked at once; the largest is used.

    Examples
    --------
    >>> FaceAUExtractor(fps=10).settings()
    {'fps': 10.0, 'refine': True, 'max_side': 640, 'max_faces': 1}
    """

    name = "face_au"
    version = "1"
    modality = "face"
    setting_names = ("fps", "refine", "max_side", "max_faces")

    def __init__(self, fps: float | None = 15, refine: bool = True, max_side: int | None = 640,
                 max_faces: int = 1) -> None:
        if fps is not None and not fps > 0:
            raise FeatureError(f"face_au: fps must be > 0 or None, not {fps!r}")
        if max_faces < 1:
            raise FeatureError(f"face_au: max_faces must be >= 1, not {max_faces!r}")
        # Normalised types: 15 and 15.0 must give the same cache key.
        self.fps = None if fps is None else float(fps)
        self.refine = bool(refine)
        self.max_side = None if max_side is None else int(max_side)
        self.max_faces = int(max_faces)

    def landmarks(self, path: Path, start: float | None = None,
                  end: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Timestamps and per-frame landmarks of a video segment or still image.

        Parameters
        ----------
        path
            Video or still image.
        start, end
            Segment in seconds (videos only).

        Returns
        -------
        times, landmarks
            See :func:`emo.features.face.landmarks.track_landmarks`.
        """
        if is_image(path):
            frame = next(iter_frames(path))[1]
            pts = image_landmarks(frame, refine=self.refine, max_faces=self.max_faces)
            return np.zeros(1), pts[None]
        frames = iter_frames(path, start=start, end=end, fps=self.fps, max_side=self.max_side)
        return track_landmarks(frames, refine=self.refine, max_faces=self.max_faces)

    def extract(self, clip: Clip) -> dict[str, float]:
        """Face features of one clip (see the class docstring).

        Raises
        ------
        MediaError
            Unreadable video or segment.
        FeatureError
            When no face is found in any analysed frame.
        """
        path = self.sources(clip)[0]
        times, points = self.landmarks(path, clip.start, clip.end)
        valid = np.isfinite(points).all(axis=(1, 2))
        if not valid.any():
            raise FeatureError(f"no face found in {len(valid)} analysed frame(s)", path)
        return prefixed("face", clip_functionals(times, frame_measures(points), MEASURE_NAMES,
                                                 valid))
