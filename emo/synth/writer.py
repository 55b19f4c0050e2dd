"""File output of the demo dataset: MP4 (H.264 + AAC), Kinect text, descriptors, test labels."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from emo.data.layouts.challenge import Descriptor, format_descriptor
from emo.data.skeleton import KINECT_JOINTS

#: Samples per AAC frame.
AAC_FRAME = 1024
#: One Kinect row: time (ms), body index, then per joint position (m) and rotation (deg).
KINECT_ROW_FORMAT = "%d;%d;" + "".join(["%.4f;%.4f;%.4f;%.2f;%.2f;%.2f;"] * len(KINECT_JOINTS))


def write_video(path: Path, frames: Iterable[np.ndarray], audio: np.ndarray, fps: float,
                sample_rate: int) -> None:
    """Write an MP4 file with one H.264 video stream and one mono AAC audio stream.

    Parameters
    ----------
    path
        Output file.
    frames
        RGB uint8 frames (height, width, 3), all the same size (even width and height).
    audio
        Mono float signal in [-1, 1] spanning the same duration as the frames.
    fps
        Frame rate.
    sample_rate
        Audio sample rate.
    """
    rate = Fraction(fps).limit_denominator(1001)
    audio = np.clip(audio, -1.0, 1.0).astype(np.float32)
    with av.open(str(path), "w", format="mp4") as box:
        video = None
        sound = box.add_stream("aac", rate=sample_rate, layout="mono",
                               options={"aac_coder": "fast"})
        sound.bit_rate = 32_000
        next_sample = 0
        for i, frame in enumerate(frames):
            if video is None:
                video = box.add_stream("libx264", rate=rate, options={
                    "crf": "27", "preset": "veryfast", "threads": "1"})
                video.height, video.width = frame.shape[:2]
                video.pix_fmt = "yuv420p"
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts = i
            box.mux(video.encode(picture))
            until = min(audio.size, int(round((i + 1) / fps * sample_rate)))
            while next_sample + AAC_FRAME <= until or (until == audio.size > next_sample):
                box.mux(sound.encode(_audio_frame(audio, next_sample, sample_rate)))
                next_sample += AAC_FRAME
        if video is not None:
            box.mux(video.encode(None))
        box.mux(sound.encode(None))


def _audio_frame(audio: np.ndarray, start: int, sample_rate: int) -> av.AudioFrame:
    chunk = audio[start:start + AAC_FRAME]
    frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
    frame.sample_rate = sample_rate
    frame.pts = start
    frame.time_base = Fraction(1, sample_rate)
    return frame


def format_kinect(times_ms: np.ndarray, body: int, positions: np.ndarray,
                  rotations: np.ndarray) -> str:
    """Kinect v2 text rows.

    Parameters
    ----------
    times_ms
        (T,) frame times in milliseconds.
    body
        Body index (0-5).
    positions, rotations
        (T, 25, 3) joint positions (m) and rotations (degrees).

    Returns
    -------
    str
        One ``;``-separated line of 152 values with a trailing ``;`` per frame.
    """
    n = times_ms.shape[0]
    table = np.concatenate([positions, rotations], axis=2).reshape(n, -1)
    rows = np.column_stack([np.round(times_ms), np.full(n, body), table])
    buffer = io.StringIO()
    np.savetxt(buffer, rows, fmt=KINECT_ROW_FORMAT, newline="\n")
    return buffer.getvalue()


def write_descriptor(path: Path, video: str, start: float, end: float, fps: float, kinect: str,
                     kinect_start: int, kinect_end: int) -> None:
    """Write one descriptor: video name, ``seconds:frame`` bounds, Kinect name and rows.

    Times are rounded to nanoseconds; frames are ``round(seconds * fps)``.
    """
    start, end = round(start, 9), round(end, 9)
    d = Descriptor(video, start, end, int(round(start * fps)), int(round(end * fps)),
                   kinect, kinect_start, kinect_end)
    path.write_text(format_descriptor(d), encoding="utf-8")


def write_labels(path: Path, rows: Sequence[tuple[str, str, str]]) -> None:
    """Write ``id,label,actor`` rows (the answers of the test takes), in id number order."""
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["id", "label", "actor"])
        out.writerows(sorted(rows, key=lambda row: (len(row[0]), row[0])))
