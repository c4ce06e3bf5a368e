"""The map stage: the public follows the journey on a route map (folium, Leaflet, no CDN).

`render_map(job)` draws the page (see `route.py`); its result is cached by the public episodes,
the GPX tracks, the settings, and the page's own inputs (story mode's script and style, the
interface's language catalog), so an unchanged show never imports folium. `map_files` lists the
page with its assets for publishing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from episodes.episode import Episode
from episodes.i18n import catalog_language, catalog_path
from fieldreports.catalog.serialise import NOT_IN_KEY
from fieldreports.config import MapSettings, ShowInfo
from fieldreports.stages import Stage
from maps.assets import PAGE_KEY, STATIC_DIR, STORY_CSS, STORY_JS, map_files

__all__ = ["MAP", "PAGE_KEY", "MapJob", "MapPage", "map_files", "page_sha256", "render_map"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MapJob:
    episodes: tuple[Episode, ...]  # public only: what the map shows is what the feed shows
    tracks_dir: Path = field(metadata=NOT_IN_KEY)
    tracks_sha256: str  # gpx.tracks_fingerprint(tracks_dir)
    show: ShowInfo
    settings: MapSettings
    page_sha256: str  # page_sha256(show.language): a new script or translation renders anew


def page_sha256(language: str) -> str:
    """What the page is made with besides the show: story.js and story.css (whose hashes it
    names) and the catalog of its interface language."""
    digest = hashlib.sha256()
    for path in (
        STATIC_DIR / STORY_JS,
        STATIC_DIR / STORY_CSS,
        catalog_path(catalog_language(language)),
    ):
        digest.update(path.read_bytes())
    return digest.hexdigest()


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
    name="map", version=3, job=MapJob, result=MapPage, run=render_map, outputs=lambda m: (m.page,)
)
