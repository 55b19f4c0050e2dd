"""The HTTP service (``emo serve``): feature extraction and prediction over FastAPI.

A thin shell over :mod:`emo.api`, sharing the feature cache (and its keys) with the
command line, so a clip the CLI already extracted is answered from the cache.

Endpoints
---------
``POST /extract``
    Multipart form: ``file`` (video or audio), optional ``skeleton`` (Kinect ``.txt``);
    query ``modalities=audio,face``. Returns the feature row of each modality as JSON, or
    the joined table as Parquet when the request has ``Accept: application/vnd.apache.parquet``.
``POST /predict``
    Same inputs, with the model given at start: class probabilities per modality and fused,
    the fused class, the clip's group and the model's top features with this clip's values;
    ``?window=2&hop=1`` adds the predictions of sliding windows (:func:`emo.api.predict_windows`,
    the function behind ``emo predict --window``), computed with the whole clip in one pass.

Both answers are pydantic models (:class:`PredictAnswer`, :class:`ExtractAnswer`), so
``/docs`` and ``/openapi.json`` show their schema.
``GET /health``, ``GET /version``, ``GET /docs`` (OpenAPI), ``GET /`` (a page to drop a clip
on, drawing windowed predictions as a timeline).

Work runs in a pool of ``workers`` processes (MediaPipe graphs are not thread-safe, so each
process builds its own; each loads the model once); at most ``workers`` jobs run at once,
at most ``max_queue`` more wait, further requests get ``503``. A job that outlives its
request's timeout is stopped: its worker is killed and replaced. Workers end with the
service, even when it is killed, and their decoders stop at ``max_duration_s`` of media
whatever the file's header says. Uploads live in a temporary folder (``emo-upload-*``)
removed when the job that reads them ends; long file names are shortened. Errors: ``413``
upload too large, ``415`` unsupported media type, ``422`` unreadable, too large or too long
media, no modality readable, or a worker that died on it (with the file and the reason),
``503`` busy, ``504`` timeout.

Examples
--------
>>> app = create_app(None, cache="cache")
>>> sorted(r.path for r in app.routes if r.path in ("/extract", "/predict", "/health"))
['/extract', '/health', '/predict']
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import io
import ipaddress
import logging
import math
import mimetypes
import multiprocessing
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from emo import __version__, api
from emo.errors import EmoError

__all__ = ["MIN_WINDOW", "PARQUET", "UPLOAD_PREFIX", "ExtractAnswer", "PredictAnswer",
           "create_app", "run_server"]

log = logging.getLogger("emo")

#: Media type of Parquet answers (ask for it with the ``Accept`` header).
PARQUET = "application/vnd.apache.parquet"
#: Prefix of the temporary upload folders.
UPLOAD_PREFIX = "emo-upload-"
#: Shortest ``window`` and ``hop`` accepted by ``/predict``, in seconds.
MIN_WINDOW = 0.5
#: Seconds running requests get to finish when the service is stopped (SIGTERM, Ctrl-C);
#: then their jobs are stopped.
SHUTDOWN_S = 2.0
#: Longest stem kept of an uploaded file's name (its clip id), in UTF-8 bytes.
MAX_STEM = 120
#: Top features of each modality shown with a prediction.
TOP_FEATURES = 5
_MEDIA_SUFFIXES = frozenset(api.AUDIO_SUFFIXES + api.VIDEO_SUFFIXES)


# -- work done in the worker processes ---------------------------------------------------
@dataclass(frozen=True)
class _Upload:
    """The uploaded files, in a temporary folder of their own."""

    folder: Path
    media: Path
    skeleton: Path | None

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _public(text: str) -> str:
    """A message without the server's upload folders (also those of earlier uploads of the
    same content, named by failures the cache remembers)."""
    return re.sub(rf"{re.escape(tempfile.gettempdir())}/{UPLOAD_PREFIX}[^/]+/", "", text)


@dataclass(frozen=True)
class _Job:
    """What a worker needs: the upload, the cache and the options."""

    upload: _Upload
    cache: Path
    modalities: tuple[str, ...] | None = None
    window: float | None = None
    hop: float | None = None
    duration: float | None = None

    def failures(self, failures: list[Any]) -> list[dict[str, str]]:
        """Failures as JSON, without the server's folders."""
        return [{"id": f.clip_id, "modality": f.modality,
                 "reason": _public(f.reason)} for f in failures]


@functools.cache
def _bundle(model: Path) -> Any:
    """The model, loaded once per worker process."""
    return api.load_model(model)


@functools.cache
def _top(model: Path) -> dict[str, Any]:
    """The model's most important features per modality, ranked once per worker."""
    return _bundle(model).top_features(TOP_FEATURES)


@functools.cache
def _warm_worker(model: Path | None) -> dict[str, dict[str, Any]]:
    """Load the model and everything the extractors load on first use (MediaPipe graphs)
    once, so that no request pays for it and memory stays flat; the identities of the
    default extractors, for ``/version``."""
    if model is not None:
        api.warm(_bundle(model))
    return api.warm()


def _trim_heap() -> None:
    """Give the heap memory this process has freed back to the system (glibc's
    ``malloc_trim``; nothing where the C library lacks it).

    glibc keeps freed memory for reuse, in fragments: without the trim each worker grew by
    ~200 MB over its first video requests, with it by ~30 MB (``benchmarks/serve_load.py``).
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """The C library's ``malloc_trim``, looked up once (``None`` without one)."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        return ctypes.CDLL(None).malloc_trim
    return None


def _worker_call(fn: Callable[..., Any], *args: Any) -> Any:
    """Worker: ``fn(*args)``, then :func:`_trim_heap`."""
    try:
        return fn(*args)
    finally:
        _trim_heap()


def _extract_job(job: _Job) -> dict[str, Any]:
    """Worker: features of the uploaded clip (through the cache)."""
    feats = api.features([job.upload.media], skeleton=job.upload.skeleton,
                         modalities=job.modalities, cache=job.cache)
    return {"frame": feats.frame(), "failures": job.failures(feats.report.failures),
            "computed": feats.report.computed, "cached": feats.report.cached}


def _predict_job(job: _Job, model: Path) -> dict[str, Any]:
    """Worker: the answer of ``/predict`` (whole clip, and windows when asked), from one
    extraction and one prediction of the upload.

    Raises
    ------
    EmoError
        When no modality of the clip can be read (the message names the file and why).
    """
    bundle = _bundle(model)
    media, skeleton = job.upload.media, job.upload.skeleton
    if job.window is None:
        prediction = api.predict(bundle, [media], skeleton=skeleton, cache=job.cache)
    else:
        prediction = api.predict_windows(bundle, media, window=job.window, hop=job.hop,
                                         skeleton=skeleton, whole=True,
                                         duration=job.duration, cache=job.cache)
    clip_id = media.stem
    failures = [f for f in prediction.report.failures if f.clip_id == clip_id]
    if clip_id not in set(prediction.frame["id"]):  # the reasons name the file
        raise EmoError("; ".join(f["reason"] for f in job.failures(failures)))
    answer = {**_clip_answer(prediction, clip_id), "failures": job.failures(failures),
              "top_features": _top_features(model, prediction.features.loc[clip_id],
                                            prediction.probabilities)}
    if job.window is not None:
        rows = prediction.frame[prediction.frame["id"] != clip_id]
        answer["windows"] = [{**_clip_answer(prediction, w["id"]), "start": float(w["start"]),
                              "end": float(w["end"])} for w in rows.to_dict("records")]
        answer["window_failures"] = job.failures(
            [f for f in prediction.unpredicted() if f.clip_id != clip_id])
    return answer


def _clip_answer(prediction: Any, clip_id: str) -> dict[str, Any]:
    """One clip's (or window's) fused class and probabilities, group, and each modality's
    class and probabilities, from the prediction's probability tables."""
    fused = prediction.probabilities["fused"].loc[clip_id]
    return {"id": str(clip_id), "class": str(fused.idxmax()),
            "group": str(prediction.groups.loc[clip_id]),
            "fused": {str(c): float(p) for c, p in fused.items()},
            "modalities": {m: {"class": str(p.loc[clip_id].idxmax()),
                               "probabilities": {str(c): float(v)
                                                 for c, v in p.loc[clip_id].items()}}
                           for m, p in prediction.probabilities.items()
                           if m != "fused" and clip_id in p.index}}


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _top_features(model: Path, values: Any, modalities: Mapping[str, Any]
                  ) -> list[dict[str, Any]]:
    """The model's most important features of the modalities the clip has, with the
    clip's values."""
    return [{"modality": m, "name": str(name), "importance": float(importance),
             "value": _finite(values[name])}
            for m, top in _top(model).items() if m in modalities
            for name, importance in top.items()]


# -- uploads, limits and the worker pool -------------------------------------------------
def _safe_name(filename: str | None, content_type: str | None, default: str) -> str:
    """A file name safe to create in the upload folder, keeping the stem and suffix;
    a name without suffix gets one from the content type; a long stem is cut to
    :data:`MAX_STEM` bytes (file systems refuse names over 255 bytes).

    Examples
    --------
    >>> _safe_name("../a b.wav", None, "upload")
    'a_b.wav'
    >>> len(_safe_name("x" * 300 + ".wav", None, "upload"))
    124
    """
    name = re.sub(r"[^\w.\-@]+", "_", Path(filename or "").name).strip("._") or default
    if not Path(name).suffix and content_type:
        name += mimetypes.guess_extension(content_type.split(";")[0].strip()) or ""
    stem, suffix = Path(name).stem, Path(name).suffix
    if len(suffix) > 16:  # not a media suffix: part of the stem
        stem, suffix = name, ""
    return stem.encode()[:MAX_STEM].decode(errors="ignore") + suffix


def _by_modality(row: Mapping[str, float]) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    for name, value in row.items():
        modality, sep, _ = name.partition("__")
        if sep:
            out.setdefault(modality, {})[name] = _finite(value)
    return out


class _TooLarge(Exception):
    """The request body exceeds the upload limit."""


class _BodyLimit:
    """ASGI middleware answering ``413`` to a request body over ``max_bytes``: from the
    ``Content-Length`` header before reading, or while a chunked body streams in."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length", b"").decode()
        if length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(send, int(length))
            return
        received = 0
        over = False

        async def limited() -> dict:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    over = True
                    raise _TooLarge
            return message

        async def guarded(message: dict) -> None:
            if not over:  # the app's own answer to the aborted body is replaced below
                await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, limited, guarded)
        if over:
            await self._refuse(send, received)

    async def _refuse(self, send: Callable, size: int) -> None:
        detail = (f"upload of {size / 1e6:.1f} MB or more exceeds the limit of "
                  f"{self.max_bytes / 1e6:g} MB")
        await JSONResponse({"detail": detail}, status_code=413)(
            {"type": "http"}, _no_receive, send)


async def _no_receive() -> dict:  # pragma: no cover - JSONResponse never reads
    return {"type": "http.disconnect"}


class _Busy(Exception):
    """Every worker is busy and the waiting queue is full."""


class _WorkerDied(Exception):
    """The worker process running a job died (a crash in native code, out of memory)."""


class _Stopping(Exception):
    """The service is stopping: its workers are stopped, no job runs any more."""


def _start_worker(parent: int, model: Path | None, max_duration: float) -> None:
    """Worker initializer: die with the service, bound decoding, warm (:func:`_warm_worker`).

    A warm-up that fails (an extractor's library missing) is logged, not raised: an
    initializer that raises breaks the worker for good, while the extractors that work
    can still serve, and the others fail per request with their reason.
    """
    api.start_worker(parent, max_duration)
    try:
        _warm_worker(model)
    except Exception as exc:  # noqa: BLE001 - reported per request by the extractor
        log.warning("worker warm-up failed (%s: %s); requests that need it will fail",
                    type(exc).__name__, exc)


class _Pool:
    """``workers`` worker processes, each its own one-process executor, with at most
    ``max_queue`` jobs waiting for one.

    A job whose request is cancelled (timed out, or the service stops) has its worker
    process killed and replaced, so the next request is served; a job whose worker dies
    raises :class:`_WorkerDied` and the worker is replaced too. A job owns its upload
    folder from submission on: the folder is removed when the job really ends. Executors
    are made, and their processes started, from the event loop's thread only (a worker
    dies with the thread that started it, see :func:`emo.api.start_worker`).
    """

    def __init__(self, workers: int, max_queue: int, model: Path | None,
                 max_duration: float) -> None:
        self.workers = workers
        self.max_queue = max_queue
        self.model = model
        self.max_duration = max_duration
        self.running = 0
        self.waiting = 0
        self.stopping = False
        self._loop = asyncio.get_running_loop()
        self._idle: asyncio.Queue[int] = asyncio.Queue()
        self._warming: set[asyncio.Task] = set()  # replacements starting (kept referenced)
        self._executors = [self._new_executor() for _ in range(workers)]

    def _new_executor(self) -> ProcessPoolExecutor:
        """One worker process, prepared by :func:`_start_worker` when it starts."""
        return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker,
                                   initargs=(os.getpid(), self.model, self.max_duration))

    @property
    def idle(self) -> int:
        """Workers started and free for a job."""
        return self._idle.qsize()

    async def warm(self) -> dict[str, dict[str, Any]]:
        """Start the worker processes (each loads the model and the extractors' graphs as
        it starts); the extractors' identities."""
        done = await asyncio.gather(*(self._warm(index) for index in range(self.workers)))
        return done[0]

    async def _warm(self, index: int) -> dict[str, dict[str, Any]]:
        """Start worker ``index`` and make it available; what it warmed (``{}`` when it
        could not start: its next job then reports the failure)."""
        try:
            return await asyncio.wrap_future(
                self._executors[index].submit(_warm_worker, self.model))
        except Exception:  # noqa: BLE001 - logged by the worker; its jobs report it
            return {}
        finally:
            self._idle.put_nowait(index)

    async def run(self, cleanup: Callable[[], None], fn: Callable, *args: Any) -> Any:
        """Run ``fn(*args)`` in a worker; ``cleanup()`` runs exactly once, when it ends.

        Raises
        ------
        _Busy
            When the waiting queue is full.
        _WorkerDied
            When the worker process died during the job.
        """
        index = None
        try:
            if self._idle.empty() and self.waiting >= self.max_queue:
                raise _Busy
            self.waiting += 1
            try:
                index = await self._idle.get()
            finally:
                self.waiting -= 1
            if self.stopping:
                raise _Stopping
            self.running += 1
            try:
                return await self._submit(index, fn, *args)
            finally:
                self.running -= 1
        except (asyncio.CancelledError, _WorkerDied):  # timed out, service stops, or dead
            if index is not None:
                self._replace(index)
                index = None
            raise
        finally:
            cleanup()
            if index is not None:
                self._idle.put_nowait(index)
            _trim_heap()  # the upload's buffers, here too

    async def _submit(self, index: int, fn: Callable, *args: Any) -> Any:
        try:
            future = self._executors[index].submit(_worker_call, fn, *args)
        except BrokenProcessPool:  # the idle worker died (e.g. killed): start a new one
            self._replace(index, warm=False)
            future = self._executors[index].submit(_worker_call, fn, *args)
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            raise _Stopping if self.stopping else _WorkerDied from None

    def _replace(self, index: int, *, warm: bool = True) -> None:
        """Kill worker ``index`` and make a new one; with ``warm``, start it at once and
        make it available when it is ready (else the caller keeps it)."""
        _kill(self._executors[index])
        if self.stopping:
            return
        self._executors[index] = self._new_executor()
        if warm:
            task = asyncio.get_running_loop().create_task(self._warm(index))
            self._warming.add(task)
            task.add_done_callback(self._warming.discard)

    def stop_soon(self) -> None:
        """Stop the workers at once, running jobs included (their requests get ``503``),
        and refuse new jobs; safe to call from a signal handler or another thread."""
        self._loop.call_soon_threadsafe(self._stop)

    def _stop(self) -> None:
        self.stopping = True
        self._idle.put_nowait(0)  # wakes the waiting jobs, one after the other, to refuse
        self.shutdown()

    def shutdown(self) -> None:
        """Stop the worker processes at once, running jobs included."""
        for executor in self._executors:
            _kill(executor)


def _kill(executor: ProcessPoolExecutor) -> None:
    """Kill an executor's processes and let it go (no waiting for its jobs)."""
    processes = list((getattr(executor, "_processes", None) or {}).values())
    for process in processes:
        with contextlib.suppress(OSError, ValueError):
            process.kill()
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AssertionError):
            process.join(5)
    executor.shutdown(wait=False, cancel_futures=True)


async def _save(file: UploadFile, skeleton: UploadFile | None,
                limits: api.ServeLimits) -> _Upload:
    """Write the uploads into a fresh temporary folder, checking type and size."""
    folder = Path(tempfile.mkdtemp(prefix=UPLOAD_PREFIX))
    try:
        media = folder / _safe_name(file.filename, file.content_type, "upload")
        if media.suffix.lower() not in _MEDIA_SUFFIXES:
            raise HTTPException(415, f"unsupported media type {media.suffix or '(none)'!r} of "
                                     f"{media.name!r} (expected audio "
                                     f"{', '.join(api.AUDIO_SUFFIXES)} or video "
                                     f"{', '.join(api.VIDEO_SUFFIXES)})")
        paths = [(file, media)]
        if skeleton is not None:
            paths.append((skeleton, folder / ("skeleton_" + _safe_name(
                skeleton.filename, None, "kinect.txt"))))
        total = 0
        for upload, path in paths:
            with path.open("wb") as out:
                while chunk := await upload.read(1 << 20):
                    total += len(chunk)
                    if total > limits.max_bytes:
                        raise HTTPException(413, f"upload exceeds the limit of "
                                                 f"{limits.max_upload_mb:g} MB")
                    out.write(chunk)
        if media.stat().st_size == 0:
            raise HTTPException(422, f"{media.name}: file is empty (0 bytes)")
        return _Upload(folder, media, paths[1][1] if skeleton is not None else None)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


async def _checked_duration(upload: _Upload, limits: api.ServeLimits) -> float:
    """The media's length, refusing unreadable or too long media with ``422``."""
    try:
        duration = await asyncio.to_thread(api.media_duration, upload.media)
    except EmoError as exc:
        raise HTTPException(422, _public(str(exc))) from None
    if duration > limits.max_duration_s:
        raise HTTPException(422, f"{upload.media.name}: media lasts {duration:.1f} s, longer "
                                 f"than the limit of {limits.max_duration_s:g} s")
    return duration


def _modalities(value: str | None) -> tuple[str, ...] | None:
    try:
        names = api.parse_modalities(value or None)
    except EmoError as exc:
        raise HTTPException(422, str(exc)) from None
    return tuple(names) if names else None


def _wants_parquet(request: Request) -> bool:
    return PARQUET in request.headers.get("accept", "")


def _describe(model: Path, bundle: Any) -> dict[str, Any]:
    """The model as ``/version`` shows it."""
    return {"path": str(model), "classes": bundle.classes, "modalities": bundle.modalities,
            "extractors": bundle.extractors, "uar": bundle.scores.get("uar")}


# -- what the endpoints answer ------------------------------------------------------------
class _Answer(BaseModel):
    """Base of the answers: ``class`` is a field name (``class_`` in Python)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class FailureItem(_Answer):
    """A clip (or window) and modality that could not be read, and why."""

    id: str = Field(description="Clip or window id.")
    modality: str = Field(description="The modality, or 'all'.")
    reason: str = Field(description="What is wrong, naming the file.")


class ModalityAnswer(_Answer):
    """One modality's own classifier on the clip."""

    class_: str = Field(alias="class", description="The most probable class.")
    probabilities: dict[str, float] = Field(description="Probability of each class.")


class ClipAnswer(_Answer):
    """The fused prediction of a clip or window and each modality's."""

    id: str = Field(description="Clip (file stem) or window id (<stem>@<start>-<end>).")
    class_: str = Field(alias="class", description="The fused class.")
    group: str = Field(description="The actor or inferred pseudo-actor the clip was "
                                   "normalised with.")
    fused: dict[str, float] = Field(description="Fused probability of each class.")
    modalities: dict[str, ModalityAnswer] = Field(
        description="Each modality the clip has, by name.")


class WindowAnswer(ClipAnswer):
    """The prediction of one sliding window."""

    start: float = Field(description="Window start, in seconds.")
    end: float = Field(description="Window end, in seconds.")


class TopFeature(_Answer):
    """One of the model's most important features, with the clip's value."""

    modality: str
    name: str
    importance: float = Field(description="Share of the modality's importance.")
    value: float | None = Field(description="The clip's value (null when missing).")


class PredictAnswer(ClipAnswer):
    """``POST /predict``: the whole clip, and its windows when asked."""

    duration: float = Field(description="Length of the media, in seconds.")
    failures: list[FailureItem] = Field(description="Modalities of the clip not read.")
    top_features: list[TopFeature]
    windows: list[WindowAnswer] | None = Field(
        None, description="With ?window=: one answer per sliding window.")
    window_failures: list[FailureItem] | None = Field(
        None, description="With ?window=: windows without a prediction, and why.")


class ExtractAnswer(_Answer):
    """``POST /extract`` (JSON): the feature row of each modality."""

    id: str = Field(description="Clip id (file stem).")
    duration: float = Field(description="Length of the media, in seconds.")
    features: dict[str, dict[str, float | None]] = Field(
        description="Modality -> feature name -> value (null when missing).")
    failures: list[FailureItem] = Field(description="Modalities not read, and why.")
    computed: int = Field(description="Feature rows computed for this request.")
    cached: int = Field(description="Feature rows found in the cache.")


# -- the application ---------------------------------------------------------------------
_MediaFile = Annotated[UploadFile, File(description="Video (with sound) or audio file.")]
_SkeletonFile = Annotated[UploadFile | None, File(
    description="Kinect v2 skeleton (.txt) recorded with the clip.")]
_ModalityList = Annotated[str | None, Query(
    description="Comma-separated modalities (default: every one the upload has).")]
_Window = Annotated[float | None, Query(
    ge=MIN_WINDOW, description="Also predict sliding windows of this many seconds.")]
_Hop = Annotated[float | None, Query(
    ge=MIN_WINDOW, description="Step between window starts in seconds (default: the window).")]


def create_app(model: Path | None, cache: str | Path,
               limits: api.ServeLimits | None = None) -> FastAPI:
    """The FastAPI application of ``emo serve``.

    Parameters
    ----------
    model
        A model folder written by ``emo fit`` (checked at once, then loaded once by each
        worker process), or ``None``: ``/predict`` then answers ``404``.
    cache
        The feature cache, shared with the command line.
    limits
        Workers, upload size, media length, timeout and queue (default:
        :class:`~emo.settings.ServeLimits` defaults).

    Returns
    -------
    fastapi.FastAPI

    Raises
    ------
    BundleError
        When ``model`` is not a loadable bundle (checked at once, not at the first request).
    """
    limits = limits or api.ServeLimits()
    cache = Path(cache)
    model = Path(model) if model is not None else None
    described = _describe(model, api.load_model(model)) if model is not None else None
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool = state["pool"] = app.state.pool = _Pool(limits.workers, limits.max_queue,
                                                      model, limits.max_duration_s)
        try:
            state["extractors"] = await pool.warm()
            await asyncio.to_thread(api.warm, extractors=False)  # this process probes media
            yield
        finally:
            await asyncio.to_thread(pool.shutdown)

    app = FastAPI(title="emo", version=__version__, lifespan=lifespan,
                  description="Multimodal emotion recognition: features and predictions of "
                              "uploaded clips (video with sound, audio, Kinect skeletons).")
    app.add_middleware(_BodyLimit, max_bytes=limits.max_bytes)

    async def in_worker(file: UploadFile, skeleton: UploadFile | None, fn: Callable,
                        job: dict[str, Any], *args: Any) -> tuple[Any, float]:
        """Save the upload, check its length, run ``fn(_Job, *args)`` in a worker; its
        result and the media's duration."""
        upload = await _save(file, skeleton, limits)
        try:
            duration = await _checked_duration(upload, limits)
        except BaseException:
            upload.cleanup()
            raise
        work = _Job(upload, cache, duration=duration, **job)
        try:
            result = await asyncio.wait_for(state["pool"].run(upload.cleanup, fn, work, *args),
                                            limits.timeout_s)
        except TimeoutError:
            raise HTTPException(504, f"no answer within {limits.timeout_s:g} s; the job "
                                     "was stopped") from None
        except _Busy:
            raise HTTPException(503, "all workers are busy; retry later",
                                headers={"Retry-After": "5"}) from None
        except _Stopping:
            raise HTTPException(503, "the service is stopping; retry later",
                                headers={"Retry-After": "5"}) from None
        except _WorkerDied:
            raise HTTPException(422, f"{upload.media.name}: the worker process died while "
                                     "reading it (a crash in a native decoder on a damaged "
                                     "file, or not enough memory)") from None
        except EmoError as exc:
            raise HTTPException(422, _public(str(exc))) from None
        except Exception as exc:  # a bug, a dead worker (BrokenProcessPool): say what
            log.exception("request failed")
            raise HTTPException(500, _public(f"internal error: {type(exc).__name__}: "
                                                   f"{exc}")) from None
        return result, duration

    @app.post("/extract", summary="Features of one clip, per modality",
              response_model=ExtractAnswer,
              responses={200: {"content": {PARQUET: {}}}, 413: {}, 415: {}, 422: {}, 503: {},
                         504: {}})
    async def extract(request: Request, file: _MediaFile, skeleton: _SkeletonFile = None,
                      modalities: _ModalityList = None) -> ExtractAnswer | Response:
        chosen = _modalities(modalities)
        result, duration = await in_worker(file, skeleton, _extract_job,
                                           {"modalities": chosen})
        frame = result["frame"]
        features = _by_modality(frame.iloc[0].drop(["actor", "label"]).to_dict())
        if not features:
            raise HTTPException(422, "; ".join(f["reason"] for f in result["failures"])
                                or f"{file.filename}: no modality applies to this file")
        if _wants_parquet(request):
            buffer = io.BytesIO()
            frame.to_parquet(buffer)
            return Response(buffer.getvalue(), media_type=PARQUET)
        return ExtractAnswer(id=str(frame.index[0]), duration=duration, features=features,
                             failures=result["failures"], computed=result["computed"],
                             cached=result["cached"])

    @app.post("/predict", summary="Class probabilities per modality and fused, optionally "
                                  "per sliding window",
              response_model=PredictAnswer, response_model_exclude_unset=True,
              responses={404: {}, 413: {}, 415: {}, 422: {}, 503: {}, 504: {}})
    async def predict(file: _MediaFile, skeleton: _SkeletonFile = None, window: _Window = None,
                      hop: _Hop = None) -> PredictAnswer:
        if model is None:
            raise HTTPException(404, "no model loaded; start the server with --model DIR")
        answer, duration = await in_worker(file, skeleton, _predict_job,
                                           {"window": window, "hop": hop}, model)
        return PredictAnswer(**answer, duration=duration)

    @app.get("/health", summary="Liveness and load")
    async def health() -> dict[str, Any]:
        pool = state.get("pool")
        return {"status": "ok", "workers": limits.workers,
                "idle": pool.idle if pool else 0, "running": pool.running if pool else 0,
                "queued": pool.waiting if pool else 0, "model": model is not None}

    @app.get("/version", summary="Package, extractor and model versions")
    async def version() -> dict[str, Any]:
        return {"emo": __version__, "extractors": state.get("extractors", {}),
                "model": described}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        return resources.files("emo").joinpath("static/index.html").read_text("utf-8")

    return app


def run_server(model: Path | None = None, host: str = "127.0.0.1", port: int = 8000,
               cache: str | Path = "cache", **limits: Any) -> None:
    """Serve :func:`create_app` with uvicorn until interrupted.

    Parameters
    ----------
    model, cache
        See :func:`create_app`.
    host
        Interface to bind; the default, loopback, keeps the service private to this
        machine.
    port
        TCP port.
    **limits
        :class:`~emo.settings.ServeLimits` fields: ``workers``, ``max_upload_mb``,
        ``max_duration_s``, ``timeout_s``, ``max_queue``.

    Raises
    ------
    ConfigError
        For an invalid limit (before anything starts).
    BundleError
        When ``model`` is not a loadable bundle.
    """
    import uvicorn

    checked = api.ServeLimits(**limits)
    with contextlib.suppress(ValueError):
        if not ipaddress.ip_address(host).is_loopback:
            log.warning("serving on %s: reachable from other machines, with no "
                        "authentication", host)
    app = create_app(model, cache, checked)

    class Server(uvicorn.Server):
        """Uvicorn, stopping the workers as soon as it is asked to stop (SIGTERM, Ctrl-C),
        so that running requests are answered ``503`` at once and it ends in seconds."""

        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            pool = getattr(app.state, "pool", None)
            if pool is not None:
                pool.stop_soon()

    Server(uvicorn.Config(app, host=host, port=port, log_level="info",
                          timeout_graceful_shutdown=SHUTDOWN_S)).run()
