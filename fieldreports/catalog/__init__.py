"""The catalog: what each run learnt, kept for the next (see docs/catalog.md).

`open_catalog(state_dir, settings)` opens the backend `[catalog] url` names: the SQLite file in
SHOW_DIR/.fieldreports/ when it is empty (the default), a PostgreSQL database otherwise. Both
serve the one interface of `base.Catalog`.
"""

from __future__ import annotations

from pathlib import Path

from fieldreports.catalog.base import (
    Attempt,
    Catalog,
    Notification,
    Reporter,
    ReportRecord,
    Upload,
    cache_key,
)
from fieldreports.config import CatalogSettings
from fieldreports.errors import SetupError

__all__ = [
    "Attempt",
    "Catalog",
    "Notification",
    "ReportRecord",
    "Reporter",
    "Upload",
    "cache_key",
    "open_catalog",
]


def open_catalog(state_dir: Path, settings: CatalogSettings | None = None) -> Catalog:
    """The show's catalog, ready to use: `with open_catalog(...) as catalog:` closes it after.

    Upgrades the catalog's schema first if an older fieldreports made it.
    """
    settings = settings or CatalogSettings()
    if not settings.url:
        from fieldreports.catalog.sqlite import FILE_NAME, SQLiteCatalog

        return SQLiteCatalog(state_dir / FILE_NAME, timeout_s=settings.timeout_s)
    try:
        from fieldreports.catalog.postgres import PostgresCatalog
    except ImportError as exc:
        if not (exc.name or "psycopg").startswith("psycopg"):
            raise
        raise SetupError(
            "[catalog] url names a PostgreSQL database, but its driver is missing "
            f"({exc}); install it with: pip install 'fieldreports[postgres]'"
        ) from exc
    return PostgresCatalog(settings.url, pool_size=settings.pool_size, timeout_s=settings.timeout_s)
