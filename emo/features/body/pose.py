"""MediaPipe pose from video, mapped onto the common joints in the Kinect convention.

The MediaPipe Pose Landmarker (the legacy Pose "full" model shipped with emo, VIDEO mode, a
new landmarker for every clip or span of overlapping windows, see :mod:`emo.features.frames`)
gives 33 *world*
landmarks per frame: metres, origin at the hip centre, axes as in the image,
x toward the image's right, y down, z away from the camera (depth grows away from the
viewer). With an un-mirrored camera facing the person, the image's right is the person's
left. The Kinect v2 camera space has x toward the sensor's left (the person's right), y up
and z away from the sensor. Both frames are right-handed; one is the other turned half a
turn about the depth axis, so the conversion is ``(x, y, z) -> (-x, -y, z)`` (no mirroring:
the person's left landmarks stay left joints). Checked on a real photograph (scikit-image's
astronaut, facing the camera): after conversion the left shoulder has the smaller x, the head
the larger y, and the head is nearer the camera (smaller z) than the hips of the leaning torso.

Common joints that MediaPipe lacks are averages of landmarks (:data:`MEDIAPIPE_TO_COMMON`):
pelvis = hip centre, neck = shoulder centre (the Kinect ``SpineShoulder``), spine = midway
between them, head = ear centre (closer to the Kinect ``Head`` point than the nose), hand =
centre of the index and little finger knuckles. Limb landmarks with visibility below
:data:`MIN_VISIBILITY` and frames without a detected body are NaN (the trunk landmarks,
:data:`ANCHORS`, are kept: they carry the body frame).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from emo.errors import FeatureError
from emo.features.body.kinematics import COMMON_JOINTS, fill_gaps, resample
from emo.features.frames import TaskTracker, task_options, track

#: MediaPipe pose landmark indices averaged for each common joint.
MEDIAPIPE_TO_COMMON: dict[str, tuple[int, ...]] = {
    "pelvis": (23, 24), "spine": (11, 12, 23, 24), "neck": (11, 12), "head": (7, 8),
    "shoulder_l": (11,), "elbow_l": (13,), "wrist_l": (15,), "hand_l": (17, 19),
    "shoulder_r": (12,), "elbow_r": (14,), "wrist_r": (16,), "hand_r": (18, 20),
    "hip_l": (23,), "knee_l": (25,), "ankle_l": (27,),
    "hip_r": (24,), "knee_r": (26,), "ankle_r": (28,),
}
#: Number of MediaPipe pose landmarks.
N_LANDMARKS = 33
#: Landmarks less visible than this are treated as missing.
MIN_VISIBILITY = 0.3
#: Frames are downscaled so that their longer side is at most this (MediaPipe works at 256).
MAX_SIDE = 640
#: The Pose Landmarker model shipped with emo: the legacy "full" model
#: (``model_complexity=1``) bundled by ``tools/build_pose_bundle.py`` (docs/models.md).
MODEL = "pose_landmarker_full.task"
#: MediaPipe world axes -> Kinect camera axes.
AXES = np.array([-1.0, -1.0, 1.0])

#: Landmarks never masked by visibility: the world origin is the hip centre, and the ears,
#: shoulders and hips define the body frame even when the lower body is out of the picture.
ANCHORS: frozenset[int] = frozenset({7, 8, 11, 12, 23, 24})


def mediapipe_to_common(world: np.ndarray, min_visibility: float = MIN_VISIBILITY) -> np.ndarray:
    """Map MediaPipe world landmarks onto the common joints, in the Kinect convention.

    Parameters
    ----------
    world
        Array (frames, 33, 3) or (frames, 33, 4) (x, y, z[, visibility]) of world landmarks.
    min_visibility
        With a visibility column, less visible limb landmarks become NaN (and so do the
        joints averaged from them).

    Returns
    -------
    numpy.ndarray
        Array (frames, len(COMMON_JOINTS), 3): x the person's right, y up, z away from the camera.

    Examples
    --------
    >>> world = np.zeros((1, 33, 3)); world[0, 11] = [0.2, -0.5, 0.0]  # left shoulder
    >>> out = mediapipe_to_common(world)
    >>> out[0, COMMON_JOINTS.index("shoulder_l")].tolist()
    [-0.2, 0.5, 0.0]
    """
    world = np.asarray(world, dtype=float)
    xyz = world[..., :3].copy()
    if world.shape[-1] == 4:
        hidden = world[..., 3] < min_visibility
        hidden[:, sorted(ANCHORS)] = False
        xyz[hidden] = np.nan
    joints = [xyz[:, list(MEDIAPIPE_TO_COMMON[j])].mean(axis=1) for j in COMMON_JOINTS]
    return np.stack(joints, axis=1) * AXES


def new_pose_landmarker() -> Any:
    """A new MediaPipe Pose Landmarker in VIDEO mode on the shipped model (close it after
    use)."""
    from mediapipe.tasks.python import vision  # heavy: only when poses are analysed

    options = task_options(MODEL, vision.PoseLandmarkerOptions, running_mode="VIDEO",
                           num_poses=1, min_pose_detection_confidence=0.5,
                           min_pose_presence_confidence=0.5, min_tracking_confidence=0.5)
    return vision.PoseLandmarker.create_from_options(options)


class PoseTracker(TaskTracker):
    """A Pose Landmarker as a frame tracker: a new one in VIDEO mode for every span."""

    def __init__(self) -> None:
        super().__init__(new_pose_landmarker)

    def read(self, result: Any, image: np.ndarray) -> np.ndarray:
        """World landmarks and visibility (33, 4) of the person in one image (NaN: none)."""
        if not result.pose_world_landmarks:
            return np.full((N_LANDMARKS, 4), np.nan)
        return np.array([(p.x, p.y, p.z, p.visibility) for p in result.pose_world_landmarks[0]],
                        dtype=float)


def joints_at_rate(times: np.ndarray, joints: np.ndarray, rate: float, *,
                   max_gap: float = 0.5) -> np.ndarray:
    """Common joints of analysed frames, gaps filled, resampled to a fixed rate.

    Parameters
    ----------
    times
        Frame times in seconds (repeated time stamps are dropped).
    joints
        Array (frames, len(COMMON_JOINTS), 3) from :func:`mediapipe_to_common`.
    rate
        Output frames per second.
    max_gap
        Longest run of frames without a body (seconds) filled by interpolation.

    Returns
    -------
    numpy.ndarray
        Array (n, len(COMMON_JOINTS), 3), metres, Kinect convention.

    Raises
    ------
    ValueError
        When no body was found in any frame.
    """
    if np.isnan(joints).all():
        raise ValueError(f"no body found in {len(joints)} analysed frame(s)")
    order = np.concatenate(([True], np.diff(times) > 0))
    steps = np.diff(times[order])
    frame_rate = 1.0 / float(np.median(steps)) if steps.size else rate
    filled, _ = fill_gaps(joints[order], int(round(max_gap * frame_rate)))
    return resample(times[order], filled, rate)


def video_joints(
    path: str | Path,
    start: float | None = None,
    end: float | None = None,
    *,
    rate: float = 30.0,
    fps: float | None = None,
    max_gap: float = 0.5,
) -> np.ndarray:
    """Common joints of the person in a video segment, at a fixed rate: the Pose Landmarker on
    the frames of the analysis grid, then :func:`joints_at_rate`.

    Parameters
    ----------
    path
        Video file.
    start, end
        Segment in seconds (``None``: whole video).
    rate, max_gap
        See :func:`joints_at_rate`.
    fps
        Analysis rate (:func:`emo.data.video.on_grid`); ``None``: every frame.

    Returns
    -------
    numpy.ndarray
        See :func:`joints_at_rate`.

    Raises
    ------
    MediaError
        Unreadable video or segment (from :func:`emo.data.video.iter_frames`).
    FeatureError
        When no body is found in the segment.
    """
    from emo.data.video import iter_frames

    frames = iter_frames(path, start=start, end=end, fps=fps, max_side=MAX_SIDE)
    times, world = track(PoseTracker(), frames)
    try:
        return joints_at_rate(times, mediapipe_to_common(world), rate, max_gap=max_gap)
    except ValueError as exc:
        raise FeatureError(str(exc), path) from exc
