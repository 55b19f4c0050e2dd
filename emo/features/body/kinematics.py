"""Body-movement features from joint trajectories: pure NumPy, no I/O.

Input is an array of shape (frames, joints, 3) in metres on the :data:`COMMON_JOINTS`, sampled
at a fixed ``rate`` (frames per second), in the Kinect camera convention: x toward the
person's right when they face the sensor, y up, z away from the sensor. Both sources map
onto it: :mod:`emo.features.body.kinect` (Kinect v2 skeletons) and
:mod:`emo.features.body.pose` (MediaPipe pose from video).

Normalisation, before any feature (so the room, the recording and the actor's size drop out):

1. **position**: every joint relative to the pelvis (hip centre / Kinect ``SpineBase``) of
   the same frame; whole-body travel only enters as the pelvis *speed*;
2. **orientation**: coordinates in a body frame fixed per clip: x = the person's right
   (median hip and shoulder axis, made horizontal), y = up, z = forward (where the person
   faces), so turning to face another direction changes nothing;
3. **size**: lengths divided by the trunk length (median pelvis-to-neck distance), speeds are
   trunk lengths per second.

Positions are smoothed and differentiated in one step by a Savitzky-Golay filter
(cubic, window ``smoothing`` seconds), which is exact for motions up to a cubic in time.
Frame-level series become clip-level features through :func:`emo.features.functionals`.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np

from emo.features.functionals import functionals

#: The joints both sources provide, in array order (``_l``/``_r``: the person's left/right).
COMMON_JOINTS: tuple[str, ...] = (
    "pelvis", "spine", "neck", "head",
    "shoulder_l", "elbow_l", "wrist_l", "hand_l",
    "shoulder_r", "elbow_r", "wrist_r", "hand_r",
    "hip_l", "knee_l", "ankle_l",
    "hip_r", "knee_r", "ankle_r",
)
_J = {name: i for i, name in enumerate(COMMON_JOINTS)}

#: Segment mass fractions (Winter 2009, *Biomechanics and Motor Control of Human Movement*,
#: table 4.1), each put on the joint that moves with the segment, for the kinetic energy.
SEGMENT_MASS: dict[str, float] = {
    "spine": 0.355, "head": 0.081,
    "elbow_l": 0.028, "wrist_l": 0.016, "hand_l": 0.006,
    "elbow_r": 0.028, "wrist_r": 0.016, "hand_r": 0.006,
    "knee_l": 0.100, "ankle_l": 0.061, "knee_r": 0.100, "ankle_r": 0.061,
}

#: Below this quantity of motion (trunk lengths per second) a frame counts as still.
PAUSE_SPEED = 0.15
#: Shortest stillness counted as a pause (seconds).
MIN_PAUSE = 0.2
#: Smallest prominence of a movement peak in the quantity of motion (trunk lengths per second).
PEAK_PROMINENCE = 0.2
#: Frequency band searched for the dominant movement frequency (Hz).
RHYTHM_BAND = (0.25, 6.0)
#: Fewest frames a clip needs (the cubic smoothing filter needs 5).
MIN_FRAMES = 5
_POLYORDER = 3
_ON_FRAME = 1e-4  # fraction of a frame interval treated as "on the frame" when resampling


def fill_gaps(joints: np.ndarray, max_frames: int) -> tuple[np.ndarray, int]:
    """Linearly interpolate runs of missing frames of each joint up to ``max_frames`` long.

    A joint is missing in a frame when any of its coordinates is NaN. Gaps at either end
    of the clip (no neighbour on one side) take the nearest valid value; longer gaps stay NaN.

    Parameters
    ----------
    joints
        Array (frames, joints, 3).
    max_frames
        Longest gap (in frames) that is filled.

    Returns
    -------
    filled : numpy.ndarray
        A copy with the short gaps filled.
    n_filled : int
        Number of (frame, joint) entries filled.

    Examples
    --------
    >>> x = np.array([0.0, np.nan, 2.0, np.nan, np.nan, np.nan, 6.0])[:, None, None].repeat(3, 2)
    >>> out, n = fill_gaps(x, 2)
    >>> out[:, 0, 0].tolist(), n
    ([0.0, 1.0, 2.0, nan, nan, nan, 6.0], 1)
    """
    out = np.array(joints, dtype=float, copy=True)
    frames = np.arange(out.shape[0])
    n_filled = 0
    for j in range(out.shape[1]):
        missing = np.isnan(out[:, j]).any(axis=1)
        if not missing.any() or missing.all():
            continue
        fill = missing & (_run_lengths(missing) <= max_frames)
        valid = ~missing
        for c in range(out.shape[2]):
            out[fill, j, c] = np.interp(frames[fill], frames[valid], out[valid, j, c])
        n_filled += int(fill.sum())
    return out, n_filled


def _run_lengths(mask: np.ndarray) -> np.ndarray:
    """Length of the run of equal values each element of a boolean array belongs to."""
    edges = np.flatnonzero(np.diff(mask.astype(np.int8))) + 1
    bounds = np.concatenate(([0], edges, [mask.size]))
    return np.repeat(np.diff(bounds), np.diff(bounds))


def resample(times: np.ndarray, joints: np.ndarray, rate: float) -> np.ndarray:
    """Linearly interpolate irregularly timed frames onto a fixed rate.

    Parameters
    ----------
    times
        Strictly increasing frame times in seconds, shape (frames,).
    joints
        Array (frames, ...) of values at those times; NaN spreads to the output frames
        that interpolate from it.
    rate
        Output frames per second; the grid starts at ``times[0]`` and ends at or before
        ``times[-1]``.

    Returns
    -------
    numpy.ndarray
        Array (n, ...) with ``n = floor((times[-1] - times[0]) * rate) + 1``.

    Examples
    --------
    >>> resample(np.array([0.0, 0.1, 0.25]), np.array([0.0, 1.0, 2.5]), 20).tolist()
    [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    """
    times = np.asarray(times, dtype=float)
    values = np.asarray(joints, dtype=float)
    if len(times) == 1:
        return values[:1].copy()
    n = int(np.floor((times[-1] - times[0]) * rate + 1e-6)) + 1
    grid = times[0] + np.arange(n) / rate
    left = np.clip(np.searchsorted(times, grid, side="right") - 1, 0, len(times) - 2)
    right = left + 1
    w = np.clip((grid - times[left]) / (times[right] - times[left]), 0.0, 1.0)
    w = w.reshape((n,) + (1,) * (values.ndim - 1))
    blend = values[left] * (1.0 - w) + values[right] * w
    # on (or within rounding of) a source frame, take it alone: a NaN neighbour must not leak
    return np.where(w < _ON_FRAME, values[left], np.where(w > 1 - _ON_FRAME, values[right], blend))


def normalise(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Pelvis-relative joints in the body frame, in trunk lengths.

    Parameters
    ----------
    joints
        Array (frames, len(COMMON_JOINTS), 3), metres, Kinect convention.

    Returns
    -------
    body : numpy.ndarray
        Array (frames, joints, 3): x right, y up, z forward, pelvis at the origin.
    root : numpy.ndarray
        Pelvis trajectory (frames, 3) in the same axes and units (for its speed only).
    scale : float
        Trunk length in metres (median pelvis-to-neck distance).

    Raises
    ------
    ValueError
        When the trunk or the left-right axis cannot be measured.
    """
    pelvis = joints[:, _J["pelvis"]]
    trunk = np.linalg.norm(joints[:, _J["neck"]] - pelvis, axis=1)
    scale = float(np.median(trunk[np.isfinite(trunk)])) if np.isfinite(trunk).any() else 0.0
    if not scale > 0:
        raise ValueError("trunk length cannot be measured (pelvis or neck never tracked)")
    axis = np.nanmean(  # a mean, not a median, so that the frame turns with the body
        np.concatenate([joints[:, _J["hip_r"]] - joints[:, _J["hip_l"]],
                        joints[:, _J["shoulder_r"]] - joints[:, _J["shoulder_l"]]]), axis=0)
    right = np.array([axis[0], 0.0, axis[2]])
    if not np.isfinite(right).all() or np.linalg.norm(right) == 0:
        raise ValueError("left-right body axis cannot be measured (hips and shoulders missing)")
    right /= np.linalg.norm(right)
    up = np.array([0.0, 1.0, 0.0])
    rotation = np.stack([right, up, np.cross(up, right)])  # rows: right, up, forward
    # einsum, not BLAS matmul: BLAS kernels round differently with memory alignment, which
    # made repeated extractions of one clip differ in the last bits.
    body = np.einsum("fjk,ck->fjc", joints - pelvis[:, None, :], rotation) / scale
    return body, np.einsum("fk,ck->fc", pelvis, rotation) / scale, scale


def derivatives(x: np.ndarray, rate: float, window: int) -> list[np.ndarray]:
    """Smoothed velocity, acceleration and jerk along axis 0 (Savitzky-Golay, cubic).

    Each frame's derivatives are those of the cubic fitted by least squares to the
    ``window`` frames centred on it, or, within half a window of either end, to the first
    or last ``window`` frames (the ``interp`` edges of :func:`scipy.signal.savgol_filter`);
    every series is filtered at once (:func:`savgol_weights`). NaN frames are bridged
    for filtering and NaN again in the outputs.

    Parameters
    ----------
    x
        Array (frames, ...).
    rate
        Frames per second.
    window
        Odd filter length in frames (at least 5, at most the number of frames).

    Returns
    -------
    list of numpy.ndarray
        ``[velocity, acceleration, jerk]``, each shaped like ``x``, per second (squared, cubed).

    Examples
    --------
    >>> v, a, j = derivatives(np.arange(10.0) * 0.5, rate=10, window=5)
    >>> np.allclose(v, 5.0), np.allclose(a, 0.0), np.allclose(j, 0.0)
    (True, True, True)
    """
    flat = np.asarray(x, dtype=float).reshape(len(x), -1)
    missing = np.isnan(flat)
    seen = ~missing.all(axis=0)
    bridged = flat[:, seen]
    frames = np.arange(len(flat))
    for c in np.flatnonzero(missing[:, seen].any(axis=0)):
        ok = ~np.isnan(bridged[:, c])
        bridged[~ok, c] = np.interp(frames[~ok], frames[ok], bridged[ok, c])
    half = window // 2
    # each frame's window starts here, and the frame lies at this position in it
    start = np.clip(frames - half, 0, len(flat) - window)
    weights = savgol_weights(window)[:, frames - start]  # (3, frames, window)
    windows = bridged[start[:, None] + np.arange(window)]  # (frames, window, series)
    # einsum, not BLAS matmul: BLAS rounding depends on memory alignment (see normalise)
    filtered = np.einsum("dfw,fws->dfs", weights, windows)
    out = []
    for order in (1, 2, 3):
        d = np.full(flat.shape, np.nan)
        d[:, seen] = filtered[order - 1] * rate**order
        d[missing] = np.nan
        out.append(d.reshape(np.shape(x)))
    return out


@functools.lru_cache(maxsize=16)
def savgol_weights(window: int) -> np.ndarray:
    """Weights giving the first three derivatives of the least-squares cubic through
    ``window`` equally spaced samples, at each sample.

    Parameters
    ----------
    window
        Samples in the window (more than 3).

    Returns
    -------
    numpy.ndarray
        ``(3, window, window)``: ``weights[d - 1, p] @ samples`` is the ``d``-th derivative
        (per sample step) at sample ``p``. Read-only.

    Examples
    --------
    >>> w = savgol_weights(5)
    >>> slope = w[0] @ np.arange(5.0) ** 3  # of t**3 at t = 0..4: 3 t**2
    >>> (slope.round(6) + 0.0).tolist()  # + 0.0: a -1e-14 rounds to 0.0, not -0.0
    [0.0, 3.0, 12.0, 27.0, 48.0]
    """
    positions = np.arange(window, dtype=float)
    powers = np.arange(_POLYORDER + 1)
    fit = np.linalg.pinv(positions[:, None] ** powers)  # samples -> cubic coefficients
    rows = []
    for order in (1, 2, 3):
        # d^order/dp^order of p^k = k! / (k - order)! p^(k - order)
        scale = np.array([math.perm(k, order) for k in powers], dtype=float)
        derived = scale * positions[:, None] ** np.maximum(powers - order, 0)
        rows.append(derived @ fit)
    weights = np.stack(rows)
    weights.flags.writeable = False
    return weights


def _pair(name: str) -> list[int]:
    """Indices of the left and right joint of a pair, or of a single joint."""
    return [_J[f"{name}_l"], _J[f"{name}_r"]] if f"{name}_l" in _J else [_J[name]]


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle atan2(a, b) in degrees."""
    return np.degrees(np.arctan2(a, b))


def motion_series(body: np.ndarray, root: np.ndarray, rate: float,
                  window: int) -> dict[str, np.ndarray]:
    """Frame-level speed, acceleration, jerk, kinetic energy and quantity of motion.

    Effort / dynamics cues of Camurri et al. (2003, *Int. J. Hum.-Comput. Stud.* 59) and
    Glowinski et al. (2011, *IEEE Trans. Affect. Comput.* 2): the magnitude of the first three
    derivatives of the hands, wrists, elbows (mean of left and right, or the one seen) and
    head; the kinetic energy of Piana et al. (2016, *ACM Trans. Interact. Intell. Syst.* 6),
    with segment masses :data:`SEGMENT_MASS`; the quantity of motion as the mean speed of all
    joints (Camurri et al. 2003, skeleton form); and the pelvis speed (whole-body travel, not
    position).

    Parameters
    ----------
    body, root
        Outputs of :func:`normalise`.
    rate
        Frames per second.
    window
        Savitzky-Golay window in frames.

    Returns
    -------
    dict
        Series name -> array (frames,).
    """
    # the pelvis trajectory is filtered with the joints, as one more joint
    both = derivatives(np.concatenate([body, root[:, None]], axis=1), rate, window)
    vel, acc, jerk = (np.linalg.norm(d[:, :-1], axis=-1) for d in both)
    out: dict[str, np.ndarray] = {}
    for part in ("hand", "wrist", "elbow", "head"):
        idx = _pair(part)
        for kind, mag in (("speed", vel), ("acc", acc), ("jerk", jerk)):
            out[f"{part}_{kind}"] = np.nanmean(mag[:, idx], axis=1)
    masses = np.array([SEGMENT_MASS.get(name, 0.0) for name in COMMON_JOINTS])
    energy = 0.5 * vel**2 * masses
    out["kinetic_energy"] = np.where(np.isnan(energy).all(1), np.nan, np.nansum(energy, 1))
    out["quantity_of_motion"] = np.nanmean(vel[:, 1:], axis=1)  # the pelvis is always still
    out["root_speed"] = np.linalg.norm(both[0][:, -1], axis=-1)
    return out


def shape_series(body: np.ndarray) -> dict[str, np.ndarray]:
    """Frame-level contraction / expansion, arm symmetry and hand placement.

    - ``bounding_volume``: volume of the box around all joints (Piana et al. 2016; Glowinski
      et al. 2011 use its 2-D area as the contraction index);
    - ``hand_body_distance``: mean distance of the hands to the spine joint (expansion,
      Kleinsmith & Bianchi-Berthouze 2013, *IEEE Trans. Affect. Comput.* 4);
    - ``hand_head_distance``: mean distance of the hands to the head (Kleinsmith &
      Bianchi-Berthouze 2013; hands to face in fear and shame);
    - ``hand_height``: mean height of the hands above the pelvis (Wallbott 1998,
      *Eur. J. Soc. Psychol.* 28: arms raised in joy and anger);
    - ``arm_symmetry``: 1 - |r - m(l)| / (|r| + |l|), r and l the hands relative to the neck
      and m the mirror through the body's mid-plane: 1 for mirror-image arms, near 0 for a
      one-sided gesture (spatial symmetry of Glowinski et al. 2011; Piana et al. 2016).

    Parameters
    ----------
    body
        Output of :func:`normalise`.

    Returns
    -------
    dict
        Series name -> array (frames,).
    """
    hands = body[:, _pair("hand")]
    extent = np.nanmax(body, axis=1) - np.nanmin(body, axis=1)
    rel = hands - body[:, [_J["neck"]]]
    mirrored_left = rel[:, 0] * np.array([-1.0, 1.0, 1.0])
    norms = np.linalg.norm(rel, axis=-1).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        symmetry = 1.0 - np.linalg.norm(rel[:, 1] - mirrored_left, axis=-1) / norms
    return {
        "bounding_volume": np.prod(extent, axis=1),
        "hand_body_distance": np.nanmean(np.linalg.norm(hands - body[:, [_J["spine"]]], axis=-1),
                                         axis=1),
        "hand_head_distance": np.nanmean(np.linalg.norm(hands - body[:, [_J["head"]]], axis=-1),
                                         axis=1),
        "hand_height": np.nanmean(hands[..., 1], axis=1),
        "arm_symmetry": symmetry,
    }


def posture_series(body: np.ndarray) -> dict[str, np.ndarray]:
    """Frame-level trunk lean, head bow and tilt, and shoulder elevation (degrees, trunk units).

    Posture cues of Kleinsmith & Bianchi-Berthouze (2013) and Coulson (2004, *J. Nonverbal
    Behav.* 28), in the body frame:

    - ``trunk_lean``: forward (+) / backward (-) angle of the pelvis-to-neck line from vertical;
    - ``head_bow``: forward (+) angle of the neck-to-head line, relative to the trunk's lean;
    - ``head_tilt``: sideways angle of the neck-to-head line (+: toward the right shoulder);
    - ``shoulder_elevation``: mean shoulder height minus head height (rises toward 0 when the
      shoulders are drawn up to the head; it also rises when the head is lowered).

    Parameters
    ----------
    body
        Normalised joints (frames, joints, 3), the first output of :func:`normalise`.

    Returns
    -------
    dict
        One array (frames,) per posture cue above.
    """
    trunk = body[:, _J["neck"]] - body[:, _J["pelvis"]]
    head = body[:, _J["head"]] - body[:, _J["neck"]]
    lean = _angle(trunk[:, 2], trunk[:, 1])
    return {
        "trunk_lean": lean,
        "head_bow": _angle(head[:, 2], head[:, 1]) - lean,
        "head_tilt": _angle(head[:, 0], head[:, 1]),
        "shoulder_elevation": np.nanmean(body[:, _pair("shoulder"), 1], axis=1)
        - body[:, _J["head"], 1],
    }


def rhythm_features(qom: np.ndarray, rate: float) -> dict[str, float]:
    """Dominant movement frequency, movement peaks and pauses of the quantity of motion.

    Rhythm and fluidity cues of Camurri et al. (2003: pause and motion phases from the
    quantity of motion) and Castellano et al. (2007, *ACII*, LNCS 4738):

    - ``movement_frequency``: frequency (Hz) of the largest spectral peak of the mean-removed
      series in :data:`RHYTHM_BAND` (NaN when the clip is too short to resolve the band);
    - ``movement_peaks_per_s``: peaks with prominence >= :data:`PEAK_PROMINENCE` per second;
    - ``pause_fraction``: fraction of the clip spent in pauses (quantity of motion below
      :data:`PAUSE_SPEED` for at least :data:`MIN_PAUSE` seconds);
    - ``pause_mean_s``: mean pause length in seconds (0 without pauses).

    Parameters
    ----------
    qom
        Quantity of motion per frame (trunk lengths per second).
    rate
        Frames per second.

    Returns
    -------
    dict
        Feature name -> float.

    Examples
    --------
    >>> t = np.arange(0, 4, 1 / 30)
    >>> f = rhythm_features(1 + np.sin(2 * np.pi * 1.5 * t), 30.0)
    >>> round(f["movement_frequency"], 1), round(f["movement_peaks_per_s"], 1)
    (1.5, 1.5)
    """
    x = np.nan_to_num(qom, nan=float(np.nanmean(qom)) if np.isfinite(qom).any() else 0.0)
    duration = len(x) / rate
    spectrum = np.abs(np.fft.rfft((x - x.mean()) * np.hanning(len(x)), n=max(len(x), 256)))
    freqs = np.fft.rfftfreq(max(len(x), 256), 1.0 / rate)
    band = (freqs >= RHYTHM_BAND[0]) & (freqs <= RHYTHM_BAND[1])
    resolvable = duration >= 1.0 / RHYTHM_BAND[0] / 2 and band.any()
    still = x < PAUSE_SPEED
    runs = _run_lengths(still)
    pause = still & (runs >= MIN_PAUSE * rate)
    starts = pause & ~np.concatenate(([False], pause[:-1]))
    return {
        "movement_frequency": float(freqs[band][np.argmax(spectrum[band])]) if resolvable
        else float("nan"),
        "movement_peaks_per_s": int((prominences(x) >= PEAK_PROMINENCE).sum()) / duration,
        "pause_fraction": float(pause.mean()),
        "pause_mean_s": float(runs[starts].mean() / rate) if starts.any() else 0.0,
    }


def prominences(x: np.ndarray) -> np.ndarray:
    """Prominence of every peak of a series, as :func:`scipy.signal.find_peaks` finds them.

    A peak is a sample, or the middle of a run of equal samples, higher than both
    neighbours (never the first or last); its prominence is its height above the higher of
    the lowest points between it and the nearest higher sample on either side (or the end).

    Parameters
    ----------
    x
        Series without NaN.

    Returns
    -------
    numpy.ndarray
        One prominence per peak, in time order.

    Examples
    --------
    >>> prominences(np.array([0.0, 2.0, 1.0, 1.0, 3.0, 3.0, 0.5, 1.0])).tolist()
    [1.0, 2.5]
    """
    starts = np.flatnonzero(np.concatenate(([True], x[1:] != x[:-1])))
    ends = np.concatenate((starts[1:], [len(x)])) - 1
    values = x[starts]
    # runs higher than the runs on both sides (the first and last runs have no two sides)
    higher = np.flatnonzero((values[1:-1] > values[:-2]) & (values[1:-1] > values[2:])) + 1
    out = []
    for peak in (starts[higher] + ends[higher]) // 2:
        above = np.flatnonzero(x > x[peak])
        left = above[above < peak]
        right = above[above > peak]
        left_min = x[(left[-1] + 1 if left.size else 0):peak + 1].min()
        right_min = x[peak:(right[0] if right.size else len(x))].min()
        out.append(x[peak] - max(left_min, right_min))
    return np.asarray(out, dtype=float)


def smoothing_window(smoothing: float, rate: float, n_frames: int) -> int:
    """Odd Savitzky-Golay window for ``smoothing`` seconds, at least 5 and at most the clip.

    Examples
    --------
    >>> smoothing_window(0.25, 30.0, 100), smoothing_window(0.0, 30.0, 100)
    (9, 5)
    """
    window = max(int(round(smoothing * rate)) | 1, MIN_FRAMES)
    return min(window, n_frames if n_frames % 2 else n_frames - 1)


def clip_features(joints: np.ndarray, rate: float, *, smoothing: float = 0.25) -> dict[str, float]:
    """All body features of one clip (unprefixed names, e.g. ``hand_speed_p90``).

    Parameters
    ----------
    joints
        Array (frames, len(COMMON_JOINTS), 3) in metres, Kinect convention, fixed ``rate``;
        NaN marks lost joints (ignored by the statistics).
    rate
        Frames per second.
    smoothing
        Savitzky-Golay window in seconds.

    Returns
    -------
    dict
        Functionals (:data:`emo.features.functionals.DEFAULT_STATS`) of every series of
        :func:`motion_series`, :func:`shape_series` and :func:`posture_series`, then
        :func:`rhythm_features`.

    Raises
    ------
    ValueError
        Fewer than :data:`MIN_FRAMES` frames, a wrong shape, or no measurable trunk.
    """
    joints = np.asarray(joints, dtype=float)
    if joints.ndim != 3 or joints.shape[1:] != (len(COMMON_JOINTS), 3):
        raise ValueError(f"joints must have shape (frames, {len(COMMON_JOINTS)}, 3), "
                         f"got {joints.shape}")
    if len(joints) < MIN_FRAMES:
        raise ValueError(f"{len(joints)} frames are too few (need {MIN_FRAMES})")
    body, root, _ = normalise(joints)
    window = smoothing_window(smoothing, rate, len(body))
    with warnings.catch_warnings():  # frames where every joint of a measure is lost give NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        motion = motion_series(body, root, rate, window)
        series = {**motion, **shape_series(body), **posture_series(body)}
        return {**functionals(series, rate=rate),
                **rhythm_features(motion["quantity_of_motion"], rate)}
