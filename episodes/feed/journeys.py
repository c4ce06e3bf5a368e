"""One feed per journey: `journeys/<slug>/feed.xml`, for listeners who follow one route.

Episodes are grouped by `numbering.journey_key`, the one rule that also makes a journey a
season, so a journey typed "Balkan route" in one report and "balkan  Route" in another is one
feed, one season and one layer on the map. A journey's name is shown as its first report spelt
it. The main feed lists the journey feeds in `podcast:podroll`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from episodes.episode import Episode
from episodes.numbering import journey_key
from fieldreports.naming import slugify

JOURNEYS_PREFIX = "journeys/"


@dataclass(frozen=True, slots=True, kw_only=True)
class Journey:
    """One journey's episodes and where its feed is published."""

    name: str
    slug: str
    season: int | None
    episodes: tuple[Episode, ...]

    @property
    def feed_key(self) -> str:
        return journey_feed_key(self.slug)


def journey_feed_key(slug: str) -> str:
    """
    >>> journey_feed_key("balkan-route-2023")
    'journeys/balkan-route-2023/feed.xml'
    """
    return f"{JOURNEYS_PREFIX}{slug}/feed.xml"


def group_journeys(episodes: Sequence[Episode]) -> tuple[Journey, ...]:
    """The show's journeys in season order (the order `number_episodes` gives: by each one's
    first episode); episodes without a journey belong to none."""
    groups: dict[str, list[Episode]] = {}
    for episode in sorted(episodes, key=lambda e: (e.published_at, e.slug)):
        key = journey_key(episode.journey)
        if key:
            groups.setdefault(key, []).append(episode)
    journeys: list[Journey] = []
    slugs: set[str] = set()
    for key, members in groups.items():
        base = slug = slugify(key) or "journey"
        suffix = 2
        while slug in slugs:  # "Route 1!" and "Route 1?" are two journeys with one slug
            slug, suffix = f"{base}-{suffix}", suffix + 1
        slugs.add(slug)
        seasons = [e.season for e in members if e.season is not None]
        journeys.append(
            Journey(
                name=" ".join(members[0].journey.split()),
                slug=slug,
                season=min(seasons) if seasons else None,
                episodes=tuple(members),
            )
        )
    return tuple(journeys)
