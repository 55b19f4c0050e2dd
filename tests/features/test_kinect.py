"""Kinect v2 text parser: good files, broken files, bodies, gaps, segments, resampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emo.data.skeleton import KINECT_COLUMNS, KINECT_JOINTS
from emo.errors import MediaError
from emo.features.body.kinect import (
    KINECT_TO_COMMON,
    kinect_to_common,
    load_kinect,
    parse_kinect,
    read_kinect,
)
from emo.features.body.kinematics import COMMON_JOINTS

# A person standing 2.5 m in front of the sensor (Kinect axes: x the person's right, y up).
_STANDING = {
    "SpineBase": (0.0, 0.9), "SpineMid": (0.0, 1.15), "SpineShoulder": (0.0, 1.4),
    "Neck": (0.0, 1.5), "Head": (0.0, 1.6),
    "ShoulderLeft": (-0.18, 1.4), "ElbowLeft": (-0.2, 1.12), "WristLeft": (-0.2, 0.88),
    "HandLeft": (-0.2, 0.8), "HandTipLeft": (-0.2, 0.72), "ThumbLeft": (-0.17, 0.8),
    "HipLeft": (-0.1, 0.9), "KneeLeft": (-0.1, 0.5), "AnkleLeft": (-0.1, 0.1),
    "FootLeft": (-0.1, 0.05),
}
_STANDING |= {k.replace("Left", "Right"): (-x, y) for k, (x, y) in list(_STANDING.items())
              if "Left" in k}
STANDING = np.array([[*_STANDING[j], 2.5] for j in KINECT_JOINTS])


def _row(t: float, body: int, positions: np.ndarray, comma: bool = False,
         trailing: bool = True) -> str:
    values = np.zeros((len(KINECT_JOINTS), 6))
    values[:, :3] = positions
    fields = [repr(float(t)), str(body), *(repr(float(v)) for v in values.ravel())]
    text = ";".join(fields) + (";" if trailing else "")
    return text.replace(".", ",") if comma else text


def _rows(times: np.ndarray, frames: np.ndarray, **row_options) -> list[str]:
    """Rows of body 0, ``times`` in seconds."""
    return [_row(1000 * t, 0, f, **row_options) for t, f in zip(times, frames, strict=True)]


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n", encoding="ascii")
    return path


def _waving(n: int, rate: float = 30.0, amplitude: float = 0.2, offset=(0.0, 0.0, 0.0)):
    """Frames of the standing person moving the right hand sideways at 1 Hz."""
    t = np.arange(n) / rate
    frames = np.repeat(STANDING[None], n, axis=0) + np.asarray(offset)
    frames[:, KINECT_JOINTS.index("HandRight"), 0] += amplitude * np.sin(2 * np.pi * t)
    return t, frames


def _file(path: Path, n: int = 60, **row_options) -> tuple[Path, np.ndarray]:
    t, frames = _waving(n)
    return _write(path, _rows(t, frames, **row_options)), frames


@pytest.mark.parametrize("comma", [False, True])
@pytest.mark.parametrize("trailing", [False, True])
def test_parse_reads_positions_with_commas_dots_and_optional_trailing_separator(
        tmp_path, comma, trailing):
    path, frames = _file(tmp_path / "k.txt", n=10, comma=comma, trailing=trailing)
    rec = load_kinect(path)
    np.testing.assert_allclose(rec.positions, frames)
    np.testing.assert_allclose(rec.times, np.arange(10) * 1000 / 30)
    assert rec.n_frames == 10
    assert rec.lines.tolist() == list(range(1, 11))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 6), seed=st.integers(0, 2**16), comma=st.booleans(),
       trailing=st.booleans(), crlf=st.booleans())
def test_parse_round_trips_generated_frames(n, seed, comma, trailing, crlf):
    rng = np.random.default_rng(seed)
    positions = np.round(rng.uniform(0.05, 3.0, size=(n, len(KINECT_JOINTS), 3)), 6)
    times = np.cumsum(rng.uniform(20, 50, size=n)).round(3)
    newline = "\r\n" if crlf else "\n"
    text = newline.join(_rows(times / 1000, positions, comma=comma, trailing=trailing))
    rec = parse_kinect(text.encode())
    np.testing.assert_allclose(rec.positions, positions)
    np.testing.assert_allclose(rec.times, times)


def test_missing_joints_short_gaps_are_interpolated_and_counted(tmp_path):
    t, frames = _waving(60)
    hand = KINECT_JOINTS.index("HandRight")
    rows = _rows(t, frames)
    for i in (10, 11):  # a 2-frame gap written as NaN
        rows[i] = rows[i].replace(";".join(repr(float(v)) for v in frames[i, hand]),
                                  "NaN;nan;NaN")
    zero = frames[30].copy()
    zero[hand] = 0.0  # the SDK's "not tracked"
    rows[30] = _row(1000 * t[30], 0, zero)
    skeleton = read_kinect(_write(tmp_path / "k.txt", rows))
    assert skeleton.n_filled == 3 and skeleton.n_missing == 0
    expected = (frames[9, hand] + frames[12, hand]) / 2
    np.testing.assert_allclose(skeleton.joints[10:12, hand].mean(0), expected, atol=1e-9)


def test_long_gap_stays_missing(tmp_path):
    t, frames = _waving(90)
    frames[20:60, KINECT_JOINTS.index("HandLeft")] = np.nan  # 40 frames > 0.5 s
    path = _write(tmp_path / "k.txt", _rows(t, frames))
    skeleton = read_kinect(path, max_gap=0.5)
    assert skeleton.n_missing == 40
    assert np.isnan(skeleton.joints[20:60, KINECT_JOINTS.index("HandLeft")]).all()


def test_two_bodies_the_gesturing_one_is_chosen(tmp_path):
    t, actor = _waving(60, amplitude=0.3, offset=(0.3, 0.0, 0.0))
    walker = np.repeat(STANDING[None], 60, axis=0)
    walker[..., 0] += -2.0 + 1.5 * t[:, None]  # walks across the room, arms still
    rows = []
    for ti, a, w in zip(t, actor, walker, strict=True):
        rows += [_row(1000 * ti, 72057594037929001, w), _row(1000 * ti, 72057594037929002, a)]
    skeleton = read_kinect(_write(tmp_path / "k.txt", rows))
    assert skeleton.body == "72057594037929002"  # 64-bit tracking ids stay exact
    assert len(skeleton.joints) == 60
    np.testing.assert_allclose(skeleton.joints, actor, atol=1e-9)


def test_irregular_times_are_resampled_to_the_rate(tmp_path):
    rng = np.random.default_rng(1)
    times = np.cumsum(rng.uniform(0.02, 0.05, size=80))
    frames = np.repeat(STANDING[None], 80, axis=0)
    frames[..., 1] += 0.5 * times[:, None]  # rises at 0.5 m/s
    path = _write(tmp_path / "k.txt", _rows(times, frames))
    skeleton = read_kinect(path, rate=25.0)
    grid = times[0] + np.arange(len(skeleton.joints)) / 25.0
    assert grid[-1] <= times[-1] < grid[-1] + 1 / 25.0
    np.testing.assert_allclose(skeleton.joints[:, 0, 1], STANDING[0, 1] + 0.5 * grid, atol=1e-9)


def test_segment_indices_are_inclusive_frames_of_the_file(tmp_path):
    path, frames = _file(tmp_path / "k.txt", n=60)
    skeleton = read_kinect(path, 10, 19)
    assert skeleton.joints.shape == (10, len(KINECT_JOINTS), 3)
    np.testing.assert_allclose(skeleton.joints, frames[10:20], atol=1e-9)


@pytest.mark.parametrize(("start", "end"), [(50, 70), (-1, 5), (60, 60)])
def test_segment_outside_the_file_is_a_media_error(tmp_path, start, end):
    path, _ = _file(tmp_path / "k.txt", n=60)
    with pytest.raises(MediaError, match=r"k\.txt: Kinect segment .* outside .* 0-59"):
        read_kinect(path, start, end)


def _broken(tmp_path: Path, line: int, text: str) -> Path:
    path, _ = _file(tmp_path / "bad.txt", n=6)
    rows = path.read_text().splitlines()
    rows[line - 1] = text
    return _write(path, rows)


def test_wrong_column_count_names_file_and_line(tmp_path):
    row = _row(100, 0, STANDING)
    path = _broken(tmp_path, 3, row + "1.0;2.0;")
    with pytest.raises(MediaError, match=rf"bad\.txt: line 3: {KINECT_COLUMNS + 2} values"):
        load_kinect(path)
    path = _broken(tmp_path, 5, ";".join(row.split(";")[:40]))
    with pytest.raises(MediaError, match=r"bad\.txt: line 5: 40 values, expected 152"):
        load_kinect(path)


def test_text_in_a_number_field_names_file_line_and_value(tmp_path):
    fields = _row(100, 0, STANDING).split(";")
    fields[7] = "abc"
    path = _broken(tmp_path, 4, ";".join(fields))
    with pytest.raises(MediaError, match=r"bad\.txt: line 4: value 8 \('abc'\) is not a number"):
        load_kinect(path)


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_file_is_a_media_error(tmp_path, content):
    path = tmp_path / "empty.txt"
    path.write_text(content)
    with pytest.raises(MediaError, match=r"empty\.txt: empty Kinect file"):
        load_kinect(path)


def test_missing_file_is_a_media_error(tmp_path):
    with pytest.raises(MediaError, match="not found"):
        load_kinect(tmp_path / "absent.txt")


@pytest.mark.parametrize("time", ["", "nan", "inf", "-Infinity"])
def test_missing_or_non_finite_time_names_the_line(tmp_path, time):
    path = _broken(tmp_path, 2, time + ";" + _row(100, 0, STANDING).split(";", 1)[1])
    with pytest.raises(MediaError, match=r"bad\.txt: line 2: frame time is missing, NaN or inf"):
        load_kinect(path)


@pytest.mark.parametrize(("time", "message"), [
    (None, r"line 7: frame time does not increase"),
    (1e308, r"line 7: frame time jumps 1e\+305 s .*more than 10 s"),
    (1e12, r"line 7: frame time jumps 1e\+09 s"),
])
def test_time_going_backwards_or_jumping_names_the_line(tmp_path, time, message):
    t, frames = _waving(10)
    t[6] = t[2] if time is None else time / 1000
    path = _write(tmp_path / "k.txt", _rows(t, frames))
    with pytest.raises(MediaError, match=message):
        read_kinect(path)


def test_a_corrupt_time_outside_the_segment_does_not_matter(tmp_path):
    t, frames = _waving(20)
    t[-1] = 1e305
    skeleton = read_kinect(_write(tmp_path / "k.txt", _rows(t, frames)), 0, 9)
    np.testing.assert_allclose(skeleton.joints, frames[:10], atol=1e-9)


@pytest.mark.parametrize(("value", "shown"), [("1e308", r"1e\+308"), ("-1e308", r"-1e\+308"),
                                             ("2500.0", "2500")])  # millimetres
def test_a_position_beyond_the_sensor_range_names_line_and_joint(tmp_path, value, shown):
    fields = _row(100, 0, STANDING).split(";")
    fields[2 + 6 * KINECT_JOINTS.index("HandLeft") + 1] = value  # its y
    path = _broken(tmp_path, 3, ";".join(fields))
    with pytest.raises(MediaError, match=rf"bad\.txt: line 3: HandLeft y = {shown} m lies beyond "
                       r"the sensor's range \(100 m; positions are in metres\)"):
        load_kinect(path)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "9" * 400])
def test_non_finite_positions_are_untracked_joints(tmp_path, value):
    t, frames = _waving(30)
    hand = KINECT_JOINTS.index("HandRight")
    rows = _rows(t, frames)
    fields = rows[10].split(";")
    fields[2 + 6 * hand] = value  # its x: overflows to inf when too long
    rows[10] = ";".join(fields)
    skeleton = read_kinect(_write(tmp_path / "k.txt", rows))
    assert skeleton.n_filled == 1 and np.isfinite(skeleton.joints).all()
    np.testing.assert_allclose(skeleton.joints[10, hand], (frames[9, hand] + frames[11, hand]) / 2)


@pytest.mark.parametrize(("damage", "line", "byte"), [
    (lambda d: d[:300] + b"\0" * 50 + d[350:], 1, "00"),
    (lambda d: d.replace(b"\n", b"\n\xb0", 3), 2, "b0"),
    (lambda d: d.decode().encode("utf-16"), 1, "ff"),
])
def test_binary_bytes_name_the_line(tmp_path, damage, line, byte):
    path, _ = _file(tmp_path / "bin.txt", n=6)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(MediaError,
                       match=rf"bin\.txt: line {line}: byte 0x{byte} is not text \(a binary"):
        load_kinect(path)


def test_a_byte_order_mark_is_skipped(tmp_path):
    path, frames = _file(tmp_path / "k.txt", n=6)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    np.testing.assert_allclose(load_kinect(path).positions, frames)


def test_reparsed_when_the_file_changes(tmp_path):
    path, frames = _file(tmp_path / "k.txt", n=10)
    assert load_kinect(path) is load_kinect(path)  # parsed once while unchanged
    _write(path, [_row(33 * i, 0, f + 1.0) for i, f in enumerate(frames[:8])])
    rec = load_kinect(path)
    assert rec.n_frames == 8
    np.testing.assert_allclose(rec.positions, frames[:8] + 1.0)


def test_kinect_to_common_selects_the_named_joints():
    joints = np.arange(2 * len(KINECT_JOINTS) * 3, dtype=float).reshape(2, -1, 3)
    common = kinect_to_common(joints)
    assert common.shape == (2, len(COMMON_JOINTS), 3)
    for i, name in enumerate(COMMON_JOINTS):
        np.testing.assert_array_equal(common[:, i],
                                      joints[:, KINECT_JOINTS.index(KINECT_TO_COMMON[name])])
    assert set(KINECT_TO_COMMON) == set(COMMON_JOINTS)
