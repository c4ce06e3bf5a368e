"""Running stages here: each job's result is looked up in the catalog first, made if missing,
then stored and logged. The Celery executor (`fieldreports.workers`) runs the same stages on
other machines; the stage functions know nothing of either.

`run` works in the calling thread. `start` hands the work to a background thread and returns at
once, which is how a recording is mastered beside its transcription: Whisper keeps one core
busy, the encoders and the meter use the other. The catalog is only ever touched from the
calling thread (SQLite connections are not shared between threads).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from fieldreports.stages import Stage

log = logging.getLogger(__name__)

J = TypeVar("J")
R = TypeVar("R")
ProgressFn = Callable[[float, float], None]


class StageCache(Protocol):
    """What an executor needs of the catalog."""

    def get(self, stage: str, key: str, cls: type[R]) -> R | None: ...
    def put(self, stage: str, key: str, value: Any) -> None: ...
    def log_work(self, run_id: int, report_id: str, stage: str, seconds: float) -> None: ...


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
        self._used.add(self._work_dir(stage, job))
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
        self._used.add(self._work_dir(stage, job))
        found = self.cached(stage, job)
        if found is not None:
            return Pending(done=found)
        future = self._pool.submit(_timed, stage, job, self._work_dir(stage, job), on_progress)
        return Pending(
            future=future,
            store=lambda made, seconds: self._store(stage, job, report_id, made, seconds),
        )

    def _work_dir(self, stage: Stage[J, R], job: J) -> Path:
        return self.cache_dir / stage.name / stage.key(job)

    def prune(self, *, keep: Iterable[Path] = ()) -> tuple[Path, ...]:
        """Delete every work folder this run did not use, nor holds a file of `keep`: masters
        and tagged copies of reports that left the show, half-written files of a killed run.
        Private data must not outlive its report. Call it only after a run where nothing failed
        (a failing report's cached work is what its fix will reuse)."""
        keep_dirs = self._used | {p.parent for p in keep}
        removed = []
        for stage_dir in sorted(self.cache_dir.iterdir()) if self.cache_dir.is_dir() else ():
            for work_dir in sorted(stage_dir.iterdir()) if stage_dir.is_dir() else ():
                if work_dir.is_dir() and work_dir not in keep_dirs:
                    shutil.rmtree(work_dir, ignore_errors=True)
                    removed.append(work_dir)
        if removed:
            log.info("removed %d unused cache folder(s)", len(removed))
        return tuple(removed)

    def _store(self, stage: Stage[J, R], job: J, report_id: str, made: R, seconds: float) -> None:
        self.catalog.put(stage.name, stage.key(job), made)
        self.catalog.log_work(self.run_id, report_id, stage.describe(job), seconds)


def _timed(
    stage: Stage[J, R], job: J, work_dir: Path, on_progress: ProgressFn | None
) -> tuple[R, float]:
    started = time.perf_counter()
    made = stage.run(job, work_dir=work_dir, on_progress=on_progress)
    return made, time.perf_counter() - started
