"""A feedgen extension for the Podcasting 2.0 namespace, and the iTunes tags feedgen gets wrong.

Spec: https://podcastindex.org/namespace/1.0 (github.com/Podcastindex-org/podcast-namespace).
Channel tags: podcast:guid, podcast:locked, podcast:location, podcast:person, podcast:podroll,
and a WebSub hub link (`atom:link rel="hub"`), which feedgen does not write into RSS.
Item tags: podcast:transcript, podcast:chapters, podcast:location, podcast:person,
podcast:season, podcast:episode.

feedgen's own iTunes extension only writes `itunes:explicit` as yes/no/clean; Apple's current
spec asks for true/false, so that tag is written here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from lxml import etree

from episodes.site.files import CHAPTERS_TYPE

PODCAST_NS = "https://podcastindex.org/namespace/1.0"
# The namespace's first URI. The spec asks clients to take both as one; gPodder's podcastparser
# (0.6.11) knows only this one, so one transcript and the chapters of each item are written once
# more under it (see `PodcastTranscript.also_legacy`): apps that know only the current URI miss
# nothing, and apps that merge both see that one URL twice.
PODCAST_LEGACY_NS = "https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md"
# Our own attributes on podcast:transcript: how its language was found. Apps ignore what they
# do not know; editors and archives can tell a detected language from a reporter's hint.
FIELDREPORTS_NS = "urn:fieldreports:1.0"
ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
ATOM_NS = "http://www.w3.org/2005/Atom"

# The namespace UUID the Podcasting 2.0 spec fixes for podcast:guid.
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")


def podcast_guid(feed_url: str) -> str:
    """The channel's podcast:guid: UUIDv5 of the feed URL without scheme and trailing slashes.

    The spec's own example:

    >>> podcast_guid("https://mp3s.nashownotes.com/pc20rss.xml")
    '917393e3-1b1e-5cef-ace4-edaa54e1f810'
    >>> podcast_guid("http://mp3s.nashownotes.com/pc20rss.xml/")
    '917393e3-1b1e-5cef-ace4-edaa54e1f810'
    """
    bare = feed_url.split("://", 1)[-1].rstrip("/")
    return str(uuid.uuid5(PODCAST_GUID_NAMESPACE, bare))


@dataclass(frozen=True, slots=True, kw_only=True)
class PodcastLocation:
    name: str
    geo: str = ""  # RFC 5870 geo: URI
    country: str = ""  # ISO 3166-1 alpha-2, written lower-case as in the spec's examples
    rel: str = "creator"  # "creator": where the content was made; "subject": what it is about


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteFeed:
    """A feed named in podcast:podroll (a podcast:remoteItem): its podcast:guid and URL."""

    feed_guid: str
    feed_url: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PodcastPerson:
    name: str
    role: str = "reporter"
    group: str = "cast"
    href: str = ""
    img: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PodcastTranscript:
    url: str
    type: str
    language: str = ""
    rel: str = ""  # "captions" for time-coded formats
    language_source: str = ""  # "hint", "detected", "translated"...
    language_probability: float | None = None
    also_legacy: bool = False  # written again under PODCAST_LEGACY_NS, for parsers knowing only it


def _el(
    parent: Any, tag: str, text: str | None = None, *, legacy: bool = False, **attrs: str
) -> Any:
    if legacy:  # the same "podcast" prefix, declared on the element for the first URI
        element = etree.SubElement(
            parent, f"{{{PODCAST_LEGACY_NS}}}{tag}", nsmap={"podcast": PODCAST_LEGACY_NS}
        )
    else:
        element = etree.SubElement(parent, f"{{{PODCAST_NS}}}{tag}")
    for name, value in attrs.items():
        if value:
            element.set(name, value)
    if text is not None:
        element.text = text
    return element


def _write_location(parent: Any, location: PodcastLocation | None) -> None:
    if location is None:
        return
    _el(
        parent,
        "location",
        location.name,
        rel=location.rel,
        geo=location.geo,
        country=location.country.lower(),
    )


def _write_people(parent: Any, people: tuple[PodcastPerson, ...]) -> None:
    for person in people:
        _el(
            parent,
            "person",
            person.name,
            role=person.role,
            group=person.group,
            href=person.href,
            img=person.img,
        )


def _write_transcript(parent: Any, transcript: PodcastTranscript, *, legacy: bool) -> None:
    element = _el(
        parent,
        "transcript",
        legacy=legacy,
        url=transcript.url,
        type=transcript.type,
        language=transcript.language,
        rel=transcript.rel,
    )
    if transcript.language_source:
        element.set(f"{{{FIELDREPORTS_NS}}}languageSource", transcript.language_source)
    if transcript.language_probability is not None:
        element.set(
            f"{{{FIELDREPORTS_NS}}}languageProbability", f"{transcript.language_probability:.2f}"
        )


def _write_explicit(parent: Any, explicit: bool | None) -> None:
    if explicit is not None:
        etree.SubElement(parent, f"{{{ITUNES_NS}}}explicit").text = "true" if explicit else "false"


class PodcastIndexExtension(BaseExtension):
    """Channel-level Podcasting 2.0 tags. Register as `fg.register_extension("podcastindex", ...)`.

    Registered under "podcastindex" because feedgen's iTunes extension already owns "podcast".
    """

    def __init__(self) -> None:
        self.guid: str = ""
        self.locked: bool | None = None
        self.locked_owner: str = ""
        self.location: PodcastLocation | None = None
        self.people: tuple[PodcastPerson, ...] = ()
        self.explicit: bool | None = None
        self.podroll: tuple[RemoteFeed, ...] = ()
        self.hub: str = ""  # a WebSub hub (feedgen writes only the self link into RSS)

    def extend_ns(self) -> dict[str, str]:
        return {"podcast": PODCAST_NS, "fieldreports": FIELDREPORTS_NS}

    def extend_rss(self, feed: Any) -> Any:
        channel = feed[0]
        if self.hub:
            _write_hub(channel, self.hub)
        _write_explicit(channel, self.explicit)
        if self.locked is not None:
            _el(channel, "locked", "yes" if self.locked else "no", owner=self.locked_owner)
        if self.guid:
            _el(channel, "guid", self.guid)
        _write_location(channel, self.location)
        _write_people(channel, self.people)
        if self.podroll:
            podroll = _el(channel, "podroll")
            for remote in self.podroll:
                _el(podroll, "remoteItem", feedGuid=remote.feed_guid, feedUrl=remote.feed_url)
        return feed


def _write_hub(channel: Any, hub: str) -> None:
    """`<atom:link rel="hub">` beside the self link (WebSub 1.0 §4: discovery in the feed)."""
    link = etree.Element(f"{{{ATOM_NS}}}link", href=hub, rel="hub")
    selves = channel.findall(f"{{{ATOM_NS}}}link")
    if selves:
        selves[-1].addnext(link)
    else:
        channel.append(link)


class PodcastIndexEntryExtension(BaseEntryExtension):
    """Item-level Podcasting 2.0 tags."""

    def __init__(self) -> None:
        self.transcripts: tuple[PodcastTranscript, ...] = ()
        self.chapters_url: str = ""
        self.location: PodcastLocation | None = None
        self.subject: PodcastLocation | None = None  # rel="subject": what it is about
        self.people: tuple[PodcastPerson, ...] = ()
        self.season: int | None = None
        self.season_name: str = ""
        self.episode: int | None = None
        self.explicit: bool | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"podcast": PODCAST_NS, "fieldreports": FIELDREPORTS_NS}

    def extend_rss(self, entry: Any) -> Any:
        _write_explicit(entry, self.explicit)
        for transcript in self.transcripts:
            _write_transcript(entry, transcript, legacy=False)
        if self.chapters_url:
            _el(entry, "chapters", url=self.chapters_url, type=CHAPTERS_TYPE)
        # The same again under the first URI, last, for parsers that know only it.
        for transcript in self.transcripts:
            if transcript.also_legacy:
                _write_transcript(entry, transcript, legacy=True)
        if self.chapters_url:
            _el(entry, "chapters", legacy=True, url=self.chapters_url, type=CHAPTERS_TYPE)
        _write_location(entry, self.location)
        _write_location(entry, self.subject)
        _write_people(entry, self.people)
        if self.season is not None:
            _el(entry, "season", str(self.season), name=self.season_name)
        if self.episode is not None:
            _el(entry, "episode", str(self.episode))
        return entry
