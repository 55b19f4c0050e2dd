"""Small H.264 videos written by the feature tests."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np


def write_video(path: Path, frames: Iterable[np.ndarray], fps: int = 30) -> Path:
    """Write RGB ``uint8`` frames (even width and height) as an H.264 MP4; return ``path``."""
    with av.open(str(path), "w") as container:
        stream = None
        for image in frames:
            if stream is None:
                stream = container.add_stream("libx264", rate=fps)
                stream.height, stream.width = image.shape[:2]
                stream.pix_fmt = "yuv420p"
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        if stream is not None:
            container.mux(stream.encode())
    return path


def ramp(n: int, size: tuple[int, int] = (64, 48)) -> list[np.ndarray]:
    """``n`` grey frames (width, height ``size``) whose frame i has grey level 4 * i."""
    return [np.full((size[1], size[0], 3), 4 * i, np.uint8) for i in range(n)]


def face_video(path: Path, n: int, *, blank_after: int | None = None) -> Path:
    """A 30 fps video of the astronaut's face drifting to the right (blank frames at the end)."""
    from skimage.data import astronaut

    photo = astronaut()[20:260, 110:350]  # 240 x 240, the face in the middle
    frames = []
    for i in range(n):
        frame = np.full((240, 320, 3), 90, np.uint8)
        if blank_after is None or i < blank_after:
            frame[:, 2 * i:2 * i + 240] = photo
        frames.append(frame)
    return write_video(path, frames)
