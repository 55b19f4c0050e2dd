from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emo.data.layouts import detect_layout, load_clips
from emo.data.layouts.challenge import (
    Descriptor,
    format_descriptor,
    identity,
    parse_descriptor,
    read,
    read_table,
)
from emo.errors import EmoError, LayoutError


def _write_layout(root: Path, descriptors: dict[str, str]) -> Path:
    (root / "descriptors").mkdir(parents=True)
    for name, text in descriptors.items():
        (root / "descriptors" / f"{name}.txt").write_text(text)
    return root


def test_each_real_descriptor_row_round_trips_through_a_descriptor_file(
    shared_data: Path, tmp_path: Path
) -> None:
    table = shared_data / "challenge_metadata" / "Descriptors.csv"
    with table.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 315
    texts = {}
    for row in rows:
        name = f"frames_{row['gender']}{row['gender_no']}_{row['output']}{row['expression_index']}"
        texts[name] = "\n".join([
            "#video", row["video_name"],
            f"{row['start_time_in_sec']}:{row['start_exp']}",
            f"{row['end_time_in_sec']}:{row['end_exp']}",
            "#kinect", row["text_file"], row["kinect_start_frame"], row["kinect_end_frame"], "",
        ])
    root = _write_layout(tmp_path / "db", texts)
    clips = {c.id: c for c in read(root)}
    assert len(clips) == 315
    for row in rows:
        actor = f"{row['gender']}{row['gender_no']}"
        clip = clips[f"frames_{actor}_{row['output']}{row['expression_index']}"]
        assert clip.actor == actor and clip.label == row["output"]
        assert clip.video == root / "videos" / row["video_name"]
        assert clip.skeleton == root / "motion capture" / row["text_file"]
        assert clip.start == float(row["start_time_in_sec"])
        assert clip.end == float(row["end_time_in_sec"])
        assert clip.skeleton_start == int(row["kinect_start_frame"])
        assert clip.skeleton_end == int(row["kinect_end_frame"])
    # The organisers' table form gives the same clips.
    from_table = {c.id: c for c in read_table(table, root)}
    assert {k: (c.video, c.start, c.end, c.skeleton, c.skeleton_start, c.skeleton_end)
            for k, c in from_table.items()} == {
        k: (c.video, c.start, c.end, c.skeleton, c.skeleton_start, c.skeleton_end)
        for k, c in clips.items()}


def test_headings_are_found_by_content_not_position() -> None:
    text = "\n\nsome heading\nv.mov\n 0.5:15 \n2,25:67\n\nKINECT DATA\nk.txt\n3\n9\n"
    d = parse_descriptor(text)
    assert (d.video, d.start, d.end, d.start_frame, d.end_frame) == ("v.mov", 0.5, 2.25, 15, 67)
    assert (d.skeleton, d.skeleton_start, d.skeleton_end) == ("k.txt", 3, 9)


def test_descriptor_without_kinect_is_video_only() -> None:
    d = parse_descriptor("Video\nclip.MP4\n1:30\n2:60\n")
    assert d.skeleton is None and d.skeleton_start is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nothing here\n", "names no video file"),
        ("Video\nv.MP4\n1.0\n2.0\n", "two 'seconds:frame' lines"),
        ("Video\nv.MP4\n3:90\n1:30\n", "ends (1.0) before it starts (3.0)"),
        ("Video\nv.MP4\n1:30\n2:60\nKinect\nk.txt\nten\n20\n", "two Kinect frame numbers"),
    ],
)
def test_bad_descriptors_raise_with_file_name(text: str, message: str) -> None:
    with pytest.raises(LayoutError, match="frames_F1_An1.txt") as info:
        parse_descriptor(text, "frames_F1_An1.txt")
    assert message in str(info.value)


def test_names() -> None:
    assert identity("frames_M12_Su5") == ("M12", "Su")
    assert identity("frames_TEST31") == (None, None)
    with pytest.raises(LayoutError, match="unknown class code 'Xx'"):
        identity("frames_F1_Xx1")
    with pytest.raises(LayoutError, match="neither"):
        identity("clip_7")


def test_a_bad_descriptor_is_reported_and_the_rest_read(tmp_path: Path) -> None:
    good = "Video\nv.MP4\n1:30\n2:60\nKinect\nk.txt\n30\n60\n"
    root = _write_layout(tmp_path / "db", {"frames_F1_An1": good, "frames_F1_Sa1": "garbage",
                                          "frames_TEST1": good})
    problems: list[EmoError] = []
    clips = load_clips(root, problems=problems)
    assert detect_layout(root) == "challenge"
    assert [c.id for c in clips] == ["frames_F1_An1", "frames_TEST1"]
    assert clips[1].label is None and clips[1].actor is None
    assert len(problems) == 1 and "frames_F1_Sa1.txt" in str(problems[0])
    with pytest.raises(LayoutError, match="frames_F1_Sa1.txt"):
        load_clips(root)


def test_descriptor_table_keeps_numbers_as_written(tmp_path: Path) -> None:
    header = ("gender,gender_no,output,expression_index,video_name,start_time_in_sec,"
              "end_time_in_sec,start_exp,end_exp,text_file,kinect_start_frame,kinect_end_frame")
    rows = ["F,03,An,01,v.MP4,1.0,2.0,30,60,k.txt,10,40", "M,3,Sa,1,w.MP4,1.0,2.0,30,60,,0,0"]
    (tmp_path / "Descriptors.csv").write_text("\n".join([header, *rows]) + "\n")
    clips = load_clips(tmp_path)
    assert [(c.id, c.actor, c.label) for c in clips] == [
        ("frames_F03_An01", "F03", "An"), ("frames_M3_Sa1", "M3", "Sa")]
    (tmp_path / "Descriptors.csv").write_text("\n".join([header, rows[0].replace("03", "x")]))
    with pytest.raises(LayoutError, match="Descriptors.csv.*frames_Fx_An01"):
        read_table(tmp_path / "Descriptors.csv")


def test_kinect_base_one(tmp_path: Path) -> None:
    root = _write_layout(tmp_path / "db", {
        "frames_F1_An1": "Video\nv.MP4\n1:30\n2:60\nKinect\nk.txt\n31\n61\n"})
    (clip,) = read(root, kinect_base=1)
    assert (clip.skeleton_start, clip.skeleton_end) == (30, 60)


@settings(max_examples=80, deadline=None)
@given(
    video=st.from_regex(r"[A-Za-z0-9_]{1,12}\.(MP4|mp4|mov)", fullmatch=True),
    start=st.floats(0, 1e4, allow_nan=False),
    length=st.floats(0, 100, allow_nan=False),
    frames=st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)),
    skeleton=st.one_of(st.none(), st.from_regex(r"[0-9_]{1,20}\.txt", fullmatch=True)),
    kinect=st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)).map(sorted),
)
def test_format_parse_round_trip(video: str, start: float, length: float,
                                 frames: tuple[int, int], skeleton: str | None,
                                 kinect: list[int]) -> None:
    d = Descriptor(video, start, start + length, frames[0], frames[1], skeleton,
                   kinect[0] if skeleton else None, kinect[1] if skeleton else None)
    assert parse_descriptor(format_descriptor(d)) == d
