"""The station's processor: runs the pipeline by itself as reports become complete.

One background thread. A file that lands (`landed`, called by the upload server) or turns up in
the inbox by another way (a scan every `[station] scan_interval_s`) makes its report pending:

    notes, recording already here       due now
    recording, notes already here       due now (the upload page sends notes first)
    recording without notes             waits `notes_wait_s` for them ("waiting for notes"),
                                        and is due at once when they land
    notes without a recording           nothing to run yet ("received")

When a report is due the thread runs the whole show (`run`, the pipeline's `run_show`: cached
and incremental, so the rest costs little) under the run lock, holding back the recordings still
waiting for their notes, and follows its progress into each report's state (mastering,
transcribing). After the run every report's state says published, with its links, or failed,
with the reason and what to do, and the notifier is told what changed.

A failed report is the run's business: it is recorded and the rest is published; a failed
transcription is tried again by itself `TRANSCRIBE_RETRIES` times (after `retry_s`, doubling),
as it may have failed for the machine's sake rather than the recording's. An exception
from the run itself (a bug, a full disk, the database away) is logged, the reports it was
running are marked failed with "the station tries again", and they are run again after
`retry_s`, doubled each time up to an hour. A manual `fieldreports run` holding the lock just
makes the processor wait and try again.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from episodes.episode import Episode
from episodes.feed.rss import FEED_KEY
from episodes.i18n import interface
from episodes.links import EpisodeLinks, episode_links
from episodes.site.storage import feed_url, open_storage, public_base_url
from episodes.station import states as st
from episodes.station.notify import Notifier, new_event
from episodes.station.states import ReportState
from fieldreports.catalog import Catalog
from fieldreports.config import ShowConfig
from fieldreports.errors import RunLocked
from fieldreports.intake.inbox import Failure, file_kind, report_id_of
from fieldreports.intake.notes import read_notes

log = logging.getLogger(__name__)

LOCKED_RETRY_S = 15.0
MAX_RETRY_S = 3600.0
# A transcription that failed is tried again this many times, after retry_s, then twice that...
TRANSCRIBE_RETRIES = 3


class Tick(Protocol):
    """What the processor reads of a run's progress (`pipeline.Progress`)."""

    @property
    def report_id(self) -> str: ...

    @property
    def stage(self) -> str: ...


class RunResult(Protocol):
    """What the processor reads of a finished run (`pipeline.RunSummary`)."""

    @property
    def episodes(self) -> Mapping[str, Episode]: ...

    @property
    def failures(self) -> Sequence[Failure]: ...

    @property
    def published(self) -> Any: ...  # episodes.site.publish.PublishReport | None

    @property
    def kept(self) -> Sequence[str]: ...  # episodes from before, up while their report fails


class RunShow(Protocol):
    """`pipeline.run_show`, which the station gets as a parameter (imports go one way)."""

    def __call__(
        self, config: ShowConfig, *, on_progress: Any = ..., hold: Collection[str] = ...
    ) -> RunResult: ...


class Processor:
    """Runs `run` on the show whenever a report is due; `start()`, then `close()`."""

    def __init__(
        self, config: ShowConfig, run: RunShow, catalog: Catalog, notifier: Notifier
    ) -> None:
        self.config = config
        self.run = run
        self.catalog = catalog
        self.notifier = notifier
        self._cond = threading.Condition()
        self._pending: dict[str, float] = {}  # report id -> when it is due (time.time())
        # When to run the whole show even if no report is due (None: no need): at start, for
        # whatever came while the station was down; after a withdrawal; after a locked run.
        self._run_at: float | None = time.time()
        self._closed = False
        self._seen: dict[str, tuple[int, int]] = {}  # inbox name -> (size, mtime_ns) acted on
        self._last_listing: dict[str, tuple[int, int]] = {}  # the inbox at the last scan
        self._next_scan = 0.0
        self._errors = 0  # runs in a row that stopped with an exception
        self._run_states: dict[str, str] = {}
        self._transcribe_retries: dict[str, int] = {}  # report id -> retries so far
        self._thread = threading.Thread(target=self._loop, name="station-processor", daemon=True)
        self.runs = 0  # finished runs, for tests and the log
        self.last_run_at: float | None = None  # when the last run ended well (time.time())
        self.journeys: tuple[str, ...] = ()  # published journeys, newest first, for the page

    # -- the outside world ---------------------------------------------------------------

    def start(self) -> None:
        self._restore()
        self._seen = self._last_listing = self._listing()  # the first run takes all there is
        self._thread.start()

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop after the run under way, if it ends within `timeout_s` (else it is cut off with
        the process, losing only the report in flight)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def health(self) -> dict[str, Any]:
        """How the processor is doing, for monitoring (`GET /api/health`): counts and times,
        nothing of any report. `ok` is false when the thread is gone or the last run failed."""
        with self._cond:
            waiting = len(self._pending)
        last = self.last_run_at
        return {
            "ok": self._thread.is_alive() and self.notifier.alive and self._errors == 0,
            "runs": self.runs,
            "last_run_at": st.from_timestamp(last).isoformat() if last is not None else None,
            "failed_runs_in_a_row": self._errors,
            "reports_waiting": waiting,
        }

    def landed(self, path: Path) -> None:
        """A file has just landed in the inbox (the upload server's `on_complete`)."""
        self._arrived(path)

    # -- what arrives --------------------------------------------------------------------

    def _arrived(self, path: Path) -> None:
        kind = file_kind(path)
        if kind == "other" and not path.name.startswith("."):
            kind = "extra"  # a photo for the notes: the report is made again
        if kind == "other":
            return
        report_id = report_id_of(path)
        with self._cond:
            self._remember(path)
            self._transcribe_retries.pop(report_id, None)  # a new file: a fresh start
        files = self._inbox_files(report_id)
        has_recording = any(file_kind(p) == "recording" for p in files)
        notes = next((p for p in files if file_kind(p) == "notes"), None)
        title = _title(notes)
        previous = st.load_state(self.catalog, report_id)
        at = time.time()
        if not has_recording:
            if previous is None or previous.state not in st.FINAL:
                self._save(report_id, st.RECEIVED, title=title)
            return
        if notes is None and (previous is None or previous.state in (st.RECEIVED, st.WAITING)):
            wait = self.config.station.notes_wait_s
            until = (previous.waiting_until.timestamp() if previous and previous.waiting_until
                     else at + wait)  # fmt: skip
            self._save(report_id, st.WAITING, waiting_until=st.from_timestamp(until))
            self._schedule(report_id, until)
            return
        self._save(report_id, st.RECEIVED, title=title or (previous.title if previous else ""))
        self._schedule(report_id, at)

    def _schedule(self, report_id: str, due: float) -> None:
        with self._cond:
            self._pending[report_id] = min(due, self._pending.get(report_id, due))
            self._cond.notify_all()

    def _restore(self) -> None:
        """After a restart: reports that were on their way are pending again."""
        inbox = self.config.inbox_dir
        report_ids = (
            {u.report_id for u in self.catalog.uploads()}
            | {r.id for r in self.catalog.reports()}
            | {report_id_of(p) for p in (inbox.iterdir() if inbox.is_dir() else ())}
        )
        for report_id, state in st.load_states(self.catalog, report_ids).items():
            if state.state == st.WAITING and state.waiting_until is not None:
                self._pending[report_id] = state.waiting_until.timestamp()
            elif state.state not in st.FINAL:
                self._pending[report_id] = time.time()

    def _inbox_files(self, report_id: str) -> list[Path]:
        inbox = self.config.inbox_dir
        if not inbox.is_dir():
            return []
        return [
            p
            for p in inbox.iterdir()
            if p.is_file() and not p.name.startswith(".") and report_id_of(p) == report_id
        ]

    def _remember(self, path: Path) -> None:
        try:
            stat = path.stat()
        except OSError:
            return
        self._seen[path.name] = (stat.st_size, stat.st_mtime_ns)

    def _listing(self) -> dict[str, tuple[int, int]]:
        inbox = self.config.inbox_dir
        found: dict[str, tuple[int, int]] = {}
        for path in inbox.iterdir() if inbox.is_dir() else ():
            try:
                if path.name.startswith(".") or not path.is_file():
                    continue
                stat = path.stat()
            except OSError:
                continue  # gone meanwhile
            found[path.name] = (stat.st_size, stat.st_mtime_ns)
        return found

    def _scan(self) -> None:
        """Files that reached the inbox by another way than the upload server. A report's files
        count once they are all the same at two scans in a row: a copy under way is left alone."""
        found = self._listing()
        with self._cond:
            moving = {report_id_of(Path(n)) for n, sig in found.items()
                      if self._last_listing.get(n) != sig}  # fmt: skip
            new = [
                n
                for n, sig in found.items()
                if self._seen.get(n) != sig and report_id_of(Path(n)) not in moving
            ]
            gone = set(self._seen) - set(found)
            self._seen = {n: sig for n, sig in self._seen.items() if n in found}
            self._seen.update((n, found[n]) for n in new)
            self._last_listing = found
        for name in new:
            self._arrived(self.config.inbox_dir / name)
        if gone and not new:
            with self._cond:
                self._run_at = time.time()  # a withdrawn recording: publish without it

    # -- the thread ----------------------------------------------------------------------

    def _due(self) -> set[str]:
        at = time.time()
        return {r for r, due in self._pending.items() if due <= at}

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._closed:
                    at = time.time()
                    if (self._run_at is not None and self._run_at <= at) or self._due():
                        break
                    waits = [due - at for due in self._pending.values()]
                    if self._run_at is not None:
                        waits.append(self._run_at - at)
                    if self.config.station.scan_interval_s:
                        if at >= self._next_scan:
                            break
                        waits.append(self._next_scan - at)
                    self._cond.wait(max(0.05, min(waits)) if waits else None)
                if self._closed:
                    return
            interval = self.config.station.scan_interval_s
            if interval and time.time() >= self._next_scan:
                self._next_scan = time.time() + interval
                self._guarded(self._scan)
                continue
            self._guarded(self._run_once)

    def _guarded(self, action: Any) -> None:
        try:
            action()
        except Exception:  # noqa: BLE001 - the station must outlive any one mistake
            log.exception("the station's processor hit an error; it goes on")
            time.sleep(1.0)

    def _run_once(self) -> None:
        with self._cond:
            due = self._due()
            for report_id in due:
                del self._pending[report_id]
            waiting = set(self._pending)
            self._run_at = None
        try:
            self._run(due, waiting)
        except Exception:
            # Whatever failed after the run (the catalog away, say): run these again later.
            for report_id in due:
                self._schedule(report_id, time.time() + self.config.station.retry_s)
            raise

    def _run(self, due: set[str], waiting: set[str]) -> None:
        before = {r.id: r.status for r in self.catalog.reports()}
        # Only a report never published waits: holding one back would withdraw its episode.
        hold = {r for r in waiting if before.get(r) != "published"}
        previous = st.load_states(self.catalog, due | set(before))
        self._run_states = {}
        for report_id in sorted(due):
            if self._inbox_has_recording(report_id):
                self._save(report_id, st.MASTERING)
        started = time.monotonic()
        try:
            summary = self.run(self.config, on_progress=self._tick, hold=frozenset(hold))
        except RunLocked:
            log.info("another run holds the show; the station tries again shortly")
            with self._cond:  # the whole run again, even when no report was due (the first)
                self._run_at = time.time() + LOCKED_RETRY_S
            for report_id in due:
                self._schedule(report_id, time.time() + LOCKED_RETRY_S)
                if (state := previous.get(report_id)) is not None:
                    self._put(replace(state, updated_at=st.now()))
            return
        except Exception as exc:  # noqa: BLE001 - logged, marked, tried again later
            self._errors += 1
            delay = min(self.config.station.retry_s * 2 ** (self._errors - 1), MAX_RETRY_S)
            log.exception("the run stopped with an error; trying again in %.0f s", delay)
            for report_id in due:
                state = previous.get(report_id)
                reason = (
                    f"the station's run stopped with an error ({type(exc).__name__}); "
                    f"it tries again in {delay:.0f} s"
                )
                failed = st.failed(report_id, stage="station", reason=reason,
                                   title=state.title if state else "",
                                   links=state.links if state else None,
                                   version=state.version if state else "")  # fmt: skip
                self._put(failed)
                if not (state and state.state == st.FAILED and state.stage == "station"):
                    self._tell_failed(failed)  # once, not at every retry
                self._schedule(report_id, time.time() + delay)
            return
        self._errors = 0
        self.runs += 1
        self.last_run_at = time.time()
        log.info("run %d done in %.1f s", self.runs, time.monotonic() - started)
        self._after(summary, due, before, previous)

    def _inbox_has_recording(self, report_id: str) -> bool:
        return any(file_kind(p) == "recording" for p in self._inbox_files(report_id))

    def _tick(self, progress: Tick) -> None:
        state = st.STAGE_STATES.get(progress.stage)
        current = self._run_states.get(progress.report_id)
        if state is None or current == state or (current, state) == (st.TRANSCRIBING, st.MASTERING):
            return  # mastering goes on beside transcription: the later stage is the news
        self._run_states[progress.report_id] = state
        self._save(progress.report_id, state)

    # -- after a run: states and news ----------------------------------------------------

    def _after(
        self,
        summary: RunResult,
        due: set[str],
        before: Mapping[str, str],
        previous: Mapping[str, ReportState],
    ) -> None:
        base_url = public_base_url(self.config)
        links = episode_links(list(summary.episodes.values()), base_url=base_url)
        self.journeys = journeys_of(summary.episodes.values())
        failures = {f.report_id: f for f in summary.failures}
        for report_id, episode in summary.episodes.items():
            if report_id in failures or report_id in summary.kept:
                continue  # the episode from before a failed re-send stays up; the failure stands
            state = ReportState(
                report_id=report_id,
                state=st.PUBLISHED,
                updated_at=st.now(),
                title=episode.title,
                guid=episode.guid,
                place=episode.location.name if episode.location else "",
                links=links[episode.guid],
                version=f"{episode.audio.sha256}:{episode.master.sha256}",
            )
            old = previous.get(report_id)
            self._put(state)
            with self._cond:  # as every other use: landed() runs on the server's threads
                self._transcribe_retries.pop(report_id, None)
            if state.same_as(old):
                continue
            # Out before: by the station (its state kept the version, whatever came since), or
            # by a run at the desk (the catalog says so; news only if this report was due).
            if old is not None and old.version:
                if old.version != state.version:
                    self._tell("episode.updated", episode, links[episode.guid])
            elif before.get(report_id) != "published":
                self._tell("episode.published", episode, links[episode.guid])
            elif report_id in due:
                self._tell("episode.updated", episode, links[episode.guid])
        for report_id, failure in failures.items():
            kept = summary.episodes.get(report_id)
            old = previous.get(report_id)
            state = st.failed(
                report_id,
                stage=failure.stage,
                reason=failure.reason,
                title=kept.title if kept else (old.title if old else ""),
                guid=kept.guid if kept else (old.guid if old else ""),
                links=links[kept.guid] if kept else (old.links if old else None),
                version=old.version if old else "",
            )
            self._put(state)
            if not (old and old.state == st.FAILED and old.reason == failure.reason):
                self._tell_failed(state)
            self._retry_transcription(failure)
        # Off the feed (its recording withdrawn), or only its notes are here: no links.
        published_before = {r for r, s in previous.items() if s.state == st.PUBLISHED}
        for report_id in (due | published_before) - set(summary.episodes) - set(failures):
            if not self._inbox_has_recording(report_id):
                old = previous.get(report_id) or st.load_state(self.catalog, report_id)
                self._put(ReportState(report_id=report_id, state=st.RECEIVED, updated_at=st.now(),
                                      title=old.title if old else ""))  # fmt: skip
        published = summary.published
        if published is not None:
            feeds = [k for k in published.uploaded if k == FEED_KEY or k.endswith(f"/{FEED_KEY}")]
            self.notifier.feeds_changed([f"{base_url}{k}" for k in sorted(feeds)])

    def _retry_transcription(self, failure: Failure) -> None:
        """A transcription may go through later (a worker lost, a time limit on a busy
        machine): it is tried again by itself a few times, later each time."""
        if failure.stage != "transcribe" or failure.set_aside:
            return
        with self._cond:
            retries = self._transcribe_retries.get(failure.report_id, 0)
            if retries >= TRANSCRIBE_RETRIES:
                return
            self._transcribe_retries[failure.report_id] = retries + 1
        self._schedule(failure.report_id, time.time() + self.config.station.retry_s * 2**retries)

    def _tell_failed(self, state: ReportState) -> None:
        self.notifier.event(
            new_event(
                "report.failed",
                report={
                    "guid": self.catalog.guid_for(state.report_id, feed_url=feed_url(self.config)),
                    "title": state.title,
                    "reporter": self.catalog.owner_of(state.report_id),
                    "stage": state.stage,
                    "reason": state.reason,
                    "what_to_do": st.advice(interface(self.config.show.language), state.stage),
                },
            )
        )

    def _tell(self, event: str, episode: Episode, links: EpisodeLinks) -> None:
        if not self.notifier.enabled:
            return
        self.notifier.event(
            new_event(
                event,
                show={"title": self.config.show.title, "feed": links.feed},
                episode={
                    "guid": episode.guid,
                    "title": episode.title,
                    "journey": episode.journey or None,
                    "reporter": episode.reporter or None,
                    "place": episode.location.name if episode.location else None,
                    "mp3": links.episode,
                    "master": self._master_url(episode),
                    "master_sha256": episode.master.sha256,
                    "page": links.page,
                    "map": links.map or None,
                },
            )
        )

    def _master_url(self, episode: Episode) -> str:
        """The master's link for receivers: signed for a week when the station guards masters."""
        if self.config.station.signed_masters and self.config.storage.kind == "local":
            from episodes.site.signing import MAX_EXPIRY_S

            storage = open_storage(self.config)
            return storage.presign(episode.master.key, expires_s=MAX_EXPIRY_S)
        return f"{public_base_url(self.config)}{episode.master.key}"

    def _save(self, report_id: str, state: str, **facts: Any) -> None:
        """A new state for the report; what the old one knew (title, links) carries over
        unless `facts` say better."""
        old = st.load_state(self.catalog, report_id)
        keep: dict[str, Any] = {"title": old.title, "guid": old.guid, "place": old.place,
                                "links": old.links, "version": old.version} if old else {}  # fmt: skip
        for key, value in facts.items():
            if value or key not in keep:
                keep[key] = value
        self._put(ReportState(report_id=report_id, state=state, updated_at=st.now(), **keep))

    def _put(self, state: ReportState) -> None:
        if st.save_state(self.catalog, state):
            log.debug("%s: %s", state.report_id, state.state)


def journeys_of(episodes: Iterable[Episode]) -> tuple[str, ...]:
    """Journey names, the one with the newest episode first, each once: the page offers them so
    that a reporter on the road types "Balkans 2024" the same way twice (a new spelling is a new
    season).

    >>> from types import SimpleNamespace as E
    >>> import datetime as dt
    >>> day = lambda d: dt.datetime(2024, 5, d, tzinfo=dt.UTC)
    >>> journeys_of([E(journey="Poland", published_at=day(1)), E(journey="", published_at=day(3)),
    ...              E(journey="Greece", published_at=day(2)), E(journey="Poland", published_at=day(4))])
    ('Poland', 'Greece')
    """
    newest: dict[str, dt.datetime] = {}
    for episode in episodes:
        if episode.journey:
            newest[episode.journey] = max(
                episode.published_at, newest.get(episode.journey, episode.published_at)
            )
    return tuple(sorted(newest, key=lambda j: (-newest[j].timestamp(), j)))


def _title(notes: Path | None) -> str:
    """The title the reporter gave, if their notes can be read yet."""
    if notes is None:
        return ""
    try:
        return read_notes(notes, default_title="").title
    except Exception:  # noqa: BLE001 - the run reports bad notes with their reason
        return ""
