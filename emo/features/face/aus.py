"""Action-unit-like measures from 3-D face landmarks: pure NumPy, no I/O.

Input is MediaPipe Face Mesh landmarks in pixel units (x right, y down, z away from the
camera, z scaled like x), shape ``(n_frames, 468 or 478, 3)``; a frame without a face is
a row of NaN and gives NaN everywhere. Each frame is first put into a **head frame**
(:func:`align`): a similarity transform (rotation, translation, isotropic scale) built
from rigid landmarks (eye corners, temples, nose ridge, forehead) maps the face to a
frontal pose, with x toward the subject's left, y up, z toward the viewer and the
inter-ocular distance (outer eye corners) as the unit. Rotating, moving or scaling the
face in the image therefore leaves every measure unchanged, and the rotation gives the
head pose (:func:`head_pose`).

The AU measures (:func:`action_units`) are signed distances in that frame, oriented so
that **larger means more of the action**; they are not calibrated to a FACS intensity and
carry each person's resting face as an offset, which the models layer removes with its
label-free per-actor standardisation. Definitions follow the appearance changes of
Ekman, Friesen & Hager, *Facial Action Coding System* (2002), measured on the MediaPipe
Face Mesh topology (Kartynnik et al., "Real-time facial surface geometry from monocular
video on mobile GPUs", CVPR-W 2019), in the spirit of geometric AU detection from
landmark distances (Valstar & Pantic, "Fully automatic recognition of the temporal
phases of facial actions", IEEE TSMC-B 2012). The eye aspect ratio is that of
Soukupová & Čech, "Real-time eye blink detection using facial landmarks", CVWW 2016.

Landmark sides are the subject's: "right" is the eye on the image's left in an unmirrored
frontal view (MediaPipe index 33 is the right eye's outer corner).
"""

from __future__ import annotations

import numpy as np

from emo.features.functionals import functionals

__all__ = ["AU_NAMES", "MEASURE_NAMES", "action_units", "align", "clip_functionals",
           "eye_aspect_ratio",
           "frame_measures", "head_frame", "head_pose", "mouth_aspect_ratio"]

# --- MediaPipe Face Mesh indices (subject's right, left) -------------------------------
_EYE_OUTER = (33, 263)
_EYE_INNER = (133, 362)
_LID_UPPER = ((159, 158, 160), (386, 385, 387))
_LID_LOWER = ((145, 144, 153), (374, 380, 373))
#: Eye contour for the aspect ratio: corner, upper, upper, corner, lower, lower.
_EAR_POINTS = ((33, 160, 158, 133, 153, 144), (362, 385, 387, 263, 373, 380))
_BROW_INNER = ((107, 55, 66, 65), (336, 285, 296, 295))
_BROW_OUTER = ((70, 46, 63, 53), (300, 276, 293, 283))
_BROW_ALL = ((70, 63, 105, 66, 107, 46, 53, 52, 65, 55),
             (300, 293, 334, 296, 336, 276, 283, 282, 295, 285))
_BROW_HEAD = (55, 285)
_CHEEK = ((50, 101, 118), (280, 330, 347))
_NOSE_WING = ((98, 129), (327, 358))
_MOUTH_CORNER = (61, 291)
_UPPER_LIP_TOP = (37, 0, 267)
_UPPER_LIP_INNER = 13
_LOWER_LIP_INNER = 14
_LOWER_LIP_BOTTOM = 17
_INNER_LIP_PAIRS = ((82, 87), (13, 14), (312, 317))
_NOSE_TIP = 1
_SUBNASALE = 2
_CHIN = 152
# Rigid points for the head frame: bilateral pairs give the left-right axis, the forehead
# midline and the subnasale (at about the same depth) the vertical axis; all of them and
# the nose ridge give the origin.
_RIGID_PAIRS = ((33, 263), (133, 362), (127, 356), (234, 454))
_MIDLINE_UPPER = (10, 151, 9, 8, 168)
_MIDLINE_LOWER = (2,)
_NOSE_RIDGE = (6, 197, 195, 5, 4, 1)

#: Typical eye aspect ratio of an open eye in MediaPipe landmarks (AU45 reference).
EAR_OPEN = 0.30

#: The AU-like measures of :func:`action_units`, in order.
AU_NAMES: tuple[str, ...] = ("AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10",
                             "AU12", "AU15", "AU17", "AU20", "AU23", "AU25", "AU26", "AU45")
#: Every per-frame measure of :func:`frame_measures`, in column order.
MEASURE_NAMES: tuple[str, ...] = (*AU_NAMES, "EAR", "MAR", "yaw", "pitch", "roll")


def _as_frames(landmarks: np.ndarray) -> np.ndarray:
    pts = np.asarray(landmarks, dtype=float)
    if pts.ndim == 2:
        pts = pts[None]
    if pts.ndim != 3 or pts.shape[2] != 3 or pts.shape[1] < 468:
        raise ValueError(f"landmarks must have shape (frames, >=468, 3), not {pts.shape}")
    return pts


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / np.where(norm > 0, norm, np.nan)


def head_frame(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rotation, origin and scale of the head frame of each face.

    The left-right axis is the mean direction from the subject's right to left of four
    rigid landmark pairs (outer and inner eye corners, two temple points); the vertical
    axis is the direction from the subnasale (2) to the forehead midline (10, 151, 9, 8,
    168), points at about the same depth, made orthogonal to it (Gram-Schmidt); the depth
    axis completes a right-handed frame pointing toward the viewer. The origin is the
    centroid of these points and the nose ridge, the scale the inter-ocular distance
    (outer eye corners 33-263).

    Parameters
    ----------
    landmarks
        ``(n_frames, n_points, 3)`` (or one face ``(n_points, 3)``) in image axes:
        x right, y down, z away from the camera.

    Returns
    -------
    rotation : numpy.ndarray
        ``(n_frames, 3, 3)``; its rows are the head's x, y, z axes in camera axes
        (x right, y up, z toward the viewer); the identity for a frontal upright face.
    origin : numpy.ndarray
        ``(n_frames, 3)`` in camera axes.
    scale : numpy.ndarray
        ``(n_frames,)`` inter-ocular distance.
    """
    pts = _as_frames(landmarks) * np.array([1.0, -1.0, -1.0])  # camera axes, right-handed
    right = pts[:, [a for a, _ in _RIGID_PAIRS]]
    left = pts[:, [b for _, b in _RIGID_PAIRS]]
    ex = _unit((_unit(left - right)).mean(axis=1))
    up = pts[:, list(_MIDLINE_UPPER)].mean(axis=1) - pts[:, list(_MIDLINE_LOWER)].mean(axis=1)
    ey = _unit(up - np.sum(up * ex, axis=-1, keepdims=True) * ex)
    ez = np.cross(ex, ey)
    rotation = np.stack([ex, ey, ez], axis=1)
    rigid = [i for pair in _RIGID_PAIRS for i in pair] + [*_MIDLINE_UPPER, *_MIDLINE_LOWER,
                                                          *_NOSE_RIDGE]
    origin = pts[:, rigid].mean(axis=1)
    scale = np.linalg.norm(pts[:, _EYE_OUTER[1]] - pts[:, _EYE_OUTER[0]], axis=-1)
    return rotation, origin, np.where(scale > 0, scale, np.nan)


def align(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks in the head frame: frontal, x to the subject's left, y up, unit = IOD.

    Parameters
    ----------
    landmarks
        ``(n_frames, n_points, 3)`` in image axes (see :func:`head_frame`).

    Returns
    -------
    numpy.ndarray
        Same shape, in inter-ocular distances, invariant to the face's position,
        size and rotation in the image.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> face = rng.normal(size=(1, 468, 3))
    >>> turned = face @ np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]) * 3 + 7
    >>> bool(np.allclose(align(face), align(turned)))
    True
    """
    rotation, origin, scale = head_frame(landmarks)
    pts = _as_frames(landmarks) * np.array([1.0, -1.0, -1.0])
    local = np.einsum("fij,fnj->fni", rotation, pts - origin[:, None])
    return local / scale[:, None, None]


def head_pose(rotation: np.ndarray) -> np.ndarray:
    """Yaw, pitch and roll in degrees from head-frame rotations.

    Yaw is the face normal's turn toward the image's right (the subject turns to their
    left), pitch its tilt upward, roll the counter-clockwise tilt of the eye line in the
    image; all are 0 for a frontal upright face.

    Parameters
    ----------
    rotation
        ``(n_frames, 3, 3)`` from :func:`head_frame`.

    Returns
    -------
    numpy.ndarray
        ``(n_frames, 3)``: yaw, pitch, roll.

    Examples
    --------
    >>> a = np.radians(30)
    >>> yawed = np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]])
    >>> (head_pose(yawed[None]).round(6) + 0.0).tolist()  # + 0.0: no signed zeros
    [[30.0, 0.0, 0.0]]
    """
    ex, ez = rotation[:, 0], rotation[:, 2]
    yaw = np.arctan2(ez[:, 0], ez[:, 2])
    pitch = np.arctan2(ez[:, 1], np.hypot(ez[:, 0], ez[:, 2]))
    roll = np.arctan2(ex[:, 1], ex[:, 0])
    return np.degrees(np.stack([yaw, pitch, roll], axis=1))


def _y(aligned: np.ndarray, idx: int | tuple[int, ...]) -> np.ndarray:
    """Mean height (head-frame y) of one landmark or a group, per frame."""
    return aligned[:, list(np.atleast_1d(idx)), 1].mean(axis=1)


def _both(aligned: np.ndarray, groups: tuple, ref: tuple) -> np.ndarray:
    """Height of a landmark group above a reference group, averaged over both sides."""
    return np.mean([_y(aligned, g) - _y(aligned, r) for g, r in zip(groups, ref, strict=True)],
                   axis=0)


def _dist(aligned: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.linalg.norm(aligned[:, a] - aligned[:, b], axis=-1)


def eye_aspect_ratio(aligned: np.ndarray) -> np.ndarray:
    """Eye aspect ratio (Soukupová & Čech 2016), mean of both eyes.

    ``EAR = (|p2 - p6| + |p3 - p5|) / (2 |p1 - p4|)`` with p1, p4 the eye corners and
    p2, p3 / p6, p5 upper / lower lid points; about 0.3 open, near 0 closed.

    Parameters
    ----------
    aligned
        ``(n_frames, n_points, 3)`` (any similarity-equivalent coordinates).

    Returns
    -------
    numpy.ndarray
        ``(n_frames,)``.
    """
    ratios = []
    for p1, p2, p3, p4, p5, p6 in _EAR_POINTS:
        vertical = _dist(aligned, p2, p6) + _dist(aligned, p3, p5)
        ratios.append(vertical / (2.0 * _dist(aligned, p1, p4)))
    return np.mean(ratios, axis=0)


def mouth_aspect_ratio(aligned: np.ndarray) -> np.ndarray:
    """Mouth aspect ratio: mean inner-lip gap (three upper/lower pairs) over mouth width.

    Parameters
    ----------
    aligned
        ``(n_frames, n_points, 3)``.

    Returns
    -------
    numpy.ndarray
        ``(n_frames,)``, 0 with the lips closed.
    """
    gap = np.mean([_dist(aligned, a, b) for a, b in _INNER_LIP_PAIRS], axis=0)
    return gap / _dist(aligned, *_MOUTH_CORNER)


def action_units(aligned: np.ndarray) -> dict[str, np.ndarray]:
    """Sixteen AU-like measures per frame from head-frame landmarks (:func:`align`).

    Heights are head-frame y (up) in inter-ocular distances; bilateral measures average
    the two sides. Each measure grows with the action (FACS, Ekman et al. 2002):

    - **AU01** inner brow raiser: height of the inner brow (107, 55, 66, 65) above the
      inner eye corner (133).
    - **AU02** outer brow raiser: height of the outer brow (70, 46, 63, 53) above the
      outer eye corner (33).
    - **AU04** brow lowerer: minus (mean height of the whole brow above the eye-corner
      line + horizontal gap between the brow heads 55-285): brows down and together.
    - **AU05** upper lid raiser: height of the upper lid (159, 158, 160) above the
      eye-corner line.
    - **AU06** cheek raiser: height of the cheek (50, 101, 118) relative to the
      eye-corner line (negative; rises toward the eye).
    - **AU07** lid tightener: height of the lower lid (145, 144, 153) relative to the
      eye-corner line (negative; the lower lid rises and straightens).
    - **AU09** nose wrinkler: height of the nose wing (98, 129) relative to the inner
      eye corner (negative; the wing is pulled up).
    - **AU10** upper lip raiser: height of the upper-lip top (37, 0, 267) relative to
      the subnasale (2) (negative; the lip rises toward the nose).
    - **AU12** lip corner puller: height of the lip corners (61, 291) above the centre
      of the upper lip (13).
    - **AU15** lip corner depressor: depth of the lip corners below the mouth centre
      (mean of 13 and 14); the antagonist of AU12 on another reference.
    - **AU17** chin raiser: minus the height of the lower-lip bottom (17) above the chin
      (152): the chin boss pushes the lower lip up.
    - **AU20** lip stretcher: mouth width, lip corner to lip corner (61-291).
    - **AU23** lip tightener: minus the vermilion thickness, upper (0-13) plus lower
      (14-17): the lips narrow.
    - **AU25** lips part: inner-lip gap, upper (13) minus lower (14) inner lip height.
    - **AU26** jaw drop: nose tip (1) to chin (152) height.
    - **AU45** blink: eye closure ``1 - EAR / 0.30`` (0 for a typical open eye, 1 shut).

    Parameters
    ----------
    aligned
        ``(n_frames, n_points, 3)`` head-frame landmarks.

    Returns
    -------
    dict
        AU name (:data:`AU_NAMES`) -> ``(n_frames,)`` array.
    """
    a = aligned
    corners = _EYE_OUTER, _EYE_INNER
    eye_line = [np.mean([_y(a, o), _y(a, i)], axis=0) for o, i in zip(*corners, strict=True)]

    def above_eye_line(groups: tuple) -> np.ndarray:
        return np.mean([_y(a, g) - line for g, line in zip(groups, eye_line, strict=True)],
                       axis=0)

    corner = _y(a, _MOUTH_CORNER)
    upper_inner, lower_inner = _y(a, _UPPER_LIP_INNER), _y(a, _LOWER_LIP_INNER)
    lower_bottom = _y(a, _LOWER_LIP_BOTTOM)
    brow_gap = np.abs(a[:, _BROW_HEAD[1], 0] - a[:, _BROW_HEAD[0], 0])
    return {
        "AU01": _both(a, _BROW_INNER, _EYE_INNER),
        "AU02": _both(a, _BROW_OUTER, _EYE_OUTER),
        "AU04": -(above_eye_line(_BROW_ALL) + brow_gap),
        "AU05": above_eye_line(_LID_UPPER),
        "AU06": above_eye_line(_CHEEK),
        "AU07": above_eye_line(_LID_LOWER),
        "AU09": _both(a, _NOSE_WING, _EYE_INNER),
        "AU10": _y(a, _UPPER_LIP_TOP) - _y(a, _SUBNASALE),
        "AU12": corner - upper_inner,
        "AU15": (upper_inner + lower_inner) / 2 - corner,
        "AU17": _y(a, _CHIN) - lower_bottom,
        "AU20": np.abs(a[:, _MOUTH_CORNER[1], 0] - a[:, _MOUTH_CORNER[0], 0]),
        "AU23": -((_y(a, 0) - upper_inner) + (lower_inner - lower_bottom)),
        "AU25": upper_inner - lower_inner,
        "AU26": _y(a, _NOSE_TIP) - _y(a, _CHIN),
        "AU45": 1.0 - eye_aspect_ratio(a) / EAR_OPEN,
    }


def frame_measures(landmarks: np.ndarray) -> np.ndarray:
    """All per-frame measures (:data:`MEASURE_NAMES`) from image-axis landmarks.

    Parameters
    ----------
    landmarks
        ``(n_frames, n_points, 3)`` in image axes; NaN rows for frames without a face.

    Returns
    -------
    numpy.ndarray
        ``(n_frames, len(MEASURE_NAMES))``: the AUs, EAR, MAR, yaw, pitch, roll; NaN rows
        where the input is NaN.

    Examples
    --------
    >>> frame_measures(np.full((2, 478, 3), np.nan)).shape
    (2, 21)
    """
    pts = _as_frames(landmarks)
    with np.errstate(invalid="ignore", divide="ignore"):
        rotation, _, _ = head_frame(pts)
        aligned = align(pts)
        aus = action_units(aligned)
        columns = [*(aus[n] for n in AU_NAMES), eye_aspect_ratio(aligned),
                   mouth_aspect_ratio(aligned), *head_pose(rotation).T]
    return np.stack(columns, axis=1)


def clip_functionals(times: np.ndarray, measures: np.ndarray, names: tuple[str, ...] | list[str],
                     valid: np.ndarray) -> dict[str, float]:
    """Clip-level functionals of per-frame face measures, plus the fraction of usable frames.

    Parameters
    ----------
    times
        ``(n_frames,)`` timestamps in seconds (only their spacing is used, for slopes).
    measures
        ``(n_frames, n_measures)``; rows of unusable frames are ignored.
    names
        One name per column.
    valid
        ``(n_frames,)`` booleans: frames with a usable face.

    Returns
    -------
    dict
        ``<name>_<stat>`` for the default statistics, and ``face_fraction``.

    Examples
    --------
    >>> out = clip_functionals(np.arange(3) / 10, np.array([[0.0], [1.0], [9.0]]), ["x"],
    ...                        np.array([True, True, False]))
    >>> out["x_mean"], out["x_rise"], out["face_fraction"]
    (0.5, 10.0, 0.667)
    """
    values = np.where(valid[:, None], measures, np.nan)
    steps = np.diff(times)
    steps = steps[steps > 0]
    rate = 1.0 / float(np.median(steps)) if steps.size else 1.0
    out = functionals(values, list(names), rate=rate)
    out["face_fraction"] = float(np.mean(valid)) if valid.size else 0.0
    return out
