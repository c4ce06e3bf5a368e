"""Story mode: the panel that walks each journey stop by stop, beside the map or under it.

Besides folium's map, the page holds:

- the panel (`<main>`): the story controls (previous, next, play the journey, the list), the open
  stop, and the list of stops grouped by journey. The list is the map-free way through every
  report: a link per stop, in time order, each opening the stop's content;
- one `<template>` per stop with its content (`maps.popup.stop_html`): parsed by the browser
  but not built into the page until the stop opens, so 1,000 stops cost little;
- a small table that `maps/static/story.js` turns into the markers: per journey its slug, its
  layer and cluster, its colour, and per stop only numbers (latitude, longitude, episode number,
  the area's radius for a sensitive stop). No field text is in any script: the script reads
  labels back from the list as text.

Every stop has an address, `#<journey-slug>/<number>` (`episodes.links`), which the script
follows: opening a stop sets it, the back button walks back through the stops, and a link from the
feed or the home page opens the map on its stop.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template

from episodes.episode import Episode
from episodes.i18n import Interface
from episodes.links import stop_fragment
from maps.assets import STATIC_DIR, STORY_CSS, STORY_JS
from maps.popup import relative_url, stop_html, stop_label, text

# How close the story zooms to a stop (a region around it), unless the visitor is closer.
STORY_ZOOM = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class Stop:
    episode: Episode
    number: int
    lat: float
    lon: float
    when: dt.datetime | None
    sensitive: bool
    radius_m: float

    @property
    def label(self) -> str:
        return stop_label(self.episode, self.number)


@dataclass(slots=True, kw_only=True)
class Journey:
    """One journey's stops in time order; `slug` is its part of each stop's address."""

    name: str
    slug: str
    stops: list[Stop] = field(default_factory=list)


def asset_url(name: str) -> str:
    """Our own script or style with a version from its content, so a browser that has the old
    one cached fetches the new one as soon as the page changes.

    >>> asset_url("story.js").startswith("story.js?v=")
    True
    """
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
    return f"{name}?v={digest}"


def messages(ui: Interface) -> dict[str, str]:
    """The texts the script writes itself (as `data-msg-*` on the panel)."""
    _ = ui.gettext
    return {
        # Translators: where the open stop is in its journey: "2 of 5".
        "position": _("{position} of {count}"),
        "choose": _("Choose a stop on the map or in the list."),
        "zoom-in": _("Zoom in"),
        "zoom-out": _("Zoom out"),
        "layers": _("Journeys"),
        "borders": _("Borders: Natural Earth"),
        "map": _("Map"),
    }


def panel_html(journeys: Sequence[Journey], ui: Interface) -> str:
    """The story controls, the open stop's sheet and the list of stops."""
    _ = ui.gettext
    data = " ".join(f'data-msg-{key}="{text(value)}"' for key, value in messages(ui).items())
    previous, following, play = text(_("Previous")), text(_("Next")), text(_("Play the journey"))
    list_name, close = text(_("Stops")), text(_("Close"))
    parts = [
        f'<main id="fr-panel" class="fr-panel" data-view="list" {data}>',
        '<div class="fr-bar">',
        f'<button type="button" class="fr-prev" disabled><span aria-hidden="true">‹</span> '
        f"{previous}</button>",
        f'<button type="button" class="fr-next">{following} <span aria-hidden="true">›</span>'
        "</button>",
        '<button type="button" class="fr-play" aria-pressed="false">'
        f'<span aria-hidden="true">▶</span> {play}</button>',
        '<button type="button" class="fr-list-toggle" aria-controls="fr-stops" '
        f'aria-expanded="true">{list_name}</button>',
        "</div>",
        f'<p class="fr-position" aria-live="polite">{text(messages(ui)["choose"])}</p>',
        '<section id="fr-sheet" class="fr-sheet" aria-labelledby="fr-sheet-title" hidden>',
        '<div class="fr-sheet-head"><h2 id="fr-sheet-title" tabindex="-1"></h2>',
        f'<button type="button" class="fr-close" aria-label="{close}">'
        '<span aria-hidden="true">×</span></button></div>',
        '<div class="fr-sheet-body"></div>',
        "</section>",
        f'<nav id="fr-stops" class="fr-stops" aria-label="{list_name}">',
    ]
    index = 0
    for journey in journeys:
        parts.append(f'<section class="fr-journey"><h2>{text(journey.name)}</h2><ol>')
        for stop in journey.stops:
            ep = stop.episode
            when = ui.format_date(ep.recorded_at) if ep.recorded_at else ""
            place = ep.location.name if ep.location else ""
            details = " · ".join(text(v) for v in (when, place) if v)
            if details:
                details = f'<span class="fr-when">{details}</span>'
            parts.append(
                f'<li><a href="#{text(stop_fragment(ep.journey, stop.number))}" '
                f'data-stop="{index}">{text(stop.label)}</a>{details}</li>'
            )
            index += 1
        parts.append("</ol></section>")
    parts.append("</nav></main>")
    return "".join(parts)


def templates_html(journeys: Sequence[Journey], ui: Interface, *, excerpt_chars: int) -> str:
    """One `<template id="fr-stop-N">` per stop, N counting through the journeys in order."""
    stops = [stop for journey in journeys for stop in journey.stops]
    return "".join(
        f'<template id="fr-stop-{index}">'
        f"{stop_html(stop.episode, ui, label=stop.label, excerpt_chars=excerpt_chars)}"
        "</template>"
        for index, stop in enumerate(stops)
    )


def noscript_html(journeys: Sequence[Journey], ui: Interface) -> str:
    """Without JavaScript there is no map, but every stop can still be heard."""
    needs_script = text(ui.gettext("The map needs JavaScript. The stops:"))
    parts = [
        # The panel needs the script; the plain list below replaces it.
        "<noscript><style>.fr-panel, .folium-map { display: none; }</style>",
        f'<div class="fr-noscript"><p>{needs_script}</p>',
    ]
    for journey in journeys:
        parts.append(f"<h2>{text(journey.name)}</h2><ol>")
        for stop in journey.stops:
            ep = stop.episode
            place = ep.location.name if ep.location else ""
            when = ui.format_datetime(ep.recorded_at) if ep.recorded_at else ""
            details = ", ".join(text(v) for v in (place, when) if v)
            parts.append(
                f'<li><a href="{text(relative_url(ep.audio.key))}">{text(ep.title)}</a>'
                f"{' (' + details + ')' if details else ''}</li>"
            )
        parts.append("</ol>")
    parts.append("</div></noscript>")
    return "".join(parts)


class Story(JSCSSMixin, MacroElement):
    """Loads story.js and hands it the map, each journey's layer and its stops' positions."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        fieldreportsStory.start({{ this._parent.get_name() }}, {{ this.table() }}, {{ this.zoom }});
        {% endmacro %}
        """
    )

    def __init__(self, layers: Sequence[tuple[Journey, Any, Any, str]], *, zoom: int) -> None:
        """`layers`: per journey, its feature group, its marker cluster (or None), its colour."""
        super().__init__()
        self._name = "Story"
        self.layers = tuple(layers)
        self.zoom = int(zoom)
        self.default_js = [("fieldreports_story", asset_url(STORY_JS))]
        self.default_css = [("fieldreports_story_css", asset_url(STORY_CSS))]

    def table(self) -> str:
        """JavaScript: [[slug, layer, cluster, colour, [[lat, lon, number, radius_m]...]]...].

        Slugs are [a-z0-9-] and colours our own, so the table holds no field text; folium's
        element names are final here (the page renumbers them before rendering).
        """
        rows = []
        for journey, layer, cluster, colour in self.layers:
            stops = [
                [s.lat, s.lon, s.number, round(s.radius_m) if s.sensitive else 0]
                for s in journey.stops
            ]
            rows.append(
                f"[{json.dumps(journey.slug)},{layer.get_name()},"
                f"{cluster.get_name() if cluster is not None else 'null'},"
                f"{json.dumps(colour)},{json.dumps(stops, separators=(',', ':'))}]"
            )
        return "[" + ",\n".join(rows) + "]"
