"""The locate stage: each report on the route, offline, with a sensitive report's place coarsened.

`locate(job)` places a whole batch at once, because each report's journey (the other stops)
settles ambiguous names and swapped coordinates. It loads the gazetteer and reads the GPX tracks,
so its result is cached: an unchanged show is never located twice.

A `Placement` is private: its `location` holds the exact point. Only `Location.public()` (a
`PublicLocation`) and the publishable `waypoints` may leave the catalog.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fieldreports.catalog.serialise import NOT_IN_KEY
from fieldreports.config import GeotagSettings
from fieldreports.geo.results import Location, Placement, Placements, PublicLocation
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
    sensitive_by_default: bool = False  # [show] sensitive_by_default


def locate_job(
    items: Sequence[ReportToLocate],
    *,
    tracks_dir: Path,
    settings: GeotagSettings,
    timezone: str,
    sensitive_by_default: bool = False,
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
        sensitive_by_default=sensitive_by_default,
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
        tracks=read_tracks(job.tracks_dir),
        settings=job.settings,
        timezone=job.timezone,
        sensitive_by_default=job.sensitive_by_default,
    )
    reports = [item.report for item in job.reports]
    batch = geotagger.locate_all(
        reports, transcripts={item.report.id: item.transcript_text for item in job.reports}
    )

    def nearby_of(report: FieldReport) -> list[Location]:
        """The other located stops: they settle an ambiguous subject as they settle a place."""
        return [
            loc for rid, loc in batch.locations.items() if rid != report.id and loc.source != "none"
        ]

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
                subject=geotagger.subject(report, nearby=nearby_of(report)),
                waypoints=tuple(
                    (o, lat, lon) for o, (lat, lon) in zip(offsets, points, strict=False)
                ),
            )
        )
    return Placements(placements=tuple(placements))
