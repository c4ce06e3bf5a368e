"""The folium route map page, with every asset served beside it (no CDN).

The map is one page, `map/index.html`, one level below the site root, and every URL in it is
relative: the vendored Leaflet, jQuery, Bootstrap, Font Awesome and plugins under `map/vendor/`,
the MP3s and transcripts as `../episodes/...`. So the same files work on any host, under any
prefix, and from a folder opened straight from disk.

Each journey is one switchable layer: its stops in time order, numbered, joined by the route (the
GPX track between two stops where a track covers that stretch, a straight line otherwise),
clustered when the journey has many stops. A sensitive stop, whose location was coarsened, is
drawn as an area, never a pin, and no track is drawn into or out of it, since a track would
lead straight to the exact place. Country borders from Natural Earth are always drawn under the
tiles, so the route still has a map beneath it when the tiles cannot load (offline, blocked).

Each stop opens in the story panel (`maps.story`): beside the map on a large screen, a bottom
sheet on a phone, with next/previous, "play the journey", a list of every stop and an address per
stop. All interface text comes from the show's language catalog (`episodes.i18n`); all field text
goes through `maps.popup`, which makes it safe for HTML, Jinja and folium's template literals.
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import folium
import folium.plugins
from branca.element import Element, Figure, MacroElement
from folium.elements import JSCSSMixin
from folium.map import FitBounds
from folium.template import Template

from episodes.episode import Episode
from episodes.i18n import Interface, interface
from episodes.links import journey_slug
from episodes.numbering import journey_key
from fieldreports.config import MapSettings, ShowInfo
from fieldreports.errors import SetupError
from fieldreports.geo.coordinates import distance_km
from fieldreports.geo.gpx import Track, TrackPoint
from maps.assets import ICON
from maps.popup import check_scripts, for_template_literal, no_braces, text
from maps.story import (
    STORY_ZOOM,
    Journey,
    Stop,
    Story,
    noscript_html,
    panel_html,
    templates_html,
)

log = logging.getLogger(__name__)


# folium 0.20's default assets, same versions, served from map/vendor/ (see vendor/README.md).
# Bootstrap 3 glyphicons and folium's awesome-rotate CSS are left out: neither is in a published
# package at the version folium links, and this map uses neither glyphicons nor rotated icons.
_JS = (
    ("leaflet", "vendor/leaflet-1.9.3/leaflet.js"),
    ("jquery", "vendor/jquery-3.7.1/jquery.min.js"),
    ("bootstrap", "vendor/bootstrap-5.2.2/js/bootstrap.bundle.min.js"),
    ("awesome_markers", "vendor/leaflet.awesome-markers-2.0.2/leaflet.awesome-markers.js"),
)
_CSS = (
    ("leaflet_css", "vendor/leaflet-1.9.3/leaflet.css"),
    ("bootstrap_css", "vendor/bootstrap-5.2.2/css/bootstrap.min.css"),
    ("awesome_markers_font_css", "vendor/fontawesome-free-6.2.0/css/all.min.css"),
    ("awesome_markers_css", "vendor/leaflet.awesome-markers-2.0.2/leaflet.awesome-markers.css"),
)
_CLUSTER_JS = (("markerclusterjs", "vendor/leaflet.markercluster-1.1.0/leaflet.markercluster.js"),)
_CLUSTER_CSS = (
    ("markerclustercss", "vendor/leaflet.markercluster-1.1.0/MarkerCluster.css"),
    ("markerclusterdefaultcss", "vendor/leaflet.markercluster-1.1.0/MarkerCluster.Default.css"),
)
_BORDERS_JS = (("fieldreports_borders", "vendor/borders/countries-50m-europe.js"),)


_COLOURS = ("#b3261e", "#1d4ed8", "#047857", "#7c3aed", "#b45309", "#0e7490", "#be185d")
_EUROPE = ((35.0, -10.0), (60.0, 35.0))  # shown when nothing is located yet
# A track stretch is used between two stops only if it starts and ends this close to them.
_TRACK_NEAR_KM = 50.0
# A sensitive stop's area, widened by this factor, is kept free of any drawn track: the public
# point may sit anywhere up to its radius from the true one.
_HIDDEN_MARGIN = 1.5

# folium's map page stops pinch zoom; a visitor on a phone must be able to zoom the page.
_FOLIUM_VIEWPORT = (
    '<meta name="viewport" content="width=device-width,\n'
    '                initial-scale=1.0, maximum-scale=1.0, user-scalable=no" />'
)
_VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1" />'
# The OpenStreetMap credit, in the interface's language (OSM asks for it in the page's language).
_OSM_CREDIT = '&copy; <a href="https://www.openstreetmap.org/copyright">{name}</a>'


class _Borders(JSCSSMixin, MacroElement):
    """Natural Earth country borders in their own pane beneath the tiles: the offline fallback."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            map.createPane("fr-borders");
            map.getPane("fr-borders").style.zIndex = 150;
            if (window.fieldreportsBorders) {
                L.geoJSON(window.fieldreportsBorders, {
                    pane: "fr-borders", interactive: false,
                    style: {color: "#8a8f98", weight: 1, fillColor: "#f4f1ea", fillOpacity: 1}
                }).addTo(map);
                map.attributionControl.addAttribution({{ this.credit|tojson }});
            }
        })();
        {% endmacro %}
        """
    )

    def __init__(self, credit: str) -> None:
        super().__init__()
        self._name = "Borders"
        self.credit = credit
        self.default_js = list(_BORDERS_JS)
        self.default_css = []


def render_page(
    episodes: Sequence[Episode],
    show: ShowInfo,
    *,
    tracks: Sequence[Track] = (),
    settings: MapSettings,
) -> str:
    """The HTML of `map/index.html`."""
    ui = interface(show.language)
    _ = ui.gettext
    journeys = _journeys(episodes, settings, ui)
    located = sum(len(j.stops) for j in journeys)
    log.debug("map: %d of %d episodes located, %d journeys", located, len(episodes), len(journeys))

    # Marker clusters need a maxZoom on the map, which tiles would otherwise give it. The zoom
    # and scale controls are added by story.js, with titles in the interface's language.
    zoom_limits: dict[str, Any] = {"minZoom": 2, "maxZoom": 18}
    fmap = folium.Map(
        location=None,
        tiles=None,
        zoom_control=False,
        control_scale=False,
        zoom_start=4,
        **zoom_limits,
    )
    fmap.default_js = list(_JS)
    fmap.default_css = list(_CSS)
    root = fmap.get_root()
    assert isinstance(root, Figure)
    title = _("{show}: route map").format(show=show.title)
    root.header.add_child(Element(f"<title>{text(title)}</title>"), name="title")
    # Our own icon, so the browser asks for no /favicon.ico that the site may not have.
    root.header.add_child(Element(f'<link rel="icon" href="{ICON}">'), name="icon")
    root.header.add_child(
        Element(f"<style>:root {{ --fr-panel-width: {settings.popup_width_px + 40}px; }}</style>"),
        name="fieldreports_style",
    )
    root.html.add_child(Element(_title_box(show)), name="fieldreports_title")
    root.html.add_child(Element(panel_html(journeys, ui)), name="fieldreports_panel")
    root.html.add_child(
        Element(templates_html(journeys, ui, excerpt_chars=settings.excerpt_chars)),
        name="fieldreports_stops",
    )
    root.html.add_child(Element(noscript_html(journeys, ui)), name="fieldreports_noscript")
    _Borders(_("Borders: Natural Earth")).add_to(fmap)
    tiles = _tile_layer(settings, ui)
    if tiles is not None:
        tiles.add_to(fmap)

    timed_tracks = _timed_tracks(tracks)
    # Every sensitive stop of the show, whatever its journey: no track of any journey may be
    # drawn through its area, or the line would show where the reporter really was.
    hidden = tuple(
        (stop.lat, stop.lon, stop.radius_m * _HIDDEN_MARGIN / 1000.0)
        for journey in journeys
        for stop in journey.stops
        if stop.sensitive
    )
    layers = []
    for index, journey in enumerate(journeys):
        colour = _COLOURS[index % len(_COLOURS)]
        # Leaflet writes layer names as HTML; escape them as strictly as field text anywhere.
        name = for_template_literal(text(journey.name))
        layer = folium.FeatureGroup(name=name, show=True)
        layer.add_to(fmap)
        route = _route(journey.stops, timed_tracks, hidden=hidden)
        if len(route) >= 2:
            folium.PolyLine(
                route, color=colour, weight=3, opacity=0.8, class_name="fr-route", interactive=False
            ).add_to(layer)
        cluster = None
        radius_px = _cluster_radius_px(journey.stops, settings)
        if radius_px:
            cluster = folium.plugins.MarkerCluster(
                control=False, options={"showCoverageOnHover": False, "maxClusterRadius": radius_px}
            )
            cluster.default_js = list(_CLUSTER_JS)
            cluster.default_css = list(_CLUSTER_CSS)
            cluster.add_to(layer)
        for stop in journey.stops:
            if stop.sensitive:
                _add_area(stop, layer, colour=colour)
        # The markers themselves are made by story.js from this table.
        layers.append((journey, layer, cluster, colour))

    if journeys:
        folium.LayerControl(collapsed=True).add_to(fmap)
    # The markers are clustered before the map has a view, so no cluster is still animating
    # in when the page is ready; story.js opens a stop from the address once the view is set.
    Story(layers, zoom=min(STORY_ZOOM, settings.max_zoom)).add_to(fmap)
    first_view = FitBounds(_bounds(journeys), padding=(24, 24), max_zoom=settings.max_zoom)
    # Not animated: a stop opened from the page's address sets its own view, and a view set
    # while this one is still zooming in is undone when that zoom ends.
    first_view.options["animate"] = False
    fmap.add_child(first_view)

    _renumber(root)
    page = root.render()
    page = _page_language(_allow_zoom(page), ui)
    check_scripts(page)
    return page


def _allow_zoom(page: str) -> str:
    """folium's viewport forbids pinch zoom; ours allows it."""
    if _FOLIUM_VIEWPORT not in page:
        raise RuntimeError("folium's viewport tag changed: update maps.route._FOLIUM_VIEWPORT")
    return page.replace(_FOLIUM_VIEWPORT, _VIEWPORT, 1)


def _page_language(page: str, ui: Interface) -> str:
    """branca's page template has no lang: the page's is the interface's."""
    start = "<!DOCTYPE html>\n<html>"
    if not page.startswith(start):
        raise RuntimeError("branca's page template changed: update maps.route._page_language")
    return f'<!DOCTYPE html>\n<html lang="{text(ui.lang)}">' + page[len(start) :]


def _title_box(show: ShowInfo) -> str:
    """The show's name over the map, linking back to the site's home page."""
    return f'<header class="fr-title-box"><h1><a href="../">{text(show.title)}</a></h1></header>'


def _cluster_radius_px(stops: Sequence[Stop], settings: MapSettings) -> int:
    """How far apart (in screen pixels) markers may be and still cluster; 0: no clustering.

    A crowded journey clusters as usual. A small one clusters only markers that (nearly)
    coincide, several reports from one harbour, which would otherwise hide each other: the
    cluster spreads them out ("spiderfies") when clicked at the closest zoom.
    """
    if settings.cluster_min_stops <= 0:
        return 0
    if len(stops) >= settings.cluster_min_stops:
        return 40
    places = {(round(s.lat, 5), round(s.lon, 5)) for s in stops}
    return 10 if len(places) < len(stops) else 0


def _journeys(episodes: Sequence[Episode], settings: MapSettings, ui: Interface) -> list[Journey]:
    """Located episodes grouped by journey, each journey in time order, journeys by first stop.

    A stop is labelled with its episode's number (`episodes.numbering`), so the map, the feed
    and the pages agree, and a report left off the map shows as a gap in the numbers.
    """
    far_future = dt.datetime.max.replace(tzinfo=dt.UTC)

    def order(episode: Episode) -> tuple[dt.datetime, dt.datetime, str]:
        return (episode.recorded_at or far_future, episode.published_at, episode.title)

    journeys: dict[str, Journey] = {}  # by journey key, in order of first stop
    for episode in sorted(episodes, key=order):
        location = episode.location
        if location is None:
            continue
        lat, lon = location.lat, location.lon
        if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
            # geotag refuses such points; one that slips through must not sink the whole map
            log.warning("%s: left off the map: no such place (%s, %s)", episode.slug, lat, lon)
            continue
        key = journey_key(episode.journey)
        journey = journeys.get(key)
        if journey is None:
            journey = journeys[key] = Journey(
                name=episode.journey.strip() or ui.gettext("Reports"),
                slug=journey_slug(episode.journey),
            )
        journey.stops.append(
            Stop(
                episode=episode,
                number=episode.number or len(journey.stops) + 1,
                lat=lat,
                lon=lon,
                when=episode.recorded_at,
                sensitive=location.sensitive,
                # The public point's own uncertainty, which for a sensitive stop is the area.
                radius_m=location.accuracy_m or settings.area_radius_km * 1000.0,
            )
        )
    slugs = [j.slug for j in journeys.values()]
    for slug in sorted({s for s in slugs if slugs.count(s) > 1}):
        log.warning(
            "map: two journeys have the address %s: links to their stops open the first", slug
        )
    return list(journeys.values())


@dataclass(frozen=True, slots=True, kw_only=True)
class _TimedTrack:
    times: tuple[dt.datetime, ...]
    points: tuple[TrackPoint, ...]


def _timed_tracks(tracks: Sequence[Track]) -> tuple[_TimedTrack, ...]:
    out = []
    for track in tracks:
        points = tuple(sorted(track.points, key=lambda p: p.time))
        if points:
            out.append(_TimedTrack(times=tuple(p.time for p in points), points=points))
    return tuple(out)


def _route(
    stops: Sequence[Stop],
    tracks: Sequence[_TimedTrack],
    *,
    hidden: Sequence[tuple[float, float, float]] = (),
) -> list[tuple[float, float]]:
    """The journey's line: stop to stop, following a GPX track between two timed stops.

    Track points inside a `hidden` area (lat, lon, radius in km) are left out.
    """
    if not stops:
        return []
    line = [(stops[0].lat, stops[0].lon)]
    for a, b in pairwise(stops):
        if a.when and b.when and not (a.sensitive or b.sensitive):
            stretch = [
                p
                for p in _stretch(a, b, tracks)
                if not any(distance_km(p.lat, p.lon, la, lo) <= r for la, lo, r in hidden)
            ]
            line.extend(_thin(stretch))
        line.append((b.lat, b.lon))
    return line


def _stretch(a: Stop, b: Stop, tracks: Sequence[_TimedTrack]) -> Sequence[TrackPoint]:
    """The track points recorded between stops `a` and `b`, from the track that runs from
    near `a` to near `b`: two teams can log tracks at the same time, and a stretch that starts
    or ends far from the stops belongs to someone else's journey."""
    assert a.when is not None and b.when is not None
    best: Sequence[TrackPoint] = ()
    for track in tracks:
        start = bisect.bisect_right(track.times, a.when)
        end = bisect.bisect_left(track.times, b.when)
        stretch = track.points[start:end]
        if len(stretch) <= len(best):
            continue
        first, last = stretch[0], stretch[-1]
        if (
            distance_km(a.lat, a.lon, first.lat, first.lon) <= _TRACK_NEAR_KM
            and distance_km(b.lat, b.lon, last.lat, last.lon) <= _TRACK_NEAR_KM
        ):
            best = stretch
    return best


def _thin(
    points: Sequence[TrackPoint], *, min_step_deg: float = 0.0003
) -> list[tuple[float, float]]:
    """Track points at least ~30 m apart: a GPX logged every second would bloat the page
    without changing the line at any zoom the map shows.

    >>> import datetime as dt
    >>> t = dt.datetime(2022, 3, 14, tzinfo=dt.UTC)
    >>> _thin([TrackPoint(time=t, lat=45.0, lon=19.0 + i * 0.0001) for i in range(10)])
    [(45.0, 19.0), (45.0, 19.0004), (45.0, 19.0008)]
    """
    kept: list[tuple[float, float]] = []
    for p in points:
        if not kept or max(abs(p.lat - kept[-1][0]), abs(p.lon - kept[-1][1])) >= min_step_deg:
            kept.append((p.lat, p.lon))
    return kept


def _add_area(stop: Stop, layer: folium.FeatureGroup, *, colour: str) -> None:
    """A sensitive stop's area, in the journey layer itself, so it stays visible when markers
    cluster. Its marker (a dashed badge, never a pin) comes from story.js."""
    folium.Circle(
        (stop.lat, stop.lon),
        radius=stop.radius_m,
        color=colour,
        weight=2,
        dash_array="6 6",
        fill=True,
        fill_opacity=0.12,
        interactive=False,
        class_name="fr-area-circle",
    ).add_to(layer)


def _bounds(journeys: Sequence[Journey]) -> list[list[float]]:
    stops = [s for journey in journeys for s in journey.stops]
    if not stops:
        return [list(_EUROPE[0]), list(_EUROPE[1])]
    south, west, north, east = 90.0, 180.0, -90.0, -180.0
    for s in stops:
        margin = s.radius_m if s.sensitive else 0.0
        dlat = margin / 111_320.0
        dlon = margin / (111_320.0 * max(math.cos(math.radians(s.lat)), 0.01))
        south, north = min(south, s.lat - dlat), max(north, s.lat + dlat)
        west, east = min(west, s.lon - dlon), max(east, s.lon + dlon)
    return [[south, west], [north, east]]


def _tile_layer(settings: MapSettings, ui: Interface) -> folium.TileLayer | None:
    tiles = settings.tiles.strip()
    if tiles.lower() in ("", "none", "off", "offline"):
        return None
    if "{z}" in tiles and not settings.attribution:
        raise SetupError(
            f'[map] tiles = "{tiles}" is a tile URL; add [map] attribution with the credit its '
            'provider asks for (e.g. attribution = "© OpenStreetMap contributors").'
        )
    if any(mark in tiles for mark in ("{{", "{%", "{#")):
        raise SetupError(
            f'[map] tiles = "{tiles}": a tile URL takes single braces only, as in {{z}}/{{x}}/{{y}}.'
        )
    attribution = no_braces(settings.attribution)  # HTML, but no braces for branca's Jinja
    if not attribution and tiles.lower() == "openstreetmap":
        credit = ui.gettext("OpenStreetMap contributors")
        attribution = _OSM_CREDIT.format(name=text(credit))
    try:
        return folium.TileLayer(
            tiles=tiles,
            attr=attribution or None,
            control=False,
            name="Base map",
        )
    except ValueError as exc:
        raise SetupError(
            f'[map] tiles = "{tiles}" is neither a tile provider name (like "OpenStreetMap"), '
            f'a URL template with {{z}}/{{x}}/{{y}}, nor "none" ({exc}).'
        ) from None


def _walk(element: Element, seen: set[int]) -> Iterator[Element]:
    if id(element) in seen:
        return
    seen.add(id(element))
    yield element
    # Popups and figures keep parts of their content outside `_children`.
    parts = [getattr(element, name, None) for name in ("header", "html", "script")]
    for child in (*element._children.values(), *parts):
        if isinstance(child, Element):
            yield from _walk(child, seen)


def _renumber(root: Figure) -> None:
    """Give every element a stable id instead of folium's random one, so an unchanged show
    renders a byte-identical page (and publishing can skip it)."""
    for number, element in enumerate(_walk(root, set())):
        element._id = f"{number:06d}"
