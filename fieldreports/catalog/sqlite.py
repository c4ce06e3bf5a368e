"""The default catalog: one SQLite file, SHOW_DIR/.fieldreports/catalog.sqlite3, nothing to install.

Opened in WAL mode with a busy timeout, so a run, a worker and `fieldreports status` on the same
machine share it: readers never wait for the writer, and a writer waits its turn for up to
`[catalog] timeout_s` instead of failing at once. WAL needs every process on one machine (not
a network share); workers on several machines share a PostgreSQL catalog instead.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fieldreports.catalog import open_catalog
from fieldreports.catalog.base import Catalog, Transaction, cache_key
from fieldreports.catalog.migrations import log_migrated, pending
from fieldreports.errors import CatalogUnavailable, SetupError

# Catalog, cache_key and open_catalog stay importable from here, for code written when SQLite
# was the only catalog.
__all__ = ["FILE_NAME", "Catalog", "SQLiteCatalog", "cache_key", "open_catalog"]

log = logging.getLogger(__name__)

FILE_NAME = "catalog.sqlite3"


class SQLiteCatalog(Catalog):
    """A catalog in one SQLite file; one connection, shared by the threads of one process."""

    def __init__(self, path: Path, *, timeout_s: float = 30.0) -> None:
        self.path = path
        self.where = str(path)
        self._timeout_s = timeout_s
        # One connection for the process's threads, taken in turn: SQLite writes one at a time
        # anyway, and a transaction is a few statements long.
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Autocommit (isolation_level=None): transactions are begun below, explicitly.
            self._db = sqlite3.connect(
                path, timeout=timeout_s, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        try:
            self._use_wal()
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def schema_version(self) -> int:
        return int(self._read("PRAGMA user_version")[0][0])

    def _use_wal(self) -> None:
        # Switching a new file to WAL does not wait out the busy timeout: while another process
        # switches the same file, SQLite answers SQLITE_BUSY at once. So wait here instead.
        deadline = time.monotonic() + self._timeout_s
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.Error as exc:
                if not _busy(exc) or time.monotonic() > deadline:
                    raise self._error(exc) from exc
            time.sleep(0.02)

    def _migrate(self) -> None:
        # BEGIN IMMEDIATE takes the write lock first, so a second process opening the same new
        # file waits here, then finds the schema made and has nothing to do.
        with self._session(write=True) as tx:
            version = int(tx.execute("PRAGMA user_version")[0][0])
            for number, migration in enumerate(pending(version, where=self.where), version + 1):
                for statement in migration.sqlite:
                    tx.execute(statement)
                tx.execute(f"PRAGMA user_version = {number:d}")
                log.debug("catalog %s: migration %d, %s", self.where, number, migration.name)
            log_migrated(self.where, was=version)

    @contextmanager
    def _session(self, *, write: bool) -> Iterator[Transaction]:
        with self._lock:
            try:
                if write:
                    self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield _Transaction(self._db)
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
                if write:
                    self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if not _busy(exc) and not _setup_problem(exc):
                    raise  # a mistake in our SQL: let its traceback show
                raise self._error(exc) from exc

    def _error(self, exc: sqlite3.Error) -> SetupError:
        if _busy(exc):
            return CatalogUnavailable(
                f"the catalog {self.where} stayed locked by another process for "
                f"{self._timeout_s:g} s; wait for that run or worker to finish, or raise "
                "[catalog] timeout_s in show.toml, then try again."
            )
        return SetupError(
            f"cannot use the catalog {self.where}: {exc}. Check that the folder is writable and "
            "the disk has room; if the file is damaged, move it aside and run again to start "
            "a new catalog (episode GUIDs are then derived afresh)."
        )


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        # The shared queries use psycopg's %s; SQLite's own placeholder is ? (Django's SQLite
        # backend converts the same way). No query holds a literal %.
        values = [_adapt(p) for p in params]
        return self._db.execute(sql.replace("%s", "?"), values).fetchall()


def _busy(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))


def _setup_problem(exc: sqlite3.Error) -> bool:
    """The file or the disk, not the query: unreadable, read-only, full, damaged."""
    name = getattr(exc, "sqlite_errorname", "")
    problems = ("IOERR", "READONLY", "CANTOPEN", "FULL", "NOTADB", "CORRUPT", "PERM", "AUTH")
    return name.startswith(tuple(f"SQLITE_{p}" for p in problems))


def _adapt(value: Any) -> Any:
    # ISO 8601 text, as catalogs made before PostgreSQL stored times, sorts in time order.
    return value.isoformat() if isinstance(value, dt.datetime) else value
