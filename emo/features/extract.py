"""Run extractors over many clips: cache look-up, one pass per media file, parallel workers,
failure list, tables.

The plan step (content hashes, cache keys) runs in the calling process and imports no
heavy module, so a run with everything cached costs little more than Python's start.
Each missing entry is a task ``(clip, extractor, key)``. Tasks whose extractors read the
same stream (:meth:`~emo.features.base.Extractor.stream`: every take, window or modality
that reads one video's frames, one audio file, one Kinect file) form one **job**, run by
one worker (in-process for ``n_jobs=1``, joblib/loky processes otherwise, or a Dask
cluster) with one call of :meth:`~emo.features.base.Extractor.extract_batch`: one decode
of the video with one face and one pose tracker (:mod:`emo.features.frames`). Jobs that
analyse video frames are dispatched first, longest first, so the short ones fill the end.

Each task keeps its own cache key and entry, written by the worker as soon as the task is
done: an interrupted run keeps every finished clip. A clip's features do not depend on
which other clips shared its job, so a resumed run equals an uninterrupted one.

A job holds the locks of its keys (lock stripes, taken in stripe order) while it runs, and
under them first looks again for an entry or a failure that another process stored
meanwhile, so two runs sharing a cache compute each key once; keys another process is
computing are put off and run after the others, waiting for the lock. A clip that fails is
recorded with its reason and retried only with ``retry_failed``.

**Dying workers.** A worker process that dies (a segfault or abort in a native decoder on a
damaged file, an out-of-memory kill) does not end the batch. Local workers take at most
``n_jobs`` jobs at a time, so the jobs in flight are the only suspects: each runs again
alone in a fresh worker; a job that kills its worker alone is split into its tasks, each
run alone; a task that kills its worker alone is recorded as failed, naming its file and
the signal, like any failure. The other clips of the batch are computed meanwhile. Workers
end with the process that started them, even when it is killed
(:func:`emo._native.die_with_parent`).

**Windows.** Sliding windows of one recording are plain clips with ``start``/``end`` on the
same file (ids of their own): passed to :func:`run` together, they form one job whose
frames are decoded and analysed once, overlapping windows sharing the per-frame measures.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emo._native import die_with_parent
from emo.data.clip import Clip
from emo.errors import CacheError, ConfigError, EmoError, FeatureError
from emo.features.base import FRAMES, Extractor, Outcome, Stream, get_extractor
from emo.features.cache import MISSING, UNCHECKED, DamagedEntryError, FeatureCache

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    """One clip for one extractor, with its cache key."""

    clip: Clip
    extractor: Extractor
    key: str

    @property
    def modality(self) -> str:
        """The modality the features belong to."""
        return self.extractor.modality


@dataclass(frozen=True)
class Failure:
    """A clip that could not be processed, and why."""

    clip_id: str
    modality: str
    reason: str

    def __str__(self) -> str:
        return f"{self.clip_id} [{self.modality}]: {self.reason}"


@dataclass
class ExtractionReport:
    """What an extraction run did.

    Attributes
    ----------
    tasks
        Every (clip, extractor) with its key, cached or not, failed ones excluded.
    computed, cached
        How many entries were computed in this run / found in the cache.
    failures
        Clips that failed (now or, unless retried, in an earlier run).
    seconds
        Wall time of computation per modality (sum over workers).
    """

    tasks: list[Task] = field(default_factory=list)
    computed: int = 0
    cached: int = 0
    failures: list[Failure] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every clip succeeded."""
        return not self.failures


def extractor_for(clip: Clip, modality: str, extractors: Mapping[str, Extractor]) -> Extractor:
    """The extractor that serves a clip's modality: its imported table, else the media one."""
    if modality in clip.tables:
        return get_extractor("table", modality=modality)
    return extractors[modality]


def plan(
    clips: Sequence[Clip],
    extractors: Mapping[str, Extractor],
    cache: FeatureCache,
    report: ExtractionReport,
) -> list[Task]:
    """Make the tasks of every clip and modality that applies, with their cache keys.

    Clips whose media are missing or unreadable are added to ``report.failures``.
    """
    tasks = []
    for clip in clips:
        for modality in extractors:
            extractor = extractor_for(clip, modality, extractors)
            if not extractor.applies(clip):
                continue
            try:
                content = [cache.content_hash(p) for p in extractor.sources(clip)]
            except EmoError as exc:
                report.failures.append(Failure(clip.id, modality, str(exc)))
                continue
            key = cache.key(extractor.identity(), content, extractor.segment(clip))
            tasks.append(Task(clip, extractor, key))
    return tasks


#: What a worker reports for one task: (status, task, reason, seconds).
Result = tuple[str, Task, str, float]


def jobs(tasks: Iterable[Task]) -> list[list[Task]]:
    """Group tasks into jobs: those reading one stream together, the others alone.

    Jobs that analyse video frames come first, longest first (total seconds of their
    segments), then the others in task order.

    Examples
    --------
    >>> from emo.features.base import get_extractor
    >>> clips = [Clip(f"t{i}", audio=Path("a.wav"), start=i, end=i + 1.0) for i in range(3)]
    >>> extractor = get_extractor("audio")
    >>> [len(job) for job in jobs([Task(c, extractor, c.id) for c in clips])]
    [3]
    """
    grouped: dict[Stream, list[Task]] = {}
    out: list[list[Task]] = []
    for task in tasks:
        stream = task.extractor.stream(task.clip)
        if stream is None:
            out.append([task])
        elif stream in grouped:
            grouped[stream].append(task)
        else:
            grouped[stream] = [task]
            out.append(grouped[stream])
    frames = [job for job in out if _kind(job) == FRAMES]
    frames.sort(key=lambda job: sum(_seconds(t.clip) for t in job), reverse=True)
    return frames + [job for job in out if _kind(job) != FRAMES]


def _kind(job: list[Task]) -> str | None:
    stream = job[0].extractor.stream(job[0].clip)
    return None if stream is None else stream.kind


def _seconds(clip: Clip) -> float:
    """Length of a clip's segment when both ends are known, else 0 (for ordering only)."""
    return clip.end - clip.start if clip.start is not None and clip.end is not None else 0.0


def _compute_job(job: list[Task], root: Path, blocking: bool,
                 retry_since: float | None) -> list[Result]:
    """Worker: compute one job and store its entries (see :func:`_job_results`)."""
    return list(_job_results(job, root, blocking, retry_since))


def _job_results(job: list[Task], root: Path, blocking: bool,
                 retry_since: float | None) -> Iterator[Result]:
    """Compute the tasks of one job, storing each as soon as it is done.

    The job's lock stripes are taken in stripe order (so two jobs waiting for each
    other's stripes cannot deadlock); without ``blocking``, tasks whose stripe another
    process holds are reported ``"busy"``. Under the locks, an entry or a failure another
    process stored meanwhile is taken as the answer (a failure recorded before
    ``retry_since`` is retried; ``None``: failures are never retried here), so no key is
    computed twice.
    """
    cache = FeatureCache(root)
    with contextlib.ExitStack() as stack:
        held = set()
        for stripe, key in sorted({t.key[:2]: t.key for t in job}.items()):
            if stack.enter_context(cache.lock(key, blocking=blocking)):
                held.add(stripe)
        todo = []
        for task in job:
            if task.key[:2] not in held:
                yield "busy", task, "", 0.0
            elif cache.has(task.key, task.extractor.identity()):
                yield "cached", task, "", 0.0
            elif (record := cache.failure(task.key)) is not None and (
                    retry_since is None or record.get("time", 0.0) >= retry_since):
                yield "failed", task, recorded_reason(record, task), 0.0
            else:
                todo.append(task)
        yield from _computed(todo, cache)


def _computed(tasks: list[Task], cache: FeatureCache) -> Iterator[Result]:
    """Run one batch of tasks sharing a stream; store and report each as it comes."""
    if not tasks:
        return
    batch = tasks[0].extractor.extract_batch([(t.extractor, t.clip) for t in tasks])
    answered: set[int] = set()
    broken: Exception | None = None
    last = time.perf_counter()
    while True:
        try:
            item = next(batch, None)
        except Exception as exc:  # noqa: BLE001 - a broken pass fails its clips, not the run
            broken, item = exc, None
        if item is None:
            break
        index, outcome = item
        answered.add(index)
        now = time.perf_counter()
        yield _store(cache, tasks[index], outcome, now - last)
        last = now
    for index, task in enumerate(tasks):
        if index not in answered:
            yield _store(cache, task, broken or FeatureError("the extractor gave no answer"),
                         0.0)


def _store(cache: FeatureCache, task: Task, outcome: Outcome, seconds: float) -> Result:
    """Write a task's features, or record its failure; the task's result."""
    path = task.clip.media_for(task.modality)
    identity = task.extractor.identity()
    if isinstance(outcome, dict) and not outcome:
        outcome = FeatureError("the extractor returned no features", path)
    if isinstance(outcome, EmoError):
        reason = str(outcome)
        message = outcome.reason if outcome.path is not None else reason
    elif isinstance(outcome, Exception):
        message = f"{type(outcome).__name__}: {outcome}"
        reason = f"{path}: {message}"
    else:
        sources = [str(p) for p in task.extractor.sources(task.clip)]
        cache.put(task.key, identity, outcome, sources)
        return "computed", task, "", seconds
    cache.record_failure(task.key, identity, task.clip.id, reason, message=message)
    return "failed", task, reason, seconds


def recorded_reason(record: Mapping[str, Any], task: Task) -> str:
    """The reason of a recorded failure, as it applies to ``task``.

    Keys depend on content, not names: when another clip with byte-identical media
    failed (two empty files, say), its message is restated with this clip's file.
    """
    reason = str(record.get("reason", "failed"))
    if record.get("clip") == task.clip.id or "message" not in record:
        return reason
    return (f"{task.clip.media_for(task.modality)}: {record['message']} "
            f"(same content as clip {record['clip']!r})")


def _absolute(clip: Clip) -> Clip:
    """The clip with absolute media and table paths."""
    media = {name: getattr(clip, name).resolve() for name in ("video", "audio", "skeleton")
             if getattr(clip, name) is not None}
    tables = {m: Path(p).resolve() for m, p in clip.tables.items()}
    return replace(clip, tables=tables, **media)


def _run_parallel(tasks: list[Task], root: Path, n_jobs: int, blocking: bool,
                  dask: str | None, retry_since: float | None) -> Iterator[Result]:
    if not tasks:  # everything cached: start no worker pool
        return
    if n_jobs == 1 and dask is None:
        for job in jobs(tasks):
            yield from _job_results(job, root, blocking, retry_since)
        return
    if dask is None:
        yield from _run_isolating(jobs(tasks), root, n_jobs, blocking, retry_since)
        return
    # Remote workers resolve relative paths in their own folders: send absolute ones.
    root = root.resolve()
    tasks = [replace(t, clip=_absolute(t.clip)) for t in tasks]
    with _dask_client(dask) as client:
        yield from _run_dask(client, jobs(tasks), root, blocking, retry_since)


def _run_isolating(job_list: list[list[Task]], root: Path, n_jobs: int, blocking: bool,
                   retry_since: float | None) -> Iterator[Result]:
    """Run jobs on ``n_jobs`` local worker processes, surviving workers that die.

    At most ``n_jobs`` jobs are in flight; when a worker dies they are the suspects and
    run again alone (see the module notes). Dispatching jobs one by one costs nothing
    next to decoding a media file. The pool is this run's own (not joblib's shared one),
    restarted after a crash and stopped at the end, or at once on an interruption.
    """
    from joblib.externals.loky import ProcessPoolExecutor

    # loky warns of a dead worker on stderr; this function says it (and recovers) itself
    warnings.filterwarnings("ignore", message="A worker stopped while some jobs",
                            category=UserWarning)
    pending, suspects = deque(job_list), deque[list[Task]]()
    while pending or suspects:
        queue, width = (suspects, 1) if suspects else (pending, n_jobs)
        executor = ProcessPoolExecutor(max_workers=width, initializer=die_with_parent,
                                       initargs=(os.getpid(),))
        running: dict[Future, list[Task]] = {}
        try:
            while queue or running:
                while queue and len(running) < width:
                    future = executor.submit(_compute_job, queue[0], root, blocking,
                                             retry_since)
                    running[future] = queue.popleft()
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                # finished jobs first: a crash may be reported in the same round
                for future in sorted(done, key=lambda f: f.exception() is not None):
                    results = future.result()  # BrokenExecutor when a worker died
                    del running[future]
                    yield from results
        except BrokenExecutor as exc:
            if width > 1 or not running:
                log.warning("a worker process died; running its %d job(s) again one by one",
                            len(running))
                suspects.extend(running.values())
                continue
            (job,) = running.values()
            if len(job) > 1:
                suspects.extend([task] for task in job)
            else:
                yield "failed", job[0], _record_crash(job[0], root, exc), 0.0
        finally:
            executor.shutdown(wait=False, kill_workers=True)


def _record_crash(task: Task, root: Path, exc: BaseException) -> str:
    """Record a task that killed its worker alone as failed; return the reason."""
    codes = re.search(r"exit codes of the workers are \{(.*?)\}", str(exc))
    died = ("every Dask worker that ran it died" if type(exc).__name__ == "KilledWorker"
            else f"the worker process died ({codes[1] if codes else 'killed'})")
    message = (f"{died} while extracting {task.modality} features: a crash in a native "
               "decoder on a damaged file, or not enough memory")
    reason = f"{task.clip.media_for(task.modality)}: {message}"
    FeatureCache(root).record_failure(task.key, task.extractor.identity(), task.clip.id,
                                      reason, message=message)
    return reason


#: Seconds between two looks at the Dask cluster's workers while waiting for results.
DASK_WATCH_S = 2.0
#: Seconds a Dask run waits with no worker in the cluster (or no scheduler) before it
#: gives up.
DASK_NO_WORKER_S = 120.0


def _run_dask(client: Any, job_list: list[list[Task]], root: Path, blocking: bool,
              retry_since: float | None) -> Iterator[Result]:
    """Run jobs on a Dask cluster, one Dask task per job, whatever its thread count.

    Jobs whose Dask task the scheduler gives up on (``KilledWorker``: the workers that
    ran it died) are suspects, as on local workers: once the other jobs are done, each
    runs again alone on the cluster; a job that kills its workers alone is split into its
    tasks, each run alone; a task that kills its workers alone is recorded as failed,
    naming its file. Workers that leave the cluster are reported. Jobs the cluster cannot
    run (no worker or no scheduler for :data:`DASK_NO_WORKER_S`) fail without being
    recorded, so that the next run retries them.
    """
    from distributed import KilledWorker, wait
    from distributed import TimeoutError as DaskTimeout

    pending: dict[Any, tuple[list[Task], bool]] = {}

    def submit(job: list[Task], priority: int, alone: bool) -> None:
        future = client.submit(_compute_job, job, root, blocking, retry_since, pure=False,
                               priority=priority)
        pending[future] = (job, alone)

    for i, job in enumerate(job_list):
        submit(job, len(job_list) - i, alone=False)
    suspects = deque[list[Task]]()
    seen = set(client.scheduler_info()["workers"])
    stalled_since: float | None = None
    try:
        while pending:
            try:
                done = wait(list(pending), timeout=DASK_WATCH_S,
                            return_when="FIRST_COMPLETED").done
            except (DaskTimeout, TimeoutError):
                done = set()
            workers = set(client.scheduler_info()["workers"])
            for address in sorted(seen - workers):
                log.warning("Dask worker %s left the cluster (died or was stopped)", address)
            seen = workers
            if done or (workers and client.status == "running"):
                stalled_since = None
            elif stalled_since is None:
                stalled_since = time.monotonic()
            if stalled_since is not None and time.monotonic() - stalled_since > DASK_NO_WORKER_S:
                why = f"no Dask worker or scheduler for {DASK_NO_WORKER_S:g} s"
                for job in [*(j for j, _ in pending.values()), *suspects]:
                    for task in job:
                        yield "failed", task, _not_extracted(task, why), 0.0
                return
            for future in done:
                job, alone = pending.pop(future)
                if future.status == "finished":
                    yield from future.result()
                    continue
                exc = future.exception() if future.status == "error" else None
                if isinstance(exc, KilledWorker) and not alone:
                    log.warning("a Dask worker died running %d clip(s); they run again alone "
                                "at the end", len(job))
                    suspects.append(job)
                elif isinstance(exc, KilledWorker) and len(job) > 1:
                    suspects.extend([task] for task in job)
                elif isinstance(exc, KilledWorker):
                    yield "failed", job[0], _record_crash(job[0], root, exc), 0.0
                else:
                    why = f"{type(exc).__name__}: {exc}" if exc else "cancelled by Dask"
                    for task in job:
                        yield "failed", task, _not_extracted(task, why), 0.0
            if not pending and suspects:
                submit(suspects.popleft(), 0, alone=True)
    finally:
        client.cancel(list(pending))


def _not_extracted(task: Task, why: str) -> str:
    """The reason of a task the cluster did not run (not recorded: the next run retries)."""
    return f"{task.clip.media_for(task.modality)}: not extracted on the Dask cluster ({why})"


@contextlib.contextmanager
def _dask_client(address: str) -> Iterator[Any]:
    """A dask.distributed client: ``local:N`` starts a LocalCluster of N worker processes."""
    from distributed import Client, LocalCluster

    if address.startswith("local"):
        n = int(address.partition(":")[2] or 2)
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            yield client
    else:
        try:
            client = Client(address)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        with client:
            yield client


def run(
    clips: Sequence[Clip],
    extractors: Mapping[str, Extractor],
    cache: FeatureCache,
    *,
    n_jobs: int = 1,
    retry_failed: bool = False,
    progress: Callable[[int], Any] | None = None,
    dask: str | None = None,
) -> ExtractionReport:
    """Make sure every clip's features are in the cache.

    Parameters
    ----------
    clips
        The clips.
    extractors
        One extractor per modality to run (clips with an imported table for a modality
        use it instead).
    cache
        The feature cache.
    n_jobs
        Worker processes (1: in this process).
    retry_failed
        Recompute clips whose failure was recorded by an earlier run.
    progress
        Called with the number of tasks still to compute, then once per finished task
        with ``1`` (a progress-bar ``advance``), or ``None``.
    dask
        A dask.distributed scheduler address, or ``local:N``; runs the tasks there.

    Returns
    -------
    ExtractionReport
    """
    report = ExtractionReport()
    started = time.time()
    cache.sweep()
    try:
        tasks = plan(clips, extractors, cache, report)
    finally:
        cache.close()
    todo = []
    unchecked = 0
    for task in tasks:
        identity = task.extractor.identity()
        problem = cache.check(task.key, identity)
        if problem is None:
            report.cached += 1
            continue
        record = None if retry_failed else cache.failure(task.key)
        if record is not None:
            reason = recorded_reason(record, task)
            report.failures.append(Failure(task.clip.id, task.modality,
                                           f"{reason} (failed before; --retry-failed to retry)"))
            continue
        if problem == UNCHECKED:
            unchecked += 1
        elif problem != MISSING:
            _say_damaged(task, problem, cache)
        todo.append(task)
    if unchecked:
        log.warning("%d cache entr%s %s; computing them again", unchecked,
                    "y was" if unchecked == 1 else "ies were", UNCHECKED)
    if progress is not None:
        progress(len(todo))
    busy: list[Task] = []
    retry_since = started if retry_failed else None
    for blocking, batch in ((False, todo), (True, busy)):
        for status, task, reason, seconds in _run_parallel(batch, cache.root, n_jobs,
                                                           blocking, dask, retry_since):
            if status == "busy":
                busy.append(task)
                continue
            _count(report, status, task, reason, seconds, progress)
    failed = {(f.clip_id, f.modality) for f in report.failures}
    report.tasks = [t for t in tasks if (t.clip.id, t.modality) not in failed]
    return report


def _count(report: ExtractionReport, status: str, task: Task, reason: str, seconds: float,
           progress: Callable[[int], Any] | None) -> None:
    """Add one finished task to the report."""
    log.debug("%s %s [%s] %s (%.2f s)", status, task.clip.id, task.modality, task.key, seconds)
    if progress is not None:
        progress(1)
    report.seconds[task.modality] = report.seconds.get(task.modality, 0.0) + seconds
    if status == "computed":
        report.computed += 1
    elif status == "cached":
        report.cached += 1
    else:
        report.failures.append(Failure(task.clip.id, task.modality, reason))


def _say_damaged(task: Task, problem: str, cache: FeatureCache) -> None:
    """Warn that a clip's cached features are damaged and will be computed again."""
    log.warning("clip %r [%s]: cached features %s (%s); computing them again", task.clip.id,
                task.modality, problem, cache.path(task.key, task.extractor.identity()))


def collect(tasks: Iterable[Task], cache: FeatureCache) -> dict[str, pd.DataFrame]:
    """Read the cached features of tasks into one DataFrame per modality, indexed by id.

    Every entry is verified as it is read (:meth:`FeatureCache.get`). An entry that is
    damaged, or has vanished since :func:`run` (removed by ``emo cache prune`` meanwhile),
    is reported naming its clip, removed and computed again here, in this process.

    Returns
    -------
    dict
        Modality -> DataFrame (float feature columns; rows in task order).

    Raises
    ------
    CacheError
        When such an entry cannot be computed again (its media gone or unreadable now),
        naming the clip and why: a table with the clip silently missing would lie.
    """
    import pandas as pd

    tasks = list(tasks)
    found: list[dict[str, float] | None] = []
    redo: list[Task] = []
    for task in tasks:
        identity = task.extractor.identity()
        try:
            features = cache.get(task.key, identity)
        except DamagedEntryError as exc:
            _say_damaged(task, exc.reason, cache)
            cache.discard(task.key, identity)
            features = None
        if features is None:
            redo.append(task)
        found.append(features)
    if redo:
        _compute_again(redo, cache)
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for task, features in zip(tasks, found, strict=True):
        if features is None:
            features = _read_again(task, cache)
        rows.setdefault(task.modality, {})[task.clip.id] = features
    tables = {}
    for modality, by_id in rows.items():
        frame = pd.DataFrame.from_dict(by_id, orient="index").astype("float64")
        frame.index.name = "id"
        tables[modality] = frame
    return tables


def _compute_again(tasks: list[Task], cache: FeatureCache) -> None:
    """Compute missing entries in this process (under their locks, like :func:`run`)."""
    for job in jobs(tasks):
        for status, task, reason, _ in _job_results(job, cache.root, True, None):
            if status == "failed":
                raise CacheError(f"features of clip {task.clip.id!r} ({task.modality}) were "
                                 f"missing or damaged in the cache and cannot be computed "
                                 f"again: {reason}", cache.path(task.key,
                                                                task.extractor.identity()))


def _read_again(task: Task, cache: FeatureCache) -> dict[str, float]:
    """The features of a task computed again by :func:`_compute_again`."""
    identity = task.extractor.identity()
    try:
        features = cache.get(task.key, identity)
    except DamagedEntryError as exc:
        features, why = None, exc.reason
    else:
        why = "vanished"
    if features is None:
        raise CacheError(f"features of clip {task.clip.id!r} ({task.modality}) computed again "
                         f"but {why}: the cache folder is being changed or its disk fails",
                         cache.path(task.key, identity))
    return features
