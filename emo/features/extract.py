"""Run extractors over many clips: cache look-up, parallel workers, failure list, tables.

The plan step (content hashes, cache keys) runs in the calling process and imports no
heavy module, so a run with everything cached costs little more than Python's start.
Each missing entry is a task ``(clip, extractor, key)`` run by a worker (in-process for
``n_jobs=1``, joblib/loky processes otherwise, or a Dask cluster) that writes its result
to the cache itself: an interrupted run keeps every finished clip.

Under the key's lock a worker first looks again for an entry or a failure that another
process stored meanwhile, so two runs sharing a cache compute each key once. A clip that
fails is recorded with its reason and retried only with ``retry_failed``; a worker that
dies (segfault, out of memory) ends the batch with the unfinished clips listed as failed,
not recorded, so the next run resumes them.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emo.data.clip import Clip
from emo.errors import CacheError, EmoError, FeatureError
from emo.features.base import Extractor, get_extractor
from emo.features.cache import FeatureCache

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


def _compute(task: Task, root: Path, blocking: bool,
             retry_since: float | None) -> tuple[str, Task, str, float]:
    """Worker: compute one task and store it. Returns (status, task, reason, seconds).

    Under the key's lock, an entry or a failure another process stored meanwhile is
    taken as the answer (a failure recorded before ``retry_since`` is retried; ``None``:
    failures are never retried here), so no key is computed twice.
    """
    cache = FeatureCache(root)
    identity = task.extractor.identity()
    with cache.lock(task.key, blocking=blocking) as acquired:
        if not acquired:
            return "busy", task, "", 0.0
        if cache.has(task.key, identity):
            return "cached", task, "", 0.0
        record = cache.failure(task.key)
        if record is not None and (retry_since is None
                                   or record.get("time", 0.0) >= retry_since):
            return "failed", task, recorded_reason(record, task), 0.0
        t0 = time.perf_counter()
        path = task.clip.media_for(task.modality)
        try:
            features = task.extractor.extract(task.clip)
            if not features:
                raise FeatureError("the extractor returned no features", path)
        except EmoError as exc:
            reason, message = str(exc), exc.reason if exc.path is not None else str(exc)
        except Exception as exc:  # noqa: BLE001 - a broken clip must not stop the batch
            message = f"{type(exc).__name__}: {exc}"
            reason = f"{path}: {message}"
        else:
            sources = [str(p) for p in task.extractor.sources(task.clip)]
            cache.put(task.key, identity, features, sources)
            return "computed", task, "", time.perf_counter() - t0
        cache.record_failure(task.key, identity, task.clip.id, reason, message=message)
        return "failed", task, reason, time.perf_counter() - t0


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
                  dask: str | None, retry_since: float | None,
                  ) -> Iterator[tuple[str, Task, str, float]]:
    if not tasks:  # everything cached: start no worker pool
        return
    if n_jobs == 1 and dask is None:
        for task in tasks:
            yield _compute(task, root, blocking, retry_since)
        return
    from joblib import Parallel, delayed, parallel_config

    with contextlib.ExitStack() as stack:
        if dask is not None:
            # Remote workers resolve relative paths in their own folders: send absolute ones.
            root = root.resolve()
            tasks = [replace(t, clip=_absolute(t.clip)) for t in tasks]
            stack.enter_context(_dask_client(dask))
            stack.enter_context(parallel_config(backend="dask"))
        parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered", batch_size=1)
        yield from parallel(delayed(_compute)(t, root, blocking, retry_since) for t in tasks)


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
        with Client(address) as client:
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
    for task in tasks:
        identity = task.extractor.identity()
        if cache.has(task.key, identity):
            report.cached += 1
            continue
        record = None if retry_failed else cache.failure(task.key)
        if record is not None:
            reason = recorded_reason(record, task)
            report.failures.append(Failure(task.clip.id, task.modality,
                                           f"{reason} (failed before; --retry-failed to retry)"))
            continue
        todo.append(task)
    if progress is not None:
        progress(len(todo))
    busy: list[Task] = []
    finished: set[tuple[str, str]] = set()
    retry_since = started if retry_failed else None
    try:
        for blocking, batch in ((False, todo), (True, busy)):
            for status, task, reason, seconds in _run_parallel(batch, cache.root, n_jobs,
                                                               blocking, dask, retry_since):
                if status == "busy":
                    busy.append(task)
                    continue
                finished.add((task.clip.id, task.modality))
                _count(report, status, task, reason, seconds, progress)
    except BrokenExecutor as exc:  # a worker crashed (segfault) or was killed (memory)
        log.error("a worker process died: %s", exc)
        for task in todo:
            if (task.clip.id, task.modality) in finished:
                continue
            record = cache.failure(task.key)
            if cache.has(task.key, task.extractor.identity()):  # stored, not yet reported
                report.computed += 1
            elif record is not None and record.get("time", 0.0) >= started:
                report.failures.append(Failure(task.clip.id, task.modality,
                                               recorded_reason(record, task)))
            else:
                report.failures.append(Failure(task.clip.id, task.modality, (
                    f"{task.clip.media_for(task.modality)}: not computed: a worker process "
                    "died (crash or out of memory) during the batch; finished clips are "
                    "cached, run again to resume")))
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


def collect(tasks: Iterable[Task], cache: FeatureCache) -> dict[str, pd.DataFrame]:
    """Read the cached features of tasks into one DataFrame per modality, indexed by id.

    Returns
    -------
    dict
        Modality -> DataFrame (float feature columns; rows in task order).

    Raises
    ------
    CacheError
        When an entry :func:`run` found or wrote has vanished or become unreadable
        since (removed by ``emo cache prune`` meanwhile, damaged disk): a table with
        the clip silently missing would lie.
    """
    import pandas as pd

    rows: dict[str, dict[str, dict[str, float]]] = {}
    for task in tasks:
        identity = task.extractor.identity()
        features = cache.get(task.key, identity)
        if features is None:
            raise CacheError(f"entry of clip {task.clip.id!r} ({task.modality}) is missing or "
                             "unreadable; run `emo cache verify`, then this command again",
                             cache.path(task.key, identity))
        rows.setdefault(task.modality, {})[task.clip.id] = features
    tables = {}
    for modality, by_id in rows.items():
        frame = pd.DataFrame.from_dict(by_id, orient="index").astype("float64")
        frame.index.name = "id"
        tables[modality] = frame
    return tables
