from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from emo import api
from emo.errors import LayoutError


def _table(tmp_path: Path) -> Path:
    frame = pd.DataFrame({
        "filename": ["F01AN1", "F01SA1", "M02HA1", "M02CA1", "M03XX1"],
        "actor_ID": ["F01", "F01", "M02", "M02", "M03"],
        "emotion": ["Angry", "sad", "happiness", "calm", None],
        "duration": [1.0, 2.0, 3.0, 4.0, 5.0],
        "speed": [0.1, 0.2, 0.3, 0.4, 0.5],
        "gender": ["F", "F", "M", "M", "M"],
    })
    path = tmp_path / "features.csv"
    frame.to_csv(path, index=False)
    return path


def test_import_normalises_labels_drops_metadata_and_serves_from_cache(tmp_path: Path) -> None:
    clips = api.import_table(_table(tmp_path), modality="body", cache=tmp_path / "cache",
                             id_column="filename", actor_column="actor_ID",
                             label_column="emotion", drop_columns=["duration", "gender"],
                             out=tmp_path / "m.csv")
    assert [(c.id, c.actor, c.label) for c in clips] == [
        ("F01AN1", "F01", "An"), ("F01SA1", "F01", "Sa"), ("M02HA1", "M02", "Ha"),
        ("M03XX1", "M03", None)]
    frame = api.feature_table(tmp_path / "m.csv", modalities=["body"], cache=tmp_path / "cache")
    assert list(frame.columns) == ["actor", "label", "body__speed"]
    assert frame.loc["M02HA1", "body__speed"] == 0.3


def test_import_drops_text_columns_with_a_warning(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="emo"):
        api.import_table(_table(tmp_path), modality="body", cache=tmp_path / "cache",
                         id_column="filename", actor_column="actor_ID", label_column="emotion",
                         out=tmp_path / "m.csv")
    assert "dropped non-numeric column(s) gender" in caplog.text
    frame = api.feature_table(tmp_path / "m.csv", modalities=["body"], cache=tmp_path / "cache")
    assert list(frame.columns) == ["actor", "label", "body__duration", "body__speed"]


def test_a_parquet_column_of_code_strings_is_text_not_a_feature(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    frame = pd.DataFrame({"id": ["a", "b"], "emotion": ["01", "05"], "AU01_r": [0.1, 0.2]})
    frame.to_parquet(tmp_path / "au.parquet")
    with caplog.at_level(logging.WARNING, logger="emo"):
        api.import_table(tmp_path / "au.parquet", modality="face", cache=tmp_path / "c",
                         out=tmp_path / "m.csv")
    assert "dropped non-numeric column(s) emotion" in caplog.text
    table = api.feature_table(tmp_path / "m.csv", modalities=["face"], cache=tmp_path / "c")
    assert [c for c in table.columns if c.startswith("face__")] == ["face__AU01_r"]


def test_import_refuses_a_column_mixing_numbers_and_text(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,actor,speed,pitch\na,01,0.1,100\nb,01,0.2,n.a.\nc,02,0.3,\n")
    with pytest.raises(LayoutError, match=r"column 'pitch' mixes numbers and text \('n.a.' in "
                                          r"data row 2\)"):
        api.import_table(path, modality="face", cache=tmp_path / "c")


def test_import_without_numeric_columns_says_so(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,actor,gender\na,01,F\nb,02,M\n")
    with pytest.raises(LayoutError, match=r"no numeric feature column \(text only: gender\)"):
        api.import_table(path, modality="face", cache=tmp_path / "c")


ODD = ["01", "007", "NA", "1e3", "True", "None", "nan", "N/A", "-1.0"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_ids_actors_and_labels_are_kept_as_written(tmp_path: Path, suffix: str) -> None:
    frame = pd.DataFrame({"id": ODD, "actor": ODD[::-1], "label": ["An", "NA", ""] * 3,
                          "x": range(9)})
    path = tmp_path / f"t{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    clips = api.import_table(path, modality="face", cache=tmp_path / "c",
                             labels={"na": "Ne"}, out=tmp_path / "m.csv")
    assert [(c.id, c.actor, c.label) for c in clips] == [
        (i, a, {"An": "An", "NA": "Ne", "": None}[lab])
        for i, a, lab in zip(ODD, ODD[::-1], frame["label"], strict=True)]
    table = api.feature_table(tmp_path / "m.csv", modalities=["face"], cache=tmp_path / "c")
    assert list(table.index) == ODD and list(table["actor"]) == ODD[::-1]
    assert list(table["face__x"]) == list(range(9))


def test_empty_cells_mean_missing(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,actor,label,x\na,,,1\nb, , Ha ,2\n,03,Ne,3\n")
    with pytest.raises(LayoutError, match="empty id in data row 3"):
        api.import_table(path, modality="face", cache=tmp_path / "c")
    path.write_text("id,actor,label,x\na,,,1\nb, , Ha ,2\n")
    clips = api.import_table(path, modality="face", cache=tmp_path / "c")
    assert [(c.id, c.actor, c.label) for c in clips] == [("a", None, None), ("b", None, "Ha")]


def test_import_without_label_column_keeps_clips_unlabelled(tmp_path: Path) -> None:
    clips = api.import_table(_table(tmp_path), modality="body", cache=tmp_path / "cache",
                             id_column="filename", actor_column="actor_ID", label_column=None,
                             drop_columns=["duration", "gender", "emotion"])
    assert len(clips) == 5 and all(c.label is None for c in clips)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_actor_format_makes_imported_actors_join_layout_ids(tmp_path: Path, suffix: str) -> None:
    frame = pd.DataFrame({"clip_id": ["a", "b", "c"], "actor": pd.array([1, 12, None], "Int64"),
                          "AU01_r": [0.1, 0.2, 0.3]})
    path = tmp_path / f"au{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    plain = api.import_table(path, modality="face", cache=tmp_path / "c", id_column="clip_id")
    assert [c.actor for c in plain] == ["1", "12", None]
    clips = api.import_table(path, modality="face", cache=tmp_path / "c", id_column="clip_id",
                             actor_format="{:02d}")
    assert [c.actor for c in clips] == ["01", "12", None]
    named = api.import_table(path, modality="face", cache=tmp_path / "c", id_column="clip_id",
                             actor_format="A{}")
    assert [c.actor for c in named] == ["A1", "A12", None]
    with pytest.raises(LayoutError, match="actor-format"):
        api.import_table(path, modality="face", cache=tmp_path / "c", id_column="clip_id",
                         actor_format="{:q}")
