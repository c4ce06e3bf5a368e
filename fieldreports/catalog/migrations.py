"""The catalog's schema, as an ordered list of migrations that upgrade a catalog in place.

A catalog records how many migrations it has had (SQLite: `PRAGMA user_version`; PostgreSQL: the
`catalog_schema` table). Opening one applies the rest, in order, in one transaction, under a lock
that makes a second process opening the same fresh database wait instead of colliding. So a
catalog made by an older fieldreports keeps every GUID, and a new feature is a migration appended
at the end: never edit or reorder one that has shipped.

Migration 1 is the schema fieldreports 0.1 created, word for word for SQLite: its `IF NOT EXISTS`
makes it a no-op on a catalog that version made, which then simply becomes version 1.

Both dialects are written side by side so a change to one is seen next to the other. PostgreSQL
gets its own types (timestamptz, identity columns, boolean); stage results and summaries stay
TEXT in both, as the catalog reads them back whole and never queries inside them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fieldreports.errors import SetupError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    """One step of the schema: what it adds, and its statements in each dialect."""

    name: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        name="reports, cached results, the work log and runs",
        sqlite=(
            """CREATE TABLE IF NOT EXISTS reports (
    id          TEXT PRIMARY KEY,
    guid        TEXT NOT NULL UNIQUE,
    first_seen  TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'new',
    stage       TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL DEFAULT '',
    summary     TEXT NOT NULL DEFAULT '{}',
    updated_at  TEXT NOT NULL
)""",
            """CREATE TABLE IF NOT EXISTS results (
    stage       TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (stage, key)
)""",
            """CREATE TABLE IF NOT EXISTS work (
    run_id      INTEGER NOT NULL,
    report_id   TEXT NOT NULL,
    stage       TEXT NOT NULL,
    seconds     REAL NOT NULL,
    done_at     TEXT NOT NULL
)""",
            """CREATE TABLE IF NOT EXISTS runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT NOT NULL DEFAULT ''
)""",
        ),
        postgres=(
            """CREATE TABLE reports (
    id          TEXT PRIMARY KEY,
    guid        TEXT NOT NULL UNIQUE,
    first_seen  TIMESTAMPTZ NOT NULL,
    status      TEXT NOT NULL DEFAULT 'new',
    stage       TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL DEFAULT '',
    summary     TEXT NOT NULL DEFAULT '{}',
    updated_at  TIMESTAMPTZ NOT NULL
)""",
            """CREATE TABLE results (
    stage       TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (stage, key)
)""",
            """CREATE TABLE work (
    run_id      BIGINT NOT NULL,
    report_id   TEXT NOT NULL,
    stage       TEXT NOT NULL,
    seconds     DOUBLE PRECISION NOT NULL,
    done_at     TIMESTAMPTZ NOT NULL
)""",
            """CREATE TABLE runs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    outcome     TEXT NOT NULL DEFAULT ''
)""",
        ),
    ),
    Migration(
        name="the work log indexed by run, for work_done",
        sqlite=("CREATE INDEX work_by_run ON work (run_id, stage)",),
        postgres=("CREATE INDEX work_by_run ON work (run_id, stage)",),
    ),
    Migration(
        # The key itself is never stored: only its SHA-256 (see Catalog.add_reporter).
        name="reporters and the hashes of their upload keys",
        sqlite=(
            """CREATE TABLE reporters (
    name        TEXT PRIMARY KEY,
    key_hash    TEXT NOT NULL UNIQUE,
    is_editor   INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
)""",
        ),
        postgres=(
            """CREATE TABLE reporters (
    name        TEXT PRIMARY KEY,
    key_hash    TEXT NOT NULL UNIQUE,
    is_editor   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
)""",
        ),
    ),
    Migration(
        # No foreign key to reporters: an upload made with the show's shared token has no
        # reporter row, and a revoked reporter's uploads must stay attributed.
        name="uploads: who sent which file",
        sqlite=(
            """CREATE TABLE uploads (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    file_name   TEXT NOT NULL,
    report_id   TEXT NOT NULL,
    reporter    TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    received_at TEXT NOT NULL
)""",
            "CREATE INDEX uploads_by_report ON uploads (report_id, received_at)",
        ),
        postgres=(
            """CREATE TABLE uploads (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file_name   TEXT NOT NULL,
    report_id   TEXT NOT NULL,
    reporter    TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL
)""",
            "CREATE INDEX uploads_by_report ON uploads (report_id, received_at)",
        ),
    ),
    Migration(
        # One row per time a worker took a task: a row never finished is a worker that died
        # (or is still at it), so a redelivered task shows as two rows with one task id.
        name="attempts: which worker took which task, and how it ended",
        sqlite=(
            """CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id     TEXT NOT NULL,
    run_id      INTEGER NOT NULL,
    report_id   TEXT NOT NULL,
    stage       TEXT NOT NULL,
    key         TEXT NOT NULL,
    worker      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT NOT NULL DEFAULT ''
)""",
            "CREATE INDEX attempts_by_task ON attempts (task_id)",
            "CREATE INDEX attempts_by_run ON attempts (run_id)",
        ),
        postgres=(
            """CREATE TABLE attempts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id     TEXT NOT NULL,
    run_id      BIGINT NOT NULL,
    report_id   TEXT NOT NULL,
    stage       TEXT NOT NULL,
    key         TEXT NOT NULL,
    worker      TEXT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    outcome     TEXT NOT NULL DEFAULT ''
)""",
            "CREATE INDEX attempts_by_task ON attempts (task_id)",
            "CREATE INDEX attempts_by_run ON attempts (run_id)",
        ),
    ),
    Migration(
        # The station's outbox: a webhook or WebSub ping stays here until it is delivered or
        # given up, so a station stopped (or killed) while a receiver was down sends it after
        # its restart instead of forgetting it. `due` is seconds since the epoch.
        name="notifications waiting to be delivered",
        sqlite=(
            """CREATE TABLE notifications (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    url         TEXT NOT NULL,
    payload     TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    due         REAL NOT NULL
)""",
        ),
        postgres=(
            """CREATE TABLE notifications (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    url         TEXT NOT NULL,
    payload     TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    due         DOUBLE PRECISION NOT NULL
)""",
        ),
    ),
)

#: The schema version this code writes: a catalog at a higher one was made by a newer fieldreports.
LATEST = len(MIGRATIONS)


def pending(version: int, *, where: str) -> tuple[Migration, ...]:
    """The migrations a catalog at `version` still needs, in order.

    >>> [m.name for m in pending(LATEST - 1, where="x")] == [MIGRATIONS[-1].name]
    True
    """
    if version > LATEST:
        raise SetupError(
            f"{where} is at schema version {version}, made by a newer fieldreports than this one "
            f"(which knows {LATEST}); upgrade fieldreports on this machine, then run again."
        )
    return MIGRATIONS[version:]


def log_migrated(where: str, *, was: int) -> None:
    """One line for a catalog brought to LATEST: made new, or upgraded (each step at debug)."""
    if was == LATEST:
        return
    if was == 0:
        log.info("catalog %s made (schema version %d)", where, LATEST)
        return
    steps = "; ".join(m.name for m in MIGRATIONS[was:])
    log.info("catalog %s upgraded from schema version %d to %d: %s", where, was, LATEST, steps)
