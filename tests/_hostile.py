"""Hostile media made by the tests: tiny files that declare far more than they hold."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
from PIL import Image

SR = 16_000


def bomb_jpeg(path: Path, width: int = 30_000, height: int = 30_000) -> Path:
    """A JPEG of a few hundred bytes whose frame header (SOF0) declares ``width`` x
    ``height`` pixels: an 8 x 8 image with the size patched."""
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), 120, np.uint8)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.find(b"\xff\xc0")  # marker, length (2), precision (1), height (2), width (2)
    assert sof > 0
    data[sof + 5:sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path


def lying_mkv(path: Path, seconds: float) -> Path:
    """A Matroska file of ``seconds`` of FLAC audio whose Duration element is renamed, so
    that its header says it lasts 0 s."""
    rng = np.random.default_rng(0)
    n = round(seconds * SR)
    t = np.arange(n) / SR
    signal = 0.1 * np.sin(2 * np.pi * 150 * t) + 0.01 * rng.standard_normal(n)
    samples = (signal * 2**15).astype("<i2")
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="matroska") as container:
        stream = container.add_stream("flac", rate=SR)
        for k in range(0, n, 4096):
            frame = av.AudioFrame.from_ndarray(samples[None, k:k + 4096], format="s16",
                                               layout="mono")
            frame.sample_rate, frame.pts = SR, k
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    data = bytearray(buffer.getvalue())
    duration = data.find(b"\x44\x89")  # the Segment Info's Duration element ID
    assert duration > 0
    data[duration:duration + 2] = b"\x44\x88"  # an unknown ID: readers skip it
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path
