"""Run extractors over many clips: cache look-up, parallel workers, failure list, tables.

The plan step (content hashes, cache keys) runs in the calling process and imports no
heavy module, so a run with everything cached costs little more than Python's start.
Each missing entry is a task ``(clip, extractor, key)`` run by a worker (in-process for
``n_jobs=1``, joblib/loky processes otherwise, or a Dask cluster) that writes its result
to the cache itself: an interrupted run keeps every finished clip.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emo.data.clip import Clip
from emo.errors import EmoError, FeatureError
from emo.features.base import Extractor, get_extractor
from emo.features.cache import FeatureCache

if TYPE_CHECKING:
    import pandas as pd


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


def _compute(task: Task, root: Path, blocking: bool) -> tuple[str, Task, str, float]:
    """Worker: compute one task and store it. Returns (status, task, reason, seconds)."""
    cache = FeatureCache(root)
    identity = task.extractor.identity()
    with cache.lock(task.key, blocking=blocking) as acquired:
        if not acquired:
            return "busy", task, "", 0.0
        if cache.has(task.key, identity):
            return "cached", task, "", 0.0
        t0 = time.perf_counter()
        try:
            features = task.extractor.extract(task.clip)
            if not features:
                raise FeatureError("the extractor returned no features", task.clip.origin)
        except EmoError as exc:
            reason = str(exc)
        except Exception as exc:  # noqa: BLE001 - a broken clip must not stop the batch
            path = task.clip.media_for(task.modality)
            reason = f"{path}: {type(exc).__name__}: {exc}"
        else:
            sources = [str(p) for p in task.extractor.sources(task.clip)]
            cache.put(task.key, identity, features, sources)
            return "computed", task, "", time.perf_counter() - t0
        cache.record_failure(task.key, identity, task.clip.id, reason)
        return "failed", task, reason, time.perf_counter() - t0


def _run_parallel(tasks: list[Task], root: Path, n_jobs: int, blocking: bool,
                  dask: str | None) -> Iterator[tuple[str, Task, str, float]]:
    if n_jobs == 1 and dask is None:
        for task in tasks:
            yield _compute(task, root, blocking)
        return
    from joblib import Parallel, delayed, parallel_config

    with contextlib.ExitStack() as stack:
        if dask is not None:
            stack.enter_context(_dask_client(dask))
            stack.enter_context(parallel_config(backend="dask"))
        parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered", batch_size=1)
        yield from parallel(delayed(_compute)(t, root, blocking) for t in tasks)


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
    tasks = plan(clips, extractors, cache, report)
    todo = []
    for task in tasks:
        identity = task.extractor.identity()
        if cache.has(task.key, identity):
            report.cached += 1
            continue
        record = None if retry_failed else cache.failure(task.key)
        if record is not None:
            reason = record.get("reason", "failed")
            report.failures.append(Failure(task.clip.id, task.modality,
                                           f"{reason} (failed before; --retry-failed to retry)"))
            continue
        todo.append(task)
    if progress is not None:
        progress(len(todo))
    busy: list[Task] = []
    for blocking, batch in ((False, todo), (True, busy)):
        for status, task, reason, seconds in _run_parallel(batch, cache.root, n_jobs, blocking,
                                                           dask):
            if status == "busy":
                busy.append(task)
                continue
            if progress is not None:
                progress(1)
            report.seconds[task.modality] = report.seconds.get(task.modality, 0.0) + seconds
            if status == "computed":
                report.computed += 1
            elif status == "cached":
                report.cached += 1
            else:
                report.failures.append(Failure(task.clip.id, task.modality, reason))
    failed = {(f.clip_id, f.modality) for f in report.failures}
    report.tasks = [t for t in tasks if (t.clip.id, t.modality) not in failed]
    return report


def collect(tasks: Iterable[Task], cache: FeatureCache) -> dict[str, pd.DataFrame]:
    """Read the cached features of tasks into one DataFrame per modality, indexed by id.

    Returns
    -------
    dict
        Modality -> DataFrame (float feature columns; rows in task order).
    """
    import pandas as pd

    rows: dict[str, dict[str, dict[str, float]]] = {}
    for task in tasks:
        features = cache.get(task.key, task.extractor.identity())
        if features is None:
            continue
        rows.setdefault(task.modality, {})[task.clip.id] = features
    tables = {}
    for modality, by_id in rows.items():
        frame = pd.DataFrame.from_dict(by_id, orient="index").astype("float64")
        frame.index.name = "id"
        tables[modality] = frame
    return tables
