"""The FG-2020 challenge layout: ``descriptors/*.txt``, ``videos/``, ``motion capture/``.

A descriptor ``frames_F2_An3.txt`` (actor F2, anger, take 3) holds eight lines::

    <heading>
    927_0216_01.MP4            video file (with the audio track)
    5.356699785:161            start  seconds:video frame
    9.481138989:284            end    seconds:video frame
    <heading>
    20170902_092359_00.txt     Kinect v2 skeleton file
    217                        Kinect start frame
    312                        Kinect end frame

Lines 1 and 5 are undocumented, so the reader finds the fields by content: the line
naming a video file, the two ``time:frame`` lines after it, the line naming a
``.txt`` file and the two integers after it. Test descriptors ``frames_TEST<n>`` carry
no label and no actor.

Assumptions where the format is undocumented (both overridable in :func:`read`):
Kinect frames are 0-based row indices into the Kinect file (``kinect_base=0``), and
when the seconds and the frame of a ``time:frame`` pair disagree, the time wins
(the clip segment is given in seconds).

The organisers' table form, ``Descriptors.csv`` (columns ``gender, gender_no, output,
expression_index, video_name, start_time_in_sec, end_time_in_sec, start_exp, end_exp,
text_file, kinect_start_frame, kinect_end_frame``), is read as well.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from emo.data.clip import Clip
from emo.data.labels import CLASSES
from emo.errors import EmoError, LayoutError

NAME = "challenge"
DESCRIPTORS = "descriptors"
VIDEOS = "videos"
SKELETONS = "motion capture"
TABLE = "Descriptors.csv"
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".m4v")

_LABELLED = re.compile(r"^frames_(?P<actor>[A-Za-z]+\d+)_(?P<label>[A-Za-z]{2})(?P<take>\d+)$")
_TEST = re.compile(r"^frames_TEST\d+$")
_TIME_FRAME = re.compile(
    r"^\s*(?P<time>[+-]?\d+(?:[.,]\d*)?(?:[eE][+-]?\d+)?)\s*:\s*(?P<frame>\d+)\s*$"
)
_INTEGER = re.compile(r"^\s*(\d+)\s*$")


@dataclass(frozen=True)
class Descriptor:
    """The fields of one descriptor file.

    :func:`parse_descriptor` reads them, :func:`format_descriptor` writes them.

    Attributes
    ----------
    video
        Video file name as written.
    start, end
        Segment bounds in seconds.
    start_frame, end_frame
        The same bounds as video frames.
    skeleton
        Kinect file name, or ``None`` when the descriptor names none.
    skeleton_start, skeleton_end
        Kinect frame range, or ``None``.
    """

    video: str
    start: float
    end: float
    start_frame: int
    end_frame: int
    skeleton: str | None
    skeleton_start: int | None
    skeleton_end: int | None


def parse_descriptor(text: str, path: str | Path = "<descriptor>") -> Descriptor:
    """Parse the text of a descriptor file by content.

    Parameters
    ----------
    text
        The file's text.
    path
        Its path, for error messages.

    Returns
    -------
    Descriptor

    Raises
    ------
    LayoutError
        When no video line, no two ``time:frame`` lines after it, or a Kinect line
        without two frame numbers after it is found, or when end < start.

    Examples
    --------
    >>> d = parse_descriptor("Video\\nv.MP4\\n1.5:45\\n3.0:90\\nKinect\\nk.txt\\n10\\n55\\n")
    >>> d.video, d.start, d.end, d.skeleton, d.skeleton_start, d.skeleton_end
    ('v.MP4', 1.5, 3.0, 'k.txt', 10, 55)
    """
    lines = [ln.strip().strip("\ufeff") for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    video_at = next((i for i, ln in enumerate(lines) if ln.lower().endswith(VIDEO_SUFFIXES)), None)
    if video_at is None:
        raise LayoutError("descriptor names no video file (.MP4/.mov/...)", path)
    pairs = [_TIME_FRAME.match(ln) for ln in lines[video_at + 1: video_at + 3]]
    if len(pairs) < 2 or not all(pairs):
        raise LayoutError(
            f"expected two 'seconds:frame' lines after the video name {lines[video_at]!r}", path
        )
    (start, start_frame), (end, end_frame) = (
        (float(m["time"].replace(",", ".")), int(m["frame"])) for m in pairs  # type: ignore[index]
    )
    if end < start:
        raise LayoutError(f"segment ends ({end}) before it starts ({start})", path)
    skel_at = next(
        (i for i, ln in enumerate(lines) if i > video_at + 2 and ln.lower().endswith(".txt")), None
    )
    skeleton = skel_start = skel_end = None
    if skel_at is not None:
        ints = [_INTEGER.match(ln) for ln in lines[skel_at + 1: skel_at + 3]]
        if len(ints) < 2 or not all(ints):
            raise LayoutError(
                f"expected two Kinect frame numbers after {lines[skel_at]!r}", path
            )
        skeleton = lines[skel_at]
        skel_start, skel_end = (int(m[1]) for m in ints)  # type: ignore[index]
        if skel_end < skel_start:
            raise LayoutError(f"Kinect segment ends ({skel_end}) before it starts ({skel_start})",
                              path)
    return Descriptor(lines[video_at], start, end, start_frame, end_frame,
                      skeleton, skel_start, skel_end)


def identity(name: str, path: str | Path | None = None) -> tuple[str | None, str | None]:
    """Actor and label from a descriptor name.

    Parameters
    ----------
    name
        ``frames_<actor>_<class><take>`` or ``frames_TEST<n>``.
    path
        For error messages.

    Returns
    -------
    tuple
        ``(actor, label)``; both ``None`` for test descriptors.

    Raises
    ------
    LayoutError
        For an unknown class code or a name of neither form.

    Examples
    --------
    >>> identity("frames_F2_An3"), identity("frames_TEST7")
    (('F2', 'An'), (None, None))
    """
    if _TEST.match(name):
        return None, None
    m = _LABELLED.match(name)
    if not m:
        raise LayoutError(
            f"descriptor name {name!r} is neither frames_<actor>_<class><take> nor frames_TEST<n>",
            path,
        )
    if m["label"] not in CLASSES:
        raise LayoutError(f"unknown class code {m['label']!r} in {name!r}", path)
    return m["actor"], m["label"]


def detect(root: Path) -> bool:
    """Whether ``root`` looks like the challenge layout."""
    return root.is_dir() and ((root / DESCRIPTORS).is_dir() or (root / TABLE).is_file())


def read(
    root: Path,
    *,
    kinect_base: int = 0,
    problems: list[EmoError] | None = None,
) -> list[Clip]:
    """Read every descriptor of a challenge-layout folder.

    Parameters
    ----------
    root
        The dataset folder (``descriptors/`` or ``Descriptors.csv``, ``videos/``,
        ``motion capture/``).
    kinect_base
        0 when Kinect frame numbers are 0-based row indices (default), 1 when 1-based.
    problems
        When given, malformed descriptors are appended here and skipped; otherwise
        the first one raises.

    Returns
    -------
    list of Clip
        Sorted by id.
    """
    clips: list[Clip] = []
    folder = root / DESCRIPTORS
    if folder.is_dir():
        for path in sorted(folder.glob("*.txt")):
            try:
                clips.append(_descriptor_clip(path, root, kinect_base))
            except EmoError as exc:
                if problems is None:
                    raise
                problems.append(exc)
    elif (root / TABLE).is_file():
        clips = read_table(root / TABLE, root, kinect_base=kinect_base)
    return sorted(clips, key=lambda c: c.id)


def _descriptor_clip(path: Path, root: Path, kinect_base: int) -> Clip:
    try:
        text = path.read_text(encoding="utf-8-sig", errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise LayoutError(f"cannot read descriptor: {exc}", path) from exc
    d = parse_descriptor(text, path)
    actor, label = identity(path.stem, path)
    return _clip(path.stem, actor, label, d, root, kinect_base, path)


def _clip(name: str, actor: str | None, label: str | None, d: Descriptor, root: Path,
          kinect_base: int, origin: Path) -> Clip:
    return Clip(
        id=name, actor=actor, label=label,
        video=root / VIDEOS / d.video,
        skeleton=None if d.skeleton is None else root / SKELETONS / d.skeleton,
        start=d.start, end=d.end,
        skeleton_start=None if d.skeleton_start is None else d.skeleton_start - kinect_base,
        skeleton_end=None if d.skeleton_end is None else d.skeleton_end - kinect_base,
        origin=origin,
    )


def read_table(path: Path, root: Path | None = None, *, kinect_base: int = 0) -> list[Clip]:
    """Read the organisers' ``Descriptors.csv`` table form.

    Parameters
    ----------
    path
        The CSV file.
    root
        Dataset folder holding ``videos/`` and ``motion capture/`` (default: the
        CSV's folder).
    kinect_base
        See :func:`read`.

    Returns
    -------
    list of Clip
        One per row, id ``frames_<gender><gender_no>_<output><expression_index>`` and
        actor ``<gender><gender_no>``, the fields as written (``F03`` stays ``F03``).
    """
    root = path.parent if root is None else root
    clips = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            for line, row in enumerate(csv.DictReader(f), start=2):
                try:
                    name = "frames_{}{}_{}{}".format(*(row[key].strip() for key in (
                        "gender", "gender_no", "output", "expression_index")))
                    d = Descriptor(
                        row["video_name"].strip(),
                        float(row["start_time_in_sec"]), float(row["end_time_in_sec"]),
                        int(row["start_exp"]), int(row["end_exp"]),
                        row["text_file"].strip() or None,
                        int(row["kinect_start_frame"]), int(row["kinect_end_frame"]),
                    )
                except (KeyError, ValueError, TypeError, AttributeError) as exc:
                    raise LayoutError(f"line {line}: bad or missing value ({exc})", path) from exc
                actor, label = identity(name, path)
                clips.append(_clip(name, actor, label, d, root, kinect_base, path))
    except OSError as exc:
        raise LayoutError(f"cannot read descriptor table: {exc.strerror}", path) from exc
    return clips


def format_descriptor(d: Descriptor) -> str:
    """Write a descriptor's text in the challenge format (inverse of :func:`parse_descriptor`).

    Parameters
    ----------
    d
        The fields.

    Returns
    -------
    str
        Eight lines, headings ``Video`` and ``Kinect``.
    """
    lines = ["Video", d.video, f"{d.start!r}:{d.start_frame}", f"{d.end!r}:{d.end_frame}"]
    if d.skeleton is not None:
        lines += ["Kinect", d.skeleton, str(d.skeleton_start), str(d.skeleton_end)]
    return "\n".join(lines) + "\n"
