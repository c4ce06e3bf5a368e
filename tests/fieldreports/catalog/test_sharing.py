"""Several processes on one catalog, and a database that goes away and comes back."""

from __future__ import annotations

import multiprocessing
import queue
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fieldreports.catalog import open_catalog
from fieldreports.catalog.migrations import LATEST
from fieldreports.config import CatalogSettings
from fieldreports.errors import CatalogUnavailable, SetupError
from fieldreports.intake.notes import Notes
from pipeline import cli
from tests.fieldreports.catalog.conftest import Backend
from tests.support.episodes import free_port
from tests.support.postgres import running_postgres

FEED = "https://a.example/feed.xml"
PROCESSES = 4


def _claim(
    backend: Backend, feed_url: str, ids: list[str], start: Any, results: Any, open_first: bool
) -> None:
    """In another process: open the catalog, wait for the others, then ask for every GUID."""
    try:
        if open_first:
            catalog = backend.open()
            start.wait()
        else:
            start.wait()
            catalog = backend.open()
        with catalog:
            results.put({i: catalog.guid_for(i, feed_url=feed_url) for i in ids})
    except BaseException as exc:
        results.put(f"{type(exc).__name__}: {exc}")


def _race(backend: Backend, ids: list[str], *, open_first: bool) -> list[Any]:
    # spawn, not fork: a forked child would share the parent's pool threads and connections.
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES)
    results = context.Queue()
    workers = [
        context.Process(
            target=_claim,
            # Each process derives other GUIDs (its own feed URL): only the catalog can agree.
            args=(backend, f"https://p{n}.example/feed.xml", ids, start, results, open_first),
        )
        for n in range(PROCESSES)
    ]
    for w in workers:
        w.start()
    try:
        return [results.get(timeout=120) for _ in workers]
    except queue.Empty:
        pytest.fail("a process claiming GUIDs never answered")
    finally:
        for w in workers:
            w.join(timeout=30)


def test_processes_asking_for_the_same_new_guids_at_once_all_get_the_first(
    backend: Backend,
) -> None:
    with backend.open():
        pass  # made beforehand: this test is about the rows, not the schema
    ids = [f"report-{i}" for i in range(150)]
    answers = _race(backend, ids, open_first=True)
    assert all(isinstance(a, dict) for a in answers), answers
    assert all(a == answers[0] for a in answers)
    with backend.open() as catalog:
        stored = {r.id: r.guid for r in catalog.reports()}
    assert stored == answers[0]


def test_processes_opening_a_fresh_catalog_at_once_migrate_it_once(backend: Backend) -> None:
    answers = _race(backend, ["harbour"], open_first=False)
    assert all(isinstance(a, dict) for a in answers), answers
    assert len({a["harbour"] for a in answers}) == 1
    with backend.open() as catalog:
        assert catalog.schema_version() == LATEST


def test_a_stopped_server_is_a_named_transient_error_and_a_restart_heals(tmp_path: Path) -> None:
    with running_postgres() as server:
        # trust authentication never asks for the password; it is here to be masked.
        url = server.create_database("restart").replace("fieldreports@", "fieldreports:s3cret@")
        settings = CatalogSettings(url=url, timeout_s=2.0)
        with open_catalog(tmp_path, settings) as catalog:
            guid = catalog.guid_for("harbour", feed_url=FEED)
            server.stop()
            with pytest.raises(CatalogUnavailable) as in_use:
                catalog.put("notes", "k", Notes(title="T"))
            with pytest.raises(CatalogUnavailable) as opening:
                open_catalog(tmp_path, settings)
            server.start()
            # The same open catalog carries on: the pool replaces its dead connections.
            catalog.put("notes", "k", Notes(title="T"))
            assert catalog.guid_for("harbour", feed_url="https://b.example/") == guid
            assert catalog.get("notes", "k", Notes) == Notes(title="T")
    for error in (in_use.value, opening.value):
        message = str(error)
        assert (
            f"catalog database postgresql://fieldreports:***@127.0.0.1:{server.port}/restart"
            in message
        )
        assert "s3cret" not in message
        assert "Connection refused" in message and "PostgreSQL is running" in message
        assert isinstance(error, SetupError)  # the command line stops with the sentence


def test_status_with_the_database_down_prints_a_sentence_not_a_traceback(tmp_path: Path) -> None:
    show = tmp_path / "show"
    show.mkdir()
    (show / "show.toml").write_text(
        '[show]\ntitle = "T"\nbase_url = "https://e.org/"\n'
        f'[catalog]\nurl = "postgresql://news:s3cret@127.0.0.1:{free_port()}/reports"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["status", str(show)])
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "postgresql://news:***@127.0.0.1" in output and "is not answering" in output
    assert "Traceback" not in output and "s3cret" not in output


def test_a_postgres_url_without_the_driver_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if never installed
    monkeypatch.delitem(sys.modules, "fieldreports.catalog.postgres", raising=False)
    with pytest.raises(SetupError, match=r"pip install 'fieldreports\[postgres\]'"):
        open_catalog(tmp_path, CatalogSettings(url="postgresql://news@127.0.0.1/reports"))
