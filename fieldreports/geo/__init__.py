"""The locate stage: each report on the route, offline, with a sensitive report's place coarsened.

`locate(job)` places a whole batch at once, because each report's journey (the other stops)
settles ambiguous names and swapped coordinates. It loads the gazetteer and reads the GPX tracks,
so its result is cached: an unchanged show is never located twice.

A `Placement` is private: its `location` holds the exact point. Only `Location.public()` (a
`PublicLocation`) and the publishable `waypoints` may leave the catalog.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fieldreports.catalog.serialise import NOT_IN_KEY
from fieldreports.config import GeotagSettings
from fieldreports.geo.locate import Location, PublicLocation
from fieldreports.intake.inbox import FieldReport

__all__ = [
    "LocateJob",
    "Location",
    "Placement",
    "Placements",
    "PublicLocation",
    "ReportToLocate",
    "locate",
    "locate_job",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportToLocate:
    """One report with what was said in it, and where its chapters start (seconds)."""

    report: FieldReport
    transcript_text: str = ""
    chapter_starts_s: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LocateJob:
    reports: tuple[ReportToLocate, ...]
    tracks_dir: Path = field(metadata=NOT_IN_KEY)
    tracks_sha256: str  # the GPX files' content (gpx.tracks_fingerprint)
    settings: GeotagSettings
    timezone: str
    gazetteer: str  # which places the gazetteer holds (gazetteer.identity)


@dataclass(frozen=True, slots=True, kw_only=True)
class Placement:
    """Where and when one report was made, or why it could not be placed (`error`).

    `recorded_at` comes from the notes or the recording's own creation-time tag (aware).
    `waypoints` are publishable (offset_s, lat, lon) for each chapter start: along the GPX
    track for a report recorded on the move, else the public point.
    """

    report_id: str
    recorded_at: dt.datetime | None = None
    location: Location | None = None
    waypoints: tuple[tuple[float, float, float], ...] = ()
    error: str = ""
    error_path: Path | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Placements:
    placements: tuple[Placement, ...]

    def by_report(self) -> dict[str, Placement]:
        return {p.report_id: p for p in self.placements}


def locate_job(
    items: Sequence[ReportToLocate],
    *,
    tracks_dir: Path,
    settings: GeotagSettings,
    timezone: str,
) -> LocateJob:
    from fieldreports.geo import gazetteer
    from fieldreports.geo.gpx import tracks_fingerprint

    return LocateJob(
        reports=tuple(items),
        tracks_dir=tracks_dir,
        tracks_sha256=tracks_fingerprint(tracks_dir),
        settings=settings,
        timezone=timezone,
        gazetteer=gazetteer.identity(),
    )


def locate(
    job: LocateJob,
    *,
    work_dir: Path | None = None,
    on_progress: Callable[[float, float], None] | None = None,
) -> Placements:
    """Place every report of the batch (see `locate.Geotagger` for the rules, in order)."""
    from fieldreports.geo.gpx import read_tracks
    from fieldreports.geo.locate import Geotagger

    geotagger = Geotagger(
        tracks=read_tracks(job.tracks_dir), settings=job.settings, timezone=job.timezone
    )
    reports = [item.report for item in job.reports]
    batch = geotagger.locate_all(
        reports, transcripts={item.report.id: item.transcript_text for item in job.reports}
    )
    placements = []
    for item in job.reports:
        report = item.report
        recorded_at = geotagger.recording_time(report)
        error = batch.errors.get(report.id)
        if error is not None:
            placements.append(
                Placement(
                    report_id=report.id,
                    recorded_at=recorded_at,
                    error=error.message,
                    error_path=error.path,
                )
            )
            continue
        location = batch.locations[report.id]
        offsets = (0.0, *item.chapter_starts_s)
        points = geotagger.route_points(report, location, offsets_s=offsets)
        placements.append(
            Placement(
                report_id=report.id,
                recorded_at=recorded_at,
                location=location,
                waypoints=tuple(
                    (o, lat, lon) for o, (lat, lon) in zip(offsets, points, strict=False)
                ),
            )
        )
    return Placements(placements=tuple(placements))
