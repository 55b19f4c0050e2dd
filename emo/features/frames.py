"""Per-frame video analysis shared by all the clips of one recording: one decoding pass.

:class:`FrameExtractor` is the base of the extractors whose features are functionals of
per-frame measures of video frames (face landmarks, body pose). The extraction runner
(:mod:`emo.features.extract`) hands every clip of one video file, for every frame
extractor, to one call of :func:`analyse`, which works like this:

1. **Spans.** Each extractor's clips are sorted by start. Clips whose segments overlap
   (sliding windows of one recording) merge into one span, analysed once; a clip that
   overlaps no other (the takes of a recording; windows whose hop is at least their
   length) is a span of its own.
2. **One decode.** The union of all spans is decoded once by
   :class:`~emo.data.video.VideoReader`, which seeks over a gap only where a key frame
   lets it skip decoding; frames outside every span are never converted to RGB.
3. **One tracker per extractor** (a MediaPipe Tasks landmarker in VIDEO mode,
   :class:`TaskTracker`) measures the frames of the extractor's analysis grid
   (:func:`~emo.data.video.on_grid`: a rate fixed on the video's time line). Every span
   starts a new landmarker, so no state crosses spans.
4. **Clips are cut** from the per-frame measures as soon as decoding passes their end
   and written by the runner at once. Measures no pending clip needs are dropped, so
   memory holds measures (never images) of the longest clip, however long the file.

**Determinism.** A clip's features depend on its span only, never on which other clips
shared the pass: frames are chosen by time, and decoding on from an earlier segment or
from the key frame before a segment gives the same frames. A take that overlaps no
other is its own span, so a take computed alone (a resumed run) equals the same take
computed beside the others of its recording. Overlapping windows share the tracking of
their union, started at the first window of the run; a window computed in another run
of windows can differ from it in the last digits (its tracking started elsewhere).

**Windows** are plain clips with ``start``/``end`` on the same file, e.g. ``[t, t + 2)``
for ``t = 0, 1, 2...``; the runner groups them by file, so a list of window clips is
served by one pass, each with its own cache entry.
"""

from __future__ import annotations

import bisect
import importlib
import math
import os
import sys
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from emo._native import model_path
from emo.data.clip import Clip
from emo.errors import EmoError, MediaError
from emo.features.base import FRAMES, Extractor, Outcome, Stream

if TYPE_CHECKING:  # PyAV and OpenCV load when frames are decoded, not when extractors are made
    from emo.data.video import DecodedFrame, VideoReader

__all__ = ["FRAMES", "FrameExtractor", "TaskTracker", "Tracker", "analyse", "task_options",
           "track"]

#: Raw per-frame outputs condensed into measures at once (condensing is vectorised).
_CHUNK = 64


class Tracker(ABC):
    """A per-frame analyser with state carried from frame to frame (MediaPipe tracking)."""

    @abstractmethod
    def reset(self) -> None:
        """Forget earlier frames: the next frame starts a new span."""

    @abstractmethod
    def measure(self, image: np.ndarray) -> np.ndarray:
        """The raw per-frame output for one RGB ``uint8`` image (same shape every frame)."""


class TaskTracker(Tracker):
    """A MediaPipe Tasks landmarker (``FaceLandmarker``, ``PoseLandmarker``) as a frame tracker.

    In VIDEO mode every span gets a new landmarker: a landmarker keeps tracking and
    smoothing state that nothing in the Tasks API resets (not even a frame without a
    face or body), and a new one costs about 20 ms (face) to 100 ms (pose) once the models
    are in memory. Frames are sent with simulated time stamps 33 ms apart (the steps the
    legacy solutions used whatever the analysis rate), so a span's results depend on its
    frames only. In IMAGE mode (``static=True``, stills) the landmarker keeps no state and
    is kept for the tracker's life.

    MediaPipe's C++ code writes warnings to file descriptor 2 whenever a model starts
    ("Feedback manager requires a model..."), which no setting silences. While held, the
    tracker points fd 2 at a temporary file during each native call (two ``dup2`` per
    frame) and drops what was written, unless the call raises: then it goes to stderr.

    Parameters
    ----------
    make
        Makes a new landmarker (called inside the captured logs).
    static
        IMAGE mode: ``detect`` on each image, no state, no new landmarker per span.
    """

    #: Simulated time between two frames in milliseconds (as ``solution.process`` did).
    STEP_MS = 33

    def __init__(self, make: Callable[[], Any], *, static: bool = False) -> None:
        self._make = make
        self.static = static
        self._landmarker: Any = None
        self._clock = 0
        self._logs: IO[bytes] | None = None

    def __enter__(self) -> TaskTracker:
        self._logs = tempfile.TemporaryFile()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._logs is not None
        try:
            if not self.static:
                self._close()
        finally:
            self._logs.close()
            self._logs = None

    def reset(self) -> None:
        """The next frame starts a new landmarker (VIDEO mode; stills keep no state)."""
        if not self.static:
            self._close()

    def close(self) -> None:
        """Release the landmarker now (a still tracker otherwise keeps it)."""
        with self:
            self._close()

    def _close(self) -> None:
        if self._landmarker is not None:
            landmarker, self._landmarker = self._landmarker, None
            self._quiet(landmarker.close)

    def measure(self, image: np.ndarray) -> np.ndarray:
        """Run the landmarker on one image; :meth:`read` its result."""
        image = np.ascontiguousarray(image)
        return self.read(self._quiet(self._detect, image), image)

    def _detect(self, image: np.ndarray) -> Any:
        import mediapipe as mp

        if self._landmarker is None:
            self._landmarker = self._make()
            self._clock = 0
        frame = mp.Image(image_format=mp.ImageFormat.SRGB, data=image)
        if self.static:
            return self._landmarker.detect(frame)
        self._clock += self.STEP_MS
        return self._landmarker.detect_for_video(frame, self._clock)

    @abstractmethod
    def read(self, result: Any, image: np.ndarray) -> np.ndarray:
        """The per-frame output from the landmarker's result for ``image`` (NaN where
        nothing was found)."""

    def _quiet(self, call: Callable[..., Any], *args: Any) -> Any:
        """``call(*args)`` with fd 2 sent to the log file (written back if it raises)."""
        assert self._logs is not None, "hold the tracker (with tracker: ...) to use it"
        sys.stderr.flush()
        start = self._logs.seek(0, os.SEEK_END)
        saved = os.dup(2)
        os.dup2(self._logs.fileno(), 2)
        try:
            return call(*args)
        except BaseException:
            os.dup2(saved, 2)
            self._logs.seek(start)
            sys.stderr.write(self._logs.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def task_options(model: str, options: type, **settings: Any) -> Any:
    """Options of a MediaPipe Tasks landmarker for a model shipped with emo.

    Parameters
    ----------
    model
        A model of :data:`emo._native.MODELS` (checked against its SHA-256).
    options
        The options class, e.g. ``vision.FaceLandmarkerOptions``.
    settings
        Further options; ``running_mode`` given as ``"VIDEO"`` or ``"IMAGE"``.
    """
    from mediapipe.tasks.python import BaseOptions, vision

    mode = getattr(vision.RunningMode, settings.pop("running_mode"))
    return options(base_options=BaseOptions(model_asset_path=str(model_path(model))),
                   running_mode=mode, **settings)


def track(tracker: TaskTracker, frames: Iterable[tuple[float, np.ndarray]],
          ) -> tuple[np.ndarray, np.ndarray]:
    """Run a tracker over frames from a fresh state (one span).

    Parameters
    ----------
    tracker
        The tracker (held for the duration).
    frames
        ``(time in seconds, RGB uint8 image)`` pairs in time order.

    Returns
    -------
    times : numpy.ndarray
        ``(n_frames,)``.
    outputs : numpy.ndarray
        The tracker's raw outputs stacked over frames, ``(n_frames, ...)`` (``(0,)``
        without frames).
    """
    times: list[float] = []
    outputs: list[np.ndarray] = []
    with tracker:
        tracker.reset()
        for t, image in frames:
            times.append(t)
            outputs.append(tracker.measure(image))
    return np.asarray(times, dtype=float), (np.stack(outputs) if outputs else np.zeros(0))


class FrameExtractor(Extractor):
    """An extractor whose features are functionals of per-frame measures of video frames.

    Subclasses give the analysis rate (:meth:`analysis_fps`), the frame size
    (``max_side``), a :meth:`tracker`, how raw per-frame outputs become measures
    (:meth:`condense`, vectorised over frames) and how a clip's measures become its
    features (:meth:`summarise`). :meth:`extract` of one clip runs the same pass as the
    runner does for many, so a clip computed alone equals the clip computed in a batch.
    """

    #: Frames are downscaled so that their longer side is at most this (``None``: kept).
    max_side: int | None

    @abstractmethod
    def analysis_fps(self) -> float | None:
        """Frames analysed per second (``None``: every frame)."""

    @abstractmethod
    def tracker(self) -> AbstractContextManager[Tracker]:
        """This process's tracker for these settings, held for one pass."""

    def warm(self) -> None:
        """Load the video decoder and MediaPipe, and run a tracker on a photograph of a
        person (``skimage.data.astronaut()``: a face, head and shoulders), so that the
        process has loaded the native libraries and models before the first clip (every
        span starts a new landmarker, so this changes no result)."""
        importlib.import_module("emo.data.video")  # PyAV and OpenCV
        from skimage import data

        image = data.astronaut()
        with self.tracker() as tracker:
            for _ in range(3):  # detection, then tracking
                tracker.measure(image)
            tracker.reset()

    def condense(self, raw: np.ndarray) -> np.ndarray:
        """Per-frame measures from raw tracker outputs stacked over frames (default: as is)."""
        return raw

    @abstractmethod
    def summarise(self, clip: Clip, times: np.ndarray, measures: np.ndarray) -> dict[str, float]:
        """Features of a clip from its frames' times and measures (prefixed names).

        Raises
        ------
        FeatureError
            When the frames hold nothing to measure (no face, no body).
        """

    def video(self, clip: Clip) -> Path | None:
        """The video file this extractor analyses for ``clip`` (``None``: none)."""
        return clip.video

    def stream(self, clip: Clip) -> Stream | None:
        """The clip's video: every clip of one file is served by one :func:`analyse`."""
        path = self.video(clip)
        return None if path is None else Stream(FRAMES, path)

    def extract(self, clip: Clip) -> dict[str, float]:
        """Features of one clip: :func:`analyse` with this clip alone."""
        ((_, outcome),) = analyse([(self, clip)])
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    @staticmethod
    def extract_batch(requests: Sequence[tuple[Extractor, Clip]]) -> Iterator[tuple[int, Outcome]]:
        """All clips of one video, for every frame extractor, in one pass (:func:`analyse`);
        requests on another stream kind one after the other."""
        extractor, clip = requests[0]
        stream = extractor.stream(clip)
        if stream is None or stream.kind != FRAMES:
            return Extractor.extract_batch(requests)
        return analyse(requests)  # type: ignore[arg-type]


@dataclass
class _Span:
    """Overlapping clips of one extractor, analysed with one tracking run.

    ``clips`` (index, clip, start, end) are in start order; ``by_end`` holds their
    positions in end order, so finding the clips a frame completes, and the earliest
    start still pending, costs O(1) a frame however many windows the span holds.
    """

    start: float
    end: float
    clips: list[tuple[int, Clip, float, float]] = field(default_factory=list)
    by_end: list[int] = field(default_factory=list)
    completed: int = 0  # clips done: by_end[:completed]
    first_pending: int = 0  # position in clips of the earliest-starting clip not done
    done: set[int] = field(default_factory=set)  # positions of the clips done

    def complete(self, time: float, half: float) -> Iterator[tuple[int, Clip, float, float]]:
        """Take out and yield the clips that end at or before ``time`` (half a frame)."""
        while self.completed < len(self.by_end):
            position = self.by_end[self.completed]
            if time < self.clips[position][3] - half:
                break
            self.completed += 1
            self.done.add(position)
            yield self.clips[position]
        while self.first_pending < len(self.clips) and self.first_pending in self.done:
            self.first_pending += 1

    def pending(self) -> list[tuple[int, Clip, float, float]]:
        """The clips not yet done, in start order."""
        return [c for i, c in enumerate(self.clips) if i not in self.done]

    def earliest_start(self) -> float:
        """The start of the earliest clip not yet done (``inf``: all done)."""
        if self.first_pending >= len(self.clips):
            return math.inf
        return self.clips[self.first_pending][2]


class _Analysis:
    """One extractor's part of a pass: its spans, tracker state and frame buffer."""

    def __init__(self, extractor: FrameExtractor, clips: list[tuple[int, Clip]],
                 reader: VideoReader) -> None:
        from emo.data.video import on_grid

        self.extractor = extractor
        self.fps = extractor.analysis_fps()
        self.on_grid = partial(on_grid, fps=self.fps, source_fps=reader.fps)
        self.half = reader.half_frame
        self.spans: list[_Span] = []
        for index, clip in sorted(clips, key=lambda ic: _bounds(ic[1])):
            start, end = _bounds(clip)
            if self.spans and start < self.spans[-1].end:
                self.spans[-1].end = max(self.spans[-1].end, end)
            else:
                self.spans.append(_Span(start, end))
            self.spans[-1].clips.append((index, clip, start, end))
        for span in self.spans:
            span.by_end = sorted(range(len(span.clips)), key=lambda i: span.clips[i][3])
        self.current = 0  # index of the span being analysed
        self.started = False  # whether the tracker was reset for the current span
        self.times: list[float] = []
        self.measures: list[np.ndarray] = []
        self.raw: list[np.ndarray] = []
        self.tracker: Tracker | None = None

    def feed(self, frame: DecodedFrame) -> Iterator[tuple[int, Outcome]]:
        """Take one decoded frame; yield the clips it completes."""
        time = frame.time
        yield from self._complete(time)
        if self.current >= len(self.spans):
            return
        span = self.spans[self.current]
        if time < span.start - self.half or not self.on_grid(time):
            return
        assert self.tracker is not None
        if not self.started:
            self.tracker.reset()
            self.started = True
        self.times.append(time)
        self.raw.append(self.tracker.measure(frame.image(self.extractor.max_side)))
        if len(self.raw) >= _CHUNK:
            self._condense()

    def finish(self, error: MediaError | None,
               reader: VideoReader) -> Iterator[tuple[int, Outcome]]:
        """Yield every clip not yet completed: cut from what was measured, or ``error``."""
        for span in self.spans[self.current:]:
            for index, clip, start, end in span.pending():
                failed = error or reader.truncation(clip.end)
                yield index, failed if failed is not None else self._cut(clip, start, end)
        self.current = len(self.spans)

    def _complete(self, time: float) -> Iterator[tuple[int, Outcome]]:
        """Yield the clips of the current span that end before ``time``; move on past
        spans that end before it."""
        while self.current < len(self.spans):
            span = self.spans[self.current]
            for index, clip, start, end in span.complete(time, self.half):
                yield index, self._cut(clip, start, end)
            self._drop_before(span.earliest_start())
            if span.earliest_start() < math.inf:
                return
            self.current += 1
            self.started = False

    def _condense(self) -> None:
        if self.raw:
            self.measures.extend(self.extractor.condense(np.stack(self.raw)))
            self.raw = []

    def _drop_before(self, start: float) -> None:
        """Forget frames before ``start`` (no pending clip needs them)."""
        if not self.times or self.times[0] >= start - self.half:
            return
        self._condense()
        keep = bisect.bisect_left(self.times, start - self.half)
        del self.times[:keep], self.measures[:keep]

    def _cut(self, clip: Clip, start: float, end: float) -> Outcome:
        """The clip's features from the buffered frames of its segment ``[start, end)``."""
        self._condense()
        times = np.asarray(self.times)
        lo, hi = np.searchsorted(times, [start - self.half, end - self.half])
        if hi <= lo:
            rate = "" if not self.fps else f" on the {self.fps:g} fps analysis grid"
            segment = f"[{start:g}, {'end' if end == math.inf else f'{end:g}'}) s"
            return MediaError(f"no decodable video frame{rate} in the segment {segment}",
                              self.extractor.video(clip))
        try:
            return self.extractor.summarise(clip, times[lo:hi], np.stack(self.measures[lo:hi]))
        except EmoError as exc:
            return exc


def _bounds(clip: Clip) -> tuple[float, float]:
    """A clip's segment with open ends made explicit: ``[start or 0, end or inf)``."""
    return (clip.start or 0.0, math.inf if clip.end is None else clip.end)


def analyse(requests: Sequence[tuple[FrameExtractor, Clip]]) -> Iterator[tuple[int, Outcome]]:
    """Serve every (frame extractor, clip) of one video file with one decoding pass.

    Parameters
    ----------
    requests
        Pairs whose clips all read the same video (:meth:`FrameExtractor.video`).

    Yields
    ------
    tuple of (int, dict or EmoError)
        The request's index and its features, or the error that prevented them, as soon
        as each clip is done (not in request order). Every request is answered once.
    """
    from emo.data.video import VideoReader, check_segment

    path = requests[0][0].video(requests[0][1])
    try:
        reader = VideoReader(path)
    except MediaError as exc:
        for index in range(len(requests)):
            yield index, exc
        return
    with reader, ExitStack() as stack:
        by_extractor: dict[int, list[tuple[int, Clip]]] = {}
        extractors: dict[int, FrameExtractor] = {}
        for index, (extractor, clip) in enumerate(requests):
            try:
                check_segment(path, clip.start, clip.end)
                reader.check_start(clip.start)
            except MediaError as exc:
                yield index, exc
                continue
            extractors.setdefault(id(extractor), extractor)
            by_extractor.setdefault(id(extractor), []).append((index, clip))
        analyses = [_Analysis(extractors[k], clips, reader) for k, clips in by_extractor.items()]
        for analysis in analyses:
            analysis.tracker = stack.enter_context(analysis.extractor.tracker())
        segments = [(s.start, s.end) for a in analyses for s in a.spans]
        error: MediaError | None = None
        try:
            for frame in reader.frames(segments):
                for analysis in analyses:
                    yield from analysis.feed(frame)
        except MediaError as exc:
            error = exc
        for analysis in analyses:
            yield from analysis.finish(error, reader)

