from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emo.data.clip import Clip, merge_clips, read_manifest, write_manifest
from emo.data.labels import CLASSES
from emo.errors import LayoutError


def test_manifest_round_trip(tmp_path: Path) -> None:
    clips = [
        Clip("a", actor="F1", label="An", video=tmp_path / "v.MP4", skeleton=tmp_path / "k.txt",
             start=1.25, end=3.5, skeleton_start=10, skeleton_end=40),
        Clip("b", audio=tmp_path / "b.wav"),
        Clip("c", actor="M2", label="Ne", tables={"face": tmp_path / "t.parquet"}),
    ]
    path = write_manifest(clips, tmp_path / "m.csv")
    back = read_manifest(path)
    assert [c.id for c in back] == ["a", "b", "c"]
    assert back[0].start == 1.25 and back[0].skeleton_end == 40
    assert back[0].video == tmp_path / "v.MP4"
    assert back[1].actor is None and back[1].label is None and back[1].group == "?b"
    assert back[2].tables == {"face": tmp_path / "t.parquet"}


def test_manifest_relative_paths_resolve_against_its_folder(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("id,actor,label,audio\nx,S1,Ha,clips/x.wav\n")
    (clip,) = read_manifest(tmp_path / "m.csv")
    assert clip.audio == tmp_path / "clips" / "x.wav"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,label,audio\nx,An,a.wav\n", "lacks the column(s) actor"),
        ("id,actor,label\nx,S1,An\n", "no media column"),
        ("id,actor,label,audio\nx,S1,Xx,a.wav\n", "line 2: unknown class code 'Xx'"),
        ("id,actor,label,audio,start\nx,S1,An,a.wav,soon\n", "line 2"),
        ("id,actor,label,audio\nx,S1,An,a.wav\nx,S1,Sa,b.wav\n", "duplicate clip id(s): x"),
    ],
)
def test_bad_manifests_name_file_and_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(LayoutError, match="bad.csv") as info:
        read_manifest(path)
    assert message in str(info.value)


def test_merge_joins_media_and_tables_by_id(tmp_path: Path) -> None:
    media = [Clip("x", actor="01", label="An", audio=tmp_path / "x.flac")]
    table = [Clip("x", actor="01", label="An", tables={"face": tmp_path / "t.parquet"}),
             Clip("y", actor="02", tables={"face": tmp_path / "t.parquet"})]
    merged = merge_clips([media, table])
    assert [c.id for c in merged] == ["x", "y"]
    assert merged[0].audio == tmp_path / "x.flac" and "face" in merged[0].tables


def test_manifest_keeps_identifiers_as_written(tmp_path: Path) -> None:
    odd = ["01", "007", "NA", "1e3", "True", "None", "nan", "N/A"]
    (tmp_path / "m.csv").write_text(
        "id,actor,label,audio\n" + "".join(f"{v},{v},,a.wav\n" for v in odd) + " x , ,,a.wav\n")
    clips = read_manifest(tmp_path / "m.csv")
    assert [(c.id, c.actor) for c in clips] == [*((v, v) for v in odd), ("x", None)]
    back = read_manifest(write_manifest(clips, tmp_path / "again.csv"))
    assert [(c.id, c.actor) for c in back] == [(c.id, c.actor) for c in clips]
    merged = merge_clips([clips, [Clip("01", actor="01", tables={"face": tmp_path / "t.pq"})]])
    assert merged[0].actor == "01" and "face" in merged[0].tables
    with pytest.raises(LayoutError, match="actor '01' in one source, '1' in another .*pads"):
        merge_clips([clips, [Clip("01", actor="1")]])


def test_merge_rejects_conflicting_labels() -> None:
    with pytest.raises(LayoutError, match="label 'An' in one source, 'Sa'"):
        merge_clips([[Clip("x", label="An")], [Clip("x", label="Sa")]])


_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            _text.map(str.strip).filter(bool),
            st.one_of(st.none(), _text.map(str.strip).filter(bool)),
            st.one_of(st.none(), st.sampled_from(CLASSES)),
            st.one_of(st.none(), st.floats(0, 1e4, allow_nan=False)),
            st.one_of(st.none(), st.integers(0, 10**6)),
        ),
        min_size=1, max_size=8, unique_by=lambda t: t[0],
    )
)
def test_manifest_round_trip_property(tmp_path_factory: pytest.TempPathFactory,
                                      rows: list[tuple]) -> None:
    folder = tmp_path_factory.mktemp("m")
    clips = [Clip(i, actor=a, label=lab, audio=folder / "a.wav", start=s, skeleton_start=k)
             for i, a, lab, s, k in rows]
    back = read_manifest(write_manifest(clips, folder / "m.csv"))
    for want, got in zip(clips, back, strict=True):
        assert (got.id, got.actor, got.label, got.start, got.skeleton_start) == (
            want.id, want.actor, want.label, want.start, want.skeleton_start)
