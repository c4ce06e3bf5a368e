"""The catalog: a SQLite file in SHOW_DIR/.fieldreports/ holding what each run learnt.

It keeps three things a re-run needs: each report's GUID (derived once, never changed), cached
stage results keyed by the hash of their inputs, and each report's last outcome for `status`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import uuid
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from fieldreports.catalog import serialise as codec

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    id          TEXT PRIMARY KEY,
    guid        TEXT NOT NULL UNIQUE,
    first_seen  TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'new',
    stage       TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL DEFAULT '',
    summary     TEXT NOT NULL DEFAULT '{}',
    updated_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    stage       TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (stage, key)
);
CREATE TABLE IF NOT EXISTS work (
    run_id      INTEGER NOT NULL,
    report_id   TEXT NOT NULL,
    stage       TEXT NOT NULL,
    seconds     REAL NOT NULL,
    done_at     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT NOT NULL DEFAULT ''
);
"""


def cache_key(*parts: Any) -> str:
    """A stable hash of a stage's inputs (JSON-encodable parts, in order).

    >>> cache_key("abc", {"model": "base"}) == cache_key("abc", {"model": "base"})
    True
    >>> cache_key("abc", {"model": "base"}) == cache_key("abc", {"model": "small"})
    False
    """
    text = json.dumps([codec.key_data(p) for p in parts], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportRecord:
    id: str
    guid: str
    first_seen: dt.datetime
    status: str
    stage: str
    reason: str
    summary: Mapping[str, Any]


class Catalog:
    """One show's catalog. Open it with `Catalog.open(state_dir)`; close it when the run ends."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    @classmethod
    def open(cls, state_dir: Path) -> Catalog:
        state_dir.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(state_dir / "catalog.sqlite3")
        connection.executescript(_SCHEMA)
        connection.commit()
        return cls(connection)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # Each write commits at once, so a crash loses only the report in flight.
        with self._db:
            yield self._db

    # -- identity -------------------------------------------------------------------------

    def guid_for(self, report_id: str, *, feed_url: str) -> str:
        """The report's episode GUID: derived the first time it is seen, then read back forever."""
        row = self._db.execute("SELECT guid FROM reports WHERE id = ?", (report_id,)).fetchone()
        if row:
            return str(row[0])
        guid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{feed_url}#{report_id}"))
        now = _now()
        with self._write() as db:
            db.execute(
                "INSERT INTO reports (id, guid, first_seen, updated_at) VALUES (?, ?, ?, ?)",
                (report_id, guid, now, now),
            )
        return guid

    def record(
        self,
        report_id: str,
        *,
        status: str,
        stage: str = "",
        reason: str = "",
        summary: Any = None,  # a dataclass or a mapping, stored as JSON
    ) -> None:
        """Remember a report's latest outcome ("published", "failed", "quarantined")."""
        with self._write() as db:
            db.execute(
                "UPDATE reports SET status = ?, stage = ?, reason = ?, summary = ?, updated_at = ? "
                "WHERE id = ?",
                (
                    status,
                    stage,
                    reason,
                    json.dumps(codec._encode(summary or {})),
                    _now(),
                    report_id,
                ),
            )

    def reports(self) -> tuple[ReportRecord, ...]:
        rows = self._db.execute(
            "SELECT id, guid, first_seen, status, stage, reason, summary FROM reports ORDER BY first_seen, id"
        ).fetchall()
        return tuple(
            ReportRecord(
                id=r[0],
                guid=r[1],
                first_seen=dt.datetime.fromisoformat(r[2]),
                status=r[3],
                stage=r[4],
                reason=r[5],
                summary=json.loads(r[6]),
            )
            for r in rows
        )

    def first_seen(self, report_id: str) -> dt.datetime | None:
        row = self._db.execute(
            "SELECT first_seen FROM reports WHERE id = ?", (report_id,)
        ).fetchone()
        return dt.datetime.fromisoformat(row[0]) if row else None

    # -- cached stage results -------------------------------------------------------------

    def get(self, stage: str, key: str, cls: type[T]) -> T | None:
        row = self._db.execute(
            "SELECT value FROM results WHERE stage = ? AND key = ?", (stage, key)
        ).fetchone()
        return codec.loads(cls, row[0]) if row else None

    def put(self, stage: str, key: str, value: Any) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO results (stage, key, value, created_at) VALUES (?, ?, ?, ?)",
                (stage, key, codec.dumps(value), _now()),
            )

    # -- work log: what each run really did -----------------------------------------------

    def start_run(self) -> int:
        with self._write() as db:
            cursor = db.execute("INSERT INTO runs (started_at) VALUES (?)", (_now(),))
        return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int, outcome: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, outcome = ? WHERE id = ?",
                (_now(), outcome, run_id),
            )

    def log_work(self, run_id: int, report_id: str, stage: str, seconds: float) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO work (run_id, report_id, stage, seconds, done_at) VALUES (?, ?, ?, ?, ?)",
                (run_id, report_id, stage, seconds, _now()),
            )

    def work_done(self, run_id: int | None = None) -> dict[str, int]:
        """How many times each stage really ran (in one run, or the last run when None)."""
        if run_id is None:
            row = self._db.execute("SELECT MAX(id) FROM runs").fetchone()
            run_id = int(row[0] or 0)
        rows = self._db.execute(
            "SELECT stage, COUNT(*) FROM work WHERE run_id = ? GROUP BY stage", (run_id,)
        ).fetchall()
        return {str(stage): int(count) for stage, count in rows}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def open_catalog(state_dir: Path) -> closing[Catalog]:
    """`with open_catalog(dir) as catalog:` closes the file when the block ends."""
    return closing(Catalog.open(state_dir))
