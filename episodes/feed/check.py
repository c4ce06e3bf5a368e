"""Check a feed against Apple's podcast RSS requirements, the way a directory would on submission.

Apple's rules: https://podcasters.apple.com/support/823-podcast-requirements and the RSS tag
reference https://help.apple.com/itc/podcasts_connect/#/itcb54353390. Used by the tests and by
anyone who wants to vet a feed before submitting it; returns plain sentences, one per problem.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Callable

from lxml import etree

from episodes.feed.podcast_ns import ITUNES_NS, PODCAST_NS
from episodes.feed.rss import APPLE_CATEGORIES, MAX_DESCRIPTION_BYTES
from episodes.pages.artwork import check_image

_NS = {"itunes": ITUNES_NS, "podcast": PODCAST_NS}
_AUDIO_TYPES = ("audio/mpeg", "audio/x-m4a", "audio/mp4", "audio/aac", "video/mp4")
_DURATION = re.compile(r"^(\d+|\d+:[0-5]\d|\d+:[0-5]\d:[0-5]\d)$")


def apple_problems(
    feed_xml: bytes, *, read_artwork: Callable[[str], bytes | None] | None = None
) -> tuple[str, ...]:
    """Every way `feed_xml` breaks Apple's rules; empty when Apple would accept it.

    `read_artwork(url)` returns the artwork's bytes (from storage) to check its size and format.
    """
    problems: list[str] = []
    try:
        root = etree.fromstring(feed_xml)
    except etree.XMLSyntaxError as exc:
        return (f"not well-formed XML: {exc}",)
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        return ("not an RSS 2.0 feed (no <rss><channel>)",)

    def text(parent: etree._Element, path: str) -> str:
        found = parent.find(path, _NS)
        return (found.text or "").strip() if found is not None else ""

    for tag in ("title", "link", "language", "itunes:author"):
        if not text(channel, tag):
            problems.append(f"channel has no <{tag}>")
    description = text(channel, "description")
    if not description:
        problems.append("channel has no <description>")
    elif len(description.encode("utf-8")) > MAX_DESCRIPTION_BYTES:
        problems.append(f"channel description is over {MAX_DESCRIPTION_BYTES} bytes")
    if text(channel, "itunes:explicit") not in ("true", "false"):
        problems.append("channel <itunes:explicit> must be true or false")
    if not text(channel, "itunes:owner/itunes:email"):
        problems.append("channel has no <itunes:owner><itunes:email>")
    problems.extend(_category_problems(channel))

    image = channel.find("itunes:image", _NS)
    href = image.get("href", "") if image is not None else ""
    if not href:
        problems.append("channel has no <itunes:image href>")
    elif not href.lower().endswith((".jpg", ".jpeg", ".png")):
        problems.append(f"artwork {href} must be a .jpg or .png")
    elif read_artwork is not None:
        data = read_artwork(href)
        if data is None:
            problems.append(f"artwork {href} is not published")
        else:
            problems.extend(f"artwork: {p}" for p in check_image(data))

    items = channel.findall("item")
    if not items:
        problems.append("feed has no episodes")
    guids: set[str] = set()
    for number, item in enumerate(items, start=1):
        name = text(item, "title") or f"item {number}"
        if not text(item, "title"):
            problems.append(f"item {number} has no <title>")
        guid = text(item, "guid")
        if not guid:
            problems.append(f"{name}: no <guid>")
        elif guid in guids:
            problems.append(f"{name}: guid {guid} is used twice")
        guids.add(guid)
        enclosure = item.find("enclosure")
        if enclosure is None:
            problems.append(f"{name}: no <enclosure>")
        else:
            if not enclosure.get("url", "").startswith(("http://", "https://")):
                problems.append(f"{name}: enclosure url is not absolute")
            if not enclosure.get("length", "").isdigit() or int(enclosure.get("length")) <= 0:
                problems.append(f"{name}: enclosure length must be the size in bytes")
            if enclosure.get("type") not in _AUDIO_TYPES:
                problems.append(f"{name}: enclosure type {enclosure.get('type')} is not audio")
        pub_date = text(item, "pubDate")
        try:
            if email.utils.parsedate_to_datetime(pub_date).tzinfo is None:
                problems.append(f"{name}: pubDate has no time zone")
        except (TypeError, ValueError):
            problems.append(f"{name}: pubDate {pub_date!r} is not an RFC 2822 date")
        if not _DURATION.match(text(item, "itunes:duration")):
            problems.append(f"{name}: <itunes:duration> missing or malformed")
        item_description = text(item, "description")
        if not item_description:
            problems.append(f"{name}: no <description>")
        elif len(item_description.encode("utf-8")) > MAX_DESCRIPTION_BYTES:
            problems.append(f"{name}: description is over {MAX_DESCRIPTION_BYTES} bytes")
        explicit = text(item, "itunes:explicit")
        if explicit and explicit not in ("true", "false"):
            problems.append(f"{name}: <itunes:explicit> must be true or false")
    return tuple(problems)


def _category_problems(channel: etree._Element) -> list[str]:
    categories = channel.findall("itunes:category", _NS)
    if not categories:
        return ["channel has no <itunes:category>"]
    problems = []
    for category in categories:
        name = category.get("text", "")
        if name not in APPLE_CATEGORIES:
            problems.append(f'"{name}" is not an Apple Podcasts category')
            continue
        for sub in category.findall("itunes:category", _NS):
            if sub.get("text") not in APPLE_CATEGORIES[name]:
                problems.append(f'"{sub.get("text")}" is not a subcategory of "{name}"')
    return problems
