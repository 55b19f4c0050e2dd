"""Kinect v2 skeleton text files: parse, pick the actor's body, cut a segment, resample.

File format (:mod:`emo.data.skeleton`): ``;``-separated, one row per tracked body per frame:
frame time (ms), body index, then for each of the 25 Kinect joints position X/Y/Z (m) and
rotation X/Y/Z (degrees): 152 values, usually with a trailing ``;``. Decimal commas and dots
are both read (``;`` being the separator, a comma can only be a decimal mark); blank lines
and a UTF-8 byte-order mark are skipped. Empty fields, ``NaN``/``nan``/``-nan(ind)``,
infinities and joints at exactly (0, 0, 0) (the SDK's "not tracked") are missing values.

What cannot come from a Kinect is refused, naming the line: bytes that are not ASCII text
(a binary or damaged file), a position farther than :data:`MAX_POSITION` metres from the
sensor (a corrupt number such as ``1e308``), a frame time that is missing, NaN or
infinite, and, within the segment read, a frame time that does not increase or jumps
more than :data:`MAX_TIME_STEP` seconds (resampling across it would make millions of
frames).

Rules where the format leaves a choice:

- **frames**: a frame is a run of consecutive rows with the same time stamp (one row per body
  tracked in that frame). Segment bounds (``Clip.skeleton_start`` / ``skeleton_end``) are
  0-based, inclusive indices of these *frames of the file*; with one body per frame (the
  usual case) they are simply the data-row indices, and they do not depend on which body
  is chosen.
- **body**: among the bodies seen in the segment, those tracked in at least half as many
  frames as the most-tracked one are candidates; the candidate whose limbs move most
  (mean pelvis-relative joint displacement per frame) is the actor. A bystander passing
  through moves the pelvis, not the limbs, and is seen briefly.
- **gaps**: frames where the chosen body or a joint is missing are filled by linear
  interpolation when the gap is at most ``max_gap`` seconds, and stay NaN otherwise.
- **time**: frame times must increase within the segment; the segment is resampled to a fixed
  ``rate`` by linear interpolation, starting at its first frame.

Parsing uses the pandas C parser once per file; the last files parsed are kept in memory
(keyed by path, size and modification time), so the five takes that share one session file
parse it once per process.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from emo.data.skeleton import KINECT_COLUMNS, KINECT_FPS, KINECT_JOINTS, VALUES_PER_JOINT
from emo.errors import MediaError
from emo.features.body.kinematics import COMMON_JOINTS, fill_gaps, resample

#: Largest joint coordinate accepted, in metres (the Kinect v2 sees up to about 8 m).
MAX_POSITION = 100.0
#: Largest time between two frames of a segment, in seconds (frames come every 33 ms).
MAX_TIME_STEP = 10.0

#: Kinect joint used for each common joint (:data:`~emo.features.body.kinematics.COMMON_JOINTS`).
KINECT_TO_COMMON: dict[str, str] = {
    "pelvis": "SpineBase", "spine": "SpineMid", "neck": "SpineShoulder", "head": "Head",
    "shoulder_l": "ShoulderLeft", "elbow_l": "ElbowLeft", "wrist_l": "WristLeft",
    "hand_l": "HandLeft",
    "shoulder_r": "ShoulderRight", "elbow_r": "ElbowRight", "wrist_r": "WristRight",
    "hand_r": "HandRight",
    "hip_l": "HipLeft", "knee_l": "KneeLeft", "ankle_l": "AnkleLeft",
    "hip_r": "HipRight", "knee_r": "KneeRight", "ankle_r": "AnkleRight",
}
_COMMON_INDEX = np.array([KINECT_JOINTS.index(KINECT_TO_COMMON[j]) for j in COMMON_JOINTS])
_NA = ["", "NaN", "nan", "-nan", "NAN", "-nan(ind)", "nan(ind)", "inf", "-inf", "Infinity",
       "-Infinity"]
_DTYPES = {**dict.fromkeys(range(KINECT_COLUMNS), np.float64), 1: str}
_WHITESPACE = np.frombuffer(b" \t\r\n", dtype=np.uint8)
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class KinectRecording:
    """The rows of one Kinect file, as parsed.

    Attributes
    ----------
    times
        Frame time of each row (ms).
    bodies
        Body index of each row, as written (a slot 0-5 or a 64-bit tracking id: kept as text
        so that large ids stay exact).
    positions
        Joint positions (rows, 25, 3) in metres, NaN where missing.
    lines
        1-based line number of each row in the file, for messages.
    frame
        0-based frame index of each row (see the module notes).
    """

    times: np.ndarray
    bodies: np.ndarray
    positions: np.ndarray
    lines: np.ndarray
    frame: np.ndarray

    @property
    def n_frames(self) -> int:
        """Number of frames in the file."""
        return int(self.frame[-1]) + 1


@dataclass(frozen=True)
class Skeleton:
    """A segment of one body's joints at a fixed rate.

    Attributes
    ----------
    joints
        Array (frames, 25, 3), Kinect joint order, metres, NaN where missing.
    rate
        Frames per second.
    body
        Body index chosen.
    n_filled
        (frame, joint) entries filled by interpolation (short gaps, missing body frames).
    n_missing
        (frame, joint) entries still missing after filling.
    """

    joints: np.ndarray
    rate: float
    body: str
    n_filled: int
    n_missing: int

    def common(self) -> np.ndarray:
        """The joints mapped onto :data:`~emo.features.body.kinematics.COMMON_JOINTS`."""
        return kinect_to_common(self.joints)


def kinect_to_common(joints: np.ndarray) -> np.ndarray:
    """Select the common joints from Kinect joints (the conventions already agree).

    Parameters
    ----------
    joints
        Array (..., 25, 3) in :data:`~emo.data.skeleton.KINECT_JOINTS` order.

    Returns
    -------
    numpy.ndarray
        Array (..., len(COMMON_JOINTS), 3).
    """
    return np.asarray(joints)[..., _COMMON_INDEX, :]


def parse_kinect(data: bytes, path: str | Path = "<kinect>") -> KinectRecording:
    """Parse the bytes of a Kinect v2 text file.

    Parameters
    ----------
    data
        File content.
    path
        File name for messages.

    Returns
    -------
    KinectRecording

    Raises
    ------
    MediaError
        Empty file, bytes that are not text, a line with the wrong number of values, text
        in a number field, a missing or non-finite time, a missing body index, a position
        beyond :data:`MAX_POSITION`; the message names the file and the line.

    Examples
    --------
    >>> row = "0;1;" + "0,5;1,0;2,0;0;0;0;" * 25
    >>> rec = parse_kinect((row + "\\n" + row.replace("0;1;", "33;1;", 1)).encode())
    >>> rec.times.tolist(), rec.positions.shape, rec.positions[0, 0].tolist()
    ([0.0, 33.0], (2, 25, 3), [0.5, 1.0, 2.0])
    """
    data = data.removeprefix(_BOM).replace(b",", b".")
    lines, trailing = _data_lines(data, path)
    try:
        table = _read_table(data, trailing, _DTYPES)
    except ValueError:
        raise _text_error(data, lines, trailing, path) from None
    bodies = table.pop(1)
    values = table.to_numpy(dtype=np.float64)
    for what, bad in (("frame time is missing, NaN or infinite", ~np.isfinite(values[:, 0])),
                      ("missing body index", bodies.isna())):
        bad = np.flatnonzero(bad)
        if bad.size:
            raise MediaError(f"line {lines[bad[0]]}: {what}", path)
    positions = values[:, 1:].reshape(len(values), len(KINECT_JOINTS), VALUES_PER_JOINT)[..., :3]
    positions = np.where(np.isfinite(positions), positions, np.nan)
    _check_positions(positions, lines, path)
    positions[(positions == 0).all(axis=-1)] = np.nan  # the SDK writes untracked joints as 0
    times = values[:, 0]
    frame = np.concatenate(([0], np.cumsum(times[1:] != times[:-1])))
    return KinectRecording(times, bodies.str.strip().to_numpy(dtype=str), positions, lines, frame)


def _read_table(data: bytes, trailing: bool, dtype: object) -> pd.DataFrame:
    """The 152 columns, by the pandas C parser (a trailing ``;`` makes an empty 153rd)."""
    return pd.read_csv(io.BytesIO(data), sep=";", header=None,
                       names=range(KINECT_COLUMNS + trailing), usecols=range(KINECT_COLUMNS),
                       skip_blank_lines=True, engine="c", na_values=_NA,
                       keep_default_na=False, dtype=dtype)


def _check_positions(positions: np.ndarray, lines: np.ndarray, path: str | Path) -> None:
    """Refuse a coordinate beyond :data:`MAX_POSITION` (NaN, the missing ones, pass)."""
    far = np.argwhere(np.abs(positions) > MAX_POSITION)
    if far.size:
        row, joint, axis = far[0]
        raise MediaError(
            f"line {lines[row]}: {KINECT_JOINTS[joint]} {'xyz'[axis]} = "
            f"{positions[row, joint, axis]:g} m lies beyond the sensor's range "
            f"({MAX_POSITION:g} m; positions are in metres)", path)


def _data_lines(data: bytes, path: str | Path) -> tuple[np.ndarray, bool]:
    """1-based numbers of the non-blank lines (each checked to hold 152 values), and whether
    any of them ends with a ``;``."""
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == ord("\n"))
    binary = np.flatnonzero(((buf < 32) & ~np.isin(buf, _WHITESPACE)) | (buf > 126))
    if binary.size:
        at = binary[0]
        raise MediaError(f"line {np.searchsorted(newlines, at) + 1}: byte 0x{buf[at]:02x} is "
                         "not text (a binary or damaged file)", path)
    starts = np.concatenate(([0], newlines + 1))
    last = np.concatenate((newlines, [buf.size])) - 1  # last character of each line
    numbers = np.arange(1, starts.size + 1)
    while True:  # strip trailing white space (a few passes over the lines, not the bytes)
        keep = last >= starts
        starts, last, numbers = starts[keep], last[keep], numbers[keep]
        blank = np.isin(buf[last], _WHITESPACE)
        if not blank.any():
            break
        last = last - blank
    if numbers.size == 0:
        raise MediaError("empty Kinect file (no data line)", path)
    semis = np.flatnonzero(buf == ord(";"))
    trailing = buf[last] == ord(";")
    fields = (np.searchsorted(semis, last, side="right") - np.searchsorted(semis, starts)
              + ~trailing)
    wrong = np.flatnonzero(fields != KINECT_COLUMNS)
    if wrong.size:
        i = wrong[0]
        raise MediaError(
            f"line {numbers[i]}: {fields[i]} values, expected {KINECT_COLUMNS} (frame time, "
            f"body index, {len(KINECT_JOINTS)} joints x {VALUES_PER_JOINT})", path)
    return numbers, bool(trailing.any())


def _text_error(data: bytes, lines: np.ndarray, trailing: bool, path: str | Path) -> MediaError:
    """The first field that is not a number, as an error naming its line and column."""
    table = _read_table(data, trailing, str)
    for column in table.columns.drop(1):  # the body index is a label, any text
        text = table[column]
        bad = text.notna() & pd.to_numeric(text, errors="coerce").isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            return MediaError(f"line {lines[row]}: value {column + 1} "
                              f"({text.iloc[row].strip()!r}) is not a number", path)
    return MediaError("unreadable numbers", path)


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, _size: int, _mtime: int) -> KinectRecording:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise MediaError(f"cannot read Kinect file: {exc.strerror}", path) from exc
    return parse_kinect(data, path)


def load_kinect(path: str | Path) -> KinectRecording:
    """Parse a Kinect file, reusing the result while the file is unchanged.

    Parameters
    ----------
    path
        The ``.txt`` file.

    Returns
    -------
    KinectRecording
        Its frames, read and checked by :func:`parse_kinect` (whose errors it raises,
        plus a MediaError for a missing or unreadable file).
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise MediaError("Kinect file not found", path) from exc
    return _load_cached(str(path), stat.st_size, stat.st_mtime_ns)


def choose_body(rec: KinectRecording, rows: np.ndarray) -> str:
    """The body index of the actor among ``rows`` (rule in the module notes).

    Parameters
    ----------
    rec
        The parsed file.
    rows
        Row indices of the segment.

    Returns
    -------
    str
        Body index, as written.
    """
    ids, counts = np.unique(rec.bodies[rows], return_counts=True)
    if ids.size == 1:
        return str(ids[0])
    best, best_motion = str(ids[0]), -np.inf
    for body in ids[counts >= counts.max() / 2]:
        p = rec.positions[rows[rec.bodies[rows] == body]]
        steps = np.linalg.norm(np.diff(p - p[:, :1], axis=0), axis=-1).ravel()
        steps = steps[np.isfinite(steps)]
        motion = float(steps.mean()) if steps.size else 0.0
        if motion > best_motion:
            best, best_motion = str(body), motion
    return best


def read_kinect(
    path: str | Path,
    start: int | None = None,
    end: int | None = None,
    *,
    rate: float = KINECT_FPS,
    max_gap: float = 0.5,
) -> Skeleton:
    """One body's joints over a segment of a Kinect file, at a fixed rate.

    Parameters
    ----------
    path
        Kinect v2 ``.txt`` file.
    start, end
        0-based inclusive frame indices (``None``: first / last frame of the file).
    rate
        Output frames per second.
    max_gap
        Longest gap (seconds) filled by interpolation.

    Returns
    -------
    Skeleton

    Raises
    ------
    MediaError
        Malformed file, segment outside the file, frame times that do not increase or
        jump more than :data:`MAX_TIME_STEP`, or a segment where no body is tracked.
    """
    rec = load_kinect(path)
    first = 0 if start is None else int(start)
    last = rec.n_frames - 1 if end is None else int(end)
    if not 0 <= first <= last < rec.n_frames:
        raise MediaError(f"Kinect segment {first}-{last} lies outside the file's frames "
                         f"0-{rec.n_frames - 1}", path)
    rows = np.flatnonzero((rec.frame >= first) & (rec.frame <= last))
    body = choose_body(rec, rows)
    mine = rows[rec.bodies[rows] == body]
    frame_rows = rows[np.concatenate(([True], rec.frame[rows][1:] != rec.frame[rows][:-1]))]
    times = rec.times[frame_rows] / 1000.0
    steps = np.diff(times)
    bad = np.flatnonzero((steps <= 0) | (steps > MAX_TIME_STEP))
    if bad.size:
        line, step = rec.lines[frame_rows[bad[0] + 1]], steps[bad[0]]
        raise MediaError(f"line {line}: frame time does not increase" if step <= 0 else
                         f"line {line}: frame time jumps {step:g} s after the previous frame "
                         f"(more than {MAX_TIME_STEP:g} s: corrupt time?)", path)
    joints = np.full((len(frame_rows), len(KINECT_JOINTS), 3), np.nan)
    _, first_of_frame = np.unique(rec.frame[mine], return_index=True)
    mine = mine[first_of_frame]  # one row per frame if a body is listed twice
    joints[rec.frame[mine] - first] = rec.positions[mine]
    if np.isnan(joints).all():
        raise MediaError(f"no tracked joint in Kinect frames {first}-{last}", path)
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0 / KINECT_FPS
    joints, n_filled = fill_gaps(joints, int(round(max_gap / step)))
    joints = resample(times, joints, rate)
    return Skeleton(joints, float(rate), body, n_filled, int(np.isnan(joints).any(-1).sum()))
