"""A show run on Celery workers publishes what a local run publishes, and loses nothing.

Real processes throughout: redis-server and PostgreSQL started by the session's fixtures,
`fieldreports worker` processes, Whisper tiny.en on espeak speech.
"""

from __future__ import annotations

import io
import shutil
import threading
from pathlib import Path
from typing import Any

import podcastparser
import pytest
from click.testing import CliRunner

from fieldreports.catalog import open_catalog
from fieldreports.config import CatalogSettings
from pipeline import cli
from tests.support.audio import tone
from tests.support.workers import (
    BASE_URL,
    started_workers,
    wait_for,
    worker_show,
    write_show_toml,
)

REPORTS = {
    "harbour-queue": "We are waiting at the harbour. The boats arrive at night.",
    "fence-line": "The fence runs along the river for many kilometres.",
}
QUEUE = {"visibility_timeout_s": 20, "retry_backoff_s": 0.2, "retry_backoff_max_s": 2}


def feed_items(show: Path) -> list[tuple[Any, ...]]:
    feed = (show / "public" / "feed.xml").read_bytes()
    parsed = podcastparser.parse(BASE_URL + "feed.xml", io.BytesIO(feed))
    return sorted(
        (
            e["guid"],
            e["title"],
            e.get("number"),
            e.get("season"),
            e["published"],
            e["enclosures"][0]["file_size"],
            e["total_time"],
        )  # fmt: skip
        for e in parsed["episodes"]
    )


def add_short_recording(show: Path) -> None:
    """0.2 s of tone: ffprobe takes it for audio, mastering refuses it (ReportError)."""
    tone(show / "inbox" / "blip.wav", seconds=0.2)
    (show / "inbox" / "blip.md").write_text("---\ntitle: Blip\n---\n", encoding="utf-8")


@pytest.fixture(scope="module")
def local_show(tmp_path_factory: pytest.TempPathFactory) -> Path:
    show = worker_show(tmp_path_factory.mktemp("local") / "show", REPORTS)
    add_short_recording(show)
    result = CliRunner().invoke(cli, ["run", str(show)])
    assert result.exit_code == 1, result.output  # the blip fails, the rest is published
    return show


@pytest.fixture(scope="module")
def worker_run(tmp_path_factory: pytest.TempPathFactory, redis, local_show: Path):
    """The same inbox, run with a broker: one worker of two processes, the SQLite catalog in the
    show folder that both share (one machine)."""
    show = tmp_path_factory.mktemp("workers") / "show"
    show.mkdir()
    shutil.copytree(local_show / "inbox", show / "inbox", ignore=shutil.ignore_patterns("blip*"))
    shutil.copy(local_show / "quarantine" / "blip.wav", show / "inbox")
    shutil.copy(local_show / "inbox" / "blip.md", show / "inbox")
    write_show_toml(
        show,
        {
            "show": {"title": "Workers Test", "base_url": BASE_URL},
            "transcription": {"model": "tiny.en"},
            "map": {"tiles": "none"},
            "queue": {"broker": redis.url(1), **QUEUE},
        },
    )
    with started_workers(show, concurrency=2) as workers:
        first = CliRunner().invoke(cli, ["run", str(show)])
        again = CliRunner().invoke(cli, ["run", str(show)])
        yield show, first, again, workers


def test_the_feed_is_the_one_a_local_run_publishes(local_show: Path, worker_run) -> None:
    show, first, _, _ = worker_run
    assert first.exit_code == 1, first.output
    items = feed_items(show)
    assert items == feed_items(local_show)
    assert sorted(title for _, title, *_ in items) == ["Fence Line", "Harbour Queue"]
    assert len({guid for guid, *_ in items}) == 2


def test_the_workers_did_the_work_and_the_run_the_rest(worker_run) -> None:
    show, first, _, _ = worker_run
    work = " ".join(first.output.split())
    assert "normalise x2" in work and "transcribe:transcribe x3" in work
    with open_catalog(show / ".fieldreports", CatalogSettings()) as catalog:
        attempts = catalog.attempts(run_id=1)
    done = [a for a in attempts if a.outcome == "done"]
    assert {(a.report_id, a.stage) for a in done} >= {
        ("harbour-queue", "normalise"),
        ("harbour-queue", "transcribe:transcribe"),
        ("fence-line", "normalise"),
        ("fence-line", "transcribe:transcribe"),
    }
    assert all(a.worker and a.finished_at for a in attempts)
    # The masters the workers made are in the run's cache, where a local run would put them.
    assert len(list((show / ".fieldreports" / "cache" / "normalise").glob("*/podcast.mp3"))) == 2


def test_a_bad_recording_is_not_retried_and_is_quarantined(worker_run) -> None:
    show, first, _, _ = worker_run
    assert "blip.wav" in first.output
    assert (show / "quarantine" / "blip.wav").is_file()
    assert "too short" in (show / "quarantine" / "blip.wav.reason.txt").read_text()
    with open_catalog(show / ".fieldreports", CatalogSettings()) as catalog:
        tries = [a for a in catalog.attempts(run_id=1) if a.report_id == "blip"]
    normalise = [a for a in tries if a.stage == "normalise"]
    assert len(normalise) == 1 and normalise[0].outcome.startswith("failed: ")


def test_an_unchanged_show_sends_nothing(worker_run) -> None:
    show, _, again, _ = worker_run
    assert again.exit_code == 0, again.output
    assert "nothing new" in again.output
    with open_catalog(show / ".fieldreports", CatalogSettings()) as catalog:
        assert catalog.attempts(run_id=2) == ()


def test_a_broker_that_is_down_is_a_plain_error(tmp_path: Path) -> None:
    from tests.support.episodes import free_port

    show = worker_show(tmp_path / "show", {"one": "One report."})
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    for command in (["run", str(show), "--broker", url], ["worker", str(show), "--broker", url]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 1
        output = " ".join(result.output.split())
        assert f"cannot reach the broker redis://:***@127.0.0.1:{url.rsplit(':', 1)[1]}" in output
        assert "s3cret" not in output and "Traceback" not in output


def test_a_broker_url_that_is_not_redis_is_refused(tmp_path: Path) -> None:
    show = worker_show(tmp_path / "show", {"one": "One report."})
    result = CliRunner().invoke(cli, ["run", str(show), "--broker", "amqp://u:p@host//"])
    assert result.exit_code == 1
    assert "--broker: [queue] broker must be" in " ".join(result.output.split())
    assert "u:p" not in result.output


def test_a_catalog_database_restart_is_retried(tmp_path: Path, redis, postgres) -> None:
    """The catalog's database is down when a worker takes a task: the task retries with
    backoff until it is back, while the run, which only waits on the broker meanwhile, waits."""
    import redis as redis_client

    from fieldreports.workers.app import derived_queue_name

    url = postgres.create_database()
    queue = {"broker": redis.url(2), **QUEUE, "max_retries": 20}
    show = worker_show(tmp_path / "show", {"crossing": "The queue at the crossing is long."},
                       catalog={"url": url}, queue=queue)  # fmt: skip
    # The worker's machine has its own show.toml; it gives up on the database after 1 s.
    machine = tmp_path / "worker-machine"
    machine.mkdir()
    write_show_toml(
        machine,
        {
            "show": {"title": "Workers Test", "base_url": BASE_URL},
            "catalog": {"url": url, "timeout_s": 1},
            "queue": queue,
        },
    )
    results: list[Any] = []
    runner = threading.Thread(
        target=lambda: results.append(CliRunner().invoke(cli, ["run", str(show)]))
    )
    runner.start()
    broker = redis_client.Redis.from_url(redis.url(2))
    wait_for(lambda: broker.llen(derived_queue_name(BASE_URL)) == 2, 60, every_s=0.02)
    postgres.stop()  # both tasks are sent; the run now only polls the broker
    try:
        with started_workers(machine) as (worker,):
            wait_for(lambda: "trying again in" in worker.text(), 60)
            postgres.start()
            runner.join(180)
    finally:
        if not (postgres.data_dir / "postmaster.pid").exists():
            postgres.start()
    assert results and results[0].exit_code == 0, results and results[0].output
    assert "catalog database" in worker.text() and "not answering" in worker.text()
    with open_catalog(machine, CatalogSettings(url=url)) as catalog:
        outcomes = [a.outcome for a in catalog.attempts(run_id=1)]
    assert outcomes and all(o.startswith("done after ") for o in outcomes), outcomes
    assert len(feed_items(show)) == 1
