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
from typing import Any

from episodes.episode import Episode
from fieldreports.geo.coordinates import geo_uri
from fieldreports.transcription.chapters import chapter_starts

CHAPTERS_VERSION = "1.2.0"


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
    if loc is None:
        return None
    return {"name": loc.name or episode.title, "geo": geo_uri(loc.lat, loc.lon)}
