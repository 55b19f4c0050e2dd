"""Every kind of bad input gets a clear answer: the file, the problem, and the batch goes on.

Broken media go through the real extractors (audio, face, body) in one batch; each failure
must name the clip's file and say what is wrong, while the good clips of the same batch
are computed. Broken dataset files are rejected by the CLI with one line and exit code 2.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emo.data.clip import MANIFEST_COLUMNS, Clip
from emo.data.skeleton import KINECT_JOINTS
from emo.features.base import get_extractor
from emo.features.cache import FeatureCache
from emo.features.extract import ExtractionReport, collect, run

SR = 16_000


# -- media writers ----------------------------------------------------------------------------
def _voice(seconds: float, seed: int = 0) -> np.ndarray:
    """A voiced, amplitude-modulated harmonic tone with a little noise."""
    t = np.arange(int(seconds * SR)) / SR
    f0 = 180 + 20 * np.sin(2 * np.pi * 1.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    tone = sum(np.sin(k * phase) / k for k in range(1, 6)) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    noise = np.random.default_rng(seed).normal(0, 0.01, t.size)
    return (0.2 * tone + noise).astype(np.float32)


def write_mp4(path: Path, seconds: float = 2.0, *, audio: bool = True, size: int = 96,
              fps: int = 15) -> Path:
    """An H.264 video of noise frames (so it is not tiny), with an AAC voice track."""
    import av

    rng = np.random.default_rng(1)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width = video.height = size
        video.pix_fmt = "yuv420p"
        sound = None
        if audio:
            sound = container.add_stream("aac", rate=SR)
            sound.layout = "mono"
        for _ in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(
                rng.integers(0, 256, (size, size, 3), dtype=np.uint8), format="rgb24")
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if sound is not None:
            samples = _voice(seconds)
            for i in range(0, samples.size, 1024):
                chunk = av.AudioFrame.from_ndarray(samples[None, i:i + 1024], format="fltp",
                                                   layout="mono")
                chunk.sample_rate = SR
                for packet in sound.encode(chunk):
                    container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
    return path


def kinect_rows(n: int = 40, seed: int = 0) -> list[str]:
    """Rows of a Kinect v2 file: a body swaying its arms, 30 fps."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(-0.5, 0.5, (len(KINECT_JOINTS), 3)) + [0, 0, 2.5]
    rows = []
    for i in range(n):
        pos = base + 0.05 * np.sin(i / 5 + np.arange(len(KINECT_JOINTS)))[:, None]
        values = np.concatenate([pos, np.zeros_like(pos)], axis=1).ravel()
        rows.append(";".join([str(1000 + 33 * i), "2", *(f"{v:.4f}" for v in values)]) + ";")
    return rows


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of good and broken media files."""
    import soundfile as sf

    root = tmp_path_factory.mktemp("media")
    sf.write(root / "good.flac", _voice(1.5), SR)
    flac = (root / "good.flac").read_bytes()
    (root / "empty.wav").write_bytes(b"")
    (root / "zero.mp4").write_bytes(b"")
    full = write_mp4(root / "full.mp4").read_bytes()
    assert len(full) > 40_000
    (root / "cut.mp4").write_bytes(full[:20_000])
    write_mp4(root / "noaudio.mp4", 1.0, audio=False)
    sf.write(root / "short.wav", _voice(0.005), SR)
    sf.write(root / "silent.wav", np.zeros(SR, np.float32), SR, subtype="PCM_16")
    garbage = np.random.default_rng(0).integers(0, 256, len(flac), dtype=np.uint8).tobytes()
    (root / "corrupt.flac").write_bytes(flac[:300] + garbage[300:])
    (root / "truncated.flac").write_bytes(flac[: len(flac) // 3])
    (root / "text.wav").write_bytes(b"this is not audio\n" * 200)
    rows = kinect_rows()
    (root / "k_good.txt").write_text("\n".join(rows) + "\n")
    (root / "k_cols.txt").write_text("\n".join(";".join(r.split(";")[:-7]) + ";" for r in rows))
    fields = rows[5].split(";")
    fields[10] = "abc"
    (root / "k_text.txt").write_text("\n".join([*rows[:5], ";".join(fields), *rows[6:]]))
    (root / "k_nan.txt").write_text("\n".join(
        ";".join(r.split(";")[:2] + ["nan"] * 150) + ";" for r in rows))
    (root / "k_empty.txt").write_text("\n\n")
    return root


#: (clip id, media, modality, what the message must say).
CASES: list[tuple[str, dict, str, str]] = [
    ("empty_file", {"audio": "empty.wav"}, "audio", r"empty"),
    ("zero_mp4", {"video": "zero.mp4"}, "audio", r"empty"),
    ("zero_mp4", {"video": "zero.mp4"}, "face", r"empty"),
    ("zero_mp4", {"video": "zero.mp4"}, "body", r"empty"),
    ("cut_mp4", {"video": "cut.mp4"}, "audio", r"truncated|not a readable|[Ii]nvalid data"),
    ("cut_mp4", {"video": "cut.mp4"}, "face", r"truncated|not a readable"),
    ("cut_mp4", {"video": "cut.mp4"}, "body", r"truncated|not a readable"),
    ("no_audio_track", {"video": "noaudio.mp4"}, "audio", r"no audio"),
    ("shorter_than_a_frame", {"audio": "short.wav"}, "audio", r"shorter than"),
    ("all_silent", {"audio": "silent.wav"}, "audio", r"silence|silent"),
    ("corrupt_flac", {"audio": "corrupt.flac"}, "audio", r"corrupt|truncated"),
    ("truncated_flac", {"audio": "truncated.flac"}, "audio", r"corrupt|truncated"),
    ("text_as_audio", {"audio": "text.wav"}, "audio", r"not a readable audio"),
    ("kinect_columns", {"skeleton": "k_cols.txt"}, "body", r"line 1: \d+ values, expected 152"),
    ("kinect_text", {"skeleton": "k_text.txt"}, "body", r"line 6: .*'abc'.* not a number"),
    ("kinect_nan", {"skeleton": "k_nan.txt"}, "body", r"no tracked joint"),
    ("kinect_empty", {"skeleton": "k_empty.txt"}, "body", r"empty"),
    ("kinect_range", {"skeleton": "k_good.txt", "skeleton_start": 100, "skeleton_end": 120},
     "body", r"outside the file's frames 0-39"),
    ("segment_after_end", {"video": "full.mp4", "start": 30.0, "end": 31.0}, "audio",
     r"outside the file"),
    ("segment_after_end", {"video": "full.mp4", "start": 30.0, "end": 31.0}, "face",
     r"after the end"),
    ("missing_file", {"audio": "nope.wav"}, "audio", r"file not found"),
]
GOOD = {"good_audio": {"audio": "good.flac"}, "good_kinect": {"skeleton": "k_good.txt"}}


def _clip(media: Path, clip_id: str, spec: dict) -> Clip:
    fields = {k: media / v if k in ("audio", "video", "skeleton") else v for k, v in spec.items()}
    return Clip(clip_id, actor="A1", label="An", origin=media / "manifest.csv", **fields)


@pytest.fixture(scope="module")
def batch(media: Path, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[ExtractionReport, FeatureCache]:
    """One run of the real extractors over every bad clip, with two good ones among them."""
    specs = {cid: spec for cid, spec, _, _ in CASES} | GOOD
    clips = [_clip(media, cid, spec) for cid, spec in specs.items()]
    extractors = {m: get_extractor(m) for m in ("audio", "face", "body")}
    cache = FeatureCache(tmp_path_factory.mktemp("cache"))
    return run(clips, extractors, cache), cache


@pytest.mark.parametrize(("clip_id", "spec", "modality", "pattern"), CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_bad_media_fail_naming_the_file_and_the_problem(
        media: Path, batch: tuple[ExtractionReport, FeatureCache], clip_id: str, spec: dict,
        modality: str, pattern: str) -> None:
    report, _ = batch
    reasons = {(f.clip_id, f.modality): f.reason for f in report.failures}
    assert (clip_id, modality) in reasons, f"{clip_id} [{modality}] did not fail"
    reason = reasons[clip_id, modality]
    file = next(v for k, v in spec.items() if k in ("audio", "video", "skeleton"))
    assert str(media / file) in reason
    assert re.search(pattern, reason), reason
    assert "Traceback" not in reason and "Error:" not in reason.split(": ", 1)[0]


def test_the_batch_goes_on_and_failures_are_remembered(
        media: Path, batch: tuple[ExtractionReport, FeatureCache]) -> None:
    report, cache = batch
    tables = collect(report.tasks, cache)
    assert "good_audio" in tables["audio"].index and "good_kinect" in tables["body"].index
    assert np.isfinite(tables["audio"].loc["good_audio"]).mean() > 0.9
    assert not {f.clip_id for f in report.failures} & set(GOOD)
    # The next run computes nothing: entries are cached, failures are not retried.
    specs = {cid: spec for cid, spec, _, _ in CASES} | GOOD
    clips = [_clip(media, cid, spec) for cid, spec in specs.items()]
    again = run(clips, {m: get_extractor(m) for m in ("audio", "face", "body")}, cache)
    assert (again.computed, again.cached) == (0, report.computed + report.cached)
    recorded = [f for f in again.failures if "failed before" in f.reason]
    missing = [f for f in again.failures if "file not found" in f.reason]
    assert len(recorded) + len(missing) == len(report.failures)
    assert {(f.clip_id, f.modality) for f in again.failures} == {
        (f.clip_id, f.modality) for f in report.failures}


def test_tess_quirk_files_decode(shared_data: Path, tmp_path: Path) -> None:
    quirks = sorted((shared_data / "tess" / "quirks").glob("*.wav"))
    assert len(quirks) == 4
    normal = next((shared_data / "tess" / "OAF").glob("*/*.flac"))
    clips = [Clip(p.stem, actor="OAF", audio=p) for p in [*quirks, normal]]
    report = run(clips, {"audio": get_extractor("audio")}, FeatureCache(tmp_path))
    assert report.ok, [str(f) for f in report.failures]
    table = collect(report.tasks, FeatureCache(tmp_path))["audio"]
    assert len(table) == 5 and np.isfinite(table.to_numpy()).mean() > 0.9


# -- dataset files --------------------------------------------------------------------------
def _emo(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emo", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(("text", "message"), [
    ("id,label,audio\nx,An,good.flac\n", r"lacks the column\(s\) actor"),
    ("id,actor,label,audio\nx,S1,An,good.flac\nx,S1,Sa,good.flac\n", r"duplicate clip id"),
    ("id,actor,label,audio\nx,S1,Zz,good.flac\n", r"line 2: unknown class code 'Zz'"),
    ("id,actor,label,audio,start\nx,S1,An,good.flac,soon\n", r"line 2: .*soon"),
], ids=["missing_column", "duplicate_ids", "unknown_class", "text_in_number"])
def test_bad_manifest_exits_2_with_one_line(media: Path, tmp_path: Path, text: str,
                                            message: str) -> None:
    manifest = tmp_path / "bad.csv"
    manifest.write_text(text)
    (tmp_path / "good.flac").write_bytes((media / "good.flac").read_bytes())
    done = _emo("extract", manifest, "--cache", tmp_path / "cache", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(manifest) in lines[0] and re.search(message, lines[0])


def test_descriptors_with_missing_files_or_unknown_classes_are_reported(
        media: Path, tmp_path: Path) -> None:
    from emo.api import extract

    root = tmp_path / "db"
    for sub in ("descriptors", "videos", "motion capture"):
        (root / sub).mkdir(parents=True)
    (root / "motion capture" / "k.txt").write_text((media / "k_good.txt").read_text())
    body = "Video\nv.MP4\n0.5:7\n1.0:15\nKinect\n{}\n{}\n{}\n"
    texts = {"frames_F1_An1": body.format("k.txt", 0, 30),
             "frames_F1_Di1": body.format("gone.txt", 0, 30),
             "frames_F1_Xx1": body.format("k.txt", 0, 30),
             "frames_F1_Sa1": body.format("k.txt", 35, 80)}
    for name, text in texts.items():
        (root / "descriptors" / f"{name}.txt").write_text(text)
    report = extract(root, modalities=["body"], cache=tmp_path / "cache")
    reasons = {f.clip_id: f.reason for f in report.failures}
    assert set(reasons) == {"frames_F1_Di1", "frames_F1_Xx1", "frames_F1_Sa1"}
    assert re.search(r"gone\.txt: file not found \(named by .*frames_F1_Di1\.txt\)",
                     reasons["frames_F1_Di1"])
    assert re.search(r"frames_F1_Xx1\.txt: unknown class code 'Xx'", reasons["frames_F1_Xx1"])
    assert re.search(r"k\.txt: Kinect segment 35-80 lies outside", reasons["frames_F1_Sa1"])
    assert report.computed == 1


# -- the command line, end to end (benchmarks/bad_inputs.py runs this at full scale) ---------
def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _manifest(path: Path, clips: dict[str, dict]) -> Path:
    rows = ({"id": cid, **f} for cid, f in clips.items())
    lines = [",".join(MANIFEST_COLUMNS)] + [",".join(str(row.get(c, "")) for c in MANIFEST_COLUMNS)
                                            for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _named(stderr: str, clip_id: str, file: Path) -> bool:
    return any(clip_id in line and str(file) in line for line in stderr.splitlines())


#: Clip id -> (manifest fields, the modalities of audio and body that must fail).
DAMAGED: dict[str, tuple[dict, set[str]]] = {
    "good_audio": ({"audio": "good.flac"}, set()),
    "good_video": ({"video": "full.mp4", "start": 0.2, "end": 1.6, "skeleton": "k_good.txt",
                    "skeleton_start": 5, "skeleton_end": 35}, set()),
    "good_kinect": ({"skeleton": "k_good.txt", "skeleton_start": 5, "skeleton_end": 35}, set()),
    "flac_named_mp4": ({"audio": "flac_named.mp4"}, set()),
    "mp4_named_wav": ({"audio": "mp4_named.wav"}, set()),
    "truncated": ({"audio": "truncated.flac"}, {"audio"}),
    "spliced": ({"audio": "spliced.flac"}, {"audio"}),
    "rate_100_hz": ({"audio": "rate100.wav"}, {"audio"}),
    "cut_video": ({"video": "cut.mp4", "start": 0.2, "end": 1.6}, {"audio", "body"}),
    "kinect_nan": ({"skeleton": "k_nan.txt"}, {"body"}),
    "kinect_1e308": ({"skeleton": "k_1e308.txt"}, {"body"}),
    "kinect_binary": ({"skeleton": "k_binary.txt"}, {"body"}),
}


@pytest.fixture(scope="module")
def damaged(media: Path) -> Path:
    """A manifest of :data:`DAMAGED`: damaged synthetic files beside good clips."""
    import soundfile as sf

    flac, video = (media / "good.flac").read_bytes(), (media / "full.mp4").read_bytes()
    (media / "flac_named.mp4").write_bytes(flac)
    (media / "mp4_named.wav").write_bytes(video)
    (media / "spliced.flac").write_bytes(flac[: len(flac) // 2] + video[len(video) // 2:])
    sf.write(media / "rate100.wav", _voice(1.0), 100)  # a header field gone wrong
    rows = kinect_rows()
    far = rows[10].split(";")
    far[4] = "1e308"  # a pelvis 1e308 m away
    (media / "k_1e308.txt").write_text("\n".join([*rows[:10], ";".join(far), *rows[11:]]))
    (media / "k_binary.txt").write_bytes("\n".join(rows).encode().replace(b";", b"\xb0;", 1))
    return _manifest(media / "damaged.csv", {cid: f for cid, (f, _) in DAMAGED.items()})


def test_extract_twice_names_every_damaged_file_and_changes_nothing(
        damaged: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    args = ("--json", "extract", damaged, "-m", "audio,body", "-j", "2", "--cache", cache)
    first = _emo(*args, cwd=tmp_path)
    before = _snapshot(cache)
    second = _emo(*args, cwd=tmp_path)
    table = _emo("features", damaged, "-m", "audio,body", "--cache", cache,
                 "-o", tmp_path / "table.parquet", cwd=tmp_path)
    for done in (first, second, table):
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stdout + done.stderr
    failed: dict[str, set[str]] = {}
    for failure in json.loads(first.stdout)["failures"]:
        failed.setdefault(failure["clip_id"], set()).add(failure["modality"])
    assert failed == {cid: bad for cid, (_, bad) in DAMAGED.items() if bad}
    for cid in failed:
        fields = DAMAGED[cid][0]
        file = damaged.parent / fields.get("audio", fields.get("video", fields.get("skeleton")))
        assert _named(first.stderr, cid, file) and _named(second.stderr, cid, file)
    again = json.loads(second.stdout)
    assert again["computed"] == 0 and {f["clip_id"] for f in again["failures"]} == set(failed)
    assert _snapshot(cache) == before
    import pandas as pd

    features = pd.read_parquet(tmp_path / "table.parquet")
    features = features.set_index("id") if "id" in features.columns else features
    for cid, (fields, bad) in DAMAGED.items():
        feeds = {m for m, media in (("audio", {"audio", "video"}), ("body", {"skeleton", "video"}))
                 if media & set(fields)}
        for modality in feeds - bad:
            values = features.loc[cid].filter(like=f"{modality}__").astype(float)
            assert values.notna().any(), (cid, modality)
    assert not np.isinf(features.select_dtypes("number").to_numpy()).any()
    assert not [*tmp_path.rglob("*.tmp"), *damaged.parent.rglob("*.tmp")]


@pytest.fixture(scope="module")
def audio_model(media: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle fitted, on random numbers, to the real audio extractor's feature columns."""
    import pandas as pd

    from emo.models import Bundle, ModalityClassifier, StackingFusion

    extractor = get_extractor("audio")
    columns = list(extractor.extract(Clip("g", audio=media / "good.flac")))
    rng = np.random.default_rng(0)
    index = [f"{a}_{c}_{t}" for a in range(3) for c in ("An", "Ha", "Sa") for t in range(3)]
    y = pd.Series([i.split("_")[1] for i in index], index=index)
    groups = pd.Series([i.split("_")[0] for i in index], index=index)
    X = pd.DataFrame(rng.normal(size=(len(index), len(columns))), index=index, columns=columns)
    fusion = StackingFusion(ModalityClassifier(n_estimators=5), n_splits=3)
    bundle = Bundle(fusion.fit(X, y, groups=groups), extractors={"audio": extractor.identity()})
    return bundle.save(tmp_path_factory.mktemp("model") / "model")


def test_predict_names_unreadable_files_and_predicts_the_rest(
        audio_model: Path, media: Path, tmp_path: Path) -> None:
    import pandas as pd

    broken = {"truncated": "truncated.flac", "text": "text.wav", "empty": "empty.wav"}
    manifest = _manifest(tmp_path / "m.csv", {cid: {"audio": media / f} for cid, f in
                                              {"good": "good.flac", **broken}.items()})
    done = _emo("predict", audio_model, manifest, "-o", tmp_path / "p.csv",
                "--cache", tmp_path / "cache", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    assert list(pd.read_csv(tmp_path / "p.csv")["id"]) == ["good"]
    assert all(_named(done.stderr, cid, media / f) for cid, f in broken.items()), done.stderr


@pytest.mark.parametrize("data", [["truncated.flac"], ["text.wav", "empty.wav", "cut.mp4"]])
def test_predict_where_nothing_is_readable(audio_model: Path, media: Path, tmp_path: Path,
                                           data: list[str]) -> None:
    import pandas as pd

    files = [media / f for f in data]
    done = _emo("predict", audio_model, *files, "-o", tmp_path / "p.csv",
                "--cache", tmp_path / "cache", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    assert pd.read_csv(tmp_path / "p.csv").empty
    assert all(_named(done.stderr, f.stem, f) for f in files), done.stderr


def test_bundle_of_another_emo_major_version_is_refused(audio_model: Path, media: Path,
                                                       tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(audio_model, folder)
    info = json.loads((folder / "bundle.json").read_text())
    info["provenance"]["packages"]["emo"] = "99.0.0"
    (folder / "bundle.json").write_text(json.dumps(info))
    done = _emo("predict", folder, media / "good.flac", "--cache", tmp_path / "cache",
                cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert re.search(r"bundle\.json: .*emo 99\.0\.0.* refit", lines[0])


def test_garbage_model_with_a_matching_checksum_exits_2(audio_model: Path, media: Path,
                                                        tmp_path: Path) -> None:
    import hashlib
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(audio_model, folder)
    garbage = b"\x80\x04garbage" * 10
    (folder / "model.joblib").write_bytes(garbage)
    info = json.loads((folder / "bundle.json").read_text())
    info["model_sha256"] = hashlib.sha256(garbage).hexdigest()
    (folder / "bundle.json").write_text(json.dumps(info))
    done = _emo("predict", folder, media / "good.flac", "--cache", tmp_path / "cache",
                cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(r"model\.joblib: model file does not load", lines[0])
