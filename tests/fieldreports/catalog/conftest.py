"""Every catalog test runs twice: on the SQLite file and on a real PostgreSQL 15 database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fieldreports.catalog import Catalog, open_catalog
from fieldreports.config import CatalogSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class Backend:
    """Where one test's catalog lives; picklable, so another process can open it too."""

    name: str
    state_dir: Path
    settings: CatalogSettings

    def open(self) -> Catalog:
        return open_catalog(self.state_dir, self.settings)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    url = ""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres").create_database()
    return Backend(
        name=request.param,
        state_dir=tmp_path / ".fieldreports",
        settings=CatalogSettings(url=url, timeout_s=10.0),
    )


@pytest.fixture
def catalog(backend: Backend) -> Iterator[Catalog]:
    with backend.open() as opened:
        yield opened
