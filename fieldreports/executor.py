"""Running stages here: each job's result is looked up in the catalog first, made if missing,
then stored and logged. The Celery executor (`fieldreports.workers`) runs the same stages on
other machines; the stage functions know nothing of either, and `open_executor` picks one from
show.toml (`[queue] broker`), so the pipeline is the same code either way.

`run` works in the calling thread. `start` hands the work to a background thread and returns at
once, which is how a recording is mastered beside its transcription: Whisper keeps one core
busy, the encoders and the meter use the other. The catalog is only ever touched from the
calling thread (SQLite connections are not shared between threads).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from fieldreports.stages import Stage

if TYPE_CHECKING:
    from fieldreports.config import ShowConfig

log = logging.getLogger(__name__)

J = TypeVar("J")
R = TypeVar("R")
T = TypeVar("T")
R_co = TypeVar("R_co", covariant=True)
ProgressFn = Callable[[float, float], None]


class StageCache(Protocol):
    """What an executor needs of the catalog."""

    def get(self, stage: str, key: str, cls: type[R]) -> R | None: ...
    def put(self, stage: str, key: str, value: Any) -> None: ...
    def log_work(self, run_id: int, report_id: str, stage: str, seconds: float) -> None: ...


class Waiting(Protocol[R_co]):
    """A stage started by `Executor.start`."""

    def result(self) -> R_co:
        """Wait for the result (stored in the catalog once), or raise the stage's error."""
        ...

    def settle(self) -> None:
        """Wait for the work to end and keep its result, if any; used on the way out."""
        ...


class Executor(Protocol):
    """What runs the pipeline's stages: `LocalExecutor` here, `CeleryExecutor` on workers."""

    def cached(self, stage: Stage[J, R], job: J) -> R | None: ...

    def run(
        self,
        stage: Stage[J, R],
        job: J,
        *,
        report_id: str = "",
        on_progress: ProgressFn | None = None,
    ) -> R: ...

    def start(
        self,
        stage: Stage[J, R],
        job: J,
        *,
        report_id: str = "",
        on_progress: ProgressFn | None = None,
    ) -> Waiting[R]: ...

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """`fn` on each item, results in order: one at a time here, several when the stages
        run elsewhere (so every report's tasks are out at once)."""
        ...

    def prune(self, *, keep: Iterable[Path] = ()) -> tuple[Path, ...]: ...

    def close(self) -> None: ...


def open_executor(
    config: ShowConfig, catalog: Any, *, run_id: int, hash_file: Callable[[Path], tuple[str, int]]
) -> Executor:
    """The executor show.toml asks for: here, or on Celery workers when `[queue] broker` is set.

    Celery is imported only then, so a show without a broker needs none of it installed.
    """
    cache_dir = config.state_dir / "cache"
    if not config.queue.broker:
        return LocalExecutor(catalog, run_id=run_id, cache_dir=cache_dir)
    try:
        from fieldreports.workers.executor import CeleryExecutor
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in ("celery", "kombu", "redis", "billiard"):
            raise
        from fieldreports.errors import SetupError

        raise SetupError(
            f"[queue] broker is set, but Celery is not installed ({exc}); install it with: "
            "pip install 'fieldreports[workers]'"
        ) from exc
    return CeleryExecutor(
        catalog, run_id=run_id, cache_dir=cache_dir, config=config, hash_file=hash_file
    )


class Pending(Generic[R]):
    """A stage started in the background; `result()` waits, then stores the result once."""

    def __init__(self, *, done: R | None = None, future: Future[tuple[R, float]] | None = None,
                 store: Callable[[R, float], None] | None = None) -> None:  # fmt: skip
        self._done, self._future, self._store = done, future, store

    def result(self) -> R:
        if self._done is None:
            assert self._future is not None and self._store is not None
            made, seconds = self._future.result()
            self._store(made, seconds)
            self._done = made
        return self._done

    def settle(self) -> None:
        """Wait for the work, and store its result if it has one; its error waits for `result`.

        Called on the way out of a stopped run (Ctrl+C), so finished work is never thrown away.
        """
        if self._future is not None:
            wait([self._future])
            if self._future.exception() is None:
                self.result()


class LocalExecutor:
    """Stages in this process, results cached in `catalog` and files under `cache_dir/<stage>/`."""

    def __init__(self, catalog: StageCache, *, run_id: int, cache_dir: Path) -> None:
        self.catalog = catalog
        self.run_id = run_id
        self.cache_dir = cache_dir
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stage")
        self._used: set[Path] = set()  # work folders of the jobs this run asked for

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """`fn` on each item in turn, in this thread: the stages already use both cores."""
        return (fn(item) for item in items)

    def cached(self, stage: Stage[J, R], job: J) -> R | None:
        """The stored result of `job`, if there is one and its files are still there."""
        found = self.catalog.get(stage.name, stage.key(job), stage.result)
        if found is not None and all(p.is_file() for p in stage.outputs(found)):
            return found
        return None

    def run(
        self,
        stage: Stage[J, R],
        job: J,
        *,
        report_id: str = "",
        on_progress: ProgressFn | None = None,
    ) -> R:
        """The result of `job`: from the catalog, or made now and stored."""
        self.mark_used(stage, job)
        found = self.cached(stage, job)
        if found is not None:
            return found
        made, seconds = _timed(stage, job, self._work_dir(stage, job), on_progress)
        self._store(stage, job, report_id, made, seconds)
        return made

    def start(
        self,
        stage: Stage[J, R],
        job: J,
        *,
        report_id: str = "",
        on_progress: ProgressFn | None = None,
    ) -> Pending[R]:
        """Like `run`, in a background thread when the result is not cached."""
        self.mark_used(stage, job)
        found = self.cached(stage, job)
        if found is not None:
            return Pending(done=found)
        future = self._pool.submit(_timed, stage, job, self._work_dir(stage, job), on_progress)
        return Pending(
            future=future,
            store=lambda made, seconds: self._store(stage, job, report_id, made, seconds),
        )

    def _work_dir(self, stage: Stage[J, R], job: J) -> Path:
        return work_dir(self.cache_dir, stage.name, stage.key(job))

    def mark_used(self, stage: Stage[J, R], job: J) -> None:
        """Keep `job`'s work folder through `prune`: this run asked for it."""
        self._used.add(self._work_dir(stage, job))

    def prune(self, *, keep: Iterable[Path] = ()) -> tuple[Path, ...]:
        """Delete every work folder this run did not use, nor holds a file of `keep`: masters
        and tagged copies of reports that left the show, half-written files of a killed run.
        Private data must not outlive its report. Call it only after a run where nothing failed
        (a failing report's cached work is what its fix will reuse)."""
        keep_dirs = self._used | {p.parent for p in keep}
        removed = []
        for stage_dir in sorted(self.cache_dir.iterdir()) if self.cache_dir.is_dir() else ():
            if stage_dir.name == INCOMING:
                removed.extend(_stale(stage_dir))
                continue
            for folder in sorted(stage_dir.iterdir()) if stage_dir.is_dir() else ():
                if folder.is_dir() and folder not in keep_dirs:
                    shutil.rmtree(folder, ignore_errors=True)
                    removed.append(folder)
        if removed:
            log.info("removed %d unused cache folder(s)", len(removed))
        return tuple(removed)

    def _store(self, stage: Stage[J, R], job: J, report_id: str, made: R, seconds: float) -> None:
        self.catalog.put(stage.name, stage.key(job), made)
        self.catalog.log_work(self.run_id, report_id, stage.describe(job), seconds)


#: Where workers sharing the show folder's disk make a result before moving it into place.
INCOMING = ".incoming"
# A worker's unfinished folder this old was left by a worker that died: no task runs that long.
_STALE_S = 24 * 3600


def work_dir(cache_dir: Path, stage: str, key: str) -> Path:
    """The folder a stage's result files live in: one per job, on every machine the same."""
    return cache_dir / stage / key


def _stale(incoming: Path) -> list[Path]:
    removed = []
    for folder in sorted(incoming.iterdir()):
        if time.time() - folder.stat().st_mtime > _STALE_S:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _timed(
    stage: Stage[J, R], job: J, work_dir: Path, on_progress: ProgressFn | None
) -> tuple[R, float]:
    started = time.perf_counter()
    made = stage.run(job, work_dir=work_dir, on_progress=on_progress)
    return made, time.perf_counter() - started
