"""The HTTP service: real uvicorn servers in subprocesses, spoken to over HTTP with httpx.

Media are written here: voiced-like WAV tones and a short MP4 (a face from
``skimage.data.astronaut`` with a sound track). The model for ``/predict`` is fitted on
such tones by :func:`emo.api.fit`.
"""

from __future__ import annotations

import concurrent.futures
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st

import emo
from emo import api
from emo.data.labels import CLASSES
from emo.serve import MIN_WINDOW, PARQUET, UPLOAD_PREFIX, window_bounds

SR = 16_000
STARTUP_S = 180.0  # spawning workers that import MediaPipe and openSMILE on a busy machine


def _tone(seconds: float, f0: float, seed: int = 0) -> np.ndarray:
    """A voiced-like signal: a vibrato tone with a syllable-rate envelope and some noise."""
    t = np.arange(round(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    phase = 2 * np.pi * f0 * t + 0.4 * np.sin(2 * np.pi * 5 * t)
    envelope = 1 + 0.6 * np.sin(2 * np.pi * (2 + f0 / 100) * t)
    return (0.1 * envelope * np.sin(phase) + 0.003 * rng.standard_normal(t.size)).astype("f4")


def _wav(path: Path, seconds: float = 1.0, f0: float = 150.0, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, _tone(seconds, f0, seed), SR)
    return path


def _mp4(path: Path, seconds: float = 1.0, fps: int = 10) -> Path:
    """A small H.264 video of a moving face with an AAC sound track."""
    from skimage import data, transform

    face = (transform.resize(data.astronaut()[:256, 96:352], (192, 192)) * 255).astype(np.uint8)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 192, 192, "yuv420p"
        audio = container.add_stream("aac", rate=SR)
        for i in range(round(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(np.roll(face, 2 * i, axis=1), format="rgb24")
            container.mux(video.encode(frame))
        container.mux(video.encode())
        sound = _tone(seconds, 180.0)
        for k in range(0, sound.size, 1024):
            frame = av.AudioFrame.from_ndarray(sound[None, k:k + 1024], format="flt",
                                               layout="mono")
            frame.sample_rate, frame.pts = SR, k
            container.mux(audio.encode(frame))
        container.mux(audio.encode())
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    """``emo.serve.run_server`` in a subprocess with its own TMPDIR."""

    def __init__(self, root: Path, **options: object) -> None:
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True)
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        code = "import json, sys; from emo.serve import run_server; " \
               "run_server(**json.loads(sys.argv[1]))"
        options = {"port": port, "cache": str(root / "cache"), **options}
        self.log = (root / "server.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, json.dumps(options, default=str)],
            env={**os.environ, "TMPDIR": str(self.tmp)}, stdout=self.log, stderr=subprocess.STDOUT)

    def wait(self) -> _Server:
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {Path(self.log.name).read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise RuntimeError("server did not start in time")

    def idle(self, timeout: float = 60.0) -> None:
        """Wait until no job runs (timed-out jobs finish in the background)."""
        deadline = time.monotonic() + timeout
        while httpx.get(f"{self.url}/health").json()["running"] and time.monotonic() < deadline:
            time.sleep(0.2)

    def uploads_left(self) -> list[str]:
        return [p.name for p in self.tmp.iterdir() if p.name.startswith(UPLOAD_PREFIX)]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, _Server]]:
    """A server with a model (2 workers) and a tight one (1 worker, tiny timeout, no queue).

    The tight one starts first so that it warms up while the model is fitted.
    """
    root = tmp_path_factory.mktemp("serve")
    tight = _Server(root / "tight", workers=1, timeout_s=0.3, max_queue=0)
    try:
        data = root / "train"
        for k, label in enumerate(CLASSES):
            for actor in range(3):
                _wav(data / label / f"A{actor}_{label}.wav", 1.0, 110 + 30 * k + 6 * actor,
                     seed=actor)
        config = api.FitConfig(n_splits=3, model={"n_estimators": 30})
        api.fit(data, out=root / "model", cache=root / "main" / "cache", config=config,
                report=False, speaker_pattern=r"^(?P<speaker>A\d)_")
        main = _Server(root / "main", model=root / "model", workers=2, max_upload_mb=1,
                       max_duration_s=20)
        try:
            yield {"main": main.wait(), "tight": tight.wait()}
        finally:
            main.stop()
    finally:
        tight.stop()


@pytest.fixture(scope="module")
def main(servers: dict[str, _Server]) -> _Server:
    return servers["main"]


def _post(server: _Server, endpoint: str, path: Path, **kwargs: object) -> httpx.Response:
    with path.open("rb") as f:
        return httpx.post(f"{server.url}{endpoint}", files={"file": (path.name, f)},
                          timeout=120, **kwargs)


def test_health_version_docs_and_page(main: _Server) -> None:
    health = httpx.get(f"{main.url}/health").json()
    assert health["status"] == "ok" and health["model"] is True and health["workers"] == 2
    version = httpx.get(f"{main.url}/version").json()
    assert version["emo"] == emo.__version__
    installed = {m: e.identity() for m, e in api.make_extractors().items()}
    assert version["extractors"] == json.loads(json.dumps(installed))
    assert version["model"]["classes"] == list(CLASSES)
    docs = httpx.get(f"{main.url}/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    paths = httpx.get(f"{main.url}/openapi.json").json()["paths"]
    assert {"/extract", "/predict", "/health", "/version"} <= set(paths)
    page = httpx.get(f"{main.url}/")
    assert page.status_code == 200 and "<script>" in page.text and "predict" in page.text


def test_extract_matches_the_api_and_uses_the_shared_cache(main: _Server, tmp_path: Path
                                                           ) -> None:
    clip = _wav(tmp_path / "speech one.wav", 1.2, 170.0, seed=7)
    first = _post(main, "/extract", clip)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["id"] == "speech_one" and body["failures"] == []
    assert (body["computed"], body["cached"]) == (1, 0)
    expected = api.features(api.clips_from_files([clip]), cache=tmp_path / "cache").tables
    assert set(body["features"]) == {"audio"}
    row = expected["audio"].iloc[0]
    assert body["features"]["audio"] == pytest.approx(row.to_dict())
    again = _post(main, "/extract", clip).json()
    assert (again["computed"], again["cached"]) == (0, 1)
    assert again["features"] == body["features"]
    # the CLI's cache answers too: the server's cache holds the same key as a local run
    local = api.extract(api.clips_from_files([clip]), cache=Path(main.tmp.parent / "cache"))
    assert (local.computed, local.cached) == (0, 1)


def test_extract_parquet(main: _Server, tmp_path: Path) -> None:
    clip = _wav(tmp_path / "p.wav", 1.0, 200.0, seed=3)
    answer = _post(main, "/extract", clip, headers={"Accept": PARQUET})
    assert answer.status_code == 200 and answer.headers["content-type"] == PARQUET
    table = pd.read_parquet(io.BytesIO(answer.content))
    as_json = _post(main, "/extract", clip).json()["features"]["audio"]
    assert list(table.index) == ["p"] and {"actor", "label"} <= set(table.columns)
    assert table.loc["p", list(as_json)].to_dict() == pytest.approx(as_json)


def test_video_with_sound_gives_audio_and_face(main: _Server, tmp_path: Path) -> None:
    answer = _post(main, "/extract", _mp4(tmp_path / "face.mp4"), params={
        "modalities": "audio,face"})
    assert answer.status_code == 200, answer.text
    features = answer.json()["features"]
    assert set(features) == {"audio", "face"}
    assert features["face"]["face__face_fraction"] > 0.5
    bad = _post(main, "/extract", tmp_path / "face.mp4", params={"modalities": "voice"})
    assert bad.status_code == 422 and "voice" in bad.json()["detail"]


def test_oversize_upload_is_413(main: _Server, tmp_path: Path) -> None:
    big = _wav(tmp_path / "big.wav", 40.0)  # 1.28 MB > 1 MB
    answer = _post(main, "/extract", big)
    assert answer.status_code == 413 and "1 MB" in answer.json()["detail"]
    boundary = "emo-test-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            "filename=\"big.wav\"\r\nContent-Type: audio/wav\r\n\r\n").encode()
    payload = big.read_bytes()

    def chunks() -> Iterator[bytes]:  # no Content-Length: the body streams in chunks
        yield head
        for i in range(0, len(payload), 1 << 16):
            yield payload[i:i + (1 << 16)]
        yield f"\r\n--{boundary}--\r\n".encode()

    streamed = httpx.post(f"{main.url}/extract", content=chunks(), timeout=60,
                          headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert streamed.status_code == 413


def test_too_long_media_is_422(main: _Server, tmp_path: Path) -> None:
    long = tmp_path / "long.wav"
    sf.write(long, _tone(25.0, 150.0)[::2], SR // 2)  # 25 s, 0.4 MB
    answer = _post(main, "/extract", long)
    assert answer.status_code == 422
    assert "25.0 s" in answer.json()["detail"] and "20 s" in answer.json()["detail"]


def test_corrupt_media_is_422_with_the_reason(main: _Server, tmp_path: Path) -> None:
    noise = tmp_path / "noise.wav"
    noise.write_bytes(np.random.default_rng(0).bytes(5000))
    answer = _post(main, "/extract", noise)
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("noise.wav: not a readable")
    cut = _wav(tmp_path / "cut.wav", 1.0)
    cut.write_bytes(cut.read_bytes()[:12000])  # the header still promises 1 s
    answer = _post(main, "/extract", cut)
    assert answer.status_code == 422 and "truncated" in answer.json()["detail"]
    assert str(main.tmp) not in answer.text  # the server's folders are not shown
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert _post(main, "/predict", empty).status_code == 422


def test_unsupported_type_is_415(main: _Server, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not media")
    answer = _post(main, "/extract", notes)
    assert answer.status_code == 415 and "'.txt'" in answer.json()["detail"]
    assert _post(main, "/predict", notes).status_code == 415


def test_parallel_requests_each_get_their_own_answer(main: _Server, tmp_path: Path) -> None:
    clips = [_wav(tmp_path / f"par{i}.wav", 1.0, 120.0 + 15 * i, seed=i) for i in range(6)]
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda c: _post(main, "/extract", c), clips))
    assert [a.status_code for a in answers] == [200] * 6
    assert [a.json()["id"] for a in answers] == [c.stem for c in clips]
    pitch = "audio__F0semitoneFrom27.5Hz_sma3nz_amean"
    values = [a.json()["features"]["audio"][pitch] for a in answers]
    assert values == sorted(values)  # rising f0 -> each answer belongs to its clip


def test_predict_whole_clip_and_windows(main: _Server, tmp_path: Path) -> None:
    clip = _wav(tmp_path / "talk.wav", 5.0, 150.0, seed=11)
    answer = _post(main, "/predict", clip, params={"window": 2.0})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["class"] in CLASSES and body["class"] == max(body["fused"], key=body["fused"].get)
    assert sum(body["fused"].values()) == pytest.approx(1.0)
    assert set(body["modalities"]) == {"audio"}
    assert body["top_features"] and all(f["name"].startswith("audio__") and
                                        f["value"] is not None for f in body["top_features"])
    assert [(w["start"], w["end"]) for w in body["windows"]] == window_bounds(5.0, 2.0)
    for w in body["windows"]:
        assert sum(w["fused"].values()) == pytest.approx(1.0) and w["class"] in CLASSES
    assert "windows" not in _post(main, "/predict", clip).json()
    small = _post(main, "/predict", clip, params={"window": MIN_WINDOW / 2})
    assert small.status_code == 422


def test_dead_workers_are_replaced(main: _Server, tmp_path: Path) -> None:
    import psutil

    main.idle()
    workers = [p for p in psutil.Process(main.proc.pid).children()
               if "spawn_main" in " ".join(p.cmdline())]
    assert len(workers) == 2
    for worker in workers:
        worker.kill()
    psutil.wait_procs(workers, timeout=10)
    time.sleep(1.0)  # the pool notices its dead workers
    answer = _post(main, "/extract", _wav(tmp_path / "after.wav", 1.0, 140.0, seed=5))
    assert answer.status_code == 200, answer.text
    assert answer.json()["features"]["audio"]


def test_uploads_are_removed(main: _Server) -> None:
    main.idle()
    assert main.uploads_left() == []


def test_timeout_busy_and_cleanup(servers: dict[str, _Server], tmp_path: Path) -> None:
    tight = servers["tight"]
    video = _mp4(tmp_path / "slow.mp4", 1.0)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        slow = pool.submit(_post, tight, "/extract", video)
        deadline = time.monotonic() + 30
        while not httpx.get(f"{tight.url}/health").json()["running"]:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        busy = _post(tight, "/extract", _wav(tmp_path / "b.wav"))
        assert busy.status_code == 503 and busy.headers["retry-after"]
        assert slow.result().status_code == 504
    tight.idle()
    assert tight.uploads_left() == []
    assert _post(tight, "/predict", video).status_code == 404  # no model loaded


@given(st.floats(0.0, 100.0), st.floats(MIN_WINDOW, 10.0))
def test_window_bounds_tile_the_recording(duration: float, window: float) -> None:
    bounds = window_bounds(duration, window)
    for (a0, a1), (b0, _) in zip(bounds, bounds[1:], strict=False):
        assert a1 == b0 and a1 - a0 == pytest.approx(window, abs=1e-5)
    if bounds:
        assert bounds[0][0] == 0 and bounds[-1][1] <= duration + 1e-6
        assert bounds[-1][1] - bounds[-1][0] >= window / 2 - 1e-6
    assert duration - (bounds[-1][1] if bounds else 0.0) < window / 2 + 1e-6
