"""Kinect v2 skeleton conventions shared by the parser, the pose mapper and the demo generator.

A Kinect v2 text file is ``;``-separated, one row per frame: frame time in
milliseconds, body index, then for each of the 25 joints below (in this order)
position X/Y/Z in metres and rotation X/Y/Z in degrees; 152 values with a
trailing ``;``.
"""

from __future__ import annotations

#: The 25 Kinect v2 joints, in the order of ``JointType`` and of the file columns.
KINECT_JOINTS: tuple[str, ...] = (
    "SpineBase",
    "SpineMid",
    "Neck",
    "Head",
    "ShoulderLeft",
    "ElbowLeft",
    "WristLeft",
    "HandLeft",
    "ShoulderRight",
    "ElbowRight",
    "WristRight",
    "HandRight",
    "HipLeft",
    "KneeLeft",
    "AnkleLeft",
    "FootLeft",
    "HipRight",
    "KneeRight",
    "AnkleRight",
    "FootRight",
    "SpineShoulder",
    "HandTipLeft",
    "ThumbLeft",
    "HandTipRight",
    "ThumbRight",
)

#: Values per joint in a Kinect file row: position X/Y/Z, rotation X/Y/Z.
VALUES_PER_JOINT = 6

#: Columns of one Kinect file row: time (ms), body index, 25 joints x 6 values.
KINECT_COLUMNS = 2 + len(KINECT_JOINTS) * VALUES_PER_JOINT

#: Nominal Kinect v2 frame rate (frames per second).
KINECT_FPS = 30.0
