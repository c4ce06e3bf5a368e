"""The catalog's one interface, written once in the SQL both backends speak.

The catalog holds what a run learns and the next one needs: each report's GUID (derived once,
never changed), stage results cached under the hash of their inputs, a log of the work each run
did, each report's last outcome, the show's reporters (their upload keys only as hashes) and who
sent which file. Its summaries and cached episodes hold the exact coordinates of sensitive reports,
so the catalog is private: nothing in it is published as it is.

`Catalog` below is every operation, each a short transaction, race-free when several processes or
machines share one catalog: a row that two may create at once is written with
`INSERT ... ON CONFLICT` and read back, so the first writer wins and both see its value. A backend
(`sqlite.py`, `postgres.py`) only supplies connections, its migrations and its error messages;
statements use `%s` placeholders, which the SQLite backend turns into its own `?`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, TypeVar

from fieldreports.catalog import serialise as codec
from fieldreports.errors import CatalogError

T = TypeVar("T")

# Keys per statement in get_many/delete_results: well under SQLite's limit on bound parameters.
_CHUNK = 500


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
    """A report as `status` shows it: its GUID and its latest outcome."""

    id: str
    guid: str
    first_seen: dt.datetime
    status: str
    stage: str
    reason: str
    summary: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Reporter:
    """Someone allowed to upload; an editor may also manage reporters. The key is not here."""

    name: str
    is_editor: bool
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True, kw_only=True)
class Upload:
    """One file received into the inbox, and who sent it."""

    file_name: str
    report_id: str
    reporter: str
    sha256: str
    received_at: dt.datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """A webhook (`kind` "webhook") or WebSub ping ("websub") the station has yet to deliver."""

    id: str
    kind: str
    url: str
    payload: Mapping[str, Any]
    attempt: int  # attempts made so far
    due: float  # when to try next, seconds since the epoch


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """One time a worker took a task. `finished_at` None: the worker died, or is still at it."""

    task_id: str
    run_id: int
    report_id: str
    stage: str
    key: str
    worker: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    outcome: str  # "done", "cached", "failed: ...", "retrying: ...", "timed out" or ""


class Transaction(Protocol):
    """What a backend hands the queries below: run one statement, get its rows (or none)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


class Catalog(ABC):
    """One show's catalog. `with open_catalog(state_dir, settings) as catalog:` opens the backend
    that `[catalog] url` names and closes it when the block ends."""

    #: Where the catalog lives, for messages: the SQLite file, or the URL with its password masked.
    where: str

    # -- what a backend supplies ------------------------------------------------------------

    @abstractmethod
    def _session(self, *, write: bool) -> AbstractContextManager[Transaction]:
        """One short transaction; committed when the block ends, rolled back if it raises.

        A backend turns its driver's connection errors into CatalogUnavailable here.
        """

    @abstractmethod
    def schema_version(self) -> int:
        """How many of `migrations.MIGRATIONS` this catalog has had."""

    @abstractmethod
    def close(self) -> None:
        """Release the file or the connections; the catalog cannot be used after."""

    def __enter__(self) -> Catalog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._session(write=False) as tx:
            return tx.execute(sql, params)

    # -- identity -------------------------------------------------------------------------

    def guid_for(self, report_id: str, *, feed_url: str) -> str:
        """The report's episode GUID: derived the first time it is seen, then read back forever.

        Two processes seeing a new report at once may derive different GUIDs (a feed that moved
        between their configs); the row written first wins and both return it.
        """
        rows = self._read("SELECT guid FROM reports WHERE id = %s", (report_id,))
        if rows:
            return str(rows[0][0])
        guid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{feed_url}#{report_id}"))
        now = _now()
        with self._session(write=True) as tx:
            tx.execute(
                "INSERT INTO reports (id, guid, first_seen, updated_at) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (id) DO NOTHING",
                (report_id, guid, now, now),
            )
            rows = tx.execute("SELECT guid FROM reports WHERE id = %s", (report_id,))
        return str(rows[0][0])

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
        outcome = (status, stage, reason, json.dumps(codec._encode(summary or {})))
        with self._session(write=True) as tx:
            tx.execute(
                "UPDATE reports SET status = %s, stage = %s, reason = %s, summary = %s, "
                "updated_at = %s WHERE id = %s "
                # An outcome that has not changed is not written again: a commit costs an fsync.
                # (Every column here is NOT NULL, so plain equality is exact.)
                "AND NOT (status = %s AND stage = %s AND reason = %s AND summary = %s)",
                (*outcome, _now(), report_id, *outcome),
            )

    def reports(self) -> tuple[ReportRecord, ...]:
        rows = self._read(
            "SELECT id, guid, first_seen, status, stage, reason, summary FROM reports "
            "ORDER BY first_seen, id"
        )
        return tuple(
            ReportRecord(
                id=r[0],
                guid=r[1],
                first_seen=_time(r[2]),
                status=r[3],
                stage=r[4],
                reason=r[5],
                summary=json.loads(r[6]),
            )
            for r in rows
        )

    def first_seen(self, report_id: str) -> dt.datetime | None:
        rows = self._read("SELECT first_seen FROM reports WHERE id = %s", (report_id,))
        return _time(rows[0][0]) if rows else None

    # -- cached stage results -------------------------------------------------------------

    def get(self, stage: str, key: str, cls: type[T]) -> T | None:
        rows = self._read("SELECT value FROM results WHERE stage = %s AND key = %s", (stage, key))
        return codec.loads(cls, rows[0][0]) if rows else None

    def get_many(self, stage: str, keys: Iterable[str], cls: type[T]) -> dict[str, T]:
        """The cached results of `stage` for those `keys` that have one, by key."""
        found: dict[str, T] = {}
        for chunk in _chunks(keys):
            marks = ", ".join(["%s"] * len(chunk))
            rows = self._read(
                f"SELECT key, value FROM results WHERE stage = %s AND key IN ({marks})",
                (stage, *chunk),
            )
            found.update((key, codec.loads(cls, value)) for key, value in rows)
        return found

    def put(self, stage: str, key: str, value: Any) -> None:
        """Cache a stage result; a second put for the same key replaces it (an upsert)."""
        with self._session(write=True) as tx:
            tx.execute(
                "INSERT INTO results (stage, key, value, created_at) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (stage, key) "
                "DO UPDATE SET value = excluded.value, created_at = excluded.created_at "
                # The same result again is not rewritten: a commit costs an fsync.
                "WHERE results.value <> excluded.value",
                (stage, key, codec.dumps(value), _now()),
            )

    def delete_results(self, stage: str, keys: Iterable[str]) -> int:
        """Forget cached results (pruning); returns how many there were."""
        deleted = 0
        for chunk in _chunks(keys):
            marks = ", ".join(["%s"] * len(chunk))
            with self._session(write=True) as tx:
                rows = tx.execute(
                    f"DELETE FROM results WHERE stage = %s AND key IN ({marks}) RETURNING key",
                    (stage, *chunk),
                )
            deleted += len(rows)
        return deleted

    # -- work log: what each run really did -----------------------------------------------

    def start_run(self) -> int:
        """A new run's id, from the database's own sequence, so machines never share one."""
        with self._session(write=True) as tx:
            rows = tx.execute("INSERT INTO runs (started_at) VALUES (%s) RETURNING id", (_now(),))
        return int(rows[0][0])

    def finish_run(self, run_id: int, outcome: str) -> None:
        with self._session(write=True) as tx:
            tx.execute(
                "UPDATE runs SET finished_at = %s, outcome = %s WHERE id = %s",
                (_now(), outcome, run_id),
            )

    def log_work(self, run_id: int, report_id: str, stage: str, seconds: float) -> None:
        with self._session(write=True) as tx:
            tx.execute(
                "INSERT INTO work (run_id, report_id, stage, seconds, done_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                (run_id, report_id, stage, seconds, _now()),
            )

    def work_done(self, run_id: int | None = None) -> dict[str, int]:
        """How many times each stage really ran (in one run, or the last run when None)."""
        with self._session(write=False) as tx:
            if run_id is None:
                run_id = int(tx.execute("SELECT MAX(id) FROM runs")[0][0] or 0)
            rows = tx.execute(
                "SELECT stage, COUNT(*) FROM work WHERE run_id = %s GROUP BY stage", (run_id,)
            )
        return {str(stage): int(count) for stage, count in rows}

    # -- attempts: which worker took which task -------------------------------------------

    def begin_attempt(
        self, *, task_id: str, run_id: int, report_id: str, stage: str, key: str, worker: str
    ) -> int:
        """Record that `worker` took task `task_id`; returns the attempt's id for `end_attempt`."""
        with self._session(write=True) as tx:
            rows = tx.execute(
                "INSERT INTO attempts (task_id, run_id, report_id, stage, key, worker, started_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (task_id, run_id, report_id, stage, key, worker, _now()),
            )
        return int(rows[0][0])

    def end_attempt(self, attempt_id: int, outcome: str) -> None:
        with self._session(write=True) as tx:
            tx.execute(
                "UPDATE attempts SET finished_at = %s, outcome = %s WHERE id = %s",
                (_now(), outcome, attempt_id),
            )

    def attempts(self, *, run_id: int | None = None, task_id: str = "") -> tuple[Attempt, ...]:
        """Attempts of one run, or of one task, oldest first."""
        where, params = ("task_id = %s", (task_id,)) if task_id else ("run_id = %s", (run_id,))
        rows = self._read(
            "SELECT task_id, run_id, report_id, stage, key, worker, started_at, finished_at, "
            f"outcome FROM attempts WHERE {where} ORDER BY id",
            params,
        )
        return tuple(
            Attempt(
                task_id=r[0],
                run_id=int(r[1]),
                report_id=r[2],
                stage=r[3],
                key=r[4],
                worker=r[5],
                started_at=_time(r[6]),
                finished_at=_time(r[7]) if r[7] is not None else None,
                outcome=r[8],
            )
            for r in rows
        )

    # -- reporters and their upload keys --------------------------------------------------

    def add_reporter(self, name: str, *, editor: bool = False) -> str:
        """Register a reporter and return their new upload key: shown once, stored only hashed.

        Names are never reused, even once revoked, so past uploads stay attributed to one person.
        """
        name = name.strip()
        if not name:
            raise CatalogError('a reporter needs a name; give one, like add_reporter("Amal").')
        key = secrets.token_urlsafe(32)
        with self._session(write=True) as tx:
            rows = tx.execute(
                "INSERT INTO reporters (name, key_hash, is_editor, created_at) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO NOTHING RETURNING name",
                (name, _key_hash(key), editor, _now()),
            )
        if not rows:
            raise CatalogError(
                f'a reporter named "{name}" already exists (names are never reused, so their '
                f'uploads stay theirs); choose another name, like "{name} 2".'
            )
        return key

    def reporters(self) -> tuple[Reporter, ...]:
        rows = self._read(
            "SELECT name, is_editor, created_at, revoked_at FROM reporters ORDER BY name"
        )
        return tuple(_reporter(row) for row in rows)

    def revoke_reporter(self, name: str) -> None:
        """Refuse this reporter's key from now on. Revoking twice changes nothing."""
        with self._session(write=True) as tx:
            tx.execute(
                "UPDATE reporters SET revoked_at = %s WHERE name = %s AND revoked_at IS NULL",
                (_now(), name),
            )
            known = tx.execute("SELECT name FROM reporters ORDER BY name")
        names = [str(n) for (n,) in known]
        if name not in names:
            listed = ", ".join(f'"{n}"' for n in names) or "none yet"
            raise CatalogError(f'no reporter named "{name}" (reporters: {listed}).')

    def rotate_key(self, name: str) -> str:
        """A new upload key for an existing reporter (a lost phone), shown once like the first.

        The old key is refused from now on; a revoked reporter is active again with the new one.
        """
        key = secrets.token_urlsafe(32)
        with self._session(write=True) as tx:
            rows = tx.execute(
                "UPDATE reporters SET key_hash = %s, revoked_at = NULL WHERE name = %s "
                "RETURNING name",
                (_key_hash(key), name),
            )
        if not rows:
            raise CatalogError(f'no reporter named "{name}"; add them first.')
        return key

    def reporter_for_key(self, key: str) -> Reporter | None:
        """Who holds this upload key, or None for a wrong or revoked key."""
        digest = _key_hash(key)
        rows = self._read(
            "SELECT name, is_editor, created_at, revoked_at, key_hash FROM reporters "
            "WHERE key_hash = %s",
            (digest,),
        )
        if not rows:
            return None
        *fields, stored = rows[0]
        # The row was found by the hash of the key, never by the key, so the lookup's timing
        # says nothing useful about a stored key; compare_digest keeps the last check the same.
        if not hmac.compare_digest(str(stored), digest):
            return None
        reporter = _reporter(tuple(fields))
        return reporter if reporter.active else None

    # -- uploads: who sent which file -----------------------------------------------------

    def record_upload(
        self,
        *,
        file_name: str,
        report_id: str,
        reporter: str,
        sha256: str,
        received_at: dt.datetime | None = None,
    ) -> None:
        """Remember that `reporter` sent `file_name` (inbox name) for `report_id`."""
        with self._session(write=True) as tx:
            tx.execute(
                "INSERT INTO uploads (file_name, report_id, reporter, sha256, received_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                (file_name, report_id, reporter, sha256, received_at or _now()),
            )

    def owner_of(self, report_id: str) -> str | None:
        """Whose report this is: the reporter who sent its first file (an editor replacing a
        file later does not change it); None if nothing of it was uploaded."""
        rows = self._read(
            "SELECT reporter FROM uploads WHERE report_id = %s ORDER BY received_at, id LIMIT 1",
            (report_id,),
        )
        return str(rows[0][0]) if rows else None

    def uploads(self, report_id: str | None = None) -> tuple[Upload, ...]:
        """Every upload (of one report, when given), oldest first."""
        where, params = ("WHERE report_id = %s ", (report_id,)) if report_id else ("", ())
        rows = self._read(
            "SELECT file_name, report_id, reporter, sha256, received_at FROM uploads "
            f"{where}ORDER BY received_at, id",
            params,
        )
        return tuple(
            Upload(file_name=f, report_id=r, reporter=who, sha256=h, received_at=_time(at))
            for f, r, who, h, at in rows
        )

    # -- the station's outbox: notifications not yet delivered ------------------------------

    def keep_notification(self, notification: Notification) -> None:
        """Store `notification`, or its new attempt count and due time when it is stored."""
        with self._session(write=True) as tx:
            tx.execute(
                "INSERT INTO notifications (id, kind, url, payload, attempt, due) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                "attempt = excluded.attempt, due = excluded.due",
                (
                    notification.id,
                    notification.kind,
                    notification.url,
                    json.dumps(dict(notification.payload), ensure_ascii=False),
                    notification.attempt,
                    notification.due,
                ),
            )

    def forget_notification(self, notification_id: str) -> None:
        """A notification delivered, or given up."""
        with self._session(write=True) as tx:
            tx.execute("DELETE FROM notifications WHERE id = %s", (notification_id,))

    def notifications(self) -> tuple[Notification, ...]:
        """Every notification not yet delivered, the soonest due first."""
        rows = self._read(
            "SELECT id, kind, url, payload, attempt, due FROM notifications ORDER BY due, id", ()
        )
        return tuple(
            Notification(id=i, kind=k, url=u, payload=json.loads(p), attempt=int(a), due=float(d))
            for i, k, u, p, a, d in rows
        )


def _key_hash(key: str) -> str:
    # SHA-256, not a slow password hash such as scrypt or argon2: the key is 32 random bytes
    # from `secrets`, so there is nothing to guess by brute force that slowness would protect,
    # and a plain digest lets the key's row be found by an index instead of trying every row.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _reporter(row: tuple[Any, ...]) -> Reporter:
    name, is_editor, created_at, revoked_at = row
    return Reporter(
        name=str(name),
        is_editor=bool(is_editor),
        created_at=_time(created_at),
        revoked_at=_time(revoked_at) if revoked_at is not None else None,
    )


def _chunks(keys: Iterable[str]) -> Iterator[tuple[str, ...]]:
    unique = tuple(dict.fromkeys(keys))
    for start in range(0, len(unique), _CHUNK):
        yield unique[start : start + _CHUNK]


def _now() -> dt.datetime:
    # To the second, as catalogs made before PostgreSQL stored them; ties are broken by id.
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _time(value: str | dt.datetime) -> dt.datetime:
    """A stored time as an aware UTC datetime: SQLite keeps ISO text, PostgreSQL a timestamptz.

    >>> _time("2022-03-14T08:40:00+00:00") == _time(dt.datetime(2022, 3, 14, 8, 40, tzinfo=dt.UTC))
    True
    """
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    return moment.astimezone(dt.UTC)
