"""The HTTP service: real uvicorn servers in subprocesses, spoken to over HTTP with httpx.

The model for ``/predict`` is the session's ``tone_model``, fitted on tones by
:func:`emo.api.fit` (see :mod:`tests._serving`).
"""

from __future__ import annotations

import concurrent.futures
import io
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import psutil
import pytest
import soundfile as sf

import emo
from emo import api
from emo.data.labels import CLASSES
from emo.serve import MAX_STEM, MIN_WINDOW, PARQUET
from tests._hostile import bomb_jpeg, lying_mkv
from tests._serving import SR, Server, held_locks, mp4, noise, tone, wav
from tests.features._media import write_video


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory,
            tone_model: Path) -> Iterator[dict[str, Server]]:
    """A server with a model (2 workers) and a tight one (1 worker, tiny timeout, no queue),
    starting side by side."""
    root = tmp_path_factory.mktemp("serve")
    tight = Server(root / "tight", workers=1, timeout_s=0.3, max_queue=0)
    try:
        main = Server(root / "main", model=tone_model, workers=2, max_upload_mb=1,
                      max_duration_s=20)
        try:
            yield {"main": main.wait(), "tight": tight.wait(), "model": tone_model}
        finally:
            main.stop()
    finally:
        tight.stop()


@pytest.fixture(scope="module")
def main(servers: dict[str, Server]) -> Server:
    return servers["main"]


def _post(server: Server, endpoint: str, path: Path, **kwargs: object) -> httpx.Response:
    with path.open("rb") as f:
        return httpx.post(f"{server.url}{endpoint}", files={"file": (path.name, f)},
                          timeout=120, **kwargs)


def test_health_version_docs_and_page(main: Server) -> None:
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


def test_extract_matches_the_api_and_uses_the_shared_cache(main: Server, tmp_path: Path
                                                           ) -> None:
    clip = wav(tmp_path / "speech one.wav", 1.2, 170.0, seed=7)
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


def test_extract_parquet(main: Server, tmp_path: Path) -> None:
    clip = wav(tmp_path / "p.wav", 1.0, 200.0, seed=3)
    answer = _post(main, "/extract", clip, headers={"Accept": PARQUET})
    assert answer.status_code == 200 and answer.headers["content-type"] == PARQUET
    table = pd.read_parquet(io.BytesIO(answer.content))
    as_json = _post(main, "/extract", clip).json()["features"]["audio"]
    assert list(table.index) == ["p"] and {"actor", "label"} <= set(table.columns)
    assert table.loc["p", list(as_json)].to_dict() == pytest.approx(as_json)


def test_video_with_sound_gives_audio_and_face(main: Server, tmp_path: Path) -> None:
    answer = _post(main, "/extract", mp4(tmp_path / "face.mp4"), params={
        "modalities": "audio,face"})
    assert answer.status_code == 200, answer.text
    features = answer.json()["features"]
    assert set(features) == {"audio", "face"}
    assert features["face"]["face__face_fraction"] > 0.5
    bad = _post(main, "/extract", tmp_path / "face.mp4", params={"modalities": "voice"})
    assert bad.status_code == 422 and "voice" in bad.json()["detail"]


def test_oversize_upload_is_413(main: Server, tmp_path: Path) -> None:
    big = wav(tmp_path / "big.wav", 40.0)  # 1.28 MB > 1 MB
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


def test_too_long_media_is_422(main: Server, tmp_path: Path) -> None:
    long = tmp_path / "long.wav"
    sf.write(long, tone(25.0, 150.0)[::2], SR // 2)  # 25 s, 0.4 MB
    answer = _post(main, "/extract", long)
    assert answer.status_code == 422
    assert "25.0 s" in answer.json()["detail"] and "20 s" in answer.json()["detail"]


def test_corrupt_media_is_422_with_the_reason(main: Server, tmp_path: Path) -> None:
    garbage = noise(tmp_path / "noise.wav")
    for endpoint in ("/extract", "/predict"):
        answer = _post(main, endpoint, garbage)
        assert answer.status_code == 422, (endpoint, answer.text)
        assert answer.json()["detail"].startswith("noise.wav: not a readable")
    cut = wav(tmp_path / "cut.wav", 1.0)
    cut.write_bytes(cut.read_bytes()[:12000])  # the header still promises 1 s
    for endpoint in ("/extract", "/predict"):
        answer = _post(main, endpoint, cut)
        assert answer.status_code == 422, (endpoint, answer.text)
        assert "cut.wav" in answer.json()["detail"] and "truncated" in answer.json()["detail"]
        assert str(main.tmp) not in answer.text  # the server's folders are not shown
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert _post(main, "/predict", empty).status_code == 422


def test_no_modality_of_the_model_readable_is_422(main: Server, tmp_path: Path) -> None:
    """A silent video: the audio-only model has nothing to read."""
    silent = write_video(tmp_path / "silent.mp4", [np.zeros((64, 64, 3), np.uint8)] * 10, fps=10)
    answer = _post(main, "/predict", silent)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"].startswith("silent")


def test_unsupported_type_is_415(main: Server, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not media")
    answer = _post(main, "/extract", notes)
    assert answer.status_code == 415 and "'.txt'" in answer.json()["detail"]
    assert _post(main, "/predict", notes).status_code == 415


def test_parallel_requests_each_get_their_own_answer(main: Server, tmp_path: Path) -> None:
    clips = [wav(tmp_path / f"par{i}.wav", 1.0, 120.0 + 15 * i, seed=i) for i in range(6)]
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda c: _post(main, "/extract", c), clips))
    assert [a.status_code for a in answers] == [200] * 6
    assert [a.json()["id"] for a in answers] == [c.stem for c in clips]
    pitch = "audio__F0semitoneFrom27.5Hz_sma3nz_amean"
    values = [a.json()["features"]["audio"][pitch] for a in answers]
    assert values == sorted(values)  # rising f0 -> each answer belongs to its clip


def test_predict_whole_clip_and_windows(servers: dict[str, Server], tmp_path: Path) -> None:
    main = servers["main"]
    clip = wav(tmp_path / "talk.wav", 5.0, 150.0, seed=11)
    answer = _post(main, "/predict", clip, params={"window": 2.0, "hop": 1.0})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["class"] in CLASSES and body["class"] == max(body["fused"], key=body["fused"].get)
    assert sum(body["fused"].values()) == pytest.approx(1.0)
    assert set(body["modalities"]) == {"audio"} and body["duration"] == pytest.approx(5.0)
    top = body["top_features"]
    assert top and all(f["modality"] == "audio" and f["name"].startswith("audio__")
                       and f["value"] is not None for f in top)
    assert [(w["start"], w["end"]) for w in body["windows"]] == api.window_bounds(5.0, 2.0, 1.0)
    assert body["window_failures"] == []
    # the same function as `emo predict --window`: the same windows and answers
    expected = api.predict_windows(servers["model"], clip, window=2.0, hop=1.0, whole=True,
                                   cache=tmp_path / "cache").frame
    expected = expected[expected["id"] != "talk"]  # the whole clip, predicted with them
    assert [w["class"] for w in body["windows"]] == list(expected["pred"])
    for w, (_, row) in zip(body["windows"], expected.iterrows(), strict=True):
        assert sum(w["fused"].values()) == pytest.approx(1.0) and w["modalities"]["audio"]
        assert w["fused"] == pytest.approx({c: row[f"proba_{c}"] for c in CLASSES})
    assert "windows" not in _post(main, "/predict", clip).json()
    for params in ({"window": MIN_WINDOW / 2}, {"window": 2.0, "hop": MIN_WINDOW / 2}):
        assert _post(main, "/predict", clip, params=params).status_code == 422


def test_dead_workers_are_replaced(main: Server, tmp_path: Path) -> None:
    import psutil

    main.idle()
    workers = [p for p in psutil.Process(main.proc.pid).children()
               if "spawn_main" in " ".join(p.cmdline())]
    assert len(workers) == 2
    for worker in workers:
        worker.kill()
    # A killed worker is gone once the server reaps it, which its pool does after marking
    # itself broken: from then on a request starts a fresh pool.
    _, alive = psutil.wait_procs(workers, timeout=120)
    assert not alive
    answer = _post(main, "/extract", wav(tmp_path / "after.wav", 1.0, 140.0, seed=5))
    assert answer.status_code == 200, answer.text
    assert answer.json()["features"]["audio"]


def test_uploads_are_removed(main: Server) -> None:
    main.idle()
    assert main.uploads_left() == []


def test_timeout_busy_and_cleanup(servers: dict[str, Server], tmp_path: Path) -> None:
    tight = servers["tight"]
    video = mp4(tmp_path / "slow.mp4", 1.0)
    # While this process holds every lock of the server's cache, the job waits, however
    # fast the machine: it is running when the second request comes, and outlives the
    # timeout.
    with held_locks(tight.cache), concurrent.futures.ThreadPoolExecutor(1) as pool:
        slow = pool.submit(_post, tight, "/extract", video)
        deadline = time.monotonic() + 60
        while not httpx.get(f"{tight.url}/health").json()["running"]:
            assert time.monotonic() < deadline and not slow.done(), "the job did not start"
            time.sleep(0.02)
        busy = _post(tight, "/extract", wav(tmp_path / "b.wav"))
        assert busy.status_code == 503 and busy.headers["retry-after"]
        assert slow.result().status_code == 504
        # the timed-out job still runs and owns its upload; the refused one left nothing
        assert len(tight.uploads_left()) == 1
    tight.idle()
    assert tight.uploads_left() == []
    assert _post(tight, "/predict", video).status_code == 404  # no model loaded


# -- hostile uploads and stuck workers (issue 22, rows 1, 4, 9) ---------------------------
def _workers(server: Server) -> list[psutil.Process]:
    """The server's worker processes."""
    return [p for p in psutil.Process(server.proc.pid).children()
            if "spawn_main" in " ".join(p.cmdline())]


def _health_until(server: Server, ready: Callable[[dict], bool], limit: float = 180.0) -> None:
    """Wait (bounded) until ``/health`` satisfies ``ready``."""
    deadline = time.monotonic() + limit
    while not ready(httpx.get(f"{server.url}/health").json()):
        assert time.monotonic() < deadline, httpx.get(f"{server.url}/health").json()
        time.sleep(0.05)


def test_hostile_uploads_are_422_and_long_names_shortened(main: Server, tmp_path: Path) -> None:
    bomb = _post(main, "/extract", bomb_jpeg(tmp_path / "big.jpg"))
    assert bomb.status_code == 422, bomb.text
    assert "big.jpg" in bomb.text and "decompression bomb" in bomb.text
    assert _post(main, "/predict", bomb_jpeg(tmp_path / "big.jpg")).status_code == 422
    liar = lying_mkv(tmp_path / "liar.mkv", 24.0)  # the header says 0 s; the limit is 20 s
    assert liar.stat().st_size < 1e6
    refused = _post(main, "/extract", liar)
    assert refused.status_code == 422 and "limit of 20 s" in refused.text, refused.text
    long = wav(tmp_path / ("n" * 250 + ".wav"), 1.0, 160.0, seed=3)
    with long.open("rb") as f:
        answer = httpx.post(f"{main.url}/extract", timeout=120,
                            files={"file": ("é" * 50 + "n" * 250 + ".wav", f)})
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == "é" * 50 + "n" * (MAX_STEM - 100)  # é: 2 bytes in UTF-8
    assert answer.json()["features"]["audio"]


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten minutes of a tone (FLAC, a few MB): seconds of work for the audio extractor."""
    path = tmp_path_factory.mktemp("slow") / "ten_minutes.flac"
    sf.write(path, np.tile(tone(2.0, 150.0), 300), SR, subtype="PCM_16")
    return path


def test_a_stuck_or_dead_worker_is_replaced_and_sigterm_stops_the_service(
        slow: Path, tmp_path: Path) -> None:
    server = Server(tmp_path / "s", workers=1, timeout_s=5, max_upload_mb=100,
                    max_duration_s=3600).wait()
    try:
        _health_until(server, lambda h: h["idle"] == 1)
        (first,) = _workers(server)
        # a job past its timeout: 504, its worker killed and replaced, the next one served
        assert _post(server, "/extract", slow).status_code == 504
        assert not psutil.wait_procs([first], timeout=30)[1]
        _health_until(server, lambda h: h["idle"] == 1)
        ok = _post(server, "/extract", wav(tmp_path / "after.wav", 1.0, 150.0))
        assert ok.status_code == 200, ok.text
        # a worker that dies during a job: 422 with the reason, then replaced
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            doomed = pool.submit(_post, server, "/extract", slow)
            _health_until(server, lambda h: h["running"] == 1)
            (worker,) = _workers(server)
            worker.kill()
            died = doomed.result()
        assert died.status_code == 422 and "worker process died" in died.text, died.text
        assert slow.name in died.text
        _health_until(server, lambda h: h["idle"] == 1)
        # SIGTERM while a worker is busy: the service and its workers stop within seconds
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(_post, server, "/extract", slow)
            _health_until(server, lambda h: h["running"] == 1)
            workers = _workers(server)
            server.proc.terminate()
            server.proc.wait(timeout=20)
            stopped = pending.result()
        assert stopped.status_code == 503 and "stopping" in stopped.text, stopped.text
        assert not psutil.wait_procs(workers, timeout=10)[1]
        assert server.uploads_left() == []
    finally:
        server.stop()
