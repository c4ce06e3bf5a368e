"""The catalog's everyday work, on both backends: GUIDs, cached results, the work log, outcomes."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from fieldreports.audio import Loudness, MasteredAudio
from fieldreports.catalog import Catalog, Notification, cache_key
from fieldreports.catalog.sqlite import SQLiteCatalog
from fieldreports.errors import CatalogUnavailable
from fieldreports.intake.notes import Notes
from fieldreports.transcription import Transcript
from tests.fieldreports.catalog.conftest import Backend
from tests.support.episodes import transcript

FEED = "https://a.example/feed.xml"


def test_guid_is_derived_once_and_kept(backend: Backend) -> None:
    with backend.open() as catalog:
        first = catalog.guid_for("lampedusa", feed_url=FEED)
    with backend.open() as catalog:
        # A moved feed must not change existing GUIDs, or apps would show every episode twice.
        again = catalog.guid_for("lampedusa", feed_url="https://b.example/feed.xml")
        other = catalog.guid_for("sfax", feed_url="https://b.example/feed.xml")
        assert catalog.first_seen("lampedusa") is not None
        assert catalog.first_seen("nowhere") is None
    assert first == again
    assert other != first


def _mastered(name: str) -> MasteredAudio:
    return MasteredAudio(
        source=Path(f"/inbox/{name}.m4a"),
        source_sha256="ab" * 32,
        duration_s=61.5,
        podcast_mp3=Path(f"/cache/{name}.mp3"),
        master_wav=Path(f"/cache/{name}.wav"),
        before=Loudness(integrated_lufs=-30.2, true_peak_dbtp=-8.0, range_lu=3.1),
        podcast=Loudness(integrated_lufs=-16.1, true_peak_dbtp=-1.2, range_lu=3.0),
        master=Loudness(integrated_lufs=-23.0, true_peak_dbtp=-2.5, range_lu=3.0),
        podcast_gain_db=14.1,
        master_gain_db=7.2,
        trimmed_start_s=0.25,
    )


def test_stage_results_round_trip_as_the_same_frozen_dataclasses(backend: Backend) -> None:
    mastered = _mastered("harbour")
    words = transcript("it", "Aspettiamo al porto.", "Il mare è calmo.")
    with backend.open() as catalog:
        catalog.put("audio", "k1", mastered)
        catalog.put("transcript", "k1", words)
    with backend.open() as catalog:
        assert catalog.get("audio", "k1", MasteredAudio) == mastered
        assert catalog.get("transcript", "k1", Transcript) == words
        # Stages are separate namespaces: the same key under another stage is another result.
        assert catalog.get("audio", "k2", MasteredAudio) is None


def test_put_replaces_and_many_keys_are_read_and_pruned_at_once(catalog: Catalog) -> None:
    key = cache_key("notes", {"a": 1})
    catalog.put("notes", key, Notes(title="First"))
    catalog.put("notes", key, Notes(title="Second", tags=("x",), lat=1.5, lon=2.5))
    assert catalog.get("notes", key, Notes) == Notes(title="Second", tags=("x",), lat=1.5, lon=2.5)

    keys = [f"k{i}" for i in range(1200)]  # more than one statement's worth
    for k in keys[::100]:
        catalog.put("notes", k, Notes(title=k))
    found = catalog.get_many("notes", [*keys, "missing"], Notes)
    assert found == {k: Notes(title=k) for k in keys[::100]}
    assert catalog.delete_results("notes", [*keys, key]) == 13
    assert catalog.get_many("notes", keys, Notes) == {}


def test_work_is_counted_per_run_with_ids_from_the_database(catalog: Catalog) -> None:
    run = catalog.start_run()
    catalog.log_work(run, "r1", "normalise", 2.0)
    catalog.log_work(run, "r1", "transcribe:transcribe", 1.2)
    catalog.log_work(run, "r2", "transcribe:transcribe", 0.8)
    catalog.finish_run(run, "ok")
    assert catalog.work_done(run) == {"normalise": 1, "transcribe:transcribe": 2}
    later = catalog.start_run()
    assert later > run
    assert catalog.work_done() == {}  # the last run did nothing yet
    assert catalog.work_done(run) == {"normalise": 1, "transcribe:transcribe": 2}


def test_attempts_show_which_worker_took_a_task_and_a_redo(catalog: Catalog) -> None:
    run = catalog.start_run()
    lost = catalog.begin_attempt(task_id="t1", run_id=run, report_id="r1", stage="normalise",
                                 key="k1", worker="a:1")  # fmt: skip
    redo = catalog.begin_attempt(task_id="t1", run_id=run, report_id="r1", stage="normalise",
                                 key="k1", worker="b:2")  # fmt: skip
    catalog.end_attempt(redo, "done")
    assert lost != redo
    (first, second) = catalog.attempts(task_id="t1")
    assert (first.worker, first.finished_at, first.outcome) == ("a:1", None, "")
    assert (second.worker, second.outcome) == ("b:2", "done") and second.finished_at
    assert catalog.attempts(run_id=run) == (first, second)
    assert catalog.attempts(run_id=run + 1) == ()


def test_notifications_wait_in_the_outbox_until_forgotten(catalog: Catalog) -> None:
    later = Notification(id="n2", kind="websub", url="https://hub.example/", payload={"url": FEED},
                         attempt=0, due=2000.5)  # fmt: skip
    sooner = Notification(id="n1", kind="webhook", url="https://cms.example/hook",
                          payload={"event": "episode.published", "title": "Ε, Ж"}, attempt=0,
                          due=1000.25)  # fmt: skip
    catalog.keep_notification(later)
    catalog.keep_notification(sooner)
    assert catalog.notifications() == (sooner, later)
    retried = replace(sooner, attempt=3, due=3000.0)
    catalog.keep_notification(retried)  # the same id: its attempt and due time change
    assert catalog.notifications() == (later, retried)
    catalog.forget_notification("n2")
    catalog.forget_notification("n2")  # twice is harmless
    assert catalog.notifications() == (retried,)


def test_outcomes_are_recorded_for_status(catalog: Catalog) -> None:
    catalog.guid_for("r1", feed_url=FEED)
    catalog.guid_for("r2", feed_url=FEED)
    catalog.record("r1", status="failed", stage="normalise", reason="not audio")
    catalog.record("r2", status="published", summary={"lat": 35.5011, "lon": 12.6058})
    one, two = catalog.reports()
    assert (one.id, one.status, one.stage, one.reason) == ("r1", "failed", "normalise", "not audio")
    assert (two.status, two.summary) == ("published", {"lat": 35.5011, "lon": 12.6058})
    assert one.first_seen.tzinfo is not None
    assert abs(one.first_seen - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)


def test_threads_share_one_catalog(catalog: Catalog) -> None:
    """A run's threads use one open catalog: a pool on PostgreSQL, one locked file on SQLite."""
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                catalog.guid_for(f"r{i}", feed_url=f"https://thread{n}.example/feed.xml")
                catalog.put("notes", f"t{n}-{i}", Notes(title=f"{n}/{i}"))
                catalog.log_work(run, f"r{i}", f"stage{n}", 0.1)
        except BaseException as exc:  # a failure in a thread must fail the test
            errors.append(exc)

    run = catalog.start_run()
    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(catalog.reports()) == 20
    assert catalog.work_done(run) == {f"stage{n}": 20 for n in range(8)}
    written = [f"t{n}-{i}" for n in range(8) for i in range(20)]
    assert len(catalog.get_many("notes", written, Notes)) == 160


# -- SQLite: shared between processes on one machine -------------------------------------


def test_sqlite_catalog_uses_wal_so_readers_never_wait_for_a_writer(tmp_path: Path) -> None:
    with SQLiteCatalog(tmp_path / "catalog.sqlite3") as catalog:
        catalog.guid_for("r1", feed_url=FEED)
        other = sqlite3.connect(tmp_path / "catalog.sqlite3")
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        other.execute("BEGIN IMMEDIATE")  # a second process in the middle of a write
        other.execute("UPDATE reports SET status = 'failed'")
        assert [r.status for r in catalog.reports()] == ["new"]  # `status` still reads
        other.rollback()
        other.close()


def test_sqlite_catalog_locked_too_long_is_a_plain_transient_error(tmp_path: Path) -> None:
    with SQLiteCatalog(tmp_path / "catalog.sqlite3", timeout_s=0.2) as catalog:
        other = sqlite3.connect(tmp_path / "catalog.sqlite3")
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(CatalogUnavailable) as info:
            catalog.put("notes", "k", Notes(title="T"))
        other.rollback()
        other.close()
        catalog.put("notes", "k", Notes(title="T"))  # works again once the lock is gone
    message = str(info.value)
    assert "catalog.sqlite3 stayed locked by another process for 0.2 s" in message
    assert "timeout_s" in message
