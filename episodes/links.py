"""Where an episode can be found on the published site, built in one place.

Every stop of the route map has its own address, which opens the map on that stop:

    map/#<journey-slug>/<number>

`number` is the episode's number (`episodes.numbering`, the one the feed and the map's labels
show) and the journey slug comes from the journey's name as the notes give it, so the address
stays the same from run to run. The feed's episode `<link>`, the home page and the map's own list
of stops all use `map_link`; the map's script reads the same fragment back.

Messages that leave the site (the station's status API, its webhooks) carry all of an episode's
addresses at once, absolute: `episode_links` gives its MP3, its lasting place in the archive
(`pages/<n>.html#<slug>`, `pages.home.episode_pages`) and its map stop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from episodes.episode import Episode, join_url
from episodes.numbering import journey_key
from fieldreports.naming import slugify

MAP_DIR = "map/"
# Reports with no journey are one group on the map, with this slug.
NO_JOURNEY_SLUG = "reports"


def journey_slug(journey: str) -> str:
    """The journey's part of a stop's address.

    >>> journey_slug("Balkan route 2023"), journey_slug("  balkan  Route 2023"), journey_slug("")
    ('balkan-route-2023', 'balkan-route-2023', 'reports')
    """
    return slugify(journey_key(journey)) or NO_JOURNEY_SLUG


def stop_fragment(journey: str, number: int) -> str:
    """
    >>> stop_fragment("Border Reached! 2022", 3)
    'border-reached-2022/3'
    """
    return f"{journey_slug(journey)}/{number}"


def on_map(episode: Episode) -> bool:
    """Whether the map shows this episode as a stop (it has a public location and a number)."""
    return episode.location is not None and episode.number is not None


def map_link(episode: Episode, *, base_url: str = "", page: str = MAP_DIR) -> str | None:
    """The address that opens the map on this episode's stop; None when it is not on the map.

    `base_url` makes it absolute (the feed, messages); without it the link is relative to the
    site's root (the home page, which passes `page="map/index.html"` so that a copy opened from
    disk works too): "https://example.org/show/map/#border-reached-2022/3",
    "map/index.html#border-reached-2022/3".
    """
    if not on_map(episode):
        return None
    assert episode.number is not None
    link = f"{page}#{stop_fragment(episode.journey, episode.number)}"
    return join_url(base_url, link) if base_url else link


@dataclass(frozen=True, slots=True, kw_only=True)
class EpisodeLinks:
    """Absolute addresses of one published episode."""

    episode: str  # the MP3
    page: str  # its lasting place in the archive
    map: str = ""  # its stop on the map; "" when it is published off the map
    feed: str


def episode_links(episodes: Sequence[Episode], *, base_url: str) -> dict[str, EpisodeLinks]:
    """Every published episode's addresses, by GUID; `episodes` is the whole show (the archive's
    pages are counted over all of them)."""
    from episodes.feed.rss import FEED_KEY  # the feed and the pages link episodes from here
    from episodes.pages.home import episode_pages

    pages = episode_pages(episodes)
    return {
        e.guid: EpisodeLinks(
            episode=join_url(base_url, e.audio.key),
            page=join_url(base_url, pages[e.slug]),
            map=map_link(e, base_url=base_url) or "",
            feed=join_url(base_url, FEED_KEY),
        )
        for e in episodes
    }
