"""The map stage: the public follows the journey on a route map (folium, Leaflet, no CDN).

`render_map(job)` draws the page (see `route.py`); its result is cached by the public episodes,
the GPX tracks and the settings, so an unchanged show never imports folium. `map_files` lists
the page with its assets for publishing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from episodes.episode import Episode
from fieldreports.catalog.serialise import NOT_IN_KEY
from fieldreports.config import MapSettings, ShowInfo
from fieldreports.stages import Stage
from maps.assets import PAGE_KEY, map_files

__all__ = ["MAP", "PAGE_KEY", "MapJob", "MapPage", "map_files", "render_map"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MapJob:
    episodes: tuple[Episode, ...]  # public only: what the map shows is what the feed shows
    tracks_dir: Path = field(metadata=NOT_IN_KEY)
    tracks_sha256: str  # gpx.tracks_fingerprint(tracks_dir)
    show: ShowInfo
    settings: MapSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class MapPage:
    page: Path  # the rendered map/index.html


def render_map(
    job: MapJob,
    *,
    work_dir: Path,
    on_progress: Callable[[float, float], None] | None = None,
) -> MapPage:
    """Draw the map page into `work_dir/index.html`."""
    from fieldreports.geo.gpx import read_tracks
    from maps.route import render_page

    html = render_page(
        job.episodes, job.show, tracks=read_tracks(job.tracks_dir), settings=job.settings
    )
    work_dir.mkdir(parents=True, exist_ok=True)
    page = work_dir / "index.html"
    page.write_text(html, encoding="utf-8")
    return MapPage(page=page)


MAP: Stage[MapJob, MapPage] = Stage(
    name="map", version=1, job=MapJob, result=MapPage, run=render_map, outputs=lambda m: (m.page,)
)
