"""Speed of the body extractor: Kinect files (clips/s) and video pose (ms/frame vs raw MediaPipe).

Kinect: a realistic session file is synthesised (``--minutes`` at 30 fps, one actor, a second
body passing by for a while, a few lost joints, decimal commas, ~150 values a row) with five
takes in it, as in the challenge data. Timed side by side in one run:

- ``naive parse``: a per-line Python reference parser (``str.split`` + ``float``) of the file;
- ``emo parse``: :func:`emo.features.body.kinect.parse_kinect` (pandas C parser);
- ``extract, cold``: the full extractor per take, the parse cache cleared before every take
  (the worst case: every take in a different worker process);
- ``extract, warm``: the five takes in one process, so the file is parsed once.

Video: a clip made of a real photograph (scikit-image's astronaut, panned) is run through
``iter_frames`` + ``PoseLandmarker.detect_for_video`` (raw MediaPipe, a new landmarker) and through
:func:`emo.features.body.pose.video_joints` (the same plus landmark mapping, gap filling and
resampling) and the whole extractor on every frame; the overhead target is <= 15 % per frame.
The extractor at its default pose rate shows what the rate saves (its UAR effect is part of
``extract_speed.py``).

Run::

    .venv/bin/python benchmarks/body_speed.py [--minutes 5] [--video-frames 150] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from _speed import best_of, load

from emo.data.clip import Clip
from emo.data.skeleton import KINECT_FPS, KINECT_JOINTS
from emo.features.base import get_extractor
from emo.features.body import kinect


def synth_kinect(path: Path, minutes: float, seed: int = 0) -> list[tuple[int, int]]:
    """Write a Kinect session file; return five (start, end) take segments (frame indices)."""
    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * KINECT_FPS)
    t = np.arange(n) / KINECT_FPS
    base = rng.uniform(-0.3, 0.3, size=(len(KINECT_JOINTS), 3)) + [0.0, 1.0, 2.5]
    wave = 0.1 * np.sin(2 * np.pi * rng.uniform(0.3, 2.0, size=(len(KINECT_JOINTS), 3))
                        * t[:, None, None] + rng.uniform(0, 6, size=(len(KINECT_JOINTS), 3)))
    actor = np.concatenate([base + wave, rng.uniform(-180, 180, size=wave.shape)], axis=-1)
    lost = rng.random((n, len(KINECT_JOINTS))) < 0.002
    stamps = 1000 * t + rng.normal(0, 2, size=n)  # irregular frame times (ms)
    rows = []
    for i in range(n):
        rows.append(_row(stamps[i], 0, actor[i], lost[i]))
        if n // 3 <= i < n // 3 + 300:  # someone walks through for 10 s
            rows.append(_row(stamps[i], 1, actor[i] + [0.01 * (i - n // 3), 0, 1, 0, 0, 0],
                             lost[i]))
    path.write_text("\n".join(rows) + "\n", encoding="ascii")
    take = int(2.5 * KINECT_FPS)
    starts = np.linspace(KINECT_FPS, n - take - KINECT_FPS, 5).astype(int)
    return [(int(s), int(s) + take - 1) for s in starts]


def _row(t: float, body: int, values: np.ndarray, lost: np.ndarray) -> str:
    fields = [f"{v:.6f}" for v in values.ravel()]
    for j in np.flatnonzero(lost):
        fields[6 * j: 6 * j + 3] = ["NaN"] * 3
    return (f"{t:.3f};{body};" + ";".join(fields) + ";").replace(".", ",")


def naive_parse(path: Path) -> np.ndarray:
    """Reference: one Python ``float`` call per field."""
    rows = []
    for line in path.read_text().splitlines():
        if line.strip():
            rows.append([float(v.replace(",", ".")) for v in line.rstrip(";").split(";")])
    return np.array(rows)


def kinect_table(folder: Path, minutes: float, repeat: int) -> None:
    """Print the Kinect timings."""
    path = folder / "session.txt"
    takes = synth_kinect(path, minutes)
    clips = [Clip(f"take{i}", skeleton=path, skeleton_start=s, skeleton_end=e)
             for i, (s, e) in enumerate(takes)]
    extractor = get_extractor("body", source="kinect")
    size = path.stat().st_size / 1e6
    n_rows = sum(1 for _ in path.open())

    def cold() -> None:
        for clip in clips:
            kinect._load_cached.cache_clear()
            extractor.extract(clip)

    def warm() -> None:
        kinect._load_cached.cache_clear()
        for clip in clips:
            extractor.extract(clip)

    t = best_of(repeat, {"naive": lambda: naive_parse(path), "cold": cold, "warm": warm,
                         "ours": lambda: kinect.parse_kinect(path.read_bytes(), path)})
    naive, ours, t_cold, t_warm = t["naive"], t["ours"], t["cold"], t["warm"]
    print(f"Kinect file: {minutes:g} min, {n_rows} rows, {size:.1f} MB, {len(clips)} takes")
    print(f"{'step':28s} {'seconds':>9s} {'clips/s':>9s} {'vs naive parse':>15s}")
    print(f"{'naive parse (python)':28s} {naive:9.3f} {'':9s} {1.0:14.2f}x")
    print(f"{'emo parse (pandas C)':28s} {ours:9.3f} {'':9s} {naive / ours:14.2f}x")
    print(f"{'extract, cold (parse/take)':28s} {t_cold:9.3f} {len(clips) / t_cold:9.1f}")
    print(f"{'extract, warm (parse/file)':28s} {t_warm:9.3f} {len(clips) / t_warm:9.1f}")


def synth_video(path: Path, n_frames: int, fps: int = 30) -> None:
    """A video panning over scikit-image's astronaut photograph (a real upper body)."""
    import av
    from skimage.data import astronaut

    image = astronaut()[:, :, :]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 480, 480, "yuv420p"
        for i in range(n_frames):
            shift = int(16 * np.sin(2 * np.pi * i / fps))
            crop = np.ascontiguousarray(image[16:496, 16 + shift: 496 + shift])
            out.mux(stream.encode(av.VideoFrame.from_ndarray(crop, format="rgb24")))
        out.mux(stream.encode())


def video_table(folder: Path, n_frames: int, repeat: int) -> None:
    """Print the video pose timings."""
    import mediapipe as mp

    from emo.data.video import iter_frames
    from emo.features.body.pose import MAX_SIDE, new_pose_landmarker, video_joints

    path = folder / "astronaut.mp4"
    synth_video(path, n_frames)
    every = get_extractor("body", source="video", pose_fps=0)
    default = get_extractor("body", source="video")

    def raw() -> None:
        with new_pose_landmarker() as marker:
            for i, (_, image) in enumerate(iter_frames(path, max_side=MAX_SIDE)):
                frame = mp.Image(image_format=mp.ImageFormat.SRGB,
                                 data=np.ascontiguousarray(image))
                marker.detect_for_video(frame, 33 * (i + 1))

    def decode() -> None:
        for _ in iter_frames(path, max_side=MAX_SIDE):
            pass

    raw()  # load the model files once before timing
    every.extract(Clip("a", video=path))  # and build emo's graph
    t = best_of(repeat, {"decode": decode, "raw": raw,
                         "ours": lambda: video_joints(path, rate=30.0),
                         "full": lambda: every.extract(Clip("a", video=path)),
                         "default": lambda: default.extract(Clip("a", video=path))})
    ms = 1000 / n_frames
    print(f"\nVideo pose: {n_frames} frames 480x480, model_complexity=1, one process ({load()})")
    print(f"{'step':44s} {'ms/frame':>9s} {'vs raw':>8s}")
    for name, key in (("decode only (iter_frames)", "decode"),
                      ("raw: iter_frames + PoseLandmarker", "raw"),
                      ("emo video_joints (map, fill, resample)", "ours"),
                      ("emo extractor, every frame (+ features)", "full"),
                      (f"emo extractor, default {default.pose_fps:g} fps", "default")):
        print(f"{name:44s} {t[key] * ms:9.2f} {t[key] / t['raw']:7.2f}x")
    print(f"overhead of video_joints over raw MediaPipe: {100 * (t['ours'] / t['raw'] - 1):+.1f} %"
          " (target <= 15 %)")


def main(argv: list[str] | None = None) -> int:
    """Run both tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--video-frames", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        kinect_table(Path(tmp), args.minutes, args.repeat)
        video_table(Path(tmp), args.video_frames, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
