"""Workers that die, and tasks that run too long: nothing is lost, nothing runs forever."""

from __future__ import annotations

import io
import os
import subprocess
import time
from pathlib import Path

import podcastparser
from redis import Redis

from fieldreports.catalog import Attempt, open_catalog
from fieldreports.config import CatalogSettings, QueueSettings
from fieldreports.workers.app import transport_options
from tests.support.workers import (
    BASE_URL,
    FIELDREPORTS,
    started_workers,
    wait_for,
    worker_show,
)

# About 45 s of speech: tiny.en takes a few seconds on it, long enough to be killed mid-way.
LONG = " ".join(["The night at the crossing is long, and the queue of trucks does not move."] * 8)


def ffmpeg_reading(folder: Path) -> list[int]:
    """Pids of ffmpeg (or ffprobe, sox) processes whose command line names a file in `folder`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        program = Path(os.fsdecode(argv[0])).name if argv else ""
        if program in ("ffmpeg", "ffprobe", "sox") and any(str(folder).encode() in a for a in argv):
            found.append(int(entry.name))
    return found


def test_a_worker_killed_mid_transcription_loses_nothing(tmp_path: Path, redis, postgres) -> None:
    """Two workers; kill -9 the one transcribing the long report, as it holds the lock of
    kombu's sweep for lost tasks. Its task comes back after the visibility timeout and that
    lock's expiry, the other worker does it, and the episode is published once."""
    url = postgres.create_database()
    queue = {"broker": redis.url(3), "visibility_timeout_s": 10, "retry_backoff_max_s": 2}
    show = worker_show(
        tmp_path / "show",
        {"long-night": LONG, "short-stop": "A short stop at the fuel station."},
        catalog={"url": url},
        queue=queue,
    )
    with (
        started_workers(show, count=2) as workers,
        open_catalog(show / ".fieldreports", CatalogSettings(url=url)) as catalog,
    ):
        run = subprocess.Popen(
            [str(FIELDREPORTS), "run", str(show)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
        )

        def transcribing() -> Attempt | None:
            return next(
                (a for a in catalog.attempts(run_id=1) if a.report_id == "long-night"
                 and a.stage.startswith("transcribe") and a.finished_at is None),
                None,
            )  # fmt: skip

        wait_for(lambda: transcribing() is not None, 120, every_s=0.05)
        time.sleep(1.0)  # Whisper is loaded and at work
        busy = transcribing()
        assert busy is not None, "the transcription finished before it could be killed"
        pool_pid = int(busy.worker.rsplit(":", 1)[1])
        (victim,) = [w for w in workers if os.getpgid(pool_pid) == w.proc.pid]
        # Each worker sweeps every second under that lock, so a kill lands mid-sweep now and
        # then (CI saw it); here it always does. The dead worker's lock was taken with its
        # expiry; kombu's default (5 minutes) would hold the lost task back that long.
        expiry = transport_options(QueueSettings(**queue))["unacked_mutex_expire"]
        sweep = Redis.from_url(queue["broker"]).lock("unacked_mutex", timeout=expiry)
        assert sweep.acquire(blocking_timeout=5)
        victim.kill()
        output, _ = run.communicate(timeout=300)
        assert run.returncode == 0, output
        tries = catalog.attempts(task_id=busy.task_id)
        work = catalog.work_done(1)
    # The killed attempt never finished; another worker did the task (later copies, handed out
    # again while it ran, find the result cached).
    assert tries[0].finished_at is None and tries[0].outcome == ""
    done = [t for t in tries if t.outcome == "done"]
    assert len(done) == 1 and done[0].worker != tries[0].worker, tries
    assert all(t.outcome in ("done", "cached") for t in tries[1:]), tries
    assert work["transcribe:transcribe"] == 2 and work["normalise"] == 2
    feed = (show / "public" / "feed.xml").read_bytes()
    episodes = podcastparser.parse(BASE_URL + "feed.xml", io.BytesIO(feed))["episodes"]
    assert sorted(e["title"] for e in episodes) == ["Long Night", "Short Stop"]
    assert len({e["guid"] for e in episodes}) == 2
    assert not ffmpeg_reading(show)


def test_a_task_past_its_time_limit_is_stopped_with_its_programs(tmp_path: Path, redis) -> None:
    """A 1 s limit for 45 s of audio: the task is stopped, its ffmpeg goes with it, the
    report fails with a reason naming the setting, and the recording is not quarantined."""
    from click.testing import CliRunner

    from pipeline import cli

    show = worker_show(
        tmp_path / "show",
        {"long-night": LONG},
        queue={
            "broker": redis.url(4),
            "time_limit_s": 1,
            "time_limit_per_audio_s": 0,
            "hard_limit_extra_s": 10,
        },
    )
    with started_workers(show):
        result = CliRunner().invoke(cli, ["run", str(show)])
        assert result.exit_code == 1, result.output
        wait_for(lambda: not ffmpeg_reading(show), 15)
    output = " ".join(result.output.split())
    assert "long-night.wav" in output and "time limit" in output
    assert "time_limit_per_audio_s" in output
    assert (show / "inbox" / "long-night.wav").is_file()
    assert not (show / "quarantine" / "long-night.wav").exists()
    with open_catalog(show / ".fieldreports", CatalogSettings()) as catalog:
        outcomes = {a.stage: a.outcome for a in catalog.attempts(run_id=1)}
        (record,) = catalog.reports()
    assert "timed out" in outcomes.values(), outcomes
    assert record.status == "failed"
