"""Podcasting 2.0 chapters (JSON) for each episode, located at the stop's public coordinates.

Format: https://github.com/Podcastindex-org/podcast-namespace/blob/main/chapters/jsonChapters.md
Every chapter carries the report's *public* location (`Location.public_lat/public_lon`, coarsened
for sensitive places by the geotag stage); the exact coordinates never leave the machine.
`waypoints: true` tells apps to draw the chapters' locations as a route on a map.

Chapters follow the transcript: a new chapter starts at the first segment boundary after at
least `min_chapter_s` seconds, titled with that segment's opening words.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from episodes.episode import Episode, excerpt
from fieldreports.geo.coordinates import geo_uri

CHAPTERS_VERSION = "1.2.0"
CHAPTERS_TYPE = "application/json+chapters"


def chapter_starts(
    segments: Sequence[tuple[float, float, str]], *, min_chapter_s: float = 60.0
) -> tuple[tuple[float, str], ...]:
    """(start_s, opening words) of each chapter after the first.

    >>> segs = [(0, 30, "one"), (30, 70, "two"), (70, 100, "three"), (100, 140, "four")]
    >>> chapter_starts(segs, min_chapter_s=60)
    ((70, 'three'),)
    >>> chapter_starts(segs, min_chapter_s=30)
    ((30, 'two'), (70, 'three'), (100, 'four'))
    """
    starts: list[tuple[float, str]] = []
    current = 0.0
    for start_s, _end_s, text in segments:
        if start_s - current >= min_chapter_s and text.strip():
            starts.append((start_s, excerpt(text, 60)))
            current = start_s
    return tuple(starts)


def render_chapters(
    episode: Episode,
    *,
    podcast_name: str,
    min_chapter_s: float = 60.0,
    url: str = "",
) -> bytes:
    """The chapters JSON for one episode."""
    location = _location(episode)
    first: dict[str, Any] = {"startTime": 0, "title": episode.title}
    chapters = [first] + [
        {"startTime": round(start_s, 3), "title": title}
        for start_s, title in chapter_starts(episode.segments, min_chapter_s=min_chapter_s)
    ]
    along = {round(start_s, 3): (lat, lon) for start_s, lat, lon in episode.waypoints}
    for chapter in chapters:
        point = along.get(chapter["startTime"])
        if location and point:
            # A report recorded on the move: each chapter where the reporter was then.
            chapter["location"] = {"name": location["name"], "geo": geo_uri(*point)}
        elif location:
            chapter["location"] = location
        if url:
            chapter["url"] = url
    document: dict[str, Any] = {
        "version": CHAPTERS_VERSION,
        "title": episode.title,
        "podcastName": podcast_name,
        "author": episode.reporter or podcast_name,
        "waypoints": bool(location),
        "chapters": chapters,
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _location(episode: Episode) -> dict[str, str] | None:
    loc = episode.location
    if not loc.located:
        return None
    assert loc.public_lat is not None and loc.public_lon is not None
    return {"name": loc.name or episode.title, "geo": geo_uri(loc.public_lat, loc.public_lon)}
