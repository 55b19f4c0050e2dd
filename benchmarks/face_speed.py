"""Speed of emo's face extraction against raw PyAV decoding + MediaPipe Face Landmarker, one run.

A synthetic talking-head video is written first: the face of ``skimage.data.astronaut()``
moving, turning and zooming (smooth random affine motion) on a 456 x 256 canvas at 30 fps.
Then, on the same file and in the same process:

1. raw: PyAV decode (RGB) + ``FaceLandmarker.detect_for_video`` (VIDEO mode, blendshapes)
   of every frame, nothing else (the floor any face pipeline pays);
2. emo: ``FaceAUExtractor(fps=None, max_side=None).extract`` (decode, landmarks, AU
   geometry, functionals) on every frame; the overhead over (1) should be <= 20 %;
3. the analysis-rate option ``fps``: cost per second of video and real-time factor on 3 s
   clips (its effect on accuracy is part (c) of ``face_accuracy.py``);
4. throughput with 2 worker processes (like ``emo extract -j 2``), against the >= 12x real
   time goal for 30 fps video.

Run::

    .venv/bin/python benchmarks/face_speed.py              # ~2 min on 2 idle cores
    .venv/bin/python benchmarks/face_speed.py --seconds 20 --repeat 3
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import av
import cv2
import numpy as np
import pandas as pd
from skimage.data import astronaut

from emo.data.clip import Clip
from emo.features.face import FaceAUExtractor
from emo.features.face.landmarks import new_face_landmarker

SIZE = (456, 256)
FPS = 30


def write_talking_head(path: Path, seconds: float, seed: int = 0) -> Path:
    """Astronaut face under smooth random rotation/zoom/translation, H.264 at 30 fps."""
    rng = np.random.default_rng(seed)
    photo = astronaut()[10:250, 100:360]  # 240 x 260 around the face
    n = round(seconds * FPS)
    t = np.arange(n) / FPS
    phases = rng.uniform(0, 2 * np.pi, 4)
    angle = 8 * np.sin(2 * np.pi * 0.3 * t + phases[0])
    zoom = 0.85 + 0.08 * np.sin(2 * np.pi * 0.2 * t + phases[1])
    dx = 90 * np.sin(2 * np.pi * 0.15 * t + phases[2])
    dy = 12 * np.sin(2 * np.pi * 0.4 * t + phases[3])
    canvas = np.full((SIZE[1], SIZE[0], 3), 60, np.uint8)
    ph, pw = photo.shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        for i in range(n):
            matrix = cv2.getRotationMatrix2D((pw / 2, ph / 2), angle[i], zoom[i])
            matrix[:, 2] += (SIZE[0] / 2 - pw / 2 + dx[i], SIZE[1] / 2 - ph / 2 + dy[i])
            frame = cv2.warpAffine(photo, matrix, SIZE, dst=canvas.copy(),
                                   borderMode=cv2.BORDER_TRANSPARENT)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def raw_pass(path: Path) -> tuple[float, float, int]:
    """Seconds for plain decode + Face Landmarker, seconds of the landmarker alone, frames."""
    import mediapipe as mp

    mesh_seconds = 0.0
    start = time.perf_counter()
    n = 0
    with av.open(str(path)) as container, new_face_landmarker(static=False) as marker:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            image = mp.Image(image_format=mp.ImageFormat.SRGB,  # rows may be padded
                             data=np.ascontiguousarray(frame.to_ndarray(format="rgb24")))
            t0 = time.perf_counter()
            marker.detect_for_video(image, 33 * (n + 1))
            mesh_seconds += time.perf_counter() - t0
            n += 1
    return time.perf_counter() - start, mesh_seconds, n


def emo_pass(path: Path, fps: float | None, segment: tuple[float, float] | None = None
             ) -> tuple[float, dict[str, float]]:
    """Seconds and features of emo's extractor on the file (or a segment of it)."""
    start, end = segment if segment else (None, None)
    clip = Clip("speed", video=path, start=start, end=end)
    extractor = FaceAUExtractor(fps=fps, max_side=None)
    t0 = time.perf_counter()
    features = extractor.extract(clip)
    return time.perf_counter() - t0, features


def _segments(seconds: float, length: float = 3.0) -> list[tuple[float, float]]:
    return [(s, s + length) for s in np.arange(0.0, seconds - length + 1e-9, length)]


def _extract_segment(args: tuple[Path, float | None, tuple[float, float]]) -> dict[str, float]:
    path, fps, segment = args
    return emo_pass(path, fps, segment)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="video length")
    parser.add_argument("--repeat", type=int, default=5, help="best of N timings")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_talking_head(Path(tmp) / "talking_head.mp4", args.seconds)
        print(f"video: {SIZE[0]}x{SIZE[1]}, {FPS} fps, {args.seconds:g} s "
              f"({round(args.seconds * FPS)} frames), astronaut face in smooth motion\n")

        # 1 + 2: raw vs emo on every frame, interleaved, best of N.
        raw, mesh, emo = [], [], []
        for _ in range(args.repeat):
            total, mesh_s, n = raw_pass(path)
            raw.append(total)
            mesh.append(mesh_s)
            emo.append(emo_pass(path, None)[0])
        ms = {k: 1000 * min(v) / n for k, v in
              (("raw decode + FaceLandmarker", raw), ("FaceLandmarker alone", mesh),
               ("emo face_au (fps=None, max_side=None)", emo))}
        table = pd.DataFrame({"ms / frame": ms})
        table["x raw"] = table["ms / frame"] / ms["raw decode + FaceLandmarker"]
        print("all frames, one process, best of", args.repeat)
        print(table.to_string(float_format=lambda v: f"{v:.2f}"))
        overhead = ms["emo face_au (fps=None, max_side=None)"] / ms[
            "raw decode + FaceLandmarker"] - 1
        print(f"emo overhead over raw: {overhead:+.1%} (target <= +20%)\n")

        # 3: analysis rate: speed and fidelity of the clip features.
        segments = _segments(args.seconds)
        rows = []
        for fps in (None, 15, 10, 5):
            t0 = time.perf_counter()
            for segment in segments:
                emo_pass(path, fps, segment)
            seconds = time.perf_counter() - t0
            rows.append({"fps": "all (30)" if fps is None else fps,
                         "ms per video second": 1000 * seconds / args.seconds,
                         "x real time (1 proc)": args.seconds / seconds})
        print(f"analysis rate, {len(segments)} clips of 3 s, one process "
              "(fresh tracking state per clip included)")
        print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        print()

        # 4: two worker processes, as `emo extract -j 2`.
        rows = []
        for fps in (None, 15):
            jobs = [(path, fps, s) for s in segments]
            # spawn: MediaPipe graphs do not survive fork() of a process that ran one
            with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
                list(pool.map(_extract_segment, jobs[:2]))  # warm the workers (imports)
                t0 = time.perf_counter()
                list(pool.map(_extract_segment, jobs))
                seconds = time.perf_counter() - t0
            rows.append({"fps": "all (30)" if fps is None else fps,
                         "x real time (2 procs)": args.seconds / seconds})
        print("throughput with 2 worker processes (goal >= 12x real time on 30 fps video)")
        print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.1f}"))


if __name__ == "__main__":
    main()
