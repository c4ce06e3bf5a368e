from __future__ import annotations

from pathlib import Path

from fieldreports.catalog.sqlite import Catalog, cache_key, open_catalog
from fieldreports.intake.notes import Notes


def test_guid_is_derived_once_and_kept(tmp_path: Path) -> None:
    with open_catalog(tmp_path) as catalog:
        first = catalog.guid_for("lampedusa", feed_url="https://a.example/feed.xml")
    with open_catalog(tmp_path) as catalog:
        # A moved feed must not change existing GUIDs, or apps would show every episode twice.
        again = catalog.guid_for("lampedusa", feed_url="https://b.example/feed.xml")
        other = catalog.guid_for("sfax", feed_url="https://b.example/feed.xml")
    assert first == again
    assert other != first


def test_results_round_trip_and_work_is_counted(tmp_path: Path) -> None:
    catalog = Catalog.open(tmp_path)
    run = catalog.start_run()
    key = cache_key("notes", {"a": 1})
    catalog.put("notes", key, Notes(title="T", tags=("x",), lat=1.5, lon=2.5))
    catalog.log_work(run, "r1", "transcribe:transcribe", 1.2)
    catalog.finish_run(run, "ok")
    catalog.close()

    reopened = Catalog.open(tmp_path)
    assert reopened.get("notes", key, Notes) == Notes(title="T", tags=("x",), lat=1.5, lon=2.5)
    assert reopened.get("notes", "missing", Notes) is None
    assert reopened.work_done(run) == {"transcribe:transcribe": 1}
    assert reopened.work_done(reopened.start_run()) == {}


def test_outcomes_are_recorded_for_status(tmp_path: Path) -> None:
    with open_catalog(tmp_path) as catalog:
        catalog.guid_for("r1", feed_url="https://e.org/feed.xml")
        catalog.record("r1", status="failed", stage="normalise", reason="not audio")
        (record,) = catalog.reports()
    assert (record.id, record.status, record.stage, record.reason) == (
        "r1",
        "failed",
        "normalise",
        "not audio",
    )
