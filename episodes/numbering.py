"""How each episode is named in public: its season, its number and its slug, for the whole show.

One function numbers everything that is published (new episodes and those kept from earlier
runs), so the feed, the MP3 tags, the map's stop labels, the home page and `status` all say the
same number. The rules:

- a journey is a podcast season; seasons are numbered in the order their first report was
  recorded; reports without a journey have no season and are numbered among themselves;
- within a season, episodes are numbered in recording order, located or not (a report off the
  map is still an episode, and the map shows the gap);
- the slug, which names every published file, comes from the date and the title, never from the
  recording's file name (which may say more than the reporter wants published); two episodes
  with one date and title get -2, -3... in recording order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from fieldreports.naming import slugify

MAX_SLUG_CHARS = 60


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One episode to number; `key` is whatever the caller tracks it by (the report id)."""

    key: str
    journey: str
    when: dt.datetime  # timezone-aware: recorded, else first seen
    title: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Numbering:
    season: int | None
    number: int
    slug: str


def journey_key(journey: str) -> str:
    """Journeys typed twice in the field differ in case and spaces, not in meaning.

    >>> journey_key("  Balkan  route 2023 ") == journey_key("balkan route 2023")
    True
    """
    return " ".join(journey.split()).casefold()


def episode_slug(when: dt.datetime, title: str) -> str:
    """
    >>> episode_slug(dt.datetime(2022, 6, 14, 9, 40, tzinfo=dt.UTC), "Waiting at the harbour")
    '2022-06-14-waiting-at-the-harbour'
    """
    words = slugify(title)[: MAX_SLUG_CHARS - 11].rstrip("-")
    return f"{when:%Y-%m-%d}-{words}" if words else f"{when:%Y-%m-%d}"


def number_episodes(entries: Iterable[Entry]) -> dict[str, Numbering]:
    """Season, number and slug for every entry, by key.

    >>> t = lambda day: dt.datetime(2022, 6, day, tzinfo=dt.UTC)
    >>> n = number_episodes([
    ...     Entry(key="b", journey="Med", when=t(3), title="Sfax"),
    ...     Entry(key="a", journey="Med", when=t(1), title="Harbour"),
    ...     Entry(key="c", journey="Balkans", when=t(2), title="Fence"),
    ...     Entry(key="d", journey="", when=t(4), title="Desk"),
    ... ])
    >>> [(k, n[k].season, n[k].number) for k in "abcd"]
    [('a', 1, 1), ('b', 1, 2), ('c', 2, 1), ('d', None, 1)]
    """
    ordered = sorted(entries, key=lambda e: (e.when, e.key))
    seasons: dict[str, int] = {}
    counts: dict[str, int] = {}
    slugs: set[str] = set()
    numbered: dict[str, Numbering] = {}
    for entry in ordered:
        journey = journey_key(entry.journey)
        if journey and journey not in seasons:
            seasons[journey] = len(seasons) + 1
        counts[journey] = counts.get(journey, 0) + 1
        base = slug = episode_slug(entry.when, entry.title)
        suffix = 2
        while slug in slugs:
            slug, suffix = f"{base}-{suffix}", suffix + 1
        slugs.add(slug)
        numbered[entry.key] = Numbering(
            season=seasons.get(journey), number=counts[journey], slug=slug
        )
    return numbered
