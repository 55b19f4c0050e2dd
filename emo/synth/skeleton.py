"""Kinect v2 skeletons of a standing actor: posture, idle motion and emotional gestures.

Motion is described by a small vector of pose parameters per frame (:data:`POSE`:
pelvis sway, trunk lean and turn, head pitch and turn, shoulder elevation and
direction and elbow flexion of each arm, shoulder shrug). Idle behaviour (sway,
breathing) and each emotion's gestures add to it; :func:`forward_kinematics` turns it
into the 25 joints, :func:`place` puts the body in the room in Kinect camera space
(x to the actor's right, y up, z away from the sensor; the actor faces the sensor) and
:func:`joint_rotations` derives bone orientations.

Pure functions over NumPy arrays; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from emo.data.labels import CLASSES
from emo.data.skeleton import KINECT_JOINTS
from emo.synth.plan import BySex, Take
from emo.synth.timeline import bumps, envelope, smooth_noise

#: Pose parameters, in column order: metres for sway/bounce/shrug, radians otherwise.
POSE: tuple[str, ...] = (
    "sway_x", "bounce", "sway_z", "lean", "lean_side", "yaw", "head_pitch", "head_yaw",
    "l_elev", "l_azim", "l_elbow", "r_elev", "r_azim", "r_elbow", "shrug",
)
_P = {name: i for i, name in enumerate(POSE)}
_J = {name: i for i, name in enumerate(KINECT_JOINTS)}

#: Parent of each joint in the Kinect v2 hierarchy (SpineBase is the root).
PARENTS: dict[str, str] = {
    "SpineMid": "SpineBase", "SpineShoulder": "SpineMid", "Neck": "SpineShoulder",
    "Head": "Neck", "ShoulderLeft": "SpineShoulder", "ElbowLeft": "ShoulderLeft",
    "WristLeft": "ElbowLeft", "HandLeft": "WristLeft", "HandTipLeft": "HandLeft",
    "ThumbLeft": "HandLeft", "ShoulderRight": "SpineShoulder", "ElbowRight": "ShoulderRight",
    "WristRight": "ElbowRight", "HandRight": "WristRight", "HandTipRight": "HandRight",
    "ThumbRight": "HandRight", "HipLeft": "SpineBase", "KneeLeft": "HipLeft",
    "AnkleLeft": "KneeLeft", "FootLeft": "AnkleLeft", "HipRight": "SpineBase",
    "KneeRight": "HipRight", "AnkleRight": "KneeRight", "FootRight": "AnkleRight",
}
#: Joints whose orientation Kinect v2 reports as zero (end points of the hierarchy).
LEAVES = ("Head", "HandTipLeft", "ThumbLeft", "HandTipRight", "ThumbRight", "FootLeft",
          "FootRight")

#: Segment lengths as fractions of body height.
SEGMENTS: dict[str, float] = {
    "hip_height": 0.53, "spine_low": 0.12, "spine_high": 0.16, "neck": 0.04, "head": 0.08,
    "shoulder": 0.105, "shoulder_drop": 0.02, "upper_arm": 0.17, "forearm": 0.15, "hand": 0.04,
    "hand_tip": 0.05, "thumb": 0.035, "hip": 0.055, "thigh": 0.24, "shank": 0.24,
    "ankle": 0.04, "foot": 0.09,
}
#: Body height in metres, by sex.
HEIGHT_M = BySex(female=(1.55, 1.75), male=(1.68, 1.90))


@dataclass(frozen=True)
class BodyActor:
    """Per-actor body and movement style.

    Attributes
    ----------
    segments
        Segment lengths in metres (keys of :data:`SEGMENTS`).
    posture
        Resting pose parameters (one per :data:`POSE`).
    expressivity
        Multiplier of gesture amplitude.
    style
        Per-emotion multiplier of gesture amplitude (individual ways of showing them).
    speed
        Multiplier of gesture tempo.
    hand
        Dominant side: +1 right, -1 left.
    sway
        Idle sway amplitude in metres.
    """

    segments: dict[str, float]
    posture: np.ndarray
    expressivity: float
    style: dict[str, float]
    speed: float
    hand: int
    sway: float

    @classmethod
    def draw(cls, rng: np.random.Generator, female: bool) -> BodyActor:
        """Draw one actor's body and movement style.

        The height is drawn by sex (:data:`HEIGHT_M`) and sets every segment length (each
        varied by about 3 %); posture and movement style do not depend on the sex.

        Parameters
        ----------
        rng, female
            Random generator, and the sex.

        Returns
        -------
        BodyActor
        """
        height = HEIGHT_M.draw(rng, female)
        segments = {k: v * height * rng.normal(1.0, 0.03) for k, v in SEGMENTS.items()}
        posture = np.zeros(len(POSE))
        posture[[_P["lean"], _P["head_pitch"], _P["lean_side"]]] = rng.normal(0, [0.04, 0.08, 0.02])
        posture[[_P["l_elev"], _P["r_elev"]]] = rng.uniform(0.05, 0.25, 2)
        posture[[_P["l_azim"], _P["r_azim"]]] = rng.uniform(0.0, 0.6, 2)
        posture[[_P["l_elbow"], _P["r_elbow"]]] = rng.uniform(0.1, 0.7, 2)
        style = {label: float(np.exp(rng.normal(0.0, 0.45))) for label in CLASSES}
        return cls(segments, posture, float(rng.uniform(0.35, 1.2)), style,
                         float(rng.uniform(0.8, 1.25)), int(rng.choice([-1, 1])),
                         float(rng.uniform(0.005, 0.02)))


def _arms(out: np.ndarray, w: np.ndarray, side: str, elev: float, azim: float,
          elbow: float) -> None:
    """Add an arm movement (weight ``w`` per frame) for ``side`` in 'l', 'r' or 'lr'."""
    for s in side:
        out[:, _P[f"{s}_elev"]] += elev * w
        out[:, _P[f"{s}_azim"]] += azim * w
        out[:, _P[f"{s}_elbow"]] += elbow * w


def _sides(actor: BodyActor) -> tuple[str, str]:
    """(dominant, other) arm prefixes."""
    return ("r", "l") if actor.hand > 0 else ("l", "r")


def _anger(t: np.ndarray, take: Take, env: np.ndarray, actor: BodyActor,
           rng: np.random.Generator) -> np.ndarray:
    out = np.zeros((t.size, len(POSE)))
    dom, other = _sides(actor)
    hits = np.sort(rng.uniform(take.apex, take.release, rng.integers(2, 5)))
    strike = bumps(t, hits, 0.08 / actor.speed, 0.18 / actor.speed)
    _arms(out, env, dom, 0.5, 1.2, 1.3)
    _arms(out, strike, dom, 0.8, 0.0, -1.3)
    _arms(out, env, other, 0.3, 0.8, 1.2)
    out[:, _P["lean"]] += 0.15 * env + 0.05 * strike
    out[:, _P["head_pitch"]] += 0.08 * env
    out[:, _P["sway_z"]] -= 0.06 * env
    out += 0.04 * env[:, None] * smooth_noise(t, rng, len(POSE), 4.0)
    return out


def _disgust(t: np.ndarray, take: Take, env: np.ndarray, actor: BodyActor,
             rng: np.random.Generator) -> np.ndarray:
    out = np.zeros((t.size, len(POSE)))
    dom, _ = _sides(actor)
    turn = actor.hand * rng.choice([-1, 1], p=[0.25, 0.75])
    out[:, _P["yaw"]] += 0.35 * turn * env
    out[:, _P["head_yaw"]] += 0.45 * turn * env
    out[:, _P["lean"]] -= 0.06 * env
    out[:, _P["lean_side"]] += 0.05 * turn * env
    if rng.random() < 0.5:
        _arms(out, env, dom, 0.8, 1.3, 2.1)
    else:
        _arms(out, env, dom, 1.2, 1.1, 0.3)
    return out


def _fear(t: np.ndarray, take: Take, env: np.ndarray, actor: BodyActor,
          rng: np.random.Generator) -> np.ndarray:
    out = np.zeros((t.size, len(POSE)))
    _arms(out, env, "lr", 0.9, 1.4, 2.2)
    out[:, _P["lean"]] -= 0.1 * env
    out[:, _P["shrug"]] += 0.035 * env
    out[:, _P["head_pitch"]] += 0.1 * env
    out[:, _P["sway_z"]] += 0.08 * env
    hz = rng.uniform(6.0, 9.0) * actor.speed
    tremor = np.sin(2 * np.pi * hz * t[:, None] + rng.uniform(0, 6.3, len(POSE)))
    out += 0.03 * env[:, None] * tremor
    return out


def _happiness(t: np.ndarray, take: Take, env: np.ndarray, actor: BodyActor,
               rng: np.random.Generator) -> np.ndarray:
    out = np.zeros((t.size, len(POSE)))
    hz = rng.uniform(1.8, 2.6) * actor.speed
    wave = np.sin(2 * np.pi * hz * (t - take.onset))
    _arms(out, env, "lr", 2.2, 0.5, 0.4)
    _arms(out, env * wave, "lr", 0.25, 0.0, 0.3)
    out[:, _P["bounce"]] -= 0.035 * env * np.abs(wave)
    out[:, _P["head_pitch"]] -= 0.15 * env
    out[:, _P["lean"]] -= 0.04 * env
    return out


def _neutral(t: np.ndarray, take: Take, env: np.ndarray, actor: BodyActor,
             rng: np.random.Generator) -> np.ndarray:
    out = np.zeros((t.size, len(POSE)))
    if rng.random() < 0.5:
        _arms(out, env, rng.choice(["l", "r"]), 0.2, 0.5, 0.6)
    return out


def _sadness(t: np.ndarray, take: Take, env: np.ndarray, actor: BodyActor,
             rng: np.random.Generator) -> np.ndarray:
    out = np.zeros((t.size, len(POSE)))
    dom, _ = _sides(actor)
    slow = 0.5 - 0.5 * np.cos(2 * np.pi * 0.3 * actor.speed * (t - take.onset))
    _arms(out, env * slow, dom, 0.35, 1.0, 0.8)
    out[:, _P["lean"]] += 0.2 * env
    out[:, _P["head_pitch"]] += 0.45 * env
    out[:, _P["shrug"]] -= 0.03 * env
    return out


def _surprise(t: np.ndarray, take: Take, env: np.ndarray, actor: BodyActor,
              rng: np.random.Generator) -> np.ndarray:
    out = np.zeros((t.size, len(POSE)))
    quick = np.clip((t - take.onset) / (0.15 / actor.speed), 0, 1) * np.minimum(env * 3, 1)
    _arms(out, quick, "lr", 1.5, 1.0, 1.6)
    out[:, _P["lean"]] -= 0.12 * quick
    out[:, _P["head_pitch"]] -= 0.12 * quick
    out[:, _P["sway_z"]] += 0.05 * quick
    return out


Gesture = Callable[[np.ndarray, Take, np.ndarray, BodyActor, np.random.Generator], np.ndarray]

#: Gesture generator of each emotion: (times, take, envelope, actor, rng) -> pose deltas.
GESTURES: dict[str, Gesture] = {
    "An": _anger, "Di": _disgust, "Fe": _fear, "Ha": _happiness, "Ne": _neutral,
    "Sa": _sadness, "Su": _surprise,
}


def pose_track(t: np.ndarray, takes: tuple[Take, ...] | list[Take], actor: BodyActor,
               rng: np.random.Generator) -> np.ndarray:
    """Pose parameters of a recording at times ``t`` (video time line, seconds).

    Parameters
    ----------
    t
        Frame times.
    takes
        The recording's takes.
    actor
        The actor.
    rng
        Random generator.

    Returns
    -------
    numpy.ndarray
        (len(t), len(POSE)): posture + idle sway and breathing + gestures of each take
        (scaled by take intensity, actor expressivity and style, with take-to-take
        variation) + a stray movement now and then.
    """
    out = np.tile(actor.posture, (t.size, 1))
    idle = smooth_noise(t, rng, len(POSE), 0.5)
    scale = np.full(len(POSE), 0.03)
    scale[[_P["sway_x"], _P["sway_z"]]] = actor.sway
    scale[[_P["bounce"], _P["shrug"]]] = 0.002
    out += idle * scale
    out[:, _P["shrug"]] += 0.004 * np.sin(2 * np.pi * rng.uniform(0.2, 0.35) * t)
    for take in takes:
        env = envelope(t, take)
        gesture = GESTURES[take.label](t, take, env, actor, rng)
        gain = take.intensity * actor.expressivity * actor.style[take.label]
        out += gesture * gain * np.exp(rng.normal(0.0, 0.6, len(POSE)))
        if rng.random() < 0.9:
            stray = bumps(t, [rng.uniform(take.start, take.end)], 0.3, 0.5)
            _arms(out, stray, rng.choice(["l", "r", "lr"]), *rng.uniform(0, [1.2, 1.5, 1.8]))
            out[:, [_P["lean"], _P["head_pitch"]]] += stray[:, None] * rng.normal(0, 0.06, 2)
    return out


def _rot(axis: str, angle: np.ndarray) -> np.ndarray:
    """Rotation matrices (T, 3, 3) about a coordinate axis."""
    return Rotation.from_euler(axis, np.asarray(angle)[:, None]).as_matrix()


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _apply(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors ``v`` (3,) or (T, 3) by matrices ``r`` (T, 3, 3)."""
    return np.einsum("tij,tj->ti", r, np.broadcast_to(v, (r.shape[0], 3)))


def forward_kinematics(pose: np.ndarray, segments: dict[str, float]) -> np.ndarray:
    """Joint positions in the body frame (floor at y = 0, facing -z, right = +x).

    Parameters
    ----------
    pose
        (T, len(POSE)) pose parameters.
    segments
        Segment lengths in metres.

    Returns
    -------
    numpy.ndarray
        (T, 25, 3) positions in Kinect joint order.
    """
    s = segments
    p = {name: pose[:, i] for i, name in enumerate(POSE)}
    n = pose.shape[0]
    out = np.zeros((n, len(KINECT_JOINTS), 3))

    def trunk(k: float) -> np.ndarray:
        return _rot("y", p["yaw"] * k) @ _rot("x", -p["lean"] * k) @ _rot("z", -p["lean_side"] * k)

    up = np.array([0.0, 1.0, 0.0])
    base = np.stack([p["sway_x"], s["hip_height"] + p["bounce"], p["sway_z"]], axis=1)
    torso = trunk(1.0)
    mid = base + _apply(trunk(0.5), up * s["spine_low"])
    top = mid + _apply(torso, up * s["spine_high"])
    neck = top + _apply(torso, up * s["neck"])
    head_rot = torso @ _rot("y", p["head_yaw"]) @ _rot("x", -p["head_pitch"])
    for name, pos in (("SpineBase", base), ("SpineMid", mid), ("SpineShoulder", top),
                      ("Neck", neck), ("Head", neck + _apply(head_rot, up * s["head"]))):
        out[:, _J[name]] = pos

    forward = _apply(torso, np.array([0.0, 0.3, -1.0]))
    for side, sign in (("Left", -1.0), ("Right", 1.0)):
        pre = side[0].lower()
        shoulder = top + _apply(torso, np.stack(
            [np.full(n, sign * s["shoulder"]), p["shrug"] - s["shoulder_drop"],
             np.zeros(n)], axis=1))
        e, a, f = p[f"{pre}_elev"], p[f"{pre}_azim"], p[f"{pre}_elbow"]
        upper = _apply(torso, np.stack(
            [sign * np.sin(e) * np.cos(a), -np.cos(e), -np.sin(e) * np.sin(a)], axis=1))
        bend = _unit(forward - (forward * upper).sum(1, keepdims=True) * upper)
        fore = np.cos(f)[:, None] * upper + np.sin(f)[:, None] * bend
        elbow = shoulder + s["upper_arm"] * upper
        wrist = elbow + s["forearm"] * fore
        hand = wrist + s["hand"] * fore
        inward = _apply(torso, np.array([-sign, 0.0, -0.5]))
        out[:, _J[f"Shoulder{side}"]] = shoulder
        out[:, _J[f"Elbow{side}"]] = elbow
        out[:, _J[f"Wrist{side}"]] = wrist
        out[:, _J[f"Hand{side}"]] = hand
        out[:, _J[f"HandTip{side}"]] = hand + s["hand_tip"] * fore
        out[:, _J[f"Thumb{side}"]] = hand + s["thumb"] * _unit(fore + _unit(inward))
        _leg(out, side, sign, base, trunk(0.3), s)
    return out


def _leg(out: np.ndarray, side: str, sign: float, base: np.ndarray, pelvis: np.ndarray,
         s: dict[str, float]) -> None:
    """Place hip, knee (two-bone inverse kinematics), ankle and foot; feet stay put."""
    n = base.shape[0]
    hip = base + _apply(pelvis, np.array([sign * s["hip"], -0.5 * s["hip"], 0.0]))
    ankle = np.tile([sign * (s["hip"] + 0.02), s["ankle"], 0.0], (n, 1))
    span = hip - ankle
    length = np.minimum(np.linalg.norm(span, axis=1), 0.999 * (s["thigh"] + s["shank"]))
    half = np.sqrt(np.maximum(s["thigh"] ** 2 - (length / 2) ** 2, 0.0))
    axis = _unit(span)
    forward = np.array([0.0, 0.0, -1.0])
    knee_dir = _unit(forward - (axis @ forward)[:, None] * axis)
    knee = ankle + axis * (length / 2)[:, None] + knee_dir * half[:, None]
    out[:, _J[f"Hip{side}"]] = hip
    out[:, _J[f"Knee{side}"]] = knee
    out[:, _J[f"Ankle{side}"]] = ankle
    out[:, _J[f"Foot{side}"]] = ankle + np.array([0.0, -0.6 * s["ankle"], -s["foot"]])


def place(joints: np.ndarray, x: float, z: float, sensor_height: float, facing: float,
          ) -> np.ndarray:
    """Body frame -> Kinect camera space.

    Parameters
    ----------
    joints
        (T, 25, 3) body-frame positions.
    x, z
        Position of the body origin on the floor (metres; z is the distance to the sensor).
    sensor_height
        Height of the sensor above the floor (the floor is at y = -sensor_height).
    facing
        Rotation of the body about the vertical axis (radians, 0 faces the sensor).

    Returns
    -------
    numpy.ndarray
        (T, 25, 3) camera-space positions.
    """
    r = Rotation.from_euler("y", facing).as_matrix()
    return joints @ r.T + np.array([x, -sensor_height, z])


def joint_rotations(joints: np.ndarray) -> np.ndarray:
    """Approximate Kinect joint orientations as XYZ Euler angles in degrees.

    Each joint's frame has its y axis along the bone from its parent and its x axis
    towards the body's right (SpineBase: along the spine); end joints are zero like in
    Kinect v2 recordings.

    Parameters
    ----------
    joints
        (T, 25, 3) camera-space positions.

    Returns
    -------
    numpy.ndarray
        (T, 25, 3) Euler angles.
    """
    n = joints.shape[0]
    right = _unit(joints[:, _J["HipRight"]] - joints[:, _J["HipLeft"]])
    out = np.zeros_like(joints)
    for name in KINECT_JOINTS:
        if name in LEAVES:
            continue
        if name == "SpineBase":
            y = _unit(joints[:, _J["SpineMid"]] - joints[:, _J["SpineBase"]])
        else:
            y = _unit(joints[:, _J[name]] - joints[:, _J[PARENTS[name]]])
        x = _unit(right - (right * y).sum(1, keepdims=True) * y)
        frame = np.stack([x, y, np.cross(x, y)], axis=2)
        out[:, _J[name]] = Rotation.from_matrix(frame.reshape(n, 3, 3)).as_euler(
            "xyz", degrees=True)
    return out


def kinect_times(duration: float, rng: np.random.Generator, fps: float,
                 drop: float = 0.01) -> np.ndarray:
    """Irregular Kinect frame times (seconds from the first frame).

    Nominal ``1 / fps`` spacing with about 1 ms jitter and occasional dropped frames.
    """
    slots = np.arange(int(duration * fps) + 1)
    slots = slots[(rng.random(slots.size) >= drop) | (slots == 0)]
    return slots / fps + rng.normal(0.0, 0.001, slots.size) * (slots > 0)
