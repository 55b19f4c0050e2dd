"""Load test of ``emo serve``: answers, latency and memory under concurrent ``/predict`` requests.

Fits a model (audio, face, body) on a small synthetic challenge-layout dataset, starts
``emo serve --workers 2 --max-upload-mb 5`` (127.0.0.1 only), then ``--clients`` clients at
once send ``--requests`` multipart (``file``) ``POST /predict`` requests: real RAVDESS
speech clips (read from ``../shared/data/ravdess/audio`` at run time, never copied; the
held-out actors 13-16 are not used), 2-second synthetic videos with sound cut from the
synthetic test actor's recordings, and corrupt uploads (random bytes, zeros, a header
alone, an empty file). Then one upload over the limit.

Prints, against the targets of issue 15: the share answered 200 (>= 90 %), corrupt uploads
answered 4xx (all), 503 (only when the queue is full: with ``--clients`` <= workers +
queue it never is, so 0), other 5xx (0), dropped connections (0), p50/p99 latency (p99 < 5 s),
growth of the resident memory of the server and all its processes (< 100 MB), the
oversize upload answered 413.

Usage::

    nice python benchmarks/serve_load.py [--requests 400] [--clients 8]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av
import httpx
import numpy as np
import psutil
from _common import DATA
from _speed import rss_mb

from emo import api

RAVDESS = DATA / "ravdess" / "audio"
HELD_OUT_ACTORS = {"Actor_13", "Actor_14", "Actor_15", "Actor_16"}
WORKERS = 2
MAX_UPLOAD_MB = 5
SHARES = {"audio": 0.78, "video": 0.14}  # the rest: corrupt uploads


@dataclass(frozen=True)
class Request:
    """One upload and what kind of clip it is (``audio``, ``video`` or ``corrupt``)."""

    path: Path
    kind: str


@dataclass
class Answer:
    """What came back: status (0: the connection dropped) and seconds."""

    request: Request
    status: int
    seconds: float
    detail: str = ""


def fit_model(root: Path) -> tuple[Path, Path]:
    """A 3-modality model fitted on a small synthetic dataset; the model and the dataset."""
    data = api.synthesise(root / "synth", actors=3, takes=1, test_actors=1, seed=0)
    config = api.FitConfig(n_splits=3, model={"n_estimators": 50})
    api.fit(data, out=root / "model", cache=root / "fit-cache", config=config, n_jobs=2,
            report=False)
    return root / "model", data


def cut(source: Path, out: Path, start: float, seconds: float) -> Path:
    """Re-encode ``seconds`` of a video (with its sound) from ``start`` into a new MP4."""
    with av.open(str(source)) as inp, av.open(str(out), "w") as dst:
        vin, ain = inp.streams.video[0], inp.streams.audio[0]
        vout = dst.add_stream("libx264", rate=vin.average_rate)
        vout.width, vout.height, vout.pix_fmt = vin.width, vin.height, "yuv420p"
        aout = dst.add_stream("aac", rate=ain.sample_rate)
        for frame in inp.decode(vin, ain):
            if frame.time is None or not start <= frame.time < start + seconds:
                continue
            frame.pts = None
            stream = vout if isinstance(frame, av.VideoFrame) else aout
            dst.mux(stream.encode(frame))
        dst.mux(vout.encode())
        dst.mux(aout.encode())
    return out


def corrupt_files(root: Path, audio: list[Path], video: Path) -> list[Path]:
    """Uploads no decoder can read, of several kinds."""
    rng = np.random.default_rng(0)
    root.mkdir()
    files = {"noise.wav": rng.bytes(40_000), "noise.mp4": rng.bytes(200_000),
             "zeros.mp4": bytes(video.stat().st_size), "header.flac": audio[0].read_bytes()[:64],
             "empty.flac": b"", "text.wav": b"not audio\n" * 100}
    for name, content in files.items():
        (root / name).write_bytes(content)
    return [root / name for name in files]


def requests(root: Path, synth: Path, n: int, seed: int
             ) -> tuple[list[Request], list[Request]]:
    """``n`` uploads (distinct RAVDESS clips, repeated synthetic videos, corrupt files), and
    a few readable clips of each kind that are not among them."""
    rng = random.Random(seed)
    speech = sorted(p for actor in RAVDESS.iterdir() if actor.name not in HELD_OUT_ACTORS
                    for p in actor.glob("*.flac"))
    n_audio, n_video = round(n * SHARES["audio"]), round(n * SHARES["video"])
    test_videos = sorted({c.video for c in api.index(synth) if c.label is None})
    root.mkdir(parents=True, exist_ok=True)
    videos = [cut(v, root / f"{v.stem}_{k}.mp4", 2.0 * k, 2.0) for v in test_videos
              for k in range(2)]
    corrupt = corrupt_files(root / "corrupt", speech, videos[0])
    chosen = rng.sample(speech, n_audio + 6)
    items = [Request(p, "audio") for p in chosen[:n_audio]]
    items += [Request(videos[i % len(videos)], "video") for i in range(n_video)]
    items += [Request(corrupt[i % len(corrupt)], "corrupt") for i in range(n - len(items))]
    rng.shuffle(items)
    spare = [Request(p, "audio") for p in chosen[n_audio:]]
    spare += [Request(cut(v, root / f"{v.stem}_spare.mp4", 1.0, 2.0), "video")
              for v in test_videos[:4]]
    return items, spare


def in_process(model: Path, spare: list[Request], cache: Path) -> dict[str, float]:
    """Median seconds of :func:`emo.api.predict` on one new clip, per kind, one at a time
    in this process (the first clip of a kind, which builds the analysers, not counted)."""
    bundle = api.load_model(model)
    seconds: dict[str, list[float]] = {}
    for request in spare:
        t0 = time.perf_counter()
        api.predict(bundle, [request.path], cache=cache)
        seconds.setdefault(request.kind, []).append(time.perf_counter() - t0)
    return {kind: float(np.median(values[1:])) for kind, values in seconds.items()}


def start_server(root: Path, model: Path) -> tuple[subprocess.Popen, str]:
    """``emo serve --workers 2 --max-upload-mb 5`` with its own TMPDIR; process and URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (root / "tmp").mkdir()
    log = (root / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "emo", "serve", "--model", str(model), "--cache",
         str(root / "cache"), "--port", str(port), "--workers", str(WORKERS),
         "--max-upload-mb", str(MAX_UPLOAD_MB)],
        env={**os.environ, "TMPDIR": str(root / "tmp")}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: {(root / 'server.log').read_text()[-2000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        time.sleep(0.3)
    raise SystemExit("the server did not start")


def send(url: str, request: Request, client: httpx.Client) -> Answer:
    """POST one upload to ``/predict``; a dropped connection is status 0."""
    t0 = time.perf_counter()
    try:
        with request.path.open("rb") as f:
            r = client.post(f"{url}/predict", files={"file": (request.path.name, f)})
    except httpx.TransportError as exc:
        return Answer(request, 0, time.perf_counter() - t0, type(exc).__name__)
    detail = "" if r.status_code == 200 else r.text[:200]
    return Answer(request, r.status_code, time.perf_counter() - t0, detail)


def load(url: str, items: list[Request], clients: int, pid: int
         ) -> tuple[list[Answer], list[tuple[int, float]], float]:
    """Send every request with ``clients`` at once; answers, memory samples, wall seconds."""
    local = threading.local()
    lock = threading.Lock()
    samples = [(0, rss_mb(pid))]
    step = max(1, len(items) // 10)
    done = 0

    def one(request: Request) -> Answer:
        nonlocal done
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=300)
        answer = send(url, request, local.client)
        with lock:
            done += 1
            if done % step == 0:
                samples.append((done, rss_mb(pid)))
        return answer

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(one, items))
    return answers, samples, time.perf_counter() - t0


def report(answers: list[Answer], samples: list[tuple[int, float]], wall: float,
           oversize: int, clients: int) -> None:
    """Print the figures and whether each meets its target."""
    def ms(values: list[float], q: float) -> float:
        return float(np.percentile(values, q) * 1000) if values else float("nan")

    status = Counter(a.status for a in answers)
    good = [a for a in answers if a.request.kind != "corrupt"]
    bad = [a for a in answers if a.request.kind == "corrupt"]
    ok_share = sum(a.status == 200 for a in answers) / len(answers)
    good_share = sum(a.status == 200 for a in good) / max(len(good), 1)
    bad_4xx = sum(400 <= a.status < 500 for a in bad)
    other_5xx = sum(a.status >= 500 and a.status != 503 for a in answers)
    dropped = status.get(0, 0)
    latency = [a.seconds for a in answers]
    growth = samples[-1][1] - samples[0][1]
    later = samples[-1][1] - samples[1][1] if len(samples) > 2 else float("nan")
    print(f"\n{len(answers)} requests, {clients} clients, {wall:.1f} s "
          f"({len(answers) / wall:.1f} req/s); status counts: {dict(sorted(status.items()))}; "
          f"with {clients} clients always waiting, mean latency = clients / throughput "
          f"(Little's law) = {clients * wall / len(answers):.1f} s")
    print(f"{'kind':<8} {'n':>4} {'200':>5} {'4xx':>5} {'p50 ms':>8} {'p99 ms':>8}")
    for kind in ("audio", "video", "corrupt"):
        part = [a for a in answers if a.request.kind == kind]
        print(f"{kind:<8} {len(part):>4} {sum(a.status == 200 for a in part):>5} "
              f"{sum(400 <= a.status < 500 for a in part):>5} "
              f"{ms([a.seconds for a in part], 50):8.0f} {ms([a.seconds for a in part], 99):8.0f}")
    checks = [
        (f"answered 200: {ok_share:.1%} of all, {good_share:.1%} of readable clips",
         good_share >= 0.9),
        (f"corrupt uploads answered 4xx: {bad_4xx}/{len(bad)}", bad_4xx == len(bad)),
        (f"503 (queue full; never with {clients} clients <= {WORKERS} workers + 16 queued): "
         f"{status.get(503, 0)}", status.get(503, 0) == 0),
        (f"other 5xx: {other_5xx}", other_5xx == 0),
        (f"dropped connections: {dropped}", dropped == 0),
        (f"latency p50 {ms(latency, 50):.0f} ms, p99 {ms(latency, 99):.0f} ms (target p99 < "
         "5000 ms)", ms(latency, 99) < 5000),
        (f"server memory (all processes) {samples[0][1]:.0f} -> {samples[-1][1]:.0f} MB: "
         f"growth {growth:+.0f} MB (after the first {samples[1][0]} requests {later:+.0f} MB; "
         "target < 100 MB)", growth < 100),
        (f"oversize upload ({MAX_UPLOAD_MB + 1} MB > {MAX_UPLOAD_MB} MB): {oversize}",
         oversize == 413),
    ]
    print("memory along the run: " + "  ".join(f"{n}:{mb:.0f}MB" for n, mb in samples))
    for text, met in checks:
        print(f"  [{'ok' if met else 'MISSED'}] {text}")
    for a in answers:
        if (a.request.kind == "corrupt") != (a.status != 200) or a.status >= 500 or not a.status:
            print(f"  unexpected: {a.request.path.name} ({a.request.kind}) -> {a.status} "
                  f"{a.detail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400, help="POST /predict requests")
    parser.add_argument("--clients", type=int, default=8, help="clients at once")
    parser.add_argument("--seed", type=int, default=0, help="order and choice of the clips")
    args = parser.parse_args()
    if not RAVDESS.is_dir():
        raise SystemExit(f"RAVDESS audio not found at {RAVDESS}")
    with tempfile.TemporaryDirectory(prefix="emo-serve-load-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        model, synth = fit_model(root)
        items, spare = requests(root / "uploads", synth, args.requests, args.seed)
        print(f"model fitted and uploads prepared in {time.perf_counter() - t0:.0f} s: "
              f"{dict(Counter(r.kind for r in items))} ({len({r.path for r in items})} files)")
        floor = in_process(model, spare, root / "floor-cache")
        print("in-process api.predict of one new clip at a time (the service time): "
              + ", ".join(f"{kind} {s:.2f} s" for kind, s in floor.items())
              + f"; with {args.clients} clients on {WORKERS} workers, queueing alone puts "
              f"latency near {args.clients / WORKERS:g}x that")
        proc, url = start_server(root, model)
        try:
            main_mb = [psutil.Process(proc.pid).memory_info().rss / 1e6]
            answers, samples, wall = load(url, items, args.clients, proc.pid)
            main_mb.append(psutil.Process(proc.pid).memory_info().rss / 1e6)
            big = root / "uploads" / "big.wav"
            big.write_bytes(bytes((MAX_UPLOAD_MB + 1) * 10**6))
            with httpx.Client(timeout=60) as client:
                oversize = send(url, Request(big, "corrupt"), client).status
            report(answers, samples, wall, oversize, args.clients)
            print(f"  of which the main (HTTP) process: {main_mb[0]:.0f} -> {main_mb[1]:.0f} MB, "
                  f"the {WORKERS} workers the rest")
            left = [p for p in (root / "tmp").iterdir() if p.name.startswith("emo-upload")]
            print(f"  upload folders left behind: {len(left)}")
        finally:
            proc.terminate()
            proc.wait(timeout=120)


if __name__ == "__main__":
    main()
