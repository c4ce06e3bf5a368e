"""What a reporter is told about each report, kept in the catalog so a restart loses nothing.

    received            a file of the report arrived; the rest, or the processor, is on its way
    waiting-for-notes   the recording arrived without notes and waits [station] notes_wait_s
    mastering           loudness and the broadcast master
    transcribing        Whisper writes the transcript
    published           the episode is out: links to the MP3, its page and its stop on the map
    failed              with the stage, the reason and what to do

The processor writes a `ReportState` when a file lands, when a run's progress reaches a new stage
and when a run ends; the state sits in the catalog's results under `STATE_STAGE`, keyed by the
report id. `public_view` is all that leaves the station of it: for the reporter who sent the
report (or an editor), never the exact place, and the names of files only to who sent them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from episodes.i18n import Interface
from episodes.links import EpisodeLinks
from fieldreports.catalog import Catalog, Upload
from fieldreports.intake.identity import Identity

STATE_STAGE = "station-state"

# An absolute path on the station's disk, quoted in a reason from ffmpeg or the system; not
# the path of a URL (after "://" or a host name).
_SERVER_PATH = re.compile(r"(?<![\w.:/])/(?:[^\s/'\"]+/)+([^\s/'\"]+)")

RECEIVED = "received"
WAITING = "waiting-for-notes"
MASTERING = "mastering"
TRANSCRIBING = "transcribing"
PUBLISHED = "published"
FAILED = "failed"
FINAL = (PUBLISHED, FAILED)

# A run's progress (pipeline stage names) as a reporter's state.
STAGE_STATES = {"normalise": MASTERING, "transcribe": TRANSCRIBING, "translate": TRANSCRIBING}


def message(ui: Interface, state: str) -> str:
    """A sentence about a state, for the reporter, in the show's language."""
    _ = ui.gettext
    return {
        RECEIVED: _("Received. It goes out as soon as the recording and its notes are both here."),
        WAITING: _(
            "The recording is here; its notes have not arrived yet. It waits for them a little, "
            "then goes out as an untitled report with only an approximate place."
        ),
        MASTERING: _("Being mastered: loudness for podcasts and a broadcast master."),
        TRANSCRIBING: _("Being transcribed."),
        PUBLISHED: _("In the feed and on the site; podcast apps get it at their next look."),
        FAILED: _("Not published."),
    }.get(state, "")


def advice(ui: Interface, stage: str) -> str:
    """What a reporter can do about a failure at `stage`, in the show's language."""
    _ = ui.gettext
    return {
        "discover": _(
            "Fix the notes as the reason says and send the notes file again under the same "
            "name, to replace the old one; the recording itself is fine and need not be sent "
            "again."
        ),
        "normalise": _(
            "The recording cannot be used as audio. Record it again, or export it again in a "
            "common format (m4a, mp3, wav), and send it as a new report."
        ),
        "transcribe": _(
            "Nothing for now: the desk has been told and the station tries again by itself a "
            "few times. Send it again only if the desk asks."
        ),
        "locate": _(
            "Check the place, lat and lon in the notes and send the notes file again under the "
            "same name, to replace the old one."
        ),
        "station": _(
            "Nothing: the station tries again by itself in a few minutes, and the desk has been "
            "told."
        ),
    }.get(stage) or _("The desk has been told; nothing for you to do now.")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportState:
    """One report as its reporter sees it. Private in the catalog; `public_view` is what leaves."""

    report_id: str
    state: str
    updated_at: dt.datetime
    title: str = ""
    stage: str = ""  # the stage that failed
    reason: str = ""
    waiting_until: dt.datetime | None = None  # WAITING: when it goes out without notes
    guid: str = ""
    place: str = ""  # the public place name (coarsened for a sensitive report), never a point
    links: EpisodeLinks | None = None  # the published episode (also when a re-send failed)
    version: str = ""  # the published MP3's and master's hashes: when they change, an update

    def same_as(self, other: ReportState | None) -> bool:
        """Whether nothing but the time differs (nothing to write, nobody to tell)."""
        return other is not None and replace(other, updated_at=self.updated_at) == self


def failed(report_id: str, *, stage: str, reason: str, title: str = "", **more: Any) -> ReportState:
    """A failed state (what to do about it follows from the stage: `advice`)."""
    return ReportState(
        report_id=report_id,
        state=FAILED,
        updated_at=now(),
        title=title,
        stage=stage,
        reason=reason,
        **more,
    )


def without_server_paths(text: str) -> str:
    """`text` with each absolute path cut to its file name: how the station's disk is laid
    out is nobody's business outside it.

    >>> without_server_paths("ffmpeg: /srv/show/inbox/talk.m4a: Invalid data; https://x.org/a/b")
    'ffmpeg: talk.m4a: Invalid data; https://x.org/a/b'
    """
    return _SERVER_PATH.sub(r"\1", text)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def from_timestamp(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(round(seconds), dt.UTC)


def load_states(catalog: Catalog, report_ids: Iterable[str]) -> dict[str, ReportState]:
    return catalog.get_many(STATE_STAGE, report_ids, ReportState)


def load_state(catalog: Catalog, report_id: str) -> ReportState | None:
    return catalog.get(STATE_STAGE, report_id, ReportState)


def save_state(catalog: Catalog, state: ReportState) -> bool:
    """Keep `state` unless only its time differs from the kept one; True when it was written."""
    if state.same_as(load_state(catalog, state.report_id)):
        return False
    catalog.put(STATE_STAGE, state.report_id, state)
    return True


def visible_reports(
    uploads: Sequence[Upload], viewer: Identity, *, known: Iterable[str] = ()
) -> dict[str, list[Upload]]:
    """The reports `viewer` may see, with their uploads: their own, or for an editor every one,
    also those `known` to the catalog that came by another way than an upload."""
    by_report: dict[str, list[Upload]] = {}
    for upload in uploads:
        by_report.setdefault(upload.report_id, []).append(upload)
    if viewer.is_editor:
        return {**{report_id: [] for report_id in known}, **by_report}
    return {
        report_id: files
        for report_id, files in by_report.items()
        if any(f.reporter == viewer.name for f in files)
    }


def public_view(
    report_id: str,
    state: ReportState | None,
    uploads: Sequence[Upload],
    viewer: Identity,
    ui: Interface,
) -> dict[str, Any]:
    """The JSON the status API answers for one report the viewer may see."""
    if state is None:
        state = ReportState(report_id=report_id, state=RECEIVED, updated_at=now())
    files = [
        {
            "kind": "notes" if f.file_name.lower().endswith(".md") else "recording",
            "received_at": f.received_at.isoformat(),
            "reporter": f.reporter,
            # Who sent a file sees its name; another reporter's original names stay private.
            **({"name": f.file_name} if viewer.is_editor or f.reporter == viewer.name else {}),
        }
        for f in uploads
    ]
    links = state.links
    return {
        "id": report_id,
        "title": state.title,
        "state": state.state,
        "message": message(ui, state.state),
        "updated_at": state.updated_at.isoformat(),
        "waiting_until": state.waiting_until.isoformat() if state.waiting_until else None,
        "stage": state.stage,
        "reason": without_server_paths(state.reason),
        "what_to_do": advice(ui, state.stage) if state.state == FAILED else "",
        "guid": state.guid or None,
        "place": state.place or None,
        "links": (
            {"episode": links.episode, "page": links.page, "map": links.map or None}
            if links
            else None
        ),
        "files": files,
    }


def report_list(
    states: Mapping[str, ReportState],
    visible: Mapping[str, list[Upload]],
    viewer: Identity,
    ui: Interface,
) -> list[dict[str, Any]]:
    """Every report the viewer may see, the latest news first."""

    def latest(item: tuple[str, list[Upload]]) -> dt.datetime:
        report_id, files = item
        state = states.get(report_id)
        times = [f.received_at for f in files] + ([state.updated_at] if state else [])
        return max(times, default=dt.datetime.min.replace(tzinfo=dt.UTC))

    ordered = sorted(visible.items(), key=latest, reverse=True)
    return [public_view(rid, states.get(rid), files, viewer, ui) for rid, files in ordered]
