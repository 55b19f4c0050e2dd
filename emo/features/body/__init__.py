"""Body modality: movement and posture features from Kinect skeletons or video pose.

Modules: :mod:`~emo.features.body.kinect` (Kinect v2 text files),
:mod:`~emo.features.body.pose` (MediaPipe pose from video) and
:mod:`~emo.features.body.kinematics` (pure NumPy features on common joints). The
:class:`Kinematics` extractor ties them together.

Examples
--------
>>> from emo.features.base import get_extractor
>>> get_extractor("body", source="kinect")
Kinematics(source='kinect', rate=30.0, smoothing=0.25, pose_fps=10.0)
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from emo.data.clip import Clip
from emo.errors import FeatureError, MediaError
from emo.features.base import Stream, _named_by, prefixed, register
from emo.features.body.kinematics import clip_features
from emo.features.frames import FrameExtractor, Tracker

__all__ = ["SOURCES", "Kinematics"]

#: Values of the ``source`` setting (``auto``: Kinect when the clip has a skeleton file).
SOURCES: tuple[str, ...] = ("auto", "kinect", "video")


@register
class Kinematics(FrameExtractor):
    """Body movement, shape, posture and rhythm features (``body__hand_speed_p90``, ...).

    1. Joints come from the clip's Kinect file (``Clip.skeleton`` rows
       ``skeleton_start..skeleton_end``, see :func:`~emo.features.body.kinect.read_kinect`) or
       from MediaPipe pose on its video (``Clip.video`` seconds ``start..end``, frames of the
       ``pose_fps`` grid, see :mod:`~emo.features.body.pose`), mapped onto the same common
       joints. All clips of one video are served by one decoding pass with one pose
       tracker (:mod:`emo.features.frames`), shared with the face extractor.
    2. They are resampled to ``rate``, normalised for position, orientation and body size,
       and summarised by :func:`~emo.features.body.kinematics.clip_features`.

    Parameters
    ----------
    source
        ``"kinect"``, ``"video"`` or ``"auto"`` (Kinect if the clip has a skeleton file, else
        video pose).
    rate
        Frames per second the joints are resampled to before the features.
    smoothing
        Savitzky-Golay smoothing window in seconds.
    pose_fps
        Analysis rate of video pose (frames per second on the video's time line); 0 (or
        ``None``) analyses every frame. The Pose Landmarker costs ~10-20 ms a frame on one
        core (emo ships the legacy "full" model only). At 10 fps the body features
        of the synthetic set's Kinect joints, analysed at that rate, correlate with
        every-frame ones at r 0.98 (median) and their UAR stays within the noise
        (``benchmarks/extract_speed.py``); at 5 fps both drop.

    Notes
    -----
    Version 3 smooths and differentiates with emo's own Savitzky-Golay filter (all
    series at once, :func:`~emo.features.body.kinematics.derivatives`) instead of
    SciPy's: the derivatives agree with version 2 to about 1e-7 (relative), but the
    jerk ``rise`` and ``fall`` change by a few per cent, because version 2 counted the
    rounding noise between the constant jerk of the window fitted at either end and the
    first filtered frame as slopes. Video frames also become RGB through OpenCV's colour
    conversion instead of FFmpeg's (:class:`emo.data.video.DecodedFrame`). Version 4:
    video pose from the MediaPipe Tasks Pose Landmarker (the same legacy "full" model,
    a new landmarker for every span) instead of the legacy Pose solution.
    """

    name: ClassVar[str] = "kinematics"
    version: ClassVar[str] = "4"
    modality: ClassVar[str] = "body"
    setting_names: ClassVar[tuple[str, ...]] = ("source", "rate", "smoothing", "pose_fps")
    #: Frames are downscaled so that their longer side is at most this (Pose works at 256).
    max_side: int | None = 640

    def __init__(self, source: str = "auto", rate: float = 30.0, smoothing: float = 0.25,
                 pose_fps: float | None = 10.0) -> None:
        if source not in SOURCES:
            raise FeatureError(f"body source must be one of {', '.join(SOURCES)}, got {source!r}")
        if not rate > 0 or not smoothing >= 0:
            raise FeatureError(f"body rate must be > 0 and smoothing >= 0, got {rate}, {smoothing}")
        if pose_fps is not None and not pose_fps >= 0:
            raise FeatureError(f"body pose_fps must be >= 0 (0: every frame), got {pose_fps!r}")
        self.source = source
        self.rate = float(rate)
        self.smoothing = float(smoothing)
        self.pose_fps = float(pose_fps or 0.0)

    def kind(self, clip: Clip) -> str | None:
        """Where this clip's joints come from: ``"kinect"``, ``"video"`` or ``None``."""
        if self.source == "auto":
            return "kinect" if clip.skeleton else "video" if clip.video else None
        path = clip.skeleton if self.source == "kinect" else clip.video
        return self.source if path else None

    def applies(self, clip: Clip) -> bool:
        """Whether the clip has the file the chosen source reads."""
        return self.kind(clip) is not None

    def sources(self, clip: Clip) -> list[Path]:
        """The Kinect file or the video, checked to exist."""
        kind = self.kind(clip)
        path = clip.skeleton if kind == "kinect" else clip.video if kind == "video" else None
        if path is None:
            raise MediaError(f"clip {clip.id!r} has no {self.source} body media", clip.origin)
        if not Path(path).is_file():
            raise MediaError("file not found" + _named_by(clip), path)
        return [Path(path)]

    def segment(self, clip: Clip) -> list[Any]:
        """The source kind and its segment: Kinect frame indices or video seconds."""
        if self.kind(clip) == "kinect":
            return ["kinect", clip.skeleton_start, clip.skeleton_end]
        return ["video", clip.start, clip.end]

    def video(self, clip: Clip) -> Path | None:
        """The video whose pose gives the clip's joints (``None``: Kinect or nothing)."""
        return clip.video if self.kind(clip) == "video" else None

    def stream(self, clip: Clip) -> Stream | None:
        """The video (one pass with the face extractor), or the Kinect file (parsed once)."""
        if self.kind(clip) == "kinect":
            return Stream("kinect", Path(clip.skeleton))  # type: ignore[arg-type]
        return super().stream(clip)

    def analysis_fps(self) -> float | None:
        """The ``pose_fps`` setting (``None``: every frame)."""
        return self.pose_fps or None

    def warm(self) -> None:
        """Load the Pose Landmarker unless joints only ever come from Kinect files."""
        if self.source != "kinect":
            super().warm()

    def tracker(self) -> AbstractContextManager[Tracker]:
        """A Pose Landmarker tracker in VIDEO mode."""
        from emo.features.body.pose import PoseTracker

        return PoseTracker()

    def condense(self, raw: np.ndarray) -> np.ndarray:
        """World landmarks (frames, 33, 4) -> common joints (frames, joints, 3)."""
        from emo.features.body.pose import mediapipe_to_common

        return mediapipe_to_common(raw)

    def summarise(self, clip: Clip, times: np.ndarray, measures: np.ndarray) -> dict[str, float]:
        """Features of the joints of the clip's analysed frames (see :meth:`features`)."""
        from emo.features.body.pose import joints_at_rate

        try:
            joints = joints_at_rate(times, measures, self.rate)
        except ValueError as exc:
            raise FeatureError(str(exc), self.video(clip)) from exc
        return self.features(clip, joints)

    def joints(self, clip: Clip) -> np.ndarray:
        """Common joints of the clip at ``rate`` (frames, joints, 3), metres, Kinect axes."""
        (path,) = self.sources(clip)
        if self.kind(clip) == "kinect":
            from emo.features.body.kinect import read_kinect

            return read_kinect(path, clip.skeleton_start, clip.skeleton_end,
                               rate=self.rate).common()
        from emo.features.body.pose import video_joints

        return video_joints(path, clip.start, clip.end, rate=self.rate,
                            fps=self.analysis_fps())

    def features(self, clip: Clip, joints: np.ndarray) -> dict[str, float]:
        """Prefixed :func:`~emo.features.body.kinematics.clip_features` of the clip's joints.

        Raises
        ------
        FeatureError
            Too few frames or no measurable trunk.
        """
        try:
            values = clip_features(joints, self.rate, smoothing=self.smoothing)
        except ValueError as exc:
            raise FeatureError(f"clip {clip.id!r}: {exc}", self.sources(clip)[0]) from exc
        return prefixed(self.modality, values)

    def extract(self, clip: Clip) -> dict[str, float]:
        """Features of one clip: Kinect joints, or the video pass of :mod:`emo.features.frames`."""
        if self.kind(clip) == "kinect":
            return self.features(clip, self.joints(clip))
        self.sources(clip)  # a missing video is named before any decoding
        return super().extract(clip)
