"""Bad inputs, end to end: about 90 damaged files through the ``emo`` command line.

Damaged copies of real recordings (FLAC files of the real-data pack, read at run time and
never copied into the repository), of ``emo synth`` videos and of its Kinect files (the
pack has neither) are written to a temporary folder: truncated at several points,
bit-flipped, spliced from halves of two files, zeroed over a range, in swapped containers,
with corrupt header fields, and Kinect files with NaN, 1e308 or infinite values, missing
or extra fields, text, binary bytes or blank lines. One manifest mixes them with good
audio clips, video-segment clips and Kinect-only clips. Then, each command timed and
limited to 300 s:

1. ``emo extract MANIFEST -j 2``, twice, then ``emo features`` to read the tables back;
2. ``emo predict MODEL MANIFEST``, MODEL fitted first by ``emo fit`` on a synthetic set;
3. ``emo predict MODEL`` on a manifest of the files nothing could read, and on one loose
   broken file.

Checked for each command: exit code 1, no ``Traceback`` (nor "internal error") on stdout
or stderr. For the manifest: every clip and modality either has features or is named,
with its file, in the failure list; the good clips have all their features (and a
prediction); no feature is infinite; the second run computes nothing and leaves every
cache file as it was; no temporary file (``*.tmp``) remains. The script exits 1 when one
of these checks fails. Failure reasons that are a raw Python exception ("AttributeError:
...") or carry FFmpeg error numbers are listed apart, as unclear.

Usage::

    nice -n 10 .venv/bin/python benchmarks/bad_inputs.py [--jobs 2] [--keep DIR] [--model DIR]

With ``--keep DIR`` the files, caches and each command's output (``DIR/logs``) stay.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from _common import DATA

from emo.data.clip import MANIFEST_COLUMNS

TIME_LIMIT = 300.0
#: Modalities a clip's media column feeds.
MODALITIES = {"audio": ("audio",), "video": ("audio", "face", "body"), "skeleton": ("body",)}
#: Problems printed per command.
SHOWN = 12
#: The command line's own stderr lines: counts and the head of the failure list.
SUMMARY = re.compile(r"\d+ (computed|clip|predictions|rows)|error: |\S.* -> ")
#: A reason that is a Python exception or an FFmpeg error number, not a sentence.
UNCLEAR = re.compile(r"\b[A-Z]\w*(?:Error|Exception|Warning): |\[Errno |Traceback")


@dataclass
class Case:
    """One clip of the manifest: its media file, what was done to it, what it feeds."""

    id: str
    family: str
    column: str
    path: Path
    good: bool = False
    segment: tuple[str, str] = ("", "")
    actor: str = ""
    label: str = ""

    @property
    def modalities(self) -> tuple[str, ...]:
        """Modalities this clip's media feed."""
        return MODALITIES[self.column]

    def row(self) -> dict[str, str]:
        """The manifest row."""
        row = dict.fromkeys(MANIFEST_COLUMNS, "")
        row.update(id=self.id, actor=self.actor, label=self.label)
        row[self.column] = str(self.path)
        if self.column == "video":
            row["start"], row["end"] = self.segment
        elif self.column == "skeleton":
            row["skeleton_start"], row["skeleton_end"] = self.segment
        return row


@dataclass
class Run:
    """One command, timed."""

    step: str
    args: list[str]
    returncode: int
    seconds: float
    stdout: str
    stderr: str
    problems: list[str] = field(default_factory=list)
    unclear: list[str] = field(default_factory=list)

    @property
    def stray(self) -> list[str]:
        """Lines on stderr that are neither a failure line nor a summary (native logs...)."""
        return [line for line in self.stderr.splitlines()
                if line.strip() and not line.startswith("  ") and not SUMMARY.match(line)]

    @property
    def output(self) -> str:
        """Everything the command printed."""
        return self.stdout + self.stderr


# -- damage ---------------------------------------------------------------------------------
def truncate(data: bytes, fraction: float) -> bytes:
    """The first ``fraction`` of the bytes."""
    return data[: int(len(data) * fraction)]


def flip(data: bytes, n: int, rng: np.random.Generator) -> bytes:
    """``n`` random single-bit flips."""
    out = bytearray(data)
    for i in rng.integers(0, len(out), n):
        out[i] ^= 1 << int(rng.integers(8))
    return bytes(out)


def zero(data: bytes, start: float, stop: float) -> bytes:
    """Bytes from ``start`` to ``stop`` (fractions of the length, or byte offsets >= 1) zeroed."""
    a, b = (int(x * len(data)) if x <= 1 else int(x) for x in (start, stop))
    return data[:a] + bytes(b - a) + data[b:]


def splice(a: bytes, b: bytes) -> bytes:
    """The first half of ``a`` followed by the second half of ``b``."""
    return a[: len(a) // 2] + b[len(b) // 2:]


def flac_header(data: bytes, *, rate: int | None = None, total: int | None = None) -> bytes:
    """A FLAC file with its STREAMINFO sample rate or total sample count overwritten."""
    out = bytearray(data)
    bits = int.from_bytes(out[18:26], "big")  # rate (20 bits), channels, depth, total (36)
    if rate is not None:
        bits = bits & ~(((1 << 20) - 1) << 44) | rate << 44
    if total is not None:
        bits = bits & ~((1 << 36) - 1) | total
    out[18:26] = bits.to_bytes(8, "big")
    return bytes(out)


def wav_rate(data: bytes, rate: int) -> bytes:
    """A RIFF/WAVE file with the sample rate of its ``fmt`` chunk overwritten."""
    at = data.index(b"fmt ") + 12
    return data[:at] + rate.to_bytes(4, "little") + data[at + 4:]


def kinect_edit(text: str, rows: Iterable[int], edit: Callable[[list[str]], list[str]]) -> str:
    """Apply ``edit`` to the ``;``-separated fields of some data rows (0-based)."""
    lines = text.splitlines()
    for i in rows:
        lines[i] = ";".join(edit(lines[i].split(";")))
    return "\n".join(lines) + "\n"


def set_field(index: int, value: str) -> Callable[[list[str]], list[str]]:
    """An edit writing ``value`` into field ``index`` (0 time, 1 body, 2... joints)."""
    def edit(fields: list[str]) -> list[str]:
        fields[index] = value
        return fields
    return edit


def positions(scale: float) -> Callable[[list[str]], list[str]]:
    """An edit multiplying every joint position (not rotation) by ``scale``."""
    def edit(fields: list[str]) -> list[str]:
        for j in range(25):
            for k in range(3):
                i = 2 + 6 * j + k
                fields[i] = f"{float(fields[i]) * scale:.1f}"
        return fields
    return edit


# -- materials -------------------------------------------------------------------------------
def emo(*args: str | Path, step: str, cwd: Path, limit: float = TIME_LIMIT) -> Run:
    """Run ``python -m emo ARGS`` and time it."""
    argv = [str(a) for a in args]
    t0 = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", "emo", *argv], cwd=cwd, text=True,
                              capture_output=True, timeout=limit)
        code, out, err = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as exc:
        code, out, err = -1, str(exc.stdout or ""), f"timed out after {limit:.0f} s"
    run = Run(step, ["emo", *argv], code, time.perf_counter() - t0, out, err)
    print(f"  {step:<26} exit {code:>2}  {run.seconds:6.1f} s", flush=True)
    logs = cwd / "logs"
    logs.mkdir(exist_ok=True)
    name = re.sub(r"\W+", "_", step).strip("_")
    (logs / f"{name}.txt").write_text(f"$ {' '.join(run.args)}\n--- stdout\n{out}\n"
                                      f"--- stderr\n{err}")
    return run


def real_flacs() -> dict[str, list[Path]]:
    """Real recordings by corpus, sorted (the folder is read, never copied)."""
    return {name: sorted((DATA / name).rglob("*.flac"))[:8]
            for name in ("emodb", "ravdess", "tess")}


def synth_rows(root: Path, work: Path) -> list[dict[str, str]]:
    """A synthetic challenge set (videos with sound, Kinect files) and its manifest rows."""
    for run in (emo("synth", root, "--actors", 3, "--takes", 1, "--test-actors", 0, "--seed", 3,
                    step="synth (materials)", cwd=work),
                emo("index", root, "-o", work / "synth.csv", step="index synth", cwd=work)):
        if run.returncode != 0:
            raise SystemExit(f"{' '.join(run.args)} failed:\n{run.stderr}")
    with (work / "synth.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def audio_cases(media: Path, flacs: dict[str, list[Path]], video: Path, kinect: Path,
                rng: np.random.Generator) -> list[Case]:
    """Damaged audio files (from real FLAC recordings, a WAV made of one, a synth video)."""
    a, b, t = (flacs[c][2].read_bytes() for c in ("emodb", "ravdess", "tess"))
    x, rate = sf.read(flacs["emodb"][2], dtype="int16")
    sf.write(media / "source.wav", x, rate, subtype="PCM_16")
    w = (media / "source.wav").read_bytes()
    v = video.read_bytes()
    damaged: dict[str, tuple[str, bytes]] = {}
    for frac in (0.005, 0.1, 0.5, 0.9, 0.99):
        damaged[f"cut{frac:g}.flac"] = ("truncated", truncate(a, frac))
    for frac in (0.005, 0.5, 0.99):
        damaged[f"cut{frac:g}.wav"] = ("truncated", truncate(w, frac))
        damaged[f"cut{frac:g}_ravdess.flac"] = ("truncated", truncate(b, frac))
    for n in (1, 16, 256):
        damaged[f"flip{n}.flac"] = ("bit flips", flip(a, n, rng))
        damaged[f"flip{n}.wav"] = ("bit flips", flip(w, n, rng))
    damaged["flip16_tess.flac"] = ("bit flips", flip(t, 16, rng))
    damaged["splice_emodb_ravdess.flac"] = ("spliced", splice(a, b))
    damaged["splice_wav_flac.wav"] = ("spliced", splice(w, a))
    damaged["splice_flac_wav.flac"] = ("spliced", splice(a, w))
    damaged["splice_flac_mp4.flac"] = ("spliced", splice(a, v))
    for name, data in (("flac", a), ("wav", w)):
        damaged[f"zero_header.{name}"] = ("zeroed", zero(a if name == "flac" else w, 0, 64))
        damaged[f"zero_middle.{name}"] = ("zeroed", zero(data, 0.4, 0.4 * len(data) + 4096))
        damaged[f"zero_tail.{name}"] = ("zeroed", zero(data, 0.5, 1.0))
    for suffix in (".mp4", ".wav", ".mp3", ".ogg"):
        damaged[f"flac_as{suffix}"] = ("container swap", a)
    for suffix in (".flac", ".mp4"):
        damaged[f"wav_as{suffix}"] = ("container swap", w)
    for suffix in (".wav", ".flac", ".mp3"):
        damaged[f"mp4_as{suffix}"] = ("container swap", v)
    damaged["kinect_as.wav"] = ("container swap", kinect.read_bytes())
    damaged["random.flac"] = ("container swap", rng.bytes(len(a)))
    damaged["rate1.flac"] = ("header field", flac_header(a, rate=1))
    damaged["rate100.wav"] = ("header field", wav_rate(w, 100))
    damaged["unknown_length.flac"] = ("header field", flac_header(a, total=0))
    damaged["promises_2e35.flac"] = ("header field", flac_header(a, total=2**35))
    damaged["empty.wav"] = ("empty", b"")
    damaged["header_only.wav"] = ("truncated", w[:44])
    cases = []
    for name, (family, data) in damaged.items():
        path = media / "audio" / name
        path.write_bytes(data)
        cases.append(Case(f"audio_{Path(name).stem}_{path.suffix[1:]}", family, "audio", path))
    return cases


def video_cases(media: Path, clips: list[dict[str, str]], flac: Path,
                rng: np.random.Generator) -> list[Case]:
    """Damaged videos (from synth videos), each with its clip's segment."""
    (c1, v1), (c2, v2) = ((c, Path(c["video"]).read_bytes()) for c in clips[:2])
    damaged = {
        "cut0.3": ("truncated", c1, truncate(v1, 0.3)),
        "cut0.97": ("truncated", c1, truncate(v1, 0.97)),
        "flip1": ("bit flips", c1, flip(v1, 1, rng)),
        "flip10": ("bit flips", c1, flip(v1, 10, rng)),
        "flip100": ("bit flips", c2, flip(v2, 100, rng)),
        "flip1000": ("bit flips", c2, flip(v2, 1000, rng)),
        "zero_middle": ("zeroed", c1, zero(v1, 0.4, 0.4 * len(v1) + 2048)),
        "zero_tail": ("zeroed", c2, zero(v2, 0.5, 1.0)),
        "splice": ("spliced", c1, splice(v1, v2)),
        "flac_as_mp4": ("container swap", c1, flac.read_bytes()),
        "text_as_mp4": ("container swap", c1, b"not a video\n" * 500),
        "empty": ("empty", c1, b""),
        "no_audio_codec": ("header field", c1, v1.replace(b"mp4a", b"zzzz")
                           .replace(b"esds", b"zzzz")),
        "no_video_codec": ("header field", c2, v2.replace(b"avc1", b"zzzz")
                           .replace(b"avcC", b"zzzz")),
    }
    cases = []
    for name, (family, clip, data) in damaged.items():
        path = media / "video" / f"{name}.mp4"
        path.write_bytes(data)
        cases.append(Case(f"video_{name}", family, "video", path,
                          segment=(clip["start"], clip["end"])))
    return cases


def kinect_cases(media: Path, clip: dict[str, str], rng: np.random.Generator) -> list[Case]:
    """Damaged copies of a synth Kinect file, the damage inside the clip's segment."""
    source = Path(clip["skeleton"])
    text = source.read_text()
    data = source.read_bytes()
    first, last = int(clip["skeleton_start"]), int(clip["skeleton_end"])
    some = range(first + 5, first + 8)
    segment = range(first, last + 1)
    hand_y = 2 + 6 * 7 + 1  # HandLeft y
    cut = len("\n".join(text.splitlines()[: first + 10])) + 40
    damaged = {
        "nan_joints": ("NaN", kinect_edit(text, some, set_field(hand_y, "nan"))),
        "nan_rows": ("NaN", kinect_edit(text, segment, lambda f: f[:2] + ["nan"] * 150)),
        "nan_time": ("NaN", kinect_edit(text, some, set_field(0, "NaN"))),
        "1e308_position": ("1e308", kinect_edit(text, some, set_field(hand_y, "1e308"))),
        "-1e308_position": ("1e308", kinect_edit(text, some, set_field(hand_y - 1, "-1e308"))),
        "1e308_time": ("1e308", kinect_edit(text, [first + 6], set_field(0, "1e308"))),
        "1e12_time": ("1e308", kinect_edit(text, [last], set_field(0, "1e12"))),
        "inf_position": ("inf", kinect_edit(text, some, set_field(hand_y, "inf"))),
        "-inf_position": ("inf", kinect_edit(text, some, set_field(hand_y, "-inf"))),
        "missing_field": ("missing fields", kinect_edit(text, some, lambda f: f[:40] + f[41:])),
        "missing_half": ("missing fields", kinect_edit(text, some, lambda f: f[:76])),
        "empty_field": ("missing fields", kinect_edit(text, some, set_field(hand_y, ""))),
        "extra_field": ("extra fields", kinect_edit(text, some, lambda f: [*f, "1.0"])),
        "text_field": ("text", kinect_edit(text, some, set_field(hand_y, "abc"))),
        "header_line": ("text", "time;body;joints\n" + text),
        "blank_lines": ("empty lines", text.replace("\n", "\n\n \n")),
        "crlf": ("empty lines", text.replace("\n", "\r\n")),
        "time_backwards": ("text", kinect_edit(text, [first + 6], set_field(0, "0"))),
        "millimetres": ("out of range", kinect_edit(text, segment, positions(1000.0))),
        "comma_decimals": ("text", text.replace(".", ",")),
        "cut_mid_line": ("truncated", text[:cut]),
        "cut_before_segment": ("truncated", "\n".join(text.splitlines()[: first - 5]) + "\n"),
        "empty": ("empty", ""),
    }
    binary = {
        "flip4": ("bit flips", flip(data, 4, rng)),
        "flip64": ("bit flips", flip(data, 64, rng)),
        "zero_range": ("zeroed", zero(data, 0.3, 0.3 * len(data) + 512)),
        "latin1_byte": ("text", data.replace(b"\n", b"\n\xb0", 1)),
        "utf16": ("text", text.encode("utf-16")),
        "bom": ("text", b"\xef\xbb\xbf" + data),
    }
    cases = []
    for name, (family, content) in {**damaged, **binary}.items():
        path = media / "kinect" / f"{name}.txt"
        if isinstance(content, str):
            path.write_text(content, encoding="ascii", newline="")
        else:
            path.write_bytes(content)
        cases.append(Case(f"kinect_{name.replace('-', 'neg')}", f"kinect {family}", "skeleton",
                          path, segment=(str(first), str(last))))
    return cases


def good_cases(flacs: dict[str, list[Path]], clips: list[dict[str, str]]) -> list[Case]:
    """Intact clips: real recordings, synth video segments, synth Kinect-only segments."""
    cases = [Case(f"good_{corpus}_{p.stem}", "good audio", "audio", p, good=True)
             for corpus, paths in flacs.items() for p in paths[:2]]
    for c in clips[2:8]:
        cases.append(Case(f"good_video_{c['id']}", "good video", "video", Path(c["video"]),
                          good=True, segment=(c["start"], c["end"]), actor=c["actor"]))
        cases.append(Case(f"good_kinect_{c['id']}", "good kinect", "skeleton",
                          Path(c["skeleton"]), good=True,
                          segment=(c["skeleton_start"], c["skeleton_end"]), actor=c["actor"]))
    return cases


def write_manifest(cases: Iterable[Case], path: Path) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(c.row() for c in cases)
    return path


# -- checks ----------------------------------------------------------------------------------
def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root``: relative path -> size, mtime and content hash."""
    return {str(p.relative_to(root)): f"{p.stat().st_size}:{p.stat().st_mtime_ns}:"
            f"{hashlib.sha256(p.read_bytes()).hexdigest()[:16]}"
            for p in sorted(root.rglob("*")) if p.is_file()}


def check_run(run: Run, expect: int = 1) -> None:
    """Exit code, time limit, no traceback."""
    if run.returncode != expect:
        run.problems.append(f"exit code {run.returncode}, expected {expect}")
    if run.seconds > TIME_LIMIT:
        run.problems.append(f"took {run.seconds:.0f} s > {TIME_LIMIT:.0f} s")
    for marker in ("Traceback", "internal error"):
        if marker in run.output:
            line = next(ln for ln in run.output.splitlines() if marker in ln)
            run.problems.append(f"{marker!r} in the output: {line.strip()[:160]}")


def named(run: Run, case: Case) -> bool:
    """Whether the run's failure list names the clip with its file."""
    return any(case.id in line and str(case.path) in line for line in run.stderr.splitlines())


def check_tables(run: Run, cases: list[Case], failures: list[dict], table: pd.DataFrame
                 ) -> dict[str, dict[str, str]]:
    """Each clip and modality has features or a named failure; the good ones all features.

    Returns clip id -> modality -> outcome ("ok" or the failure reason).
    """
    failed = {(f["clip_id"], f["modality"]): f["reason"] for f in failures}
    outcome: dict[str, dict[str, str]] = {}
    for case in cases:
        for modality in case.modalities:
            columns = [c for c in table.columns if c.startswith(f"{modality}__")]
            has = case.id in table.index and table.loc[case.id, columns].notna().any()
            reason = failed.get((case.id, modality))
            outcome.setdefault(case.id, {})[modality] = "ok" if has else reason or "MISSING"
            if case.good and not has:
                run.problems.append(f"good clip {case.id} has no {modality} features: {reason}")
            elif not has and reason is None:
                run.problems.append(f"{case.id} [{modality}]: no features and not named")
            elif not has and not named(run, case):
                run.problems.append(f"{case.id} [{modality}]: its file is not named in the "
                                    "failure list")
            if reason is not None and UNCLEAR.search(reason):
                run.unclear.append(f"{case.id} [{modality}]: {reason}")
    numbers = table.select_dtypes("number")
    infinite = numbers.index[np.isinf(numbers.to_numpy()).any(axis=1)]
    if len(infinite):
        run.problems.append(f"infinite features for {', '.join(infinite)}")
    return outcome


def check_predictions(run: Run, cases: list[Case], predictions: Path) -> set[str]:
    """Every clip is predicted or named with its file; every good clip is predicted."""
    predicted = set(pd.read_csv(predictions, dtype={"id": str})["id"]) if (
        predictions.exists()) else set()
    for case in cases:
        if case.id in predicted:
            continue
        if case.good:
            run.problems.append(f"good clip {case.id} has no prediction")
        elif not named(run, case):
            run.problems.append(f"{case.id} has no prediction and its file is not named")
    return predicted


def _failed(result: dict) -> set[tuple[str, str]]:
    """(clip id, modality) of each failure of an ``emo --json extract`` result."""
    return {(f["clip_id"], f["modality"]) for f in result.get("failures", [])}


def temporaries(root: Path) -> list[str]:
    """Temporary files (``emo._io`` names them ``.<stem>.<host>.<pid>.<random>.tmp``)."""
    return [str(p) for p in root.rglob("*.tmp")]


# -- the benchmark ---------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="workers of `emo extract`")
    parser.add_argument("--seed", type=int, default=0, help="seed of the damage")
    parser.add_argument("--keep", type=Path, help="work here and keep the files")
    parser.add_argument("--model", type=Path, help="use this fitted model, skip `emo fit`")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"real-data pack {DATA} absent: nothing to do")
        return 0
    work = args.keep or Path(tempfile.mkdtemp(prefix="emo-bad-inputs-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return run_all(work.resolve(), args)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def run_all(work: Path, args: argparse.Namespace) -> int:
    rng = np.random.default_rng(args.seed)
    media = work / "media"
    for sub in ("audio", "video", "kinect"):
        (media / sub).mkdir(parents=True, exist_ok=True)
    print(f"work folder: {work}")
    runs: list[Run] = []
    synth = synth_rows(work / "synth", work)
    flacs = real_flacs()
    cases = [*audio_cases(media, flacs, Path(synth[0]["video"]), Path(synth[0]["skeleton"]),
                          rng),
             *video_cases(media, synth, flacs["emodb"][3], rng),
             *kinect_cases(media, synth[1], rng)]
    n_damaged = len(cases)
    cases += good_cases(flacs, synth)
    manifest = write_manifest(cases, work / "manifest.csv")
    print(f"{n_damaged} damaged files, {len(cases) - n_damaged} good clips")

    model = args.model
    if model is None:
        fit = emo("fit", work / "synth", "-o", work / "model", "--cache", work / "cache-fit",
                  "-j", args.jobs, step="fit (synth)", cwd=work, limit=900)
        check_run(fit, expect=0)
        runs.append(fit)
        model = work / "model" if fit.returncode == 0 else None

    cache = work / "cache"
    first = emo("--json", "extract", manifest, "--cache", cache, "-j", args.jobs,
                step=f"extract -j {args.jobs} (1st)", cwd=work)
    before = snapshot(cache)
    second = emo("--json", "extract", manifest, "--cache", cache, "-j", args.jobs,
                 step=f"extract -j {args.jobs} (2nd)", cwd=work)
    table_run = emo("features", manifest, "--cache", cache, "-o", work / "table.parquet",
                    step="features (read back)", cwd=work)
    runs += [first, second, table_run]
    for run in (first, second, table_run):
        check_run(run)
    outcome: dict[str, dict[str, str]] = {}
    try:
        result = json.loads(first.stdout)
        table = pd.read_parquet(work / "table.parquet")
        table = table.set_index("id") if "id" in table.columns else table
    except (ValueError, OSError) as exc:
        first.problems.append(f"no JSON result or table to check: {exc}")
    else:
        outcome = check_tables(first, cases, result["failures"], table)
        again = json.loads(second.stdout) if second.stdout.startswith("{") else {}
        if again.get("computed") != 0:
            second.problems.append(f"computed {again.get('computed')} entries, expected 0")
        if _failed(again) != _failed(result):
            second.problems.append("its failure list differs from the first run's")
    changed = sorted(set(before.items()) ^ set(snapshot(cache).items()))
    if changed:
        second.problems.append(f"{len(changed)} cache file(s) changed: "
                               f"{', '.join(sorted({k for k, _ in changed})[:5])}")

    unreadable = [c for c in cases if outcome.get(c.id)
                  and all(v != "ok" for v in outcome[c.id].values())]
    if model is not None:
        predict = emo("predict", model, manifest, "-o", work / "predictions.csv", "--cache",
                      work / "cache-predict", step="predict (manifest)", cwd=work)
        check_run(predict)
        check_predictions(predict, cases, work / "predictions.csv")
        nothing = emo("predict", model, write_manifest(unreadable, work / "unreadable.csv"),
                      "-o", work / "none.csv", "--cache", work / "cache-none",
                      step=f"predict ({len(unreadable)} unreadable)", cwd=work)
        check_run(nothing)
        if check_predictions(nothing, unreadable, work / "none.csv"):
            nothing.problems.append("predictions for unreadable clips")
        runs += [predict, nothing]
        loose = next((c for c in unreadable if c.column == "audio"), None)
        if loose is not None:
            single = emo("predict", model, loose.path, "-o", work / "loose.csv", "--cache",
                         work / "cache-none", step=f"predict {loose.path.name}", cwd=work)
            check_run(single)
            if str(loose.path) not in single.stderr:
                single.problems.append(f"{loose.path} not named")
            runs.append(single)
    left = temporaries(work)
    report(runs, cases, outcome, left)
    return 1 if left or any(r.problems for r in runs) or model is None else 0


def report(runs: list[Run], cases: list[Case], outcome: dict[str, dict[str, str]],
           left: list[str]) -> None:
    """Print the runs, the outcome per kind of damage, and every problem found."""
    print("\n| step | exit | seconds | problems | unclear reasons | stray stderr lines |\n"
          "|---|---:|---:|---:|---:|---:|")
    for run in runs:
        print(f"| {run.step} | {run.returncode} | {run.seconds:.1f} | {len(run.problems)} "
              f"| {len(run.unclear)} | {len(run.stray)} |")
    print("\n| damage | clips | all features | some | none (named) |\n|---|---:|---:|---:|---:|")
    families: dict[str, list[Case]] = {}
    for case in cases:
        families.setdefault(case.family, []).append(case)
    for family, members in families.items():
        counts = [sum(v == "ok" for v in outcome.get(c.id, {}).values()) for c in members]
        full = sum(n == len(c.modalities) for n, c in zip(counts, members, strict=True))
        none = counts.count(0)
        print(f"| {family} | {len(members)} | {full} | {len(members) - full - none} | {none} |")
    print("\nreasons given (one line per distinct message, numbers as N):")
    seen: dict[str, str] = {}
    for case in cases:
        for modality, result in outcome.get(case.id, {}).items():
            if result != "ok":
                message = re.sub(r"\d+(\.\d+)?", "N", result.replace(f"{case.path}: ", ""))
                seen.setdefault(message[:120], f"{case.id} [{modality}]")
    for message, example in sorted(seen.items()):
        print(f"  {message}   ({example})")
    for run in runs:
        if run.stray:
            print(f"\nstray stderr lines of {run.step} (first 3 of {len(run.stray)}):")
            for line in run.stray[:3]:
                print(f"  {line[:160]}")
    unclear = [(run.step, u) for run in runs for u in run.unclear]
    print(f"\n{len(unclear)} unclear reason(s)")
    for step, reason in unclear:
        print(f"  [{step}] {reason}")
    problems = [(run.step, p) for run in runs for p in run.problems[:SHOWN]]
    problems += [("temporary files", p) for p in left]
    print(f"\n{sum(len(run.problems) for run in runs) + len(left)} problem(s)")
    for step, problem in problems:
        print(f"  [{step}] {problem}")
    for run in runs:
        if len(run.problems) > SHOWN:
            print(f"  [{run.step}] ... and {len(run.problems) - SHOWN} more")


if __name__ == "__main__":
    sys.exit(main())
