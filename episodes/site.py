"""The published site as data: files with keys, types and cache rules, in publishing order."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteFile:
    """One file of the site. Exactly one of `source` (a local file) or `data` (bytes) is set."""

    key: str  # path under the site root, "/"-separated, e.g. "episodes/lampedusa.mp3"
    content_type: str
    cache_control: str = "public, max-age=300"
    source: Path | None = None
    data: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    """Everything to publish, grouped in the order that never exposes a broken reference."""

    media: tuple[SiteFile, ...] = ()  # episodes, masters, artwork
    transcripts: tuple[SiteFile, ...] = ()  # transcripts, chapters
    map: tuple[SiteFile, ...] = ()  # map page and its assets
    pages: tuple[SiteFile, ...] = ()  # home page, partners.json
    feed: tuple[SiteFile, ...] = field(default=())  # feed.xml, always last

    def in_order(self) -> tuple[SiteFile, ...]:
        return self.media + self.transcripts + self.map + self.pages + self.feed
