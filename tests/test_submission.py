from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import pytest

from emo.errors import SubmissionError
from emo.submission import check, expected_ids, write_submission


def test_written_zip_holds_one_protocol_2_pickle_at_the_top(tmp_path: Path) -> None:
    answers = {"frames_TEST1": "An", "frames_TEST2": "Su"}
    path = write_submission(answers, tmp_path / "s.zip", phase="test",
                            expected={"frames_TEST1", "frames_TEST2"})
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["test_prediction.pkl"]
        data = zf.read("test_prediction.pkl")
    assert data[:2] == b"\x80\x02"
    assert pickle.loads(data) == answers
    assert check(path) == answers


def test_valid_phase_name(tmp_path: Path) -> None:
    path = write_submission({"frames_F2_An3": "Sa"}, tmp_path / "v.zip", phase="valid")
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["valid_prediction.pkl"]


@pytest.mark.parametrize(
    ("answers", "expected", "message"),
    [
        ({"frames_TEST1": "Angry"}, None, "class 'Angry'"),
        ({"clip7": "An"}, None, "'clip7' is not a descriptor name"),
        ({"frames_F1_An1": "An"}, None, "not a test descriptor"),
        ({"frames_TEST1": "An"}, {"frames_TEST1", "frames_TEST2"}, "1 descriptor(s) missing"),
        ({"frames_TEST1": "An", "frames_TEST9": "An"}, {"frames_TEST1"}, "not in the data"),
        ({}, None, "empty"),
    ],
)
def test_refuses_to_write_invalid(tmp_path: Path, answers: dict, expected: set | None,
                                  message: str) -> None:
    with pytest.raises(SubmissionError) as info:
        write_submission(answers, tmp_path / "s.zip", phase="test", expected=expected)
    assert message in str(info.value)
    assert not (tmp_path / "s.zip").exists()


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a/test_prediction.pkl": pickle.dumps({"frames_TEST1": "An"}, protocol=2)},
         "inside a folder"),
        ({"test_prediction.pkl": b"", "x.txt": b""}, "exactly one file"),
        ({"preds.pkl": pickle.dumps({"frames_TEST1": "An"}, protocol=2)}, "is called 'preds.pkl'"),
        ({"test_prediction.pkl": pickle.dumps({"frames_TEST1": "An"}, protocol=4)},
         "protocol 4"),
        ({"test_prediction.pkl": pickle.dumps(["frames_TEST1"], protocol=2)}, "not a dict"),
        ({"test_prediction.pkl": pickle.dumps({"frames_TEST1": Path("x")}, protocol=2)},
         "forbidden object"),
    ],
)
def test_check_says_what_is_wrong(tmp_path: Path, files: dict[str, bytes], message: str) -> None:
    path = _zip(tmp_path / "bad.zip", files)
    with pytest.raises(SubmissionError, match="bad.zip") as info:
        check(path)
    assert message in str(info.value)


def test_check_rejects_non_zip(tmp_path: Path) -> None:
    (tmp_path / "x.zip").write_bytes(b"not a zip")
    with pytest.raises(SubmissionError, match="not a readable ZIP"):
        check(tmp_path / "x.zip")


def test_expected_ids_by_phase() -> None:
    ids = ["frames_F1_An1", "frames_TEST3", "frames_TEST10"]
    assert expected_ids(ids, "test") == {"frames_TEST3", "frames_TEST10"}
    assert expected_ids(ids, "valid") == set(ids)
    with pytest.raises(SubmissionError, match="phase"):
        expected_ids(ids, "final")
