"""Where a published episode can be found, for messages that leave the site (the station's status
API, webhooks), all built here:

    episodes/<slug>.mp3          the podcast MP3
    pages/<n>.html#<slug>        its lasting place in the archive (`pages.home.episode_pages`)
    map/#<journey-slug>/<number> its stop on the route map, when it has a public place

The map's address is the one the map's story mode reads back: the journey's slug and the
episode's number (`numbering`, the number the feed and the map's labels show).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from episodes.episode import Episode, join_url
from episodes.feed.rss import FEED_KEY
from episodes.numbering import journey_key
from episodes.pages.home import episode_pages
from fieldreports.naming import slugify

MAP_DIR = "map/"
# Reports with no journey are one group on the map, with this slug.
NO_JOURNEY_SLUG = "reports"


@dataclass(frozen=True, slots=True, kw_only=True)
class EpisodeLinks:
    """Absolute addresses of one published episode."""

    episode: str  # the MP3
    page: str  # its place in the archive
    map: str = ""  # its stop on the map; "" when it is published off the map
    feed: str


def journey_slug(journey: str) -> str:
    """The journey's part of a stop's address.

    >>> journey_slug("Balkan route 2023"), journey_slug("  balkan  Route 2023"), journey_slug("")
    ('balkan-route-2023', 'balkan-route-2023', 'reports')
    """
    return slugify(journey_key(journey)) or NO_JOURNEY_SLUG


def map_stop(episode: Episode, *, base_url: str = "") -> str:
    """The address that opens the map on this episode's stop; "" when it is not on the map.

    >>> import types
    >>> e = types.SimpleNamespace(journey="Border Reached! 2022", number=3, location=object())
    >>> map_stop(e, base_url="https://example.org/show/")
    'https://example.org/show/map/#border-reached-2022/3'
    >>> map_stop(types.SimpleNamespace(journey="", number=3, location=None))
    ''
    """
    if episode.location is None or episode.number is None:
        return ""
    link = f"{MAP_DIR}#{journey_slug(episode.journey)}/{episode.number}"
    return join_url(base_url, link) if base_url else link


def episode_links(episodes: Sequence[Episode], *, base_url: str) -> dict[str, EpisodeLinks]:
    """Every published episode's addresses, by GUID; `episodes` is the whole show (the archive's
    pages are counted over all of them)."""
    pages = episode_pages(episodes)
    return {
        e.guid: EpisodeLinks(
            episode=join_url(base_url, e.audio.key),
            page=join_url(base_url, pages[e.slug]),
            map=map_stop(e, base_url=base_url),
            feed=join_url(base_url, FEED_KEY),
        )
        for e in episodes
    }
