"""Build ``emo/assets/pose_landmarker_full.task`` from the legacy MediaPipe pose models.

MediaPipe releases after 0.10.21 ship no model files, and no pose ``.task`` bundle is
available offline. The ``mediapipe==0.10.21`` wheel holds the two Apache-2.0 models of
the legacy Pose solution (``model_complexity=1``):

- ``modules/pose_detection/pose_detection.tflite`` (BlazePose detector, 224 x 224 input),
- ``modules/pose_landmark/pose_landmark_full.tflite`` (BlazePose GHUM 3D full, 256 x 256).

The Tasks ``PoseLandmarker`` wants image-normalisation metadata in each float model, which
these files lack. This script adds it with the metadata writer of that release, using the
input ranges of the legacy graphs (``ImageToTensorCalculator`` ``output_tensor_float_range``:
[-1, 1] for the detector, [0, 1] for the landmark model; ``tools/landmark_fidelity.py``
checks the result against the legacy solution on the same frames), and zips them under the
names the Tasks graph reads, with fixed time stamps, so the bundle is byte-for-byte
reproducible. Run it with Python 3.11 and ``mediapipe==0.10.21`` (see docs/models.md)::

    python tools/build_pose_bundle.py emo/assets/pose_landmarker_full.task
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import zipfile
from pathlib import Path

#: (name inside the bundle, file in the 0.10.21 wheel, normalisation mean, std): the
#: model sees (pixel - mean) / std, so 127.5/127.5 maps [0, 255] to [-1, 1], 0/255 to [0, 1].
MODELS = (
    ("pose_detector.tflite", "modules/pose_detection/pose_detection.tflite", 127.5, 127.5),
    ("pose_landmarks_detector.tflite", "modules/pose_landmark/pose_landmark_full.tflite",
     0.0, 255.0),
)
#: Output tensors of each model (the writer wants one entry per tensor).
OUTPUTS = {"pose_detector.tflite": 2, "pose_landmarks_detector.tflite": 5}
#: Zip entry time stamp (the earliest a zip can hold): the same bytes on every run.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def with_metadata(model: bytes, mean: float, std: float, name: str) -> bytes:
    """``model`` with RGB image-input normalisation metadata and plain output entries."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer

    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_general_info(name, "MediaPipe legacy Pose model (Apache-2.0)")
    writer.add_image_input(norm_mean=[mean], norm_std=[std])
    for _ in range(OUTPUTS[name]):
        writer.add_feature_output()
    return bytes(writer.populate()[0])


def build(out: Path) -> dict[str, str]:
    """Write the bundle atomically; return the sha256 of every input and output file."""
    import mediapipe

    if mediapipe.__version__ != "0.10.21":
        sys.exit(f"needs mediapipe==0.10.21 (Python 3.11), found {mediapipe.__version__}")
    root = Path(mediapipe.__file__).parent
    sums: dict[str, str] = {}
    entries: list[tuple[str, bytes]] = []
    for name, source, mean, std in MODELS:
        raw = (root / source).read_bytes()
        sums[source] = sha256(raw)
        model = with_metadata(raw, mean, std, name)
        sums[name] = sha256(model)
        entries.append((name, model))
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w") as bundle:
            for name, model in entries:
                info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
                info.compress_type = zipfile.ZIP_STORED
                info.external_attr = 0o644 << 16
                bundle.writestr(info, model)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    sums[out.name] = sha256(out.read_bytes())
    return sums


def main() -> None:
    """Command line: the output path; prints the sha256 of every file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, nargs="?",
                        default=Path(__file__).parents[1] / "emo/assets/pose_landmarker_full.task")
    for name, digest in build(parser.parse_args().out).items():
        print(f"{digest}  {name}")


if __name__ == "__main__":
    main()
