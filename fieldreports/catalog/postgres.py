"""The shared catalog: one PostgreSQL database for workers on several machines (`[catalog] url`).

Plain SQL through psycopg 3 and a small connection pool, shared by a run's threads. Every
operation borrows a connection for one short transaction; the pool checks a connection before
lending it, so after the server restarts the next call simply reconnects. While the server cannot
be reached, calls raise CatalogUnavailable with the URL (password masked) and the reason: a worker
retries on that class, the command line prints the sentence.

Imported only when a postgresql:// URL is configured, so psycopg stays an optional extra
(`pip install "fieldreports[postgres]"`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from fieldreports.catalog.base import Catalog, Transaction
from fieldreports.catalog.migrations import log_migrated, pending
from fieldreports.config import mask_password
from fieldreports.errors import CatalogUnavailable, SetupError

log = logging.getLogger(__name__)

# The key of the advisory lock held while migrating: any constant works, as long as no other
# application on the same database uses it. These are the bytes "fieldrep" read as an integer.
_MIGRATION_LOCK = int.from_bytes(b"fieldrep", "big") - 2**63


class PostgresCatalog(Catalog):
    """A catalog in a PostgreSQL database, for several processes and machines at once."""

    def __init__(self, url: str, *, pool_size: int = 4, timeout_s: float = 30.0) -> None:
        self.where = mask_password(url)
        self._url = url
        self._pool_size = pool_size
        self._timeout_s = timeout_s
        # libpq takes whole seconds and treats anything under 2 as 2.
        self._connect_args: dict[str, Any] = {
            "connect_timeout": max(2, math.ceil(timeout_s)),
            "application_name": "fieldreports",
        }
        try:
            # Migrate on a connection of its own first: if the server is down or the URL wrong,
            # this says why (refused, unknown database, bad password), where a pool would only
            # time out.
            with psycopg.connect(url, **self._connect_args) as connection:
                self._migrate(connection)
        except psycopg.OperationalError as exc:
            raise self._unavailable(exc) from exc
        except psycopg.Error as exc:
            raise SetupError(
                f"[catalog] url {self.where}: {_first_line(exc)}. Write it like "
                '"postgresql://user@host:5432/db".'
            ) from exc
        self._pool: ConnectionPool = ConnectionPool(
            url,
            kwargs=self._connect_args,
            min_size=1,
            max_size=pool_size,
            timeout=timeout_s,
            check=ConnectionPool.check_connection,
            name="fieldreports-catalog",
            open=True,
        )

    def close(self) -> None:
        self._pool.close()

    def schema_version(self) -> int:
        return int(self._read("SELECT COALESCE(MAX(version), 0) FROM catalog_schema")[0][0])

    def _migrate(self, connection: psycopg.Connection[Any]) -> None:
        with connection.transaction():
            # Held until this transaction ends: a second process opening the same new database
            # waits here, then finds every migration applied.
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            connection.execute(
                "CREATE TABLE IF NOT EXISTS catalog_schema ("
                "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            row = connection.execute("SELECT MAX(version) FROM catalog_schema").fetchone()
            version = int(row[0] or 0) if row else 0
            for number, migration in enumerate(pending(version, where=self.where), version + 1):
                for statement in migration.postgres:
                    connection.execute(statement)
                connection.execute(
                    "INSERT INTO catalog_schema (version, name) VALUES (%s, %s)",
                    (number, migration.name),
                )
                log.debug("catalog %s: migration %d, %s", self.where, number, migration.name)
            log_migrated(self.where, was=version)

    @contextmanager
    def _session(self, *, write: bool) -> Iterator[Transaction]:
        # write is the same as read here: every session is one transaction on a pooled
        # connection, committed when the block ends and rolled back if it raises.
        try:
            with self._pool.connection() as connection, connection.cursor() as cursor:
                yield _Transaction(cursor)
        except psycopg.OperationalError as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: psycopg.OperationalError) -> CatalogUnavailable:
        reason = _first_line(exc)
        if isinstance(exc, PoolTimeout):
            # The pool kept retrying in the background for timeout_s (a restart a few seconds
            # long is simply waited out); one direct attempt now tells why it failed.
            try:
                psycopg.connect(self._url, **{**self._connect_args, "connect_timeout": 2}).close()
            except psycopg.Error as probe:
                reason = f"{_first_line(probe)}, for {self._timeout_s:g} s"
            else:
                return CatalogUnavailable(
                    f"all {self._pool_size} connections to the catalog database {self.where} "
                    f"stayed busy for {self._timeout_s:g} s; raise [catalog] pool_size or "
                    "timeout_s in show.toml, then try again."
                )
        return CatalogUnavailable(
            f"the catalog database {self.where} is not answering ({reason}). Check that "
            "PostgreSQL is running and reachable from this machine, then try again."
        )


class _Transaction:
    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(sql, params)
        # Statements without rows (INSERT, UPDATE) have no description to fetch from.
        return list(self._cursor.fetchall()) if self._cursor.description else []


def _first_line(exc: Exception) -> str:
    # libpq's messages run on with hints on further lines; the first says what happened.
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0].rstrip(".")
