"""The published site as data: files with keys, types and cache rules, in publishing order."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from fieldreports.digest import file_sha256

# Cache-Control per kind of file. The feed and pages change with every new report, so caches
# keep them briefly; media keep their key when re-mastered, so a day, not "immutable".
CACHE_PAGE = "public, max-age=300"
CACHE_MEDIA = "public, max-age=86400"

# Podcasting 2.0 JSON chapters' own type (podcast:chapters type=, and the Content-Type served).
CHAPTERS_TYPE = "application/json+chapters"

# The route map's page (maps/ renders it; the home page links it).
MAP_PAGE_KEY = "map/index.html"

# Content types by suffix, for files whose producer did not say (map assets, artwork).
CONTENT_TYPES: dict[str, str] = {
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".m4a": "audio/mp4",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".xml": "application/rss+xml",
    ".json": "application/json",
    ".geojson": "application/geo+json",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".vtt": "text/vtt; charset=utf-8",
    ".srt": "application/x-subrip",
    ".txt": "text/plain; charset=utf-8",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".eot": "application/vnd.ms-fontobject",
    "": "text/plain; charset=utf-8",  # LICENSE, README
}


def content_type_for(key: str) -> str:
    """The Content-Type for a key, by its suffix.

    >>> content_type_for("episodes/lampedusa.mp3")
    'audio/mpeg'
    >>> content_type_for("map/leaflet.css")
    'text/css; charset=utf-8'
    >>> content_type_for("map/vendor/leaflet-1.9.3/LICENSE")
    'text/plain; charset=utf-8'
    >>> content_type_for("chapters/2022-03-14-harbour.json")  # Podcasting 2.0 asks for its own
    'application/json+chapters'
    >>> content_type_for("/srv/show/public/chapters/a.json"), content_type_for("search.json")
    ('application/json+chapters', 'application/json')
    >>> content_type_for("archive.7z")
    'application/octet-stream'
    """
    suffix = "." + key.rsplit(".", 1)[-1].lower() if "." in key.rsplit("/", 1)[-1] else ""
    if suffix == ".json" and key.replace("\\", "/").split("/")[-2:-1] == ["chapters"]:
        return CHAPTERS_TYPE
    return CONTENT_TYPES.get(suffix, "application/octet-stream")


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteFile:
    """One file of the site. Exactly one of `source` (a local file) or `data` (bytes) is set."""

    key: str  # path under the site root, "/"-separated, e.g. "episodes/lampedusa.mp3"
    content_type: str
    cache_control: str = "public, max-age=300"
    source: Path | None = None
    data: bytes | None = None
    # The source's SHA-256 and size when already known (`Site.with_digests`): not read again.
    sha256: str = ""
    size_bytes: int = 0

    def digest(self) -> tuple[str, int]:
        """SHA-256 hex digest and size in bytes of the content, whichever way it is held."""
        if self.data is not None:
            return hashlib.sha256(self.data).hexdigest(), len(self.data)
        if self.sha256:
            return self.sha256, self.size_bytes
        if self.source is None:
            raise ValueError(f"site file {self.key} has neither source nor data")
        return file_sha256(self.source)

    def read(self) -> bytes:
        """The whole content (small files: pages, feed, transcripts)."""
        if self.data is not None:
            return self.data
        if self.source is None:
            raise ValueError(f"site file {self.key} has neither source nor data")
        return self.source.read_bytes()


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

    def keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.in_order())

    def with_digests(self, hash_file: Callable[[Path], tuple[str, int]]) -> Site:
        """The same site with every file's digest taken by `hash_file` (which may remember)."""

        def known(files: tuple[SiteFile, ...]) -> tuple[SiteFile, ...]:
            return tuple(_with_digest(f, hash_file) for f in files)

        return Site(
            media=known(self.media),
            transcripts=known(self.transcripts),
            map=known(self.map),
            pages=known(self.pages),
            feed=known(self.feed),
        )


def _with_digest(file: SiteFile, hash_file: Callable[[Path], tuple[str, int]]) -> SiteFile:
    if file.source is None or file.sha256:
        return file
    sha256, size = hash_file(file.source)
    return replace(file, sha256=sha256, size_bytes=size)
