"""CeleryExecutor: the run's side of the workers, with the interface of LocalExecutor.

`start(stage, job)` of a remote stage (normalise, transcribe) sends a `run_stage` task and
returns at once; `result()` waits for it, reads the result from the catalog by the key the
task returns, brings its files into the run's cache and ticks the progress bar. Other stages
(locate, episode, map) run here, by a LocalExecutor. `map` hears up to `[queue] in_flight`
reports at once, each in a thread of the run that mostly waits, so every report's tasks are out
while the workers work: mastering beside transcription, and the translation sent as soon as
its transcript is back (`pipeline.transcribe_report` decides, as in a local run).

Each task gets time limits scaled to its recording's length (`app.time_limits`). A task's own
fault comes back as the error it raised (ReportError, StageTimeout), so the pipeline records or
quarantines the report exactly as after a local run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Generic, TypeVar

from celery.result import AsyncResult

from fieldreports.catalog import serialise
from fieldreports.catalog.serialise import paths_in
from fieldreports.config import ShowConfig, mask_password
from fieldreports.errors import FieldReportsError, ReportError, SetupError, StageTimeout
from fieldreports.executor import LocalExecutor, Pending, ProgressFn, StageCache, Waiting
from fieldreports.stages import Stage
from fieldreports.times import format_duration
from fieldreports.workers.app import (
    TASK_NAME,
    broker_error,
    check_broker,
    make_app,
    queue_name,
    time_limits,
)
from fieldreports.workers.storage import HashFn, open_work_storage

log = logging.getLogger(__name__)

J = TypeVar("J")
R = TypeVar("R")
T = TypeVar("T")

_POLL_S = 0.25
# With nothing started for this long, say how to start a worker (once per run).
_NO_WORKER_S = 30.0
# A broker that stops answering mid-run is waited for this long (a restart), then an error.
_BROKER_PATIENCE_S = 30.0


class Stopped(SetupError):
    """The run is stopping (Ctrl+C or an error elsewhere): stop waiting for tasks."""


class CeleryExecutor:
    """Remote stages on Celery workers, the rest here; results cached in the shared catalog."""

    def __init__(
        self,
        catalog: StageCache,
        *,
        run_id: int,
        cache_dir: Path,
        config: ShowConfig,
        hash_file: HashFn,
    ) -> None:
        self.catalog = catalog
        self.run_id = run_id
        self.cache_dir = cache_dir
        self.config = config
        self.broker = mask_password(config.queue.broker)
        self.app = make_app(config)
        check_broker(self.app, config.queue.broker)
        self.storage = open_work_storage(config)
        self._local = LocalExecutor(catalog, run_id=run_id, cache_dir=cache_dir)
        self._hash_file = hash_file
        self._used: set[tuple[str, str]] = set()  # (stage, key) this run asked for
        self._stopping = threading.Event()
        self._started_at = time.monotonic()
        self._seen_worker = False
        self._warned: set[str] = set()
        self._durations: dict[Path, float] = {}
        self._lock = threading.Lock()  # sending: the work storage's client and our sets
        log.info("stages go to the workers of queue %s on %s", queue_name(config), self.broker)

    # -- the interface every executor has --------------------------------------------------

    def cached(self, stage: Stage[J, R], job: J) -> R | None:
        if not stage.remote:
            return self._local.cached(stage, job)
        found = self.catalog.get(stage.name, stage.key(job), stage.result)
        if found is not None and self.storage.receive(stage, stage.key(job), found):
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
        if not stage.remote:
            return self._local.run(stage, job, report_id=report_id, on_progress=on_progress)
        return self.start(stage, job, report_id=report_id, on_progress=on_progress).result()

    def start(
        self,
        stage: Stage[J, R],
        job: J,
        *,
        report_id: str = "",
        on_progress: ProgressFn | None = None,
    ) -> Waiting[R]:
        """Send `job` to the workers (unless its result is cached); `result()` waits for it."""
        if not stage.remote:
            return self._local.start(stage, job, report_id=report_id, on_progress=on_progress)
        self._local.mark_used(stage, job)
        key = stage.key(job)
        self._used.add((stage.name, key))
        found = self.cached(stage, job)
        if found is not None:
            return Pending(done=found)
        with self._lock:
            inputs = self.storage.send(job, self._hash_file)
        duration_s = self._duration(job)
        soft, hard = time_limits(duration_s, self.config.queue)
        self._warn_if_longer_than_visibility(report_id, duration_s, hard)
        try:
            sent = self.app.send_task(
                TASK_NAME,
                args=(stage.name, serialise.dumps(job)),
                kwargs={
                    "run_id": self.run_id,
                    "report_id": report_id,
                    "cache_dir": str(self.cache_dir),
                    "inputs": inputs,
                    "duration_s": duration_s,
                },
                queue=queue_name(self.config),
                soft_time_limit=soft,
                time_limit=hard,
            )
        except Exception as exc:  # kombu and redis raise many kinds
            raise broker_error(self.config.queue.broker, exc) from exc
        log.debug("sent %s of %s as task %s", stage.describe(job), report_id, sent.id)
        return _Remote(self, stage, job, key, sent, hard, on_progress)

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """`fn` on up to `[queue] in_flight` items at once, results in order."""
        pool = ThreadPoolExecutor(self.config.queue.in_flight, thread_name_prefix="report")
        try:
            yield from pool.map(fn, items)
        finally:
            self._stopping.set()  # early exit: let the waiting threads go
            pool.shutdown(wait=True, cancel_futures=True)
            self._stopping.clear()

    def prune(self, *, keep: Iterable[Path] = ()) -> tuple[Path, ...]:
        removed = self._local.prune(keep=keep)
        self.storage.finish(used=self._used)
        return removed

    def close(self) -> None:
        self._stopping.set()
        self._local.close()
        try:
            self.storage.finish()
        except FieldReportsError as exc:
            log.warning("%s", exc)

    # -- waiting ---------------------------------------------------------------------------

    def _wait(self, sent: AsyncResult) -> tuple[str, Any]:
        """Poll the task's state until it is ready: (state, value or error)."""
        trouble_since: float | None = None
        while True:
            if self._stopping.is_set():
                raise Stopped("the run is stopping; the workers finish what they started")
            try:
                state = sent.state
                if state in ("SUCCESS", "FAILURE"):
                    return state, sent.result
            except Exception as exc:  # the broker's answer or its absence
                trouble_since = trouble_since or time.monotonic()
                if time.monotonic() - trouble_since > _BROKER_PATIENCE_S:
                    raise broker_error(self.config.queue.broker, exc) from exc
            else:
                trouble_since = None
                self._note(state)
            time.sleep(_POLL_S)

    def _note(self, state: str) -> None:
        if state != "PENDING":
            self._seen_worker = True
        elif not self._seen_worker and time.monotonic() - self._started_at > _NO_WORKER_S:
            self._seen_worker = True  # say it once
            log.warning(
                "no worker has started a task in %.0f s: start one with `fieldreports worker "
                "%s` on a machine that reaches %s (queue %s)",
                _NO_WORKER_S,
                self.config.show_dir,
                self.broker,
                queue_name(self.config),
            )

    def _collect(self, remote: _Remote[Any, R]) -> R:
        state, value = self._wait(remote.sent)
        stage, job = remote.stage, remote.job
        if state != "SUCCESS":
            raise _as_error(value, stage.describe(job), remote.hard_s)
        found = self.catalog.get(stage.name, remote.key, stage.result)
        if found is None:
            where = getattr(self.catalog, "where", "this run's catalog")
            raise SetupError(
                f"a worker finished {stage.describe(job)} but its result is not in {where}: the "
                "worker uses another catalog. Give the run and every worker the same "
                "[catalog] url (PostgreSQL when they are on several machines)."
            )
        if not self.storage.receive(stage, remote.key, found):
            raise SetupError(
                f"a worker finished {stage.describe(job)} but its files are not in the work "
                "storage; check that the run and the workers have the same [queue] work_storage"
            )
        with self._lock:
            self._local.mark_used(stage, job)
        duration = float(getattr(found, "duration_s", 0.0) or 0.0)
        if remote.on_progress is not None:
            remote.on_progress(duration or 1.0, duration or 1.0)
        remote.sent.forget()
        return found

    # -- time limits -----------------------------------------------------------------------

    def _duration(self, job: Any) -> float:
        """The recording's length, for the task's time limits (0 when it cannot be told)."""
        from fieldreports.audio.decode import probe

        longest = 0.0
        for path in paths_in(job):
            if path not in self._durations:
                try:
                    self._durations[path] = probe(path).duration_s if path.is_file() else 0.0
                except FieldReportsError:
                    self._durations[path] = 0.0  # the worker will say what is wrong with it
            longest = max(longest, self._durations[path])
        return longest

    def _warn_if_longer_than_visibility(self, report_id: str, duration_s: float, hard: float):
        visibility = self.config.queue.visibility_timeout_s
        if hard <= visibility or report_id in self._warned:
            return
        self._warned.add(report_id)
        log.warning(
            "%s is %s long: its tasks may run up to %.0f s, longer than [queue] "
            "visibility_timeout_s = %g, so another worker may start them again while they run "
            "(no harm, but wasted work). Raise visibility_timeout_s above %.0f (docs/scaling.md).",
            report_id,
            format_duration(duration_s),
            hard,
            visibility,
            hard,
        )


class _Remote(Generic[J, R]):
    """A task out on the workers; `result()` waits for it once and keeps what it got."""

    def __init__(
        self,
        executor: CeleryExecutor,
        stage: Stage[J, R],
        job: J,
        key: str,
        sent: AsyncResult,
        hard_s: float,
        on_progress: ProgressFn | None,
    ) -> None:
        self.executor, self.stage, self.job, self.key = executor, stage, job, key
        self.sent, self.hard_s, self.on_progress = sent, hard_s, on_progress
        self._done: R | None = None

    def result(self) -> R:
        if self._done is None:
            self._done = self.executor._collect(self)
        return self._done

    def settle(self) -> None:
        """Nothing to keep here: the worker stores its own result, even if the run stops."""


def _as_error(value: Any, what: str, hard_s: float) -> Exception:
    """The run's error for a task that failed on a worker."""
    if isinstance(value, FieldReportsError):
        return value
    name = type(value).__name__
    if name in ("TimeLimitExceeded", "SoftTimeLimitExceeded"):
        return StageTimeout(
            f"{what} ran past its hard time limit ({hard_s:.0f} s) on a worker and was "
            "killed; raise [queue] time_limit_per_audio_s or time_limit_s in show.toml"
        )
    if isinstance(value, BaseException):
        return RuntimeError(f"{what} failed on a worker: {name}: {value}")
    return ReportError(f"{what} failed on a worker: {value!r}")
