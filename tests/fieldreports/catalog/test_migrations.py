"""Catalogs made by older code upgrade in place, keeping every GUID; newer ones are refused."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import psycopg
import pytest

from fieldreports.catalog import cache_key, open_catalog
from fieldreports.catalog.migrations import LATEST, MIGRATIONS
from fieldreports.config import CatalogSettings
from fieldreports.errors import SetupError
from fieldreports.intake.notes import Notes
from tests.support import DATA
from tests.support.postgres import PostgresServer

# Made by fieldreports 0.1 (commit 22698ac, before migrations) with its own Catalog class: two
# reports (one published with an exact point, one failed), a cached Notes and one run's work.
OLD_CATALOG = DATA / "catalog-0.1.sqlite3"
OLD_GUIDS = {
    "2022-03-14-lampedusa-harbour": "954652af-d61e-5e46-a2ee-a45bba5249b0",
    "2022-03-15-sfax-port": "32f14aae-6940-5d0a-bf86-5a8d65fe2bea",
}
OLD_NOTES_KEY = "2f17616c3ebad5ddc0f72fe2e1265960"  # cache_key("notes", 1), then and now


def test_migrations_are_named_and_the_first_is_the_original_schema() -> None:
    assert LATEST == len(MIGRATIONS) >= 4
    assert all(m.name and m.sqlite and m.postgres for m in MIGRATIONS)
    # Migration 1 must leave a 0.1 catalog untouched, so every statement is IF NOT EXISTS.
    assert all("CREATE TABLE IF NOT EXISTS" in s for s in MIGRATIONS[0].sqlite)


def test_a_catalog_made_by_fieldreports_0_1_upgrades_keeping_its_guids(tmp_path: Path) -> None:
    state = tmp_path / ".fieldreports"
    state.mkdir()
    shutil.copy(OLD_CATALOG, state / "catalog.sqlite3")
    assert _user_version(state / "catalog.sqlite3") == 0

    with open_catalog(state) as catalog:
        assert catalog.schema_version() == LATEST
        # Another feed URL would derive other GUIDs: the stored ones must win.
        for report_id, guid in OLD_GUIDS.items():
            assert catalog.guid_for(report_id, feed_url="https://moved.example/feed.xml") == guid
        records = {r.id: r for r in catalog.reports()}
        assert records["2022-03-14-lampedusa-harbour"].summary["lat"] == 35.5011
        assert records["2022-03-15-sfax-port"].reason == "not audio"
        assert cache_key("notes", 1) == OLD_NOTES_KEY
        # The cached result survives; its type has grown fields since, so compare the old ones.
        notes = catalog.get("notes", OLD_NOTES_KEY, Notes)
        assert notes is not None
        assert (notes.title, notes.tags, notes.lat, notes.lon) == (
            "Waiting at the harbour",
            ("sea",),
            35.5011,
            12.6058,
        )
        assert catalog.work_done(1) == {"normalise": 1}
        assert catalog.start_run() == 2
        assert catalog.reporter_for_key(catalog.add_reporter("Amal")) is not None

    assert _user_version(state / "catalog.sqlite3") == LATEST
    with open_catalog(state) as catalog:  # opening again has nothing left to do
        assert catalog.schema_version() == LATEST


def test_a_postgres_catalog_at_an_older_version_upgrades_in_place(postgres: PostgresServer) -> None:
    url = postgres.create_database()
    with psycopg.connect(url) as db:
        db.execute(
            "CREATE TABLE catalog_schema (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        for statement in MIGRATIONS[0].postgres:
            db.execute(statement)  # type: ignore[arg-type]
        db.execute("INSERT INTO catalog_schema (version, name) VALUES (1, 'first')")
        db.execute(
            "INSERT INTO reports (id, guid, first_seen, updated_at) "
            "VALUES ('harbour', 'kept-guid', now(), now())"
        )
    with open_catalog(Path("unused"), CatalogSettings(url=url)) as catalog:
        assert catalog.schema_version() == LATEST
        assert catalog.guid_for("harbour", feed_url="https://e.org/feed.xml") == "kept-guid"
        catalog.add_reporter("Amal")
    with psycopg.connect(url) as db:
        versions = [v for (v,) in db.execute("SELECT version FROM catalog_schema ORDER BY 1")]
    assert versions == list(range(1, LATEST + 1))


def test_a_catalog_made_by_a_newer_fieldreports_is_refused(tmp_path: Path) -> None:
    with open_catalog(tmp_path):
        pass
    db = sqlite3.connect(tmp_path / "catalog.sqlite3")
    db.execute(f"PRAGMA user_version = {LATEST + 1}")
    db.close()
    with pytest.raises(SetupError, match="made by a newer fieldreports.*upgrade fieldreports"):
        open_catalog(tmp_path)


def test_a_file_that_is_not_a_catalog_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "catalog.sqlite3").write_bytes(
        b"this is not a database, it is a shopping list" * 40
    )
    with pytest.raises(SetupError, match="catalog.sqlite3.*move it aside"):
        open_catalog(tmp_path)


def _user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()
