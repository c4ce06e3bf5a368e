"""Reporters, their upload keys (kept only as hashes) and who sent which file, on both backends."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from pathlib import Path

import pytest

from fieldreports.catalog import Catalog
from fieldreports.catalog import base as catalog_base
from fieldreports.errors import CatalogError
from tests.fieldreports.catalog.conftest import Backend
from tests.support.postgres import PostgresServer


def test_reporters_are_added_listed_verified_and_revoked(catalog: Catalog) -> None:
    amal = catalog.add_reporter("Amal")
    editor = catalog.add_reporter("  Dana ", editor=True)
    assert len(amal) >= 43 and amal != editor  # 32 random bytes, URL-safe base64

    assert [(r.name, r.is_editor, r.active) for r in catalog.reporters()] == [
        ("Amal", False, True),
        ("Dana", True, True),
    ]
    found = catalog.reporter_for_key(amal)
    assert found is not None and found.name == "Amal" and not found.is_editor
    assert catalog.reporter_for_key(editor).is_editor  # type: ignore[union-attr]
    assert catalog.reporter_for_key(amal[:-1] + ("A" if amal[-1] != "A" else "B")) is None
    assert catalog.reporter_for_key("") is None

    catalog.revoke_reporter("Amal")
    catalog.revoke_reporter("Amal")  # twice changes nothing
    assert catalog.reporter_for_key(amal) is None
    (revoked,) = [r for r in catalog.reporters() if r.name == "Amal"]
    assert not revoked.active and revoked.revoked_at is not None
    assert catalog.reporter_for_key(editor) is not None


def test_a_rotated_key_replaces_the_old_one_and_revives_a_revoked_reporter(
    catalog: Catalog,
) -> None:
    first = catalog.add_reporter("Amal", editor=True)
    second = catalog.rotate_key("Amal")
    assert catalog.reporter_for_key(first) is None
    assert catalog.reporter_for_key(second).is_editor  # type: ignore[union-attr]
    catalog.revoke_reporter("Amal")  # the phone is lost
    third = catalog.rotate_key("Amal")
    assert catalog.reporter_for_key(second) is None
    assert catalog.reporter_for_key(third) is not None
    with pytest.raises(CatalogError, match='no reporter named "Dana"'):
        catalog.rotate_key("Dana")


def test_a_name_is_never_reused_and_unknown_names_are_named(catalog: Catalog) -> None:
    catalog.add_reporter("Amal")
    catalog.revoke_reporter("Amal")
    with pytest.raises(CatalogError, match='a reporter named "Amal" already exists'):
        catalog.add_reporter("Amal")
    with pytest.raises(CatalogError, match='no reporter named "Amala" \\(reporters: "Amal"\\)'):
        catalog.revoke_reporter("Amala")
    with pytest.raises(CatalogError, match="needs a name"):
        catalog.add_reporter("  ")


def test_a_key_is_checked_by_its_hash_in_constant_time(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = catalog.add_reporter("Amal")
    compared: list[tuple[str, str]] = []
    compare = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(catalog_base.hmac, "compare_digest", spy)
    assert catalog.reporter_for_key(key) is not None
    digest = hashlib.sha256(key.encode()).hexdigest()
    assert compared == [(digest, digest)]


def test_only_the_hash_of_a_key_is_stored(backend: Backend, request: pytest.FixtureRequest) -> None:
    with backend.open() as catalog:
        key = catalog.add_reporter("Amal")
    digest = hashlib.sha256(key.encode()).hexdigest()
    if backend.name == "sqlite":
        files = list(backend.state_dir.iterdir())  # the database, its WAL and shared memory
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        database = backend.settings.url.rsplit("/", 1)[1]
        rows = server.psql("SELECT * FROM reporters", database=database)
        assert digest in rows and key not in rows
        server.psql("CHECKPOINT")
        files = [p for p in server.data_dir.rglob("*") if p.is_file()]
    stored = b"".join(_read(p) for p in files)
    assert digest.encode() in stored
    assert key.encode() not in stored


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # a file the server removed meanwhile
        return b""


def test_uploads_say_who_sent_which_file(catalog: Catalog) -> None:
    t0 = dt.datetime(2022, 3, 14, 9, 40, tzinfo=dt.UTC)
    catalog.record_upload(
        file_name="2022-03-14-lampedusa-harbour.m4a",
        report_id="2022-03-14-lampedusa-harbour",
        reporter="Amal",
        sha256="aa" * 32,
        received_at=t0,
    )
    catalog.record_upload(
        file_name="2022-03-14-lampedusa-harbour.md",
        report_id="2022-03-14-lampedusa-harbour",
        reporter="Dana",
        sha256="bb" * 32,
        received_at=t0 + dt.timedelta(minutes=5),
    )
    catalog.record_upload(file_name="sfax.m4a", report_id="sfax", reporter="Amal", sha256="cc" * 32)
    assert catalog.owner_of("2022-03-14-lampedusa-harbour") == "Amal"  # the first file's
    assert catalog.owner_of("sfax") == "Amal"
    assert catalog.owner_of("nobody-sent-this") is None
    first, second = catalog.uploads("2022-03-14-lampedusa-harbour")
    assert (first.file_name, first.reporter, first.sha256, first.received_at) == (
        "2022-03-14-lampedusa-harbour.m4a",
        "Amal",
        "aa" * 32,
        t0,
    )
    assert second.reporter == "Dana"
    assert len(catalog.uploads()) == 3
