from __future__ import annotations

import pickle
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest

from emo.errors import SubmissionError
from emo.submission import check, expected_ids, read_answers, write_submission


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


# -- hostile files (issue 22 rows 5-7): each refused at once, in bounded memory, exit 2 ------
PROTO2 = b"\x80\x02"


def _binunicode(text: str) -> bytes:
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def shared_tuples(levels: int = 40) -> bytes:
    """``{"frames_TEST1": t40}`` where ``t(k+1) = (tk, tk)``: 2**40 leaves in a few hundred
    bytes, by memo references (BINGET)."""
    out = PROTO2 + b"}q\x00" + _binunicode("frames_TEST1") + b"q\x01" + _binunicode("An")
    out += b"q\x02"
    for level in range(levels):  # the top is memo 2 + level: pair it with itself
        out += b"h" + bytes([2 + level]) + b"\x86q" + bytes([3 + level])
    return out + b"s."


def deep_lists(depth: int = 200_000) -> bytes:
    """``{"frames_TEST1": [[[...]]]}`` nested ``depth`` deep."""
    return (PROTO2 + b"}" + _binunicode("frames_TEST1") + b"]" * depth + b"a" * (depth - 1)
            + b"s.")


def _stored_zip(path: Path, name: str, data: bytes) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, data)
    return path


def zip_bomb(path: Path, inflated: int = 1 << 30, *, declared: int | None = None) -> Path:
    """A ZIP of one deflated member of ``inflated`` zero bytes, written without compressing
    them: after a full flush, every 1 MiB block of zeros deflates to the same bytes, so the
    stream is one block repeated. ``declared`` sets a (lying) size in the headers."""
    chunk = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    last = deflate.compress(chunk) + deflate.flush()
    n = inflated // len(chunk)
    stream = first + block * (n - 2) + last
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(chunk, crc)
    name = b"test_prediction.pkl"
    size = inflated if declared is None else declared
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(stream), size,
                        len(name), 0) + name
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc,
                          len(stream), size, len(name), 0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central),
                      len(local) + len(stream), 0)
    path.write_bytes(local + stream + central + end)
    return path


def test_the_bomb_helpers_make_what_they_say(tmp_path: Path) -> None:
    """The hostile files are real: the standard library would blow up on them."""
    tuples = shared_tuples(levels=20)  # 2**20 leaves: still cheap to count
    assert len(shared_tuples()) < 400
    value = pickle.loads(tuples)["frames_TEST1"]
    for _ in range(20):
        assert value[0] is value[1]
        value = value[0]
    assert value == "An"
    assert pickle.loads(deep_lists(50))["frames_TEST1"][0][0][0] is not None
    small = zip_bomb(tmp_path / "small.zip", inflated=4 << 20)
    with zipfile.ZipFile(small) as zf:
        assert zf.read("test_prediction.pkl") == bytes(4 << 20)  # CRC and sizes check out
    assert zip_bomb(tmp_path / "big.zip").stat().st_size < 2 << 20


HOSTILE = {
    "shared-tuples": lambda d: _stored_zip(d / "s.zip", "test_prediction.pkl", shared_tuples()),
    "deep-nesting": lambda d: _stored_zip(d / "s.zip", "test_prediction.pkl", deep_lists()),
    "50MB-key": lambda d: _stored_zip(d / "s.zip", "test_prediction.pkl", pickle.dumps(
        {"frames_TEST" + "7" * (50 << 20): "An"}, protocol=2)),
    "3MB-key": lambda d: _stored_zip(d / "s.zip", "test_prediction.pkl", pickle.dumps(
        {"frames_TEST1x" + "7" * (3 << 20): "An"}, protocol=2)),
    "3MB-value": lambda d: _stored_zip(d / "s.zip", "test_prediction.pkl", pickle.dumps(
        {"frames_TEST1": "An" + "7" * (3 << 20)}, protocol=2)),
    "zip-bomb": lambda d: zip_bomb(d / "s.zip"),
    "lying-zip-bomb": lambda d: zip_bomb(d / "s.zip", declared=1000),
    "long-name": lambda d: _stored_zip(d / "s.zip", "x" * 60_000, b""),
}
CHECK = """
import resource, sys
from pathlib import Path
from emo.errors import SubmissionError
from emo.submission import check
try:
    check(sys.argv[1])
except SubmissionError as exc:
    print(exc, file=sys.stderr)
status = Path("/proc/self/status")
if status.exists():  # Linux: this program's own peak (ru_maxrss keeps the forking parent's)
    hwm = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM"))
    print(int(hwm.split()[1]) * 1024)
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(peak * (1 if sys.platform == "darwin" else 1024))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="resource module")
@pytest.mark.parametrize("attack", list(HOSTILE))
def test_hostile_submissions_are_refused_in_bounded_memory(tmp_path: Path, attack: str) -> None:
    path = HOSTILE[attack](tmp_path)
    done = subprocess.run([sys.executable, "-c", CHECK, str(path)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    message = done.stderr.strip()
    assert message.startswith(str(path)) and "\n" not in message
    assert len(message) < len(str(path)) + 200, message  # only an excerpt is quoted
    assert int(done.stdout) < 300e6  # peak memory: nothing was read whole


def test_cli_refuses_a_hostile_submission_with_exit_2(tmp_path: Path) -> None:
    path = HOSTILE["shared-tuples"](tmp_path)
    done = subprocess.run([sys.executable, "-m", "emo", "submit", "--check", str(path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "holds a tuple" in done.stderr and len(done.stderr) < 300


@pytest.mark.parametrize(("data", "message"), [
    (pickle.dumps({"frames_TEST1": 3}, protocol=2), "holds a int"),
    (pickle.dumps({"frames_TEST1": None}, protocol=2), "holds a None"),
    (pickle.dumps({"frames_TEST1": {"a": "b"}}, protocol=2), "more than one dict"),
    (pickle.dumps({"frames_TEST1": b"An"}, protocol=2), "forbidden object"),  # _codecs.encode
    (pickle.dumps([("a", "b")], protocol=2), "holds a list, not a dict"),
    (PROTO2 + b"}q\x00" + _binunicode("frames_TEST1") + b"h\x00s.", "shared reference"),
    (PROTO2 + b"}(" + _binunicode("frames_TEST1") + b"(", "nests containers"),
    (PROTO2 + b"}" + _binunicode("frames_TEST1"), "cannot be read: 'pickle exhausted"),
    (PROTO2 + _binunicode("frames_TEST1") + b".", "does not hold one dict"),
    (PROTO2 + b"}\xff.", "cannot be read"),
])
def test_only_a_flat_dict_of_strings_is_read(data: bytes, message: str) -> None:
    with pytest.raises(SubmissionError, match=message):
        read_answers(data)


def test_repeated_strings_are_shared_and_still_read() -> None:
    answers = {f"frames_TEST{i}": "An" for i in range(50)}
    data = pickle.dumps(answers, protocol=2)
    assert b"h" in data[30:]  # the pickler refers to "An" again (BINGET)
    assert read_answers(data) == answers
