from __future__ import annotations

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


def test_import_refuses_text_columns(tmp_path: Path) -> None:
    with pytest.raises(LayoutError, match="non-numeric column"):
        api.import_table(_table(tmp_path), modality="body", cache=tmp_path / "cache",
                         id_column="filename", actor_column="actor_ID", label_column="emotion")


def test_import_without_label_column_keeps_clips_unlabelled(tmp_path: Path) -> None:
    clips = api.import_table(_table(tmp_path), modality="body", cache=tmp_path / "cache",
                             id_column="filename", actor_column="actor_ID", label_column=None,
                             drop_columns=["duration", "gender", "emotion"])
    assert len(clips) == 5 and all(c.label is None for c in clips)


def test_actor_format_makes_imported_actors_join_layout_ids(tmp_path: Path) -> None:
    frame = pd.DataFrame({"clip_id": ["a", "b"], "actor": [1, 12], "AU01_r": [0.1, 0.2]})
    frame.to_parquet(tmp_path / "au.parquet")
    clips = api.import_table(tmp_path / "au.parquet", modality="face", cache=tmp_path / "c",
                             id_column="clip_id", actor_format="{:02d}")
    assert [c.actor for c in clips] == ["01", "12"]
    with pytest.raises(LayoutError, match="actor-format"):
        api.import_table(tmp_path / "au.parquet", modality="face", cache=tmp_path / "c",
                         id_column="clip_id", actor_format="{:q}")
