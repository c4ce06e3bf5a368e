"""render_map: the folium route map, with every asset served beside it (no CDN).

SKELETON: signatures the pipeline relies on; the bodies are being written.
"""

from __future__ import annotations

from collections.abc import Sequence

from episodes.episode import Episode
from episodes.site import SiteFile
from fieldreports.config import MapSettings, ShowInfo
from fieldreports.gpx import Track


def render_map(
    episodes: Sequence[Episode],
    show: ShowInfo,
    *,
    tracks: Sequence[Track] = (),
    settings: MapSettings,
) -> tuple[SiteFile, ...]:
    """The map page `map/index.html` and its assets under `map/`."""
    raise NotImplementedError
