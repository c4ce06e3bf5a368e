"""The Celery app, configured from show.toml's `[queue]` for work that must not be lost.

- `task_acks_late`: a task's message is acknowledged when the task has finished, not when a
  worker takes it; until then the broker keeps it.
- `task_reject_on_worker_lost`: when a worker's process dies mid-task (kill -9, out of memory),
  the message goes back on the queue instead of being marked failed.
- `worker_prefetch_multiplier = 1`: each worker process holds one task at a time, so a long
  transcription does not sit on tasks another worker could start.
- the Redis transport's `visibility_timeout`: a message taken but not acknowledged within it is
  given to another worker. That is how a task whose whole worker vanished comes back, and also
  why a task running longer than it is started a second time (harmless, as every task is
  idempotent, but wasted work): docs/scaling.md, "Time limits and the visibility timeout".

Results travel through the catalog; the broker's result backend only says "done, here is the
key" or carries the error, and the run reads it by polling.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from celery import Celery
from celery.backends.redis import RedisBackend

from fieldreports.config import QueueSettings, ShowConfig, mask_password
from fieldreports.errors import SetupError
from fieldreports.naming import slugify

log = logging.getLogger(__name__)

TASK_NAME = "fieldreports.run_stage"


class PolledRedisBackend(RedisBackend):  # type: ignore[misc]
    """Celery's Redis result backend, read by polling only.

    The run waits for many tasks from several threads. Celery's Redis backend would subscribe
    to each task's result on one pub/sub connection, which is not safe across threads; a plain
    GET of the task's state is, and costs one round trip a quarter second per waiting report.
    """

    def on_task_call(self, producer: Any, task_id: str) -> None:
        pass


def queue_name(config: ShowConfig) -> str:
    """The show's Celery queue: `[queue] name`, else one derived from the show's base URL, so
    the run and its workers agree without being told and shows sharing a broker stay apart."""
    return config.queue.name or derived_queue_name(config.show.base_url)


def derived_queue_name(base_url: str) -> str:
    """
    >>> derived_queue_name("https://example.org/border-reached/")
    'fieldreports-example-org-border-reached'
    """
    return "fieldreports-" + slugify(base_url.split("://", 1)[-1])


def make_app(config: ShowConfig) -> Celery:
    """The Celery app for this show's broker, with the settings the module docstring explains."""
    queue = config.queue
    url = queue.broker
    app = Celery("fieldreports", set_as_current=False)
    app.conf.update(
        broker_url=url,
        result_backend=f"{__name__}:PolledRedisBackend+{url}",
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        broker_transport_options=transport_options(queue),
        task_default_queue=queue_name(config),
        task_track_started=True,
        result_expires=dt.timedelta(days=7),
        broker_connection_retry_on_startup=True,
        # A worker that loses the broker stops its running tasks: the broker gives them to
        # another worker after the visibility timeout anyway, and two copies would only race.
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        task_publish_retry_policy={"max_retries": 3, "interval_start": 0.5, "interval_step": 1},
    )
    return app


def transport_options(queue: QueueSettings) -> dict[str, Any]:
    """The Redis transport's options: the visibility timeout, and a sweep for lost messages
    often enough that one comes back soon after the timeout.

    >>> options = transport_options(QueueSettings(visibility_timeout_s=600))
    >>> options["unacked_restore_interval"], options["unacked_mutex_expire"]
    (10, 10)
    """
    return {
        "visibility_timeout": queue.visibility_timeout_s,
        # kombu looks for timed-out messages every interval x throttle seconds (100 s by
        # default): one look every twentieth of the timeout, at most every 10 s.
        "unacked_restore_interval": max(1, min(10, round(queue.visibility_timeout_s / 20))),
        "unacked_restore_throttle": 1,
        # A sweep holds a lock in Redis for the few milliseconds it takes. A worker killed
        # mid-sweep leaves it held until it expires, and kombu's default expiry (300 s) would
        # hold every lost task back that much longer. Two sweeps at once are harmless (each
        # message goes back in a transaction), so the lock lasts at most the longest interval.
        "unacked_mutex_expire": 10,
    }


def time_limits(duration_s: float, queue: QueueSettings) -> tuple[float, float]:
    """A task's (soft, hard) time limits for `duration_s` of audio: the soft one raises in the
    task (the report fails, its programs are stopped), the hard one kills the process.

    >>> time_limits(600, QueueSettings())
    (720.0, 780.0)
    """
    soft = queue.time_limit_s + queue.time_limit_per_audio_s * duration_s
    return soft, soft + queue.hard_limit_extra_s


def check_broker(app: Celery, url: str, *, timeout_s: float = 5.0) -> None:
    """SetupError naming the broker (password masked) when it cannot be reached now."""
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=timeout_s)
    except Exception as exc:  # kombu and redis raise many kinds; all mean "not reachable"
        raise broker_error(url, exc) from exc


def broker_error(url: str, exc: BaseException) -> SetupError:
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0].rstrip(".")
    return SetupError(
        f"cannot reach the broker {mask_password(url)} ({reason}). Check that Redis is running "
        "there and reachable from this machine, or fix [queue] broker in show.toml (or "
        "--broker), then try again."
    )
