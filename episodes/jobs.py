"""What a run publishes: an `EpisodeJob` for each report heard now, and for each report that fails
now or sits in quarantine, its last published job, all numbered together (`numbering`). Notes
that name no reporter are signed with the name of the reporter whose key uploaded the report.

Keeping the last published job is a promise to listeners: a typo in edited notes or a damaged
re-copy must not withdraw an episode they have (nor let pruning delete its audio). Deleting a
recording from the inbox withdraws its episode.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from episodes.episode import EpisodeJob
from episodes.numbering import Entry, number_episodes
from episodes.site.storage import feed_url
from fieldreports.catalog import Catalog
from fieldreports.config import ShowConfig
from fieldreports.digest import file_sha256
from fieldreports.geo import Placement
from fieldreports.intake.inbox import Failure
from fieldreports.stages import NORMALISE, Heard


def episode_jobs(
    catalog: Catalog,
    config: ShowConfig,
    heard: Iterable[Heard],
    placements: Mapping[str, Placement],
    failures: list[Failure],
) -> dict[str, EpisodeJob]:
    """Every episode to publish, by report id, numbered together; a report whose placement
    failed is added to `failures`."""
    fresh: dict[str, tuple[Heard, dt.datetime]] = {}
    for item in heard:
        report, placement = item.report, placements[item.report.id]
        if placement.error:
            path = placement.error_path or report.audio_path
            failures.append(Failure(report_id=report.id, path=path, stage="locate",
                                    reason=placement.error))  # fmt: skip
            continue
        # Listeners follow the journey: an episode is dated when it was recorded.
        first_seen = catalog.first_seen(report.id) or dt.datetime.now(dt.UTC)
        fresh[report.id] = (item, placement.recorded_at or first_seen)
    held = {f.report_id for f in failures} | {
        r.id for r in catalog.reports() if r.status == "quarantined"
    }
    kept = {
        report_id: previous
        for report_id in sorted(held - set(fresh))
        if (previous := catalog.get("episode-job", report_id, EpisodeJob)) is not None
        and all(p.is_file() for p in NORMALISE.outputs(previous.mastered))
    }
    numbers = number_episodes(
        [Entry(key=k, journey=h.report.notes.journey, when=when, title=h.report.notes.title)
         for k, (h, when) in fresh.items()]
        + [Entry(key=k, journey=j.notes.journey, when=j.published_at, title=j.notes.title)
           for k, j in kept.items()]
    )  # fmt: skip
    artwork = local_artwork(config)
    jobs = {k: replace(j, numbering=numbers[k]) for k, j in kept.items()}
    for report_id, (item, when) in fresh.items():
        notes = item.report.notes
        if not notes.reporter and (owner := catalog.owner_of(report_id)):
            notes = replace(notes, reporter=owner)  # uploaded with a reporter's own key
        image = (
            item.report.audio_path.parent / item.report.notes.image
            if item.report.notes.image
            else None
        )
        jobs[report_id] = EpisodeJob(
            guid=catalog.guid_for(report_id, feed_url=feed_url(config)),
            notes=notes,
            mastered=item.mastered,
            transcripts=item.transcripts,
            placement=placements[report_id],
            numbering=numbers[report_id],
            published_at=when,
            show=config.show,
            artwork=artwork,
            artwork_sha256=file_sha256(artwork)[0] if artwork else "",
            image=image,
            image_sha256=file_sha256(image)[0] if image else "",
        )
    return jobs


def local_artwork(config: ShowConfig) -> Path | None:
    """The show's artwork file, to embed in each MP3, when it is a local file."""
    artwork = config.show.artwork
    if not artwork or artwork.startswith(("http://", "https://")):
        return None
    path = config.show_dir / artwork
    return path if path.is_file() else None
