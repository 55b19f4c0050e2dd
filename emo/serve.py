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
    the fused class and the model's top features with this clip's values; ``?window=2.0``
    adds predictions for consecutive 2-second windows of a long recording.
``GET /health``, ``GET /version``, ``GET /docs`` (OpenAPI), ``GET /`` (a page to drop a clip on).

Extraction runs in a pool of ``workers`` processes (MediaPipe graphs are not thread-safe,
so each process builds its own); at most ``workers`` jobs run at once, at most
``max_queue`` more wait, further requests get ``503``. Uploads live in a temporary
folder (``emo-upload-*``) removed when the job that reads them ends, even after a
timeout. Errors: ``413`` upload too large, ``415`` unsupported media type, ``422``
unreadable or too long media (with the extractor's message), ``503`` busy, ``504``
timeout.

Examples
--------
>>> app = create_app(None, cache="cache", workers=1)
>>> sorted(r.path for r in app.routes if r.path in ("/extract", "/predict", "/health"))
['/extract', '/health', '/predict']
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import ipaddress
import logging
import math
import mimetypes
import multiprocessing
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response

from emo import __version__, api
from emo.data.clip import Clip
from emo.errors import EmoError, MediaError

__all__ = ["PARQUET", "create_app", "run_server", "window_bounds"]

log = logging.getLogger("emo")

#: Media type of Parquet answers (ask for it with the ``Accept`` header).
PARQUET = "application/vnd.apache.parquet"
#: Prefix of the temporary upload folders.
UPLOAD_PREFIX = "emo-upload-"
#: Shortest ``window`` accepted by ``/predict``, in seconds.
MIN_WINDOW = 0.5
#: Top features of each modality shown with a prediction.
TOP_FEATURES = 5
_MEDIA_SUFFIXES = frozenset(api.AUDIO_SUFFIXES + api.VIDEO_SUFFIXES)


# -- work done in the worker processes ---------------------------------------------------
def _warm_worker() -> dict[str, dict[str, Any]]:
    """Import every extractor once (the first request then pays no import) and return
    the identities of the default extractors, for ``/version``."""
    return {m: e.identity() for m, e in api.make_extractors().items()}


@dataclass(frozen=True)
class _Job:
    """What a worker needs: the uploaded files, the cache and the options."""

    media: Path
    skeleton: Path | None
    cache: Path
    modalities: tuple[str, ...] | None = None
    windows: tuple[tuple[float, float], ...] = ()


def _extract_job(job: _Job) -> dict[str, Any]:
    """Worker: features of the uploaded clip (through the cache)."""
    clips = api.clips_from_files([job.media], skeleton=job.skeleton)
    feats = api.features(clips, modalities=job.modalities, cache=job.cache)
    return {"frame": feats.frame(), "failures": _failures(feats.report.failures),
            "computed": feats.report.computed, "cached": feats.report.cached}


@functools.cache
def _loaded_model(model_dir: Path) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The bundle, loaded once per worker process."""
    return api.load_model(model_dir)


def _predict_job(job: _Job, model_dir: Path, top: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """Worker: predictions of the uploaded clip and of its windows (through the cache)."""
    from emo.features.cache import FeatureCache
    from emo.features.extract import collect

    (clip,) = api.clips_from_files([job.media], skeleton=job.skeleton)
    clips = [clip, *(_window_clip(clip, t0, t1) for t0, t1 in job.windows)]
    prediction = api.predict_loaded(_loaded_model(model_dir), clips, cache=job.cache)
    tables = collect(prediction.report.tasks, FeatureCache(job.cache))
    values = {name: float(tables[m].at[clip.id, name]) for m, names in top.items()
              if m in tables and clip.id in tables[m].index for name in names}
    return {"id": clip.id, "probabilities": prediction.probabilities,
            "failures": _failures(prediction.report.failures), "values": values}


def _window_clip(clip: Clip, t0: float, t1: float) -> Clip:
    """The clip restricted to ``[t0, t1)`` seconds (Kinect rows at the nominal 30 fps,
    counted from the start of the media)."""
    from emo.data.skeleton import KINECT_FPS

    rows = {}
    if clip.skeleton is not None:
        rows = {"skeleton_start": round(t0 * KINECT_FPS),
                "skeleton_end": max(round(t0 * KINECT_FPS), round(t1 * KINECT_FPS) - 1)}
    return replace(clip, id=f"{clip.id}@{t0:.1f}", start=t0, end=t1, **rows)


def _failures(failures: Sequence[Any]) -> list[dict[str, str]]:
    return [{"id": f.clip_id, "modality": f.modality, "reason": f.reason} for f in failures]


# -- pure helpers ------------------------------------------------------------------------
def window_bounds(duration: float, window: float) -> list[tuple[float, float]]:
    """Consecutive windows covering a recording; a last part shorter than half a window
    is dropped, a longer one is kept as a shorter window.

    Parameters
    ----------
    duration
        Length of the recording in seconds.
    window
        Window length in seconds.

    Returns
    -------
    list of (start, end)

    Examples
    --------
    >>> window_bounds(5.0, 2.0)
    [(0.0, 2.0), (2.0, 4.0), (4.0, 5.0)]
    >>> window_bounds(4.9, 2.0)
    [(0.0, 2.0), (2.0, 4.0)]
    """
    bounds = []
    n = 0
    while (t0 := n * window) + window / 2 <= duration + 1e-9:
        bounds.append((round(t0, 6), round(min(t0 + window, duration), 6)))
        n += 1
    return bounds


def _safe_name(filename: str | None, content_type: str | None, default: str) -> str:
    """A file name safe to create in the upload folder, keeping the stem and suffix;
    a name without suffix gets one from the content type."""
    name = re.sub(r"[^\w.\-@]+", "_", Path(filename or "").name).strip("._") or default
    if not Path(name).suffix and content_type:
        name += mimetypes.guess_extension(content_type.split(";")[0].strip()) or ""
    return name


def _media_duration(path: Path) -> float:
    """Length of an audio or video file in seconds (0 for a still image).

    Raises
    ------
    MediaError
        When FFmpeg cannot open the file.
    """
    from emo.data.video import is_image

    if is_image(path):
        return 0.0
    import av
    import soundfile

    with contextlib.suppress(soundfile.LibsndfileError, RuntimeError, TypeError):
        return soundfile.info(path).duration  # WAV/FLAC/AIFF/OGG/MP3: a header read
    try:
        with av.open(str(path)) as container:
            if container.duration is not None:
                return container.duration / av.time_base
            return max((float(s.duration * s.time_base) for s in container.streams
                        if s.duration is not None and s.time_base is not None), default=0.0)
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise MediaError(f"not a readable audio or video file: {exc}", path) from None


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _by_modality(row: Mapping[str, float]) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    for name, value in row.items():
        modality, sep, _ = name.partition("__")
        if sep:
            out.setdefault(modality, {})[name] = _finite(value)
    return out


def _probabilities(frame: Any, clip_id: str) -> dict[str, Any] | None:
    if frame is None or clip_id not in frame.index:
        return None
    row = frame.loc[clip_id]
    return {"class": str(row.idxmax()), "probabilities": {str(c): float(p) for c, p in
                                                          row.items()}}


# -- uploads, limits and the worker pool -------------------------------------------------
@dataclass(frozen=True)
class Limits:
    """What a request may ask for.

    Attributes
    ----------
    max_upload_mb
        Largest request body (all files together), in megabytes (10**6 bytes).
    max_duration_s
        Longest media, in seconds.
    timeout_s
        Longest time a request may take, queueing included.
    max_queue
        Requests allowed to wait for a worker; more are answered ``503``.
    """

    max_upload_mb: float = 200.0
    max_duration_s: float = 600.0
    timeout_s: float = 120.0
    max_queue: int = 16

    @property
    def max_bytes(self) -> int:
        """The upload limit in bytes."""
        return int(self.max_upload_mb * 1e6)


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


class _Pool:
    """Worker processes with at most ``workers`` jobs running and ``max_queue`` waiting.

    A job owns its upload folder from submission on: the folder is removed, and the
    worker slot freed, when the job really ends (also after the request timed out).
    """

    def __init__(self, workers: int, max_queue: int) -> None:
        self.workers = workers
        self.max_queue = max_queue
        self.running = 0
        self.waiting = 0
        self._slots = asyncio.Semaphore(workers)
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))

    async def warm(self) -> dict[str, dict[str, Any]]:
        """Start every worker process (importing the extractors); their identities."""
        loop = asyncio.get_running_loop()
        done = await asyncio.gather(*(loop.run_in_executor(self._executor, _warm_worker)
                                      for _ in range(self.workers)))
        return done[0]

    async def run(self, cleanup: Callable[[], None], fn: Callable, *args: Any) -> Any:
        """Run ``fn(*args)`` in a worker; ``cleanup()`` runs exactly once, when it ends.

        Raises
        ------
        _Busy
            When the waiting queue is full.
        """
        submitted = False
        try:
            if self._slots.locked() and self.waiting >= self.max_queue:
                raise _Busy
            self.waiting += 1
            try:
                await self._slots.acquire()
            finally:
                self.waiting -= 1
            loop = asyncio.get_running_loop()
            try:
                future = self._executor.submit(fn, *args)
            except BrokenProcessPool:  # a worker died (e.g. killed): start a fresh pool
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = self._new_executor()
                future = self._executor.submit(fn, *args)
            except BaseException:
                self._slots.release()
                raise
            submitted = True
            self.running += 1
            future.add_done_callback(lambda _: self._finished(loop, cleanup))
            return await asyncio.wrap_future(future)
        finally:
            if not submitted:
                cleanup()

    def _finished(self, loop: asyncio.AbstractEventLoop, cleanup: Callable[[], None]) -> None:
        cleanup()
        with contextlib.suppress(RuntimeError):  # the loop is closed at shutdown
            loop.call_soon_threadsafe(self._release)

    def _release(self) -> None:
        self.running -= 1
        self._slots.release()

    def shutdown(self) -> None:
        """Stop the worker processes (running jobs are finished first)."""
        self._executor.shutdown(wait=True, cancel_futures=True)


@dataclass
class _Upload:
    folder: Path
    media: Path
    skeleton: Path | None

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def public(self, text: str) -> str:
        """A message without the server's temporary folder."""
        return text.replace(f"{self.folder}/", "")


async def _save(file: UploadFile, skeleton: UploadFile | None, limits: Limits) -> _Upload:
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


async def _checked_duration(upload: _Upload, limits: Limits) -> float:
    try:
        duration = await asyncio.to_thread(_media_duration, upload.media)
    except MediaError as exc:
        raise HTTPException(422, upload.public(str(exc))) from None
    if duration > limits.max_duration_s:
        raise HTTPException(422, f"{upload.media.name}: media lasts {duration:.1f} s, longer "
                                 f"than the limit of {limits.max_duration_s:g} s")
    return duration


def _modalities(value: str | None) -> tuple[str, ...] | None:
    from emo.features.base import MODALITIES

    if not value:
        return None
    names = tuple(m.strip() for m in value.split(",") if m.strip())
    bad = [m for m in names if m not in MODALITIES]
    if bad or not names:
        raise HTTPException(422, f"unknown modality {', '.join(bad)}; use "
                                 f"{','.join(MODALITIES)}")
    return names


def _wants_parquet(request: Request) -> bool:
    return PARQUET in request.headers.get("accept", "")


# -- the application ---------------------------------------------------------------------
_MediaFile = Annotated[UploadFile, File(description="Video (with sound) or audio file.")]
_SkeletonFile = Annotated[UploadFile | None, File(
    description="Kinect v2 skeleton (.txt) recorded with the clip.")]
_ModalityList = Annotated[str | None, Query(
    description="Comma-separated modalities (default: every one the upload has).")]
_Window = Annotated[float | None, Query(
    ge=MIN_WINDOW, description="Also predict consecutive windows of this many seconds.")]


def create_app(model: Path | None, cache: str | Path, workers: int = 1,
               max_upload_mb: float = 200, max_duration_s: float = 600,
               timeout_s: float = 120, max_queue: int = 16) -> FastAPI:
    """The FastAPI application of ``emo serve``.

    Parameters
    ----------
    model
        A model folder written by ``emo fit`` (loaded once, at start), or ``None``:
        ``/predict`` then answers ``404``.
    cache
        The feature cache, shared with the command line.
    workers
        Worker processes (jobs running at once).
    max_upload_mb, max_duration_s, timeout_s, max_queue
        See :class:`Limits`.

    Returns
    -------
    fastapi.FastAPI

    Raises
    ------
    BundleError
        When ``model`` is not a loadable bundle (checked at once, not at the first request).
    """
    limits = Limits(max_upload_mb, max_duration_s, timeout_s, max_queue)
    cache = Path(cache)
    loaded = _Model.load(model) if model is not None else None
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool = state["pool"] = _Pool(workers, max_queue)
        try:
            state["extractors"] = await pool.warm()
            yield
        finally:
            await asyncio.to_thread(pool.shutdown)

    app = FastAPI(title="emo", version=__version__, lifespan=lifespan,
                  description="Multimodal emotion recognition: features and predictions of "
                              "uploaded clips (video with sound, audio, Kinect skeletons).")
    app.add_middleware(_BodyLimit, max_bytes=limits.max_bytes)

    async def in_worker(upload: _Upload, fn: Callable, *args: Any) -> Any:
        try:
            return await asyncio.wait_for(state["pool"].run(upload.cleanup, fn, *args),
                                          limits.timeout_s)
        except TimeoutError:
            raise HTTPException(504, f"no answer within {limits.timeout_s:g} s") from None
        except _Busy:
            raise HTTPException(503, "all workers are busy; retry later",
                                headers={"Retry-After": "5"}) from None
        except EmoError as exc:
            raise HTTPException(422, upload.public(str(exc))) from None
        except Exception as exc:  # a bug, a dead worker (BrokenProcessPool): say what
            log.exception("request failed")
            raise HTTPException(500, upload.public(f"internal error: {type(exc).__name__}: "
                                                   f"{exc}")) from None

    async def prepared(file: UploadFile, skeleton: UploadFile | None,
                       check: Callable[[_Upload], Awaitable[Any]]) -> tuple[_Upload, Any]:
        upload = await _save(file, skeleton, limits)
        try:
            return upload, await check(upload)
        except BaseException:
            upload.cleanup()
            raise

    @app.post("/extract", summary="Features of one clip, per modality",
              responses={200: {"content": {PARQUET: {}}}, 413: {}, 415: {}, 422: {}, 504: {}})
    async def extract(request: Request, file: _MediaFile, skeleton: _SkeletonFile = None,
                      modalities: _ModalityList = None) -> Response:
        chosen = _modalities(modalities)
        upload, duration = await prepared(file, skeleton,
                                          lambda u: _checked_duration(u, limits))
        job = _Job(upload.media, upload.skeleton, cache, chosen)
        result = await in_worker(upload, _extract_job, job)
        frame = result["frame"]
        failures = [{**f, "reason": upload.public(f["reason"])} for f in result["failures"]]
        features = _by_modality(frame.iloc[0].drop(["actor", "label"]).to_dict())
        if not features:
            raise HTTPException(422, "; ".join(f["reason"] for f in failures)
                                or "no modality applies to this file")
        if _wants_parquet(request):
            buffer = io.BytesIO()
            frame.to_parquet(buffer)
            return Response(buffer.getvalue(), media_type=PARQUET)
        return JSONResponse({"id": str(frame.index[0]), "duration": duration,
                             "features": features, "failures": failures,
                             "computed": result["computed"], "cached": result["cached"]})

    @app.post("/predict", summary="Class probabilities per modality and fused",
              responses={404: {}, 413: {}, 415: {}, 422: {}, 504: {}})
    async def predict(file: _MediaFile, skeleton: _SkeletonFile = None,
                      window: _Window = None) -> JSONResponse:
        if loaded is None:
            raise HTTPException(404, "no model loaded; start the server with --model DIR")
        upload, duration = await prepared(file, skeleton,
                                          lambda u: _checked_duration(u, limits))
        windows = tuple(window_bounds(duration, window)) if window else ()
        job = _Job(upload.media, upload.skeleton, cache, windows=windows)
        result = await in_worker(upload, _predict_job, job, loaded.path, loaded.top)
        return JSONResponse(loaded.answer(result, windows, upload.public))

    @app.get("/health", summary="Liveness and load")
    async def health() -> dict[str, Any]:
        pool = state.get("pool")
        return {"status": "ok", "workers": workers, "running": pool.running if pool else 0,
                "queued": pool.waiting if pool else 0, "model": loaded is not None}

    @app.get("/version", summary="Package, extractor and model versions")
    async def version() -> dict[str, Any]:
        return {"emo": __version__, "extractors": state.get("extractors", {}),
                "model": loaded.describe() if loaded else None}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        return resources.files("emo").joinpath("static/index.html").read_text("utf-8")

    return app


@dataclass(frozen=True)
class _Model:
    """A bundle loaded once at start: its folder, metadata and top features."""

    path: Path
    meta: dict[str, Any]
    top: dict[str, list[str]]
    importance: dict[str, float]

    @classmethod
    def load(cls, path: Path) -> _Model:
        fusion, meta, _ = api.load_model(path)
        top: dict[str, list[str]] = {}
        importance: dict[str, float] = {}
        for modality, estimator in fusion.estimators_.items():
            scores = estimator.feature_importances_
            scores = scores / scores.sum() if scores.sum() > 0 else scores
            best = scores.sort_values(ascending=False).head(TOP_FEATURES)
            top[modality] = [str(n) for n in best.index]
            importance.update({str(n): float(v) for n, v in best.items()})
        return cls(Path(path), meta, top, importance)

    def describe(self) -> dict[str, Any]:
        return {"path": str(self.path), "classes": self.meta.get("classes"),
                "modalities": self.meta.get("modalities"),
                "extractors": self.meta.get("extractors"),
                "uar": self.meta.get("cv", {}).get("uar")}

    def answer(self, result: dict[str, Any], windows: Sequence[tuple[float, float]],
               public: Callable[[str], str]) -> dict[str, Any]:
        clip_id = result["id"]
        proba = result["probabilities"]
        fused = _probabilities(proba.get("fused"), clip_id)
        failures = [{**f, "reason": public(f["reason"])} for f in result["failures"]]
        if fused is None:
            raise HTTPException(422, "; ".join(f["reason"] for f in failures
                                               if f["id"] == clip_id) or "no features")
        modalities = {m: p for m in proba if m != "fused"
                      if (p := _probabilities(proba[m], clip_id)) is not None}
        out: dict[str, Any] = {
            "id": clip_id, "class": fused["class"], "fused": fused["probabilities"],
            "modalities": modalities, "failures": failures,
            "top_features": [{"name": n, "importance": self.importance[n],
                              "value": _finite(result["values"][n])}
                             for n in sorted(result["values"], key=self.importance.get,
                                             reverse=True)],
        }
        if windows:
            out["windows"] = []
            for t0, t1 in windows:
                wid = f"{clip_id}@{t0:.1f}"
                item = _probabilities(proba.get("fused"), wid)
                out["windows"].append({
                    "start": t0, "end": t1,
                    "class": item["class"] if item else None,
                    "fused": item["probabilities"] if item else None,
                    "modalities": {m: p["probabilities"] for m in proba if m != "fused"
                                   if (p := _probabilities(proba[m], wid)) is not None},
                })
        return out


def run_server(model: Path | None = None, host: str = "127.0.0.1", port: int = 8000,
               cache: str | Path = "cache", workers: int = 1, **limits: Any) -> None:
    """Serve :func:`create_app` with uvicorn until interrupted.

    Parameters
    ----------
    model, cache, workers
        See :func:`create_app`.
    host
        Interface to bind; the default, loopback, keeps the service private to this
        machine.
    port
        TCP port.
    **limits
        ``max_upload_mb``, ``max_duration_s``, ``timeout_s``, ``max_queue``.
    """
    import uvicorn

    with contextlib.suppress(ValueError):
        if not ipaddress.ip_address(host).is_loopback:
            log.warning("serving on %s: reachable from other machines, with no "
                        "authentication", host)
    app = create_app(model, cache, workers, **limits)
    uvicorn.run(app, host=host, port=port, log_level="info")

