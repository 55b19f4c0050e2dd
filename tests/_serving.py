"""Helpers of the shell tests (CLI, service, page): small media files, a model fitted on
tones through :func:`emo.api.fit`, a real ``emo serve`` in a subprocess, the CLI in a
subprocess.

Media are written here: voiced-like WAV tones and a short MP4 (a face from
``skimage.data.astronaut`` with a sound track).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import av
import httpx
import numpy as np
import soundfile as sf

from emo import api
from emo.data.labels import CLASSES
from emo.features.cache import LOCK_STRIPES, FeatureCache
from emo.serve import UPLOAD_PREFIX

SR = 16_000
STARTUP_S = 180.0  # spawning workers that import MediaPipe and openSMILE on a busy machine
#: The speaker of a training tone is the prefix of its file name.
SPEAKERS = r"^(?P<speaker>A\d)_"


def tone(seconds: float, f0: float, seed: int = 0) -> np.ndarray:
    """A voiced-like signal: a vibrato tone with a syllable-rate envelope and some noise."""
    t = np.arange(round(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    phase = 2 * np.pi * f0 * t + 0.4 * np.sin(2 * np.pi * 5 * t)
    envelope = 1 + 0.6 * np.sin(2 * np.pi * (2 + f0 / 100) * t)
    return (0.1 * envelope * np.sin(phase) + 0.003 * rng.standard_normal(t.size)).astype("f4")


def wav(path: Path, seconds: float = 1.0, f0: float = 150.0, seed: int = 0) -> Path:
    """A WAV file of :func:`tone`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(seconds, f0, seed), SR)
    return path


def mp4(path: Path, seconds: float = 1.0, fps: int = 10) -> Path:
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
        sound = tone(seconds, 180.0)
        for k in range(0, sound.size, 1024):
            frame = av.AudioFrame.from_ndarray(sound[None, k:k + 1024], format="flt",
                                               layout="mono")
            frame.sample_rate, frame.pts = SR, k
            container.mux(audio.encode(frame))
        container.mux(audio.encode())
    return path


def noise(path: Path, size: int = 5000) -> Path:
    """A file of random bytes (a corrupt upload)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.random.default_rng(size).bytes(size))
    return path


def tone_dataset(root: Path) -> Path:
    """A folders-layout dataset: every class x 3 speakers of 1 s tones, pitch by class."""
    for k, label in enumerate(CLASSES):
        for actor in range(3):
            wav(root / label / f"A{actor}_{label}.wav", 1.0, 110 + 30 * k + 6 * actor,
                seed=actor)
    return root


def fit_tone_model(root: Path) -> Path:
    """An audio model fitted by :func:`emo.api.fit` on :func:`tone_dataset`; its folder."""
    data = tone_dataset(root / "train")
    config = api.FitConfig(n_splits=3, model={"n_estimators": 30})
    api.fit(data, out=root / "model", cache=root / "fit-cache", config=config, report=False,
            speaker_pattern=SPEAKERS)
    return root / "model"


def run_emo(*args: str | Path, cwd: Path | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the command line (``python -m emo``) as a user would."""
    return subprocess.run([sys.executable, "-m", "emo", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd)


@contextlib.contextmanager
def held_locks(cache: Path, keys: Iterable[str] | None = None) -> Iterator[None]:
    """Hold the cache's lock stripes of ``keys`` (every stripe when None) in this process.

    An extraction into ``cache`` that needs one of these keys waits (in any process) until the
    block ends: tests use it to catch a run or a request in the middle of its work without
    depending on how fast the machine is.
    """
    store = FeatureCache(cache)
    stripes = sorted({key[:2] for key in keys} if keys is not None
                     else {f"{i:02x}" for i in range(LOCK_STRIPES)})
    with contextlib.ExitStack() as stack:
        for stripe in stripes:
            stack.enter_context(store.lock(stripe))
        yield


def free_port() -> int:
    """A free TCP port of 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``emo.serve.run_server`` in a subprocess with its own TMPDIR."""

    def __init__(self, root: Path, **options: object) -> None:
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True)
        self.cache = root / "cache"
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        code = "import json, sys; from emo.serve import run_server; " \
               "run_server(**json.loads(sys.argv[1]))"
        options = {"port": port, "cache": str(self.cache), **options}
        self.log = (root / "server.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, json.dumps(options, default=str)],
            env={**os.environ, "TMPDIR": str(self.tmp)}, stdout=self.log, stderr=subprocess.STDOUT)

    def wait(self) -> Server:
        """Wait until ``/health`` answers."""
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
        """Upload folders still in the server's TMPDIR."""
        return [p.name for p in self.tmp.iterdir() if p.name.startswith(UPLOAD_PREFIX)]

    def stop(self) -> None:
        """Stop the server (and its workers)."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
