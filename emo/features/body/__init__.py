"""Body modality: movement and posture features from Kinect skeletons or video pose.

Modules: :mod:`~emo.features.body.kinect` (Kinect v2 text files),
:mod:`~emo.features.body.pose` (MediaPipe pose from video) and
:mod:`~emo.features.body.kinematics` (pure NumPy features on common joints). The
:class:`Kinematics` extractor ties them together.

Examples
--------
>>> from emo.features.base import get_extractor
>>> get_extractor("body", source="kinect")
Kinematics(source='kinect', rate=30.0, smoothing=0.25)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from emo.data.clip import Clip
from emo.errors import FeatureError, MediaError
from emo.features.base import Extractor, _named_by, prefixed, register
from emo.features.body.kinematics import clip_features

__all__ = ["SOURCES", "Kinematics"]

#: Values of the ``source`` setting (``auto``: Kinect when the clip has a skeleton file).
SOURCES: tuple[str, ...] = ("auto", "kinect", "video")


@register
class Kinematics(Extractor):
    """Body movement, shape, posture and rhythm features (``body__hand_speed_p90``, ...).

    1. Joints come from the clip's Kinect file (``Clip.skeleton`` rows
       ``skeleton_start..skeleton_end``, see :func:`~emo.features.body.kinect.read_kinect`) or
       from MediaPipe pose on its video (``Clip.video`` seconds ``start..end``, see
       :func:`~emo.features.body.pose.video_joints`), mapped onto the same common joints.
    2. They are resampled to ``rate``, normalised for position, orientation and body size,
       and summarised by :func:`~emo.features.body.kinematics.clip_features`.

    Parameters
    ----------
    source
        ``"kinect"``, ``"video"`` or ``"auto"`` (Kinect if the clip has a skeleton file, else
        video pose).
    rate
        Analysis frames per second.
    smoothing
        Savitzky-Golay smoothing window in seconds.
    """

    name: ClassVar[str] = "kinematics"
    version: ClassVar[str] = "1"
    modality: ClassVar[str] = "body"
    setting_names: ClassVar[tuple[str, ...]] = ("source", "rate", "smoothing")

    def __init__(self, source: str = "auto", rate: float = 30.0, smoothing: float = 0.25) -> None:
        if source not in SOURCES:
            raise FeatureError(f"body source must be one of {', '.join(SOURCES)}, got {source!r}")
        if not rate > 0 or not smoothing >= 0:
            raise FeatureError(f"body rate must be > 0 and smoothing >= 0, got {rate}, {smoothing}")
        self.source = source
        self.rate = float(rate)
        self.smoothing = float(smoothing)

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

    def joints(self, clip: Clip) -> np.ndarray:
        """Common joints of the clip at ``rate`` (frames, joints, 3), metres, Kinect axes."""
        (path,) = self.sources(clip)
        if self.kind(clip) == "kinect":
            from emo.features.body.kinect import read_kinect

            return read_kinect(path, clip.skeleton_start, clip.skeleton_end,
                               rate=self.rate).common()
        from emo.features.body.pose import video_joints

        return video_joints(path, clip.start, clip.end, rate=self.rate)

    def extract(self, clip: Clip) -> dict[str, float]:
        """Features of one clip (see :func:`~emo.features.body.kinematics.clip_features`)."""
        joints = self.joints(clip)
        try:
            values = clip_features(joints, self.rate, smoothing=self.smoothing)
        except ValueError as exc:
            raise FeatureError(f"clip {clip.id!r}: {exc}", self.sources(clip)[0]) from exc
        return prefixed(self.modality, values)
