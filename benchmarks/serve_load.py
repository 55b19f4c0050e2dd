"""Load test of ``emo serve``: latency, throughput, errors and memory under concurrent requests.

Starts a real server (``emo.serve.run_server`` in a subprocess, 127.0.0.1 only) with a tiny
model fitted on synthetic tones, then, side by side in one run:

* the same work done in-process through :mod:`emo.api` (the floor the service adds to),
* ``POST /extract`` of clips never seen (computed), then ``--requests`` cached requests,
* ``POST /predict`` of cached clips,

with ``--concurrency`` clients at once. Prints latency percentiles, throughput, errors
(target 0) and the resident memory of the server and its workers sampled along the cached
run (target flat).

Usage::

    python benchmarks/serve_load.py [--requests 500] [--concurrency 4] [--workers 2]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import psutil
import soundfile as sf

from emo import api
from emo.data.labels import CLASSES

SR = 16_000


def chirp(path: Path, seconds: float, f0: float, f1: float, seed: int) -> Path:
    """A gliding, amplitude-modulated tone with noise: voiced enough for eGeMAPS."""
    t = np.arange(round(seconds * SR)) / SR
    freq = np.geomspace(f0, f1, t.size)
    signal = np.sin(2 * np.pi * np.cumsum(freq) / SR) * (1.1 + np.sin(2 * np.pi * 3.5 * t))
    noise = np.random.default_rng(seed).standard_normal(t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.08 * signal + 0.002 * noise).astype("f4"), SR)
    return path


def fit_model(root: Path) -> Path:
    """A small fusion model (audio only) on 7 classes x 3 speakers of chirps."""
    for k, label in enumerate(CLASSES):
        for s in range(3):
            chirp(root / "train" / label / f"S{s}_{label}.wav", 1.5, 100 + 25 * k,
                  140 + 25 * k + 10 * s, seed=10 * k + s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api.fit(root / "train", out=root / "model", cache=root / "cache", report=False,
                config=api.FitConfig(n_splits=3, model={"n_estimators": 50}),
                speaker_pattern=r"^(?P<speaker>S\d)_")
    return root / "model"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path, model: Path, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    options = {"model": str(model), "cache": str(root / "cache"), "port": port,
               "workers": workers}
    code = "import json, sys; from emo.serve import run_server; " \
           "run_server(**json.loads(sys.argv[1]))"
    (root / "tmp").mkdir()
    proc = subprocess.Popen([sys.executable, "-c", code, json.dumps(options)],
                            env={**os.environ, "TMPDIR": str(root / "tmp")},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited while starting")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.3)
    raise SystemExit("the server did not start")


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its children, in MB."""
    proc = psutil.Process(pid)
    procs = [proc, *proc.children(recursive=True)]
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total / 1e6


def load(url: str, endpoint: str, clips: Sequence[Path], concurrency: int,
         on_done: Callable[[int], None] | None = None) -> tuple[np.ndarray, int, float]:
    """POST every clip (in order, ``concurrency`` at a time); latencies (s), errors, wall s."""
    local = threading.local()
    done = 0
    lock = threading.Lock()

    def one(path: Path) -> tuple[float, bool]:
        nonlocal done
        client = getattr(local, "client", None) or httpx.Client(timeout=300)
        local.client = client
        t0 = time.perf_counter()
        with path.open("rb") as f:
            ok = client.post(f"{url}{endpoint}", files={"file": (path.name, f)}).is_success
        seconds = time.perf_counter() - t0
        with lock:
            done += 1
            if on_done is not None:
                on_done(done)
        return seconds, ok

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, clips))
    wall = time.perf_counter() - t0
    return np.array([r[0] for r in results]), sum(not r[1] for r in results), wall


def in_process(fn: Callable[[], object], n: int) -> np.ndarray:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return np.array(out)


def row(name: str, lat: np.ndarray, errors: int, wall: float, floor: float | None,
        concurrency: int) -> str:
    p50, p90, p99 = np.percentile(lat, [50, 90, 99]) * 1000
    ratio = f"{p50 / 1000 / floor:6.1f}x" if floor else "     - "
    return (f"{name:<30} {len(lat):>5} {concurrency:>4} {p50:8.1f} {p90:8.1f} {p99:8.1f} "
            f"{len(lat) / wall:8.1f} {errors:>6}  {ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500, help="cached /extract requests")
    parser.add_argument("--concurrency", type=int, default=4, help="clients at once")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--unique", type=int, default=40, help="clips never seen before")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="emo-serve-load-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        model = fit_model(root)
        clips = [chirp(root / "clips" / f"c{i:03d}.wav", 2.0, 90 + 7 * i, 220 + 3 * i, seed=i)
                 for i in range(args.unique)]
        print(f"model fitted and {len(clips)} clips written in {time.perf_counter() - t0:.1f} s")
        proc, url = start_server(root, model, args.workers)
        try:
            print(f"server {url} (pid {proc.pid}, {args.workers} workers) ready; "
                  f"RSS {rss_mb(proc.pid):.0f} MB")
            header = (f"{'scenario':<30} {'n':>5} {'conc':>4} {'p50 ms':>8} {'p90 ms':>8} "
                      f"{'p99 ms':>8} {'req/s':>8} {'errors':>6}  p50 / in-process")
            lines = []
            cold, cold_err, cold_wall = load(url, "/extract", clips, args.concurrency)
            cached_clip = api.clips_from_files([clips[0]])
            floor_x = in_process(lambda: api.features(cached_clip, cache=root / "cache"), 30)
            floor_p = in_process(lambda: api.predict(model, cached_clip, cache=root / "cache"),
                                 30)
            lines.append(row("in-process api.features cached", floor_x, 0, floor_x.sum(), None,
                             1))
            lines.append(row("in-process api.predict cached", floor_p, 0, floor_p.sum(), None, 1))
            lines.append(row("POST /extract, computed", cold, cold_err, cold_wall, None,
                             args.concurrency))

            samples: list[tuple[int, float]] = [(0, rss_mb(proc.pid))]
            step = max(1, args.requests // 10)

            def sample(done: int) -> None:
                if done % step == 0:
                    samples.append((done, rss_mb(proc.pid)))

            batch = [clips[i % len(clips)] for i in range(args.requests)]
            warm, warm_err, warm_wall = load(url, "/extract", batch, args.concurrency, sample)
            lines.append(row("POST /extract, cached", warm, warm_err, warm_wall,
                             float(np.median(floor_x)), args.concurrency))
            n_predict = max(20, args.requests // 5)
            pred, pred_err, pred_wall = load(url, "/predict", batch[:n_predict],
                                             args.concurrency)
            lines.append(row("POST /predict, cached", pred, pred_err, pred_wall,
                             float(np.median(floor_p)), args.concurrency))
            print()
            print(header)
            print("\n".join(lines))
            print()
            print("RSS of server + workers along the cached /extract run:")
            print("  " + "  ".join(f"{n}:{mb:.0f}MB" for n, mb in samples))
            growth = samples[-1][1] - samples[1][1] if len(samples) > 2 else float("nan")
            print(f"growth after the first {step} requests: {growth:+.1f} MB "
                  f"(target: flat, within a few MB)")
            left = [p.name for p in (root / "tmp").iterdir() if p.name.startswith("emo-upload")]
            print(f"upload folders left behind: {len(left)} (target 0)")
            errors = cold_err + warm_err + pred_err
            print(f"errors: {errors} (target 0)")
        finally:
            proc.terminate()
            proc.wait(timeout=120)


if __name__ == "__main__":
    main()
