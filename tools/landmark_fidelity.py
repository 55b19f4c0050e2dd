"""Landmarks of emo's MediaPipe Tasks path against the legacy solutions, on the same frames.

The legacy ``solutions`` (``mediapipe==0.10.21``, Python <= 3.12) cannot be installed beside
emo's MediaPipe, so this script (run with emo's Python) writes the frames to a file and runs
the legacy side in another Python given by ``--legacy-python`` (see docs/models.md for that
venv). Three sets of frames:

- **face video**: every frame of the first synthetic recording of ``emo synth`` (one actor,
  256 x 256, 30 fps): legacy ``FaceMesh(refine_landmarks=True)`` in tracking mode against
  emo's :func:`~emo.features.face.landmarks.track_landmarks` (Face Landmarker, VIDEO mode);
- **stills**: CK+48 photographs (``--ckplus``, upscaled to 256 x 256 as emo does) and the
  astronaut photograph: legacy ``FaceMesh(static_image_mode=True)`` against
  :func:`~emo.features.face.landmarks.image_landmarks` (IMAGE mode);
- **pose video**: the astronaut photograph panned and zoomed (a real upper body), 480 x 480:
  legacy ``Pose(model_complexity=1)`` against the Pose Landmarker on emo's bundle
  (``--pose-bundle`` for another build, e.g. with other input ranges).

For frames where both paths find a face (body), it prints the mean and the largest
difference of the landmarks in normalised image coordinates (x / width, y / height), the
mean distance in units of the inter-ocular distance (face), and for the pose the world
landmarks' distance in centimetres and the visibility difference.

Run::

    .venv/bin/python tools/landmark_fidelity.py --legacy-python /work/wt/legacy311/bin/python
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

#: Pose landmarks 0-24: face, arms, hands, hips (25-32, knees and feet, are out of the
#: picture in the astronaut photograph: both models guess them).
UPPER_BODY = 25
#: Every this many frames of the pose video is also analysed as a still (no tracking).
POSE_STILL_STEP = 10
#: Run by the legacy Python: reads ``frames.npz``, writes ``legacy.npz``.
LEGACY = r'''
import sys
import numpy as np
from mediapipe.python.solutions.face_mesh import FaceMesh
from mediapipe.python.solutions.pose import Pose

data = np.load(sys.argv[1])
STILL_STEP = int(sys.argv[3])
out = {}

def face(result):
    if not result.multi_face_landmarks:
        return np.full((478, 3), np.nan)
    return np.array([(p.x, p.y, p.z) for p in result.multi_face_landmarks[0].landmark])

with FaceMesh(static_image_mode=False, refine_landmarks=True, max_num_faces=1) as mesh:
    out["face_video"] = np.stack([face(mesh.process(f)) for f in data["face_video"]])
with FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1) as mesh:
    out["stills"] = np.stack([face(mesh.process(f)) for f in data["stills"]])
image, world = [], []
with Pose(static_image_mode=False, model_complexity=1) as pose:
    for f in data["pose_video"]:
        r = pose.process(f)
        if r.pose_landmarks is None:
            image.append(np.full((33, 4), np.nan)); world.append(np.full((33, 4), np.nan))
            continue
        image.append([(p.x, p.y, p.z, p.visibility) for p in r.pose_landmarks.landmark])
        world.append([(p.x, p.y, p.z, p.visibility) for p in r.pose_world_landmarks.landmark])
out["pose_image"], out["pose_world"] = np.array(image), np.array(world)
still = []
with Pose(static_image_mode=True, model_complexity=1) as pose:
    for f in data["pose_video"][::STILL_STEP]:
        r = pose.process(f)
        still.append(np.full((33, 4), np.nan) if r.pose_landmarks is None else
                     [(p.x, p.y, p.z, p.visibility) for p in r.pose_landmarks.landmark])
out["pose_still"] = np.array(still, dtype=float)
np.savez(sys.argv[2], **out)
'''


def face_video(folder: Path, n_frames: int) -> np.ndarray:
    """The first ``n_frames`` frames of a synthetic recording (RGB)."""
    from emo import api
    from emo.data.video import iter_frames

    data = api.synthesise(folder / "synth", actors=1, takes=2, test_actors=0, seed=3,
                          size=(256, 256), workers=1)
    video = min((data / "videos").glob("*.MP4"))
    return np.stack([f for _, f in iter_frames(video)][:n_frames])


def stills(ckplus: Path, n: int) -> np.ndarray:
    """``n`` CK+48 photographs spread over the emotions (upscaled to 256) and the astronaut's
    face region at 256 x 256."""
    from skimage.data import astronaut

    from emo.features.face.landmarks import upscale

    paths = sorted(ckplus.rglob("*.png"))
    images = [upscale(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE))
              for p in paths[:: max(1, len(paths) // n)][:n]]
    images.append(cv2.resize(astronaut()[:384, 64:448], (256, 256)))
    return np.stack(images)


def pose_video(n_frames: int) -> np.ndarray:
    """The astronaut photograph panned and zoomed smoothly, 480 x 480."""
    from skimage.data import astronaut

    image = astronaut()
    frames = []
    for i in range(n_frames):
        phase = 2 * np.pi * i / n_frames
        matrix = cv2.getRotationMatrix2D((256, 256), 3 * np.sin(phase), 1 + 0.1 * np.sin(phase))
        matrix[:, 2] += (-16 + 16 * np.cos(phase), -16)
        frames.append(cv2.warpAffine(image, matrix, (480, 480), borderMode=cv2.BORDER_REFLECT))
    return np.stack(frames)


def tasks_pose(frames: np.ndarray, bundle: Path, static: bool = False,
               ) -> tuple[np.ndarray, np.ndarray]:
    """Image and world landmarks (x, y, z, visibility) of the Pose Landmarker on ``bundle``
    in VIDEO mode with emo's time stamps (IMAGE mode with ``static``)."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    from emo._native import native_logs_captured
    from emo.features.frames import TaskTracker

    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(bundle)),
        running_mode=vision.RunningMode.IMAGE if static else vision.RunningMode.VIDEO)
    image, world = [], []
    with native_logs_captured(), vision.PoseLandmarker.create_from_options(options) as marker:
        for i, frame in enumerate(frames):
            image_in = mp.Image(image_format=mp.ImageFormat.SRGB, data=frame)
            r = marker.detect(image_in) if static else marker.detect_for_video(
                image_in, TaskTracker.STEP_MS * (i + 1))
            if not r.pose_landmarks:
                image.append(np.full((33, 4), np.nan))
                world.append(np.full((33, 4), np.nan))
                continue
            image.append([(p.x, p.y, p.z, p.visibility) for p in r.pose_landmarks[0]])
            world.append([(p.x, p.y, p.z, p.visibility) for p in r.pose_world_landmarks[0]])
    return np.array(image, dtype=float), np.array(world, dtype=float)


def row(name: str, legacy: np.ndarray, tasks: np.ndarray, iod: bool) -> None:
    """Print the differences of (x, y) over frames where both found something."""
    both = np.isfinite(legacy).all(axis=(1, 2)) & np.isfinite(tasks).all(axis=(1, 2))
    found = (f"{both.sum()}/{len(both)} both, legacy only "
             f"{(np.isfinite(legacy).all(axis=(1, 2)) & ~both).sum()}, tasks only "
             f"{(np.isfinite(tasks).all(axis=(1, 2)) & ~both).sum()}")
    if not both.any():
        print(f"{name:22s} {found}")
        return
    diff = np.abs(legacy[both, :, :2] - tasks[both, :, :2])
    line = f"{name:22s} {found:34s} mean {diff.mean():.4f} max {diff.max():.4f}"
    if iod:
        distance = np.linalg.norm(legacy[both, :, :2] - tasks[both, :, :2], axis=-1)
        eyes = np.linalg.norm(legacy[both, 33, :2] - legacy[both, 263, :2], axis=-1)
        line += f"  mean {np.mean(distance / eyes[:, None]):.3f} IOD"
    print(line)


def main() -> None:
    """Write the frames, run both sides, print the differences."""
    from emo._native import model_path
    from emo.features.body.pose import MODEL
    from emo.features.face.landmarks import image_landmarks, track_landmarks

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--legacy-python", type=Path, required=True,
                        help="a Python with mediapipe==0.10.21 (legacy solutions)")
    parser.add_argument("--ckplus", type=Path,
                        default=Path(__file__).resolve().parents[1] / "../shared/data/ckplus48")
    parser.add_argument("--pose-bundle", type=Path, default=None,
                        help="a pose .task to check instead of emo's")
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--stills", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sets = {"face_video": face_video(folder, args.frames),
                "stills": stills(args.ckplus, args.stills),
                "pose_video": pose_video(args.frames)}
        np.savez(folder / "frames.npz", **sets)
        subprocess.run([str(args.legacy_python), "-c", LEGACY, str(folder / "frames.npz"),
                        str(folder / "legacy.npz"), str(POSE_STILL_STEP)], check=True,
                       stderr=subprocess.DEVNULL)
        legacy = dict(np.load(folder / "legacy.npz"))
    size = np.array([256.0, 256.0, 256.0])
    frames = sets["face_video"]
    _, points, _ = track_landmarks((i / 30, f) for i, f in enumerate(frames))
    still = np.stack([image_landmarks(s)[0] for s in sets["stills"]])
    bundle = args.pose_bundle or model_path(MODEL)
    pose_image, pose_world = tasks_pose(sets["pose_video"], bundle)
    print(f"legacy mediapipe 0.10.21 solutions vs emo's Tasks path ({sys.version.split()[0]});"
          " differences of normalised (x, y)")
    row("face video (tracking)", legacy["face_video"], points / size, iod=True)
    row("face stills (static)", legacy["stills"], still / size, iod=True)
    print(f"pose bundle: {bundle}")
    row("pose video: image", legacy["pose_image"][..., :3], pose_image[..., :3], iod=False)
    upper = list(range(UPPER_BODY))
    still, _ = tasks_pose(sets["pose_video"][::POSE_STILL_STEP], bundle, static=True)
    row("pose stills: upper", legacy["pose_still"][:, upper, :3], still[:, upper, :3],
        iod=False)
    row("legacy video vs still", legacy["pose_image"][::POSE_STILL_STEP][:, upper, :3],
        legacy["pose_still"][:, upper, :3], iod=False)
    row("tasks video vs still", pose_image[::POSE_STILL_STEP][:, upper, :3],
        still[:, upper, :3], iod=False)
    row("pose: upper body", legacy["pose_image"][:, upper, :3], pose_image[:, upper, :3],
        iod=False)
    both = np.isfinite(legacy["pose_world"]).all(axis=(1, 2)) & np.isfinite(pose_world).all(
        axis=(1, 2))
    if both.any():
        world = np.linalg.norm(legacy["pose_world"][both, :, :3] - pose_world[both, :, :3],
                               axis=-1)
        visible = np.abs(legacy["pose_world"][both, :, 3] - pose_world[both, :, 3])
        print(f"{'pose video: world':22s} mean {100 * world.mean():.2f} cm, max "
              f"{100 * world.max():.2f} cm (upper body: mean "
              f"{100 * world[:, :UPPER_BODY].mean():.2f} cm, max "
              f"{100 * world[:, :UPPER_BODY].max():.2f} cm); visibility mean |diff| "
              f"{visible.mean():.3f}")


if __name__ == "__main__":
    main()
