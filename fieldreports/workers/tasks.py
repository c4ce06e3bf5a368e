"""The worker: one generic task that runs any remote stage, and the process that serves it.

`run_stage(stage_name, job_json)` looks the stage up in `fieldreports.stages.REMOTE_STAGES`,
decodes the job, and returns `Stage.key(job)` once the catalog holds the result:

1. record the attempt (which worker, which task) in the catalog;
2. if the catalog already has the result and the storage its files, that is all (a task sent
   twice, or redelivered after its first worker finished, does nothing twice);
3. otherwise fetch the inputs, run the stage's own function in a fresh folder, store the files
   (`storage.keep`) and then the result, log the work, and close the attempt.

Transient faults (the catalog's database restarting, the work storage unreachable) are retried
with exponential backoff; a report's own fault (ReportError: not audio, too short) is not: it
goes back to the run, which records it and quarantines the recording as a local run would. A
task past its soft time limit raises StageTimeout after its programs are stopped. A task whose
workers keep dying under it (`[queue] max_lost` unfinished attempts) fails instead of looping.

Each worker process opens its own catalog after the fork (`worker_process_init`): a connection
pool must never be shared across a fork. Whisper stays loaded per process
(`transcription.engine_for`).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celery import Task, signals
from celery.exceptions import SoftTimeLimitExceeded

from fieldreports.catalog import Catalog, open_catalog, serialise
from fieldreports.catalog.serialise import map_paths
from fieldreports.config import QueueSettings, ShowConfig
from fieldreports.errors import (
    CatalogUnavailable,
    FieldReportsError,
    ReportError,
    StageTimeout,
    WorkStorageUnavailable,
)
from fieldreports.executor import work_dir
from fieldreports.stages import remote_stage
from fieldreports.times import format_duration
from fieldreports.workers.app import TASK_NAME, check_broker, make_app, queue_name
from fieldreports.workers.storage import WorkStorage, open_work_storage

log = logging.getLogger(__name__)

#: What a task retries on, with backoff: faults that pass.
TRANSIENT = (CatalogUnavailable, WorkStorageUnavailable)


@dataclass(slots=True)
class _Process:
    """What one worker process holds: the show's settings (inherited through the fork), and
    the catalog and storage it opened itself after the fork."""

    config: ShowConfig
    catalog: Catalog | None = None
    storage: WorkStorage | None = None

    @property
    def name(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()}"

    def open(self) -> tuple[Catalog, WorkStorage]:
        if self.catalog is None:
            self.catalog = open_catalog(self.config.state_dir, self.config.catalog)
        if self.storage is None:
            self.storage = open_work_storage(self.config)
        return self.catalog, self.storage

    def close(self) -> None:
        if self.catalog is not None:
            self.catalog.close()
        self.catalog = self.storage = None


_process: _Process | None = None


def run_stage(
    task: Task,
    stage_name: str,
    job_json: str,
    *,
    run_id: int = 0,
    report_id: str = "",
    cache_dir: str = "",
    inputs: dict[str, str] | None = None,
    duration_s: float = 0.0,
) -> str:
    """Run one remote stage on one job; the result's key once the catalog holds it."""
    assert _process is not None, "run_stage runs in a worker started by serve()"
    queue = _process.config.queue
    stage = remote_stage(stage_name)
    job = serialise.loads(stage.job, job_json)
    key = stage.key(job)
    what = stage.describe(job)
    try:
        catalog, storage = _process.open()
        attempt = catalog.begin_attempt(task_id=task.request.id or "", run_id=run_id,
                                        report_id=report_id, stage=what, key=key,
                                        worker=_process.name)  # fmt: skip
    except TRANSIENT as exc:
        raise _retry(task, exc, queue) from exc
    outcome = "failed"
    try:
        lost = sum(a.finished_at is None for a in catalog.attempts(task_id=task.request.id or ""))
        if lost - 1 >= queue.max_lost:
            raise ReportError(
                f"{what}: {lost - 1} workers stopped without finishing it (killed, or out of "
                "memory); not tried again this run. See the workers' logs."
            )
        found = catalog.get(stage.name, key, stage.result)
        if found is not None and storage.has(stage, key, found):
            outcome = "cached"
            return key
        dest = work_dir(Path(cache_dir), stage.name, key)
        with storage.workspace(Path(cache_dir)) as space:
            local_job, back = storage.fetch(job, inputs or {}, space)
            made_dir = space / "made"
            started = time.perf_counter()
            made = stage.run(local_job, work_dir=made_dir, on_progress=None)
            seconds = time.perf_counter() - started
            result = storage.keep(stage, key, made, made_dir, dest)
        result = map_paths(result, lambda p: back.get(p, p))
        catalog.put(stage.name, key, result)
        catalog.log_work(run_id, report_id, what, seconds)
        retries = task.request.retries
        outcome = f"done after {retries} retries" if retries else "done"
        log.info("%s of %s done in %.1f s (%s)", what, report_id, seconds, key)
        return key
    except SoftTimeLimitExceeded:
        outcome = "timed out"
        _hard, soft = task.request.timelimit or (None, None)
        raise StageTimeout(
            f"{what} took longer than its time limit ({soft or '?'} s for "
            f"{format_duration(duration_s)} of audio) and was stopped; raise [queue] "
            f"time_limit_per_audio_s (now {queue.time_limit_per_audio_s:g}) or time_limit_s "
            f"(now {queue.time_limit_s:g}) in show.toml, or give the workers more cores"
        ) from None
    except TRANSIENT as exc:
        outcome = f"retrying: {exc}"
        raise _retry(task, exc, queue) from exc
    except FieldReportsError as exc:
        outcome = f"failed: {exc}"
        raise
    except Exception as exc:
        outcome = f"failed: {type(exc).__name__}: {exc}"
        raise
    finally:
        try:
            catalog.end_attempt(attempt, outcome[:1000])
        except FieldReportsError as exc:
            log.warning("could not record how %s ended (%s): %s", what, outcome, exc)


def _retry(task: Task, exc: Exception, queue: QueueSettings) -> Exception:
    """Celery's retry of this task after an exponential backoff: 2, 4, 8 ... s up to the max.
    After `max_retries` Celery raises `exc` itself, and the run gets it."""
    tries = task.request.retries
    countdown = min(queue.retry_backoff_max_s, queue.retry_backoff_s * 2**tries)
    log.warning("%s; trying again in %g s (retry %d of %d)", exc, countdown, tries + 1,
                queue.max_retries)  # fmt: skip
    retried: Exception = task.retry(exc=exc, countdown=countdown, max_retries=queue.max_retries)
    return retried


def _process_init(**_: Any) -> None:
    """In each new worker process: drop anything inherited, open our own catalog."""
    if _process is None:
        return
    _process.catalog = _process.storage = None
    try:
        _process.open()
    except FieldReportsError as exc:
        log.warning("%s; the first task will try again", exc)  # a database still starting


def _process_shutdown(**_: Any) -> None:
    if _process is not None:
        _process.close()


def serve(config: ShowConfig, *, concurrency: int, loglevel: str = "INFO") -> None:
    """Run a Celery worker for the show's queue until it is stopped (Ctrl+C, SIGTERM)."""
    global _process
    app = make_app(config)
    check_broker(app, config.queue.broker)
    # A report's own fault is expected: logged in a line, without a traceback.
    app.task(name=TASK_NAME, bind=True, throws=(ReportError,))(run_stage)
    _process = _Process(config=config)
    signals.worker_process_init.connect(_process_init, weak=False)
    signals.worker_process_shutdown.connect(_process_shutdown, weak=False)
    if not config.catalog.url:
        log.warning(
            "the catalog is the SQLite file in %s: only workers on this machine share it; "
            "workers on other machines need [catalog] url (PostgreSQL, docs/scaling.md)",
            config.state_dir,
        )
    app.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            f"--queues={queue_name(config)}",
            # Unique per process, so several workers on one machine do not clash.
            f"--hostname=fieldreports-{os.getpid()}@%h",
            f"--loglevel={loglevel}",
            "--without-gossip",
            "--without-mingle",
        ]
    )
