"""Fuzzed input for the text parsers: descriptors, descriptor tables, manifests, Kinect files.

Whatever the bytes, a parser either returns or raises the error type of its kind
(LayoutError for dataset files, MediaError for Kinect files) naming the file; never a
raw ValueError, IndexError or UnicodeDecodeError from the library underneath.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from emo.data.clip import read_manifest
from emo.data.layouts.challenge import identity, parse_descriptor, read, read_table
from emo.data.skeleton import KINECT_COLUMNS, KINECT_JOINTS
from emo.errors import LayoutError, MediaError
from emo.features.body.kinect import parse_kinect

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

#: Pieces that look like descriptor lines, so the fuzzer reaches the deeper branches.
_DESCRIPTOR_PIECES = st.sampled_from([
    "Video", "Kinect", "v.MP4", "clip.mov", "k.txt", "x.TXT", "1.5:45", "3,0:90", "-2:1",
    "1e3:5", "nan:3", "12", "-4", "", " ", "\ufeff", "0:0", "99999999999999999999:1",
    "inf:2", "1.5 : 45", "a:b", ":", "\t7\t",
])
_descriptor_text = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(_DESCRIPTOR_PIECES, st.text(max_size=12)), max_size=14).map("\n".join),
)


@FUZZ
@given(text=_descriptor_text)
def test_parse_descriptor_returns_a_consistent_descriptor_or_raises_layout_error(
        text: str) -> None:
    try:
        d = parse_descriptor(text, "frames_F1_An1.txt")
    except LayoutError as exc:
        assert "frames_F1_An1.txt" in str(exc)
        return
    assert d.video.lower().endswith((".mp4", ".mov", ".avi", ".mkv", ".m4v"))
    assert d.start <= d.end
    assert (d.skeleton is None) == (d.skeleton_start is None) == (d.skeleton_end is None)
    if d.skeleton is not None:
        assert 0 <= d.skeleton_start <= d.skeleton_end


@FUZZ
@given(name=st.one_of(st.text(max_size=30),
                      st.from_regex(r"frames_[A-Za-z]{0,3}\d{0,3}_[A-Za-z]{0,3}\d{0,2}",
                                    fullmatch=True)))
def test_identity_returns_a_known_class_or_raises_layout_error(name: str) -> None:
    try:
        actor, label = identity(name, "x.txt")
    except LayoutError as exc:
        assert "x.txt" in str(exc)
        return
    assert (actor, label) == (None, None) or label in ("An", "Di", "Fe", "Ha", "Ne", "Sa", "Su")


@FUZZ
@given(data=st.binary(max_size=400))
def test_descriptor_files_of_any_bytes_are_skipped_with_a_reason(
        tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    root = tmp_path_factory.mktemp("db")
    (root / "descriptors").mkdir()
    path = root / "descriptors" / "frames_M2_Sa4.txt"
    path.write_bytes(data)
    problems: list = []
    clips = read(root, problems=problems)
    assert len(clips) + len(problems) == 1
    if problems:
        assert isinstance(problems[0], LayoutError) and path.name in str(problems[0])


_CSV_CELL = st.one_of(st.sampled_from(["", "F", "M", "3", "An", "Xx", "v.MP4", "k.txt",
                                       "1.5", "nan", "-1", "abc", '"', "1e400"]),
                      st.text(max_size=6))
_TABLE_HEADER = ("gender,gender_no,output,expression_index,video_name,start_time_in_sec,"
                 "end_time_in_sec,start_exp,end_exp,text_file,kinect_start_frame,"
                 "kinect_end_frame")


@FUZZ
@given(header=st.one_of(st.just(_TABLE_HEADER), st.text(max_size=40)),
       rows=st.lists(st.lists(_CSV_CELL, min_size=0, max_size=13).map(",".join), max_size=4))
def test_descriptor_table_rows_parse_or_raise_layout_error(
        tmp_path_factory: pytest.TempPathFactory, header: str, rows: list[str]) -> None:
    path = tmp_path_factory.mktemp("t") / "Descriptors.csv"
    if _encodable(header, rows):
        path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    else:
        path.write_bytes(b"\xff\xfe")
    try:
        clips = read_table(path)
    except LayoutError as exc:
        assert "Descriptors.csv" in str(exc)
        return
    for clip in clips:
        assert clip.label in ("An", "Di", "Fe", "Ha", "Ne", "Sa", "Su") and clip.actor


def _encodable(*parts: object) -> bool:
    try:
        str(parts).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_MANIFEST_HEADER = st.lists(
    st.sampled_from(["id", "actor", "label", "video", "audio", "skeleton", "start", "end",
                     "skeleton_start", "skeleton_end", "table_face", "other", ""]),
    min_size=0, max_size=10, unique=True).map(",".join)


@FUZZ
@given(header=st.one_of(_MANIFEST_HEADER, st.text(max_size=30)),
       rows=st.lists(st.lists(_CSV_CELL, max_size=11).map(",".join), max_size=5),
       raw=st.one_of(st.none(), st.binary(max_size=200)))
def test_manifest_parses_or_raises_layout_error(tmp_path_factory: pytest.TempPathFactory,
                                                header: str, rows: list[str],
                                                raw: bytes | None) -> None:
    path = tmp_path_factory.mktemp("m") / "fuzz.csv"
    if raw is not None or not _encodable(header, rows):
        path.write_bytes(raw or b"\xff")
    else:
        path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    try:
        clips = read_manifest(path)
    except LayoutError as exc:
        assert "fuzz.csv" in str(exc)
        return
    ids = [c.id for c in clips]
    assert len(set(ids)) == len(ids) and all(i.strip() == i and i for i in ids)
    for clip in clips:
        assert clip.label is None or clip.label in ("An", "Di", "Fe", "Ha", "Ne", "Sa", "Su")
        for value in (clip.start, clip.end):
            assert value is None or np.isfinite(value)


# -- Kinect files -----------------------------------------------------------------------------
def _kinect_row(t: int, values: np.ndarray, comma: bool, trailing: bool) -> str:
    text = ";".join([str(t), "0", *(f"{v:.4f}" for v in values)]) + (";" if trailing else "")
    return text.replace(".", ",") if comma else text


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_frames=st.integers(1, 4),
       untracked=st.lists(st.integers(0, len(KINECT_JOINTS) - 1), max_size=5),
       comma=st.booleans(), trailing=st.booleans(), blank=st.booleans())
def test_kinect_rows_round_trip(seed: int, n_frames: int, untracked: list[int], comma: bool,
                                trailing: bool, blank: bool) -> None:
    values = np.random.default_rng(seed).uniform(-10, 10, (n_frames, len(KINECT_JOINTS), 6))
    values[:, untracked, :3] = 0.0  # the SDK writes untracked joints as (0, 0, 0)
    lines = [_kinect_row(33 * i, v.ravel(), comma, trailing) for i, v in enumerate(values)]
    text = ("\n\n" if blank else "\n").join(lines) + "\n"
    rec = parse_kinect(text.encode(), "k.txt")
    want = np.round(values[..., :3], 4)
    want[(want == 0).all(axis=-1)] = np.nan
    np.testing.assert_allclose(rec.positions, want, atol=1e-9)
    assert rec.times.tolist() == [33.0 * i for i in range(n_frames)]


_KINECT_TOKENS = st.sampled_from(["0.5", "1,25", "", "nan", "-nan(ind)", "abc", "1e5", "-",
                                  "inf", " ", "7"])


@settings(max_examples=80, deadline=None)
@given(data=st.one_of(
    st.binary(max_size=600),
    st.lists(st.lists(_KINECT_TOKENS, min_size=KINECT_COLUMNS - 3, max_size=KINECT_COLUMNS + 1)
             .map(";".join), min_size=1, max_size=3).map("\n".join).map(str.encode),
))
def test_kinect_garbage_raises_media_error_naming_the_file(data: bytes) -> None:
    try:
        rec = parse_kinect(data, "bad_kinect.txt")
    except MediaError as exc:
        assert "bad_kinect.txt" in str(exc)
        return
    assume(len(rec.times) > 0)
    assert rec.positions.shape == (len(rec.times), len(KINECT_JOINTS), 3)
    assert np.isfinite(rec.times).all() and np.isfinite(rec.bodies).all()


def test_kinect_file_with_a_bad_line_names_the_line(tmp_path: Path) -> None:
    good = _kinect_row(0, np.full(KINECT_COLUMNS - 2, 0.5), comma=False, trailing=True)
    bad = good.replace("0.5000", "zero", 1)
    with pytest.raises(MediaError, match=r"k\.txt: line 3: value \d+ \('zero'\) is not a number"):
        parse_kinect(f"{good}\n\n{bad}\n".encode(), "k.txt")
