"""Tests of the audio-corpus layouts: RAVDESS, EMO-DB, TESS and plain ``<label>/<file>`` folders."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest

from emo.data.layouts import detect_layout, emodb, folders, load_clips, ravdess, tess
from emo.errors import EmoError, LayoutError


def _touch(root: Path, names: Iterable[str]) -> Path:
    """Create (tiny, content-free) files; layouts read names only."""
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF")
    return root


def _by_id(clips):
    return {c.id: c for c in clips}


# --------------------------------------------------------------------------- RAVDESS

def _ravdess(root: Path) -> Path:
    names = [f"Actor_{a:02d}/03-01-{e:02d}-01-01-01-{a:02d}.wav"
             for a in (1, 2) for e in range(1, 9)]
    return _touch(root, names)


def test_ravdess_codes_actors_and_dropped_calm(tmp_path, caplog):
    root = _ravdess(tmp_path)
    assert detect_layout(root) == "ravdess"
    with caplog.at_level(logging.INFO, logger="emo"):
        clips = load_clips(root)
    assert "calm: 2" in caplog.text
    assert len(clips) == 14
    one = _by_id(clips)["03-01-05-01-01-01-02"]
    assert (one.actor, one.label, one.video) == ("02", "An", None)
    assert one.audio == root / "Actor_02/03-01-05-01-01-01-02.wav"
    assert Counter(c.label for c in clips if c.actor == "01") == Counter(
        {"Ne": 1, "Ha": 1, "Sa": 1, "An": 1, "Fe": 1, "Di": 1, "Su": 1})


def test_ravdess_label_map_keeps_calm_by_code_or_name(tmp_path):
    root = _ravdess(tmp_path)
    by_code = _by_id(ravdess.read(root, label_map={"02": "Ca"}))
    by_name = _by_id(ravdess.read(root, label_map={"calm": "Ne"}))
    assert by_code["03-01-02-01-01-01-01"].label == "Ca"
    assert by_name["03-01-02-01-01-01-01"].label == "Ne"
    assert len(by_code) == len(by_name) == 16


def test_ravdess_video_files_join_the_audio_clip(tmp_path):
    root = _touch(tmp_path, [
        "03-01-04-02-01-01-05.wav", "01-01-04-02-01-01-05.mp4", "02-01-04-02-01-01-05.mp4",
        "02-01-06-01-02-02-05.mp4",  # video only, no sound anywhere
        "01-02-03-01-01-01-05.mp4",  # song, audio-video
    ])
    clips = _by_id(load_clips(root))
    assert sorted(clips) == ["03-01-04-02-01-01-05", "03-01-06-01-02-02-05",
                             "03-02-03-01-01-01-05"]
    both = clips["03-01-04-02-01-01-05"]
    assert both.audio == root / "03-01-04-02-01-01-05.wav"
    assert both.video == root / "01-01-04-02-01-01-05.mp4"
    assert clips["03-01-06-01-02-02-05"].media_for("audio") == root / "02-01-06-01-02-02-05.mp4"
    assert clips["03-02-03-01-01-01-05"].media_for("audio") == root / "01-02-03-01-01-01-05.mp4"
    assert clips["03-02-03-01-01-01-05"].label == "Ha"


def test_ravdess_bad_names_raise_or_are_collected(tmp_path):
    root = _ravdess(tmp_path)
    _touch(root, ["Actor_01/03-01-09-01-01-01-01.wav", "Actor_01/03-01-05-01-01-01-01.mp4",
                  "Actor_01/notes.wav"])
    with pytest.raises(LayoutError, match="RAVDESS name"):
        ravdess.read(root)
    problems: list[EmoError] = []
    clips = ravdess.read(root, problems=problems)
    assert len(clips) == 14 and len(problems) == 3
    assert all(isinstance(p, LayoutError) and p.path.parent.name == "Actor_01" for p in problems)


# --------------------------------------------------------------------------- EMO-DB

def test_emodb_letters_speakers_and_boredom(tmp_path, caplog):
    letters = "WLEAFTN"
    root = _touch(tmp_path, [f"{s}a01{e}a.wav" for s in ("03", "16") for e in letters])
    assert detect_layout(root) == "emodb"
    with caplog.at_level(logging.INFO, logger="emo"):
        clips = _by_id(load_clips(root))
    assert "boredom: 2" in caplog.text
    assert {i: c.label for i, c in clips.items() if c.actor == "16"} == {
        "16a01Wa": "An", "16a01Ea": "Di", "16a01Aa": "Fe", "16a01Fa": "Ha", "16a01Ta": "Sa",
        "16a01Na": "Ne"}
    kept = _by_id(emodb.read(root, label_map={"l": "Bo"}))
    assert kept["03a01La"].label == "Bo" and kept["03a01La"].actor == "03"


# --------------------------------------------------------------------------- TESS

def test_tess_speaker_class_folders_and_the_oa_quirk(tmp_path):
    root = _touch(tmp_path, [
        "OAF_angry/OAF_back_angry.wav", "OAF_neutral/OA_bite_neutral.wav",
        "YAF_pleasant_surprised/YAF_back_ps.wav", "YAF_sad/YAF_back_sad.wav",
    ])
    assert detect_layout(root) == "tess"
    clips = _by_id(load_clips(root))
    assert {i: (c.actor, c.label) for i, c in clips.items()} == {
        "OAF_back_angry": ("OAF", "An"), "OA_bite_neutral": ("OAF", "Ne"),
        "YAF_back_ps": ("YAF", "Su"), "YAF_back_sad": ("YAF", "Sa")}


def test_tess_nested_and_flat_trees(tmp_path):
    root = _touch(tmp_path, ["OAF/fear/OAF_date_fear.flac", "loose/OA_bite_neutral.wav",
                             "loose/YAF_neat_fear.wav"])
    clips = _by_id(tess.read(root))
    assert clips["OAF_date_fear"].actor == "OAF"
    assert clips["OA_bite_neutral"].actor == "OAF"  # known typo, no speaker folder
    assert clips["YAF_neat_fear"].actor == "YAF"
    assert {c.label for c in clips.values()} == {"Fe", "Ne"}


# --------------------------------------------------------------------------- folders

def test_folders_labels_media_kinds_and_unlabelled_files(tmp_path):
    root = _touch(tmp_path, ["Angry/s1_a.wav", "happiness/s2_b.flac", "ps/sub/s1_c.mp3",
                             "Disgust/S005_001_01.png", "fear/clip.MP4", "contempt/s3_d.jpg",
                             "unsorted.wav", "notes.txt"])
    assert detect_layout(root) == "folders"
    clips = _by_id(load_clips(root))
    assert {i: c.label for i, c in clips.items()} == {
        "s1_a": "An", "s2_b": "Ha", "s1_c": "Su", "S005_001_01": "Di", "clip": "Fe",
        "unsorted": None}
    assert clips["S005_001_01"].video == root / "Disgust/S005_001_01.png"
    assert clips["S005_001_01"].audio is None
    assert clips["clip"].video is not None and clips["s1_a"].audio is not None
    assert all(c.actor is None for c in clips.values())


def test_folders_speaker_pattern_and_label_map(tmp_path, caplog):
    root = _touch(tmp_path, ["anger/S005_001_1.png", "anger/S010_002_1.png",
                             "contempt/S005_003_1.png", "anger/odd.png"])
    with caplog.at_level(logging.WARNING, logger="emo"):
        clips = _by_id(folders.read(root, speaker_pattern=r"^(?P<speaker>S\d+)_",
                                    label_map={"contempt": "Co"}))
    assert {i: (c.actor, c.label) for i, c in clips.items()} == {
        "S005_001_1": ("S005", "An"), "S010_002_1": ("S010", "An"),
        "S005_003_1": ("S005", "Co"), "odd": (None, "An")}
    assert "matched no speaker in 1" in caplog.text


def test_folders_repeated_stems_get_path_ids(tmp_path):
    root = _touch(tmp_path, ["sad/001.wav", "happy/001.wav", "happy/002.wav"])
    assert sorted(_by_id(folders.read(root))) == ["002", "happy/001", "sad/001"]


@pytest.mark.parametrize(("pattern", "message"), [("(?P<speaker>S\\d+", "not a valid"),
                                                  (r"^(S\d+)_", "named group")])
def test_folders_bad_speaker_pattern(tmp_path, pattern, message):
    root = _touch(tmp_path, ["sad/a.wav"])
    with pytest.raises(LayoutError, match=message):
        folders.read(root, speaker_pattern=pattern)


@pytest.mark.parametrize(("layout", "files", "bad", "kept"), [
    (emodb, ["03a01Wa.wav", "03a01Xa.wav"], "03a01Xa", ["03a01Wa"]),
    (tess, ["OAF_angry/OAF_back_angry.wav", "OAF_angry/OAF_back_grumpy.wav"], "grumpy",
     ["OAF_back_angry"]),
    (folders, ["sad/a.wav", "misc/b.wav"], "misc", ["a"]),
], ids=["emodb-letter", "tess-emotion", "folders-class-folder"])
def test_a_file_of_unknown_class_raises_or_is_collected(tmp_path, layout, files, bad, kept):
    root = _touch(tmp_path, files)
    with pytest.raises(LayoutError, match=bad):
        layout.read(root)
    problems: list[EmoError] = []
    assert [c.id for c in layout.read(root, problems=problems)] == kept
    assert len(problems) == 1 and bad in str(problems[0])


def test_layouts_do_not_claim_each_other(tmp_path):
    trees = {
        "ravdess": ["Actor_01/03-01-05-01-01-01-01.wav"],
        "emodb": ["03a01Wa.wav", "08b10Nc.wav"],
        "tess": ["OAF_angry/OAF_back_angry.wav"],
        "folders": ["angry/a_b_c.wav", "sad/x.wav"],
    }
    for name, files in trees.items():
        assert detect_layout(_touch(tmp_path / name, files)) == name
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(LayoutError, match="not a known dataset layout"):
        detect_layout(empty)


# --------------------------------------------------------------------------- real corpora

def test_real_ravdess_emodb_tess_ckplus(shared_data):
    rav = load_clips(shared_data / "ravdess")
    assert len(rav) == 831 and len({c.actor for c in rav}) == 16
    assert Counter(c.label for c in rav)["Ne"] == 64
    emo_db = load_clips(shared_data / "emodb")
    assert len(emo_db) == 208 and {c.actor for c in emo_db} == {"03", "08", "09", "10", "11"}
    assert Counter(c.label for c in emo_db) == Counter(
        {"An": 60, "Ne": 43, "Ha": 34, "Sa": 30, "Fe": 29, "Di": 12})
    toronto = _by_id(load_clips(shared_data / "tess"))
    assert len(toronto) == 25 and toronto["OA_bite_neutral"].actor == "OAF"
    assert toronto["YAF_neat_fear"].actor == "YAF"
    ck = load_clips(shared_data / "ckplus48", speaker_pattern=r"^(?P<speaker>S\d+)_")
    assert detect_layout(shared_data / "ckplus48") == "folders"
    assert len(ck) == 981 - 54 and all(c.actor and c.video for c in ck)
