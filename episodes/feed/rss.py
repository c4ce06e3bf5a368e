"""render_feed: the podcast RSS (feedgen), with iTunes and Podcasting 2.0 tags.

What we write, in one table per namespace (podcastparser's habit), so a reviewer can check it
against the specs:

- RSS 2.0 + Apple (https://podcasters.apple.com/support/823-podcast-requirements):
  channel title, link, description (≤ 4000 bytes), language, itunes:image (1400–3000 px),
  itunes:category (Apple's list), itunes:explicit (true/false), itunes:author, itunes:owner,
  itunes:type; item title, enclosure (url, length in bytes, type), guid, pubDate,
  itunes:duration, description, itunes:episode/season, itunes:image.
- Podcasting 2.0 (https://podcastindex.org/namespace/1.0): see episodes/podcast_ns.py.

The output is deterministic: the same episodes give the same bytes (lastBuildDate is the newest
episode's date, not "now"), so an unchanged show uploads no new feed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from html import escape

from feedgen.feed import FeedGenerator

from episodes.episode import Episode, TranscriptFile, chapters_key, join_url
from episodes.feed.podcast_ns import (
    PodcastIndexEntryExtension,
    PodcastIndexExtension,
    PodcastLocation,
    PodcastPerson,
    PodcastTranscript,
    RemoteFeed,
    podcast_guid,
)
from episodes.links import map_link
from episodes.markdown import FEED_TAGS, markdown_html, plain_text
from fieldreports.config import ShowInfo
from fieldreports.errors import SetupError
from fieldreports.geo.coordinates import geo_uri
from fieldreports.naming import did_you_mean

log = logging.getLogger(__name__)

MAX_DESCRIPTION_BYTES = 4000
FEED_KEY = "feed.xml"

# Apple Podcasts categories and subcategories
# (https://podcasters.apple.com/support/1691-apple-podcasts-categories).
APPLE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "Arts": ("Books", "Design", "Fashion & Beauty", "Food", "Performing Arts", "Visual Arts"),
    "Business": (
        "Careers",
        "Entrepreneurship",
        "Investing",
        "Management",
        "Marketing",
        "Non-Profit",
    ),
    "Comedy": ("Comedy Interviews", "Improv", "Stand-Up"),
    "Education": ("Courses", "How To", "Language Learning", "Self-Improvement"),
    "Fiction": ("Comedy Fiction", "Drama", "Science Fiction"),
    "Government": (),
    "History": (),
    "Health & Fitness": (
        "Alternative Health",
        "Fitness",
        "Medicine",
        "Mental Health",
        "Nutrition",
        "Sexuality",
    ),
    "Kids & Family": ("Education for Kids", "Parenting", "Pets & Animals", "Stories for Kids"),
    "Leisure": (
        "Animation & Manga",
        "Automotive",
        "Aviation",
        "Crafts",
        "Games",
        "Hobbies",
        "Home & Garden",
        "Video Games",
    ),
    "Music": ("Music Commentary", "Music History", "Music Interviews"),
    "News": (
        "Business News",
        "Daily News",
        "Entertainment News",
        "News Commentary",
        "Politics",
        "Sports News",
        "Tech News",
    ),
    "Religion & Spirituality": (
        "Buddhism",
        "Christianity",
        "Hinduism",
        "Islam",
        "Judaism",
        "Religion",
        "Spirituality",
    ),
    "Science": (
        "Astronomy",
        "Chemistry",
        "Earth Sciences",
        "Life Sciences",
        "Mathematics",
        "Natural Sciences",
        "Nature",
        "Physics",
        "Social Sciences",
    ),
    "Society & Culture": (
        "Documentary",
        "Personal Journals",
        "Philosophy",
        "Places & Travel",
        "Relationships",
    ),
    "Sports": (
        "Baseball",
        "Basketball",
        "Cricket",
        "Fantasy Sports",
        "Football",
        "Golf",
        "Hockey",
        "Rugby",
        "Running",
        "Soccer",
        "Swimming",
        "Tennis",
        "Volleyball",
        "Wilderness",
        "Wrestling",
    ),
    "Technology": (),
    "True Crime": (),
    "TV & Film": ("After Shows", "Film History", "Film Interviews", "Film Reviews", "TV Reviews"),
}

# Time-coded formats are captions (podcast:transcript rel="captions").
_CAPTION_FORMATS = {"vtt", "srt"}
# Where each format goes among an episode's podcast:transcript tags (see transcript_order).
_FIRST, _LAST = "json", "vtt"


def check_category(category: str, subcategory: str = "") -> None:
    """SetupError unless the pair is on Apple's list.

    >>> check_category("News", "Politics")
    >>> check_category("Newz")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fieldreports.errors.SetupError: [show] category = "Newz" is not ...; did you mean "News"?
    """
    if category not in APPLE_CATEGORIES:
        raise SetupError(
            f'[show] category = "{category}" is not an Apple Podcasts category'
            f"{did_you_mean(category, APPLE_CATEGORIES)}"
        )
    if subcategory and subcategory not in APPLE_CATEGORIES[category]:
        choices = ", ".join(APPLE_CATEGORIES[category]) or "none"
        raise SetupError(
            f'[show] subcategory = "{subcategory}" is not one of Apple\'s subcategories of '
            f'"{category}" ({choices}).'
        )


def fit_bytes(text: str, max_bytes: int = MAX_DESCRIPTION_BYTES) -> str:
    """`text` cut at a word boundary to at most `max_bytes` of UTF-8, with an ellipsis when cut.

    >>> fit_bytes("żółw żółw żółw", 12)
    'żółw…'
    >>> fit_bytes("short", 12)
    'short'
    """
    if len(text.encode("utf-8")) <= max_bytes:
        return text
    room = max_bytes - len("…".encode())
    cut = text.encode("utf-8")[:room].decode("utf-8", "ignore")
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.") + "…"


def show_description(show: ShowInfo) -> str:
    text = show.description.strip() or f"{show.title}: field reports by {show.author}."
    return fit_bytes(text)


def recorded_line(place: str, recorded_at: dt.datetime | None) -> str:
    """ "Recorded in <place> on <date>.", or as much of it as is known.

    >>> recorded_line("Sfax, Tunisia", dt.datetime(2022, 6, 18, 9, 0))
    'Recorded in Sfax, Tunisia on 18 June 2022.'
    >>> recorded_line("near Lampedusa, Italy", None)
    'Recorded near Lampedusa, Italy.'
    >>> recorded_line("", None)
    ''
    """
    if not place and recorded_at is None:
        return ""
    # The geotag stage names approximate places "near X"; "in near X" would read badly.
    where = "" if not place else place if place.startswith(("near ", "around ")) else f"in {place}"
    when = f"on {recorded_at.day} {recorded_at:%B %Y}" if recorded_at else ""
    return " ".join(p for p in ("Recorded", where, when) if p) + "."


def episode_description(episode: Episode) -> str:
    """HTML show notes: the reporter's notes, where and when, the start of the transcript."""
    parts = [markdown_html(episode.notes_markdown, tags=FEED_TAGS)]
    said = recorded_line(episode.location.name if episode.location else "", episode.recorded_at)
    if said:
        parts.append(f"<p>{escape(said)}</p>")
    if episode.transcript_excerpt and not episode.notes_markdown.strip():
        parts.append(f"<p>{escape(episode.transcript_excerpt)}</p>")
    html = "\n".join(p for p in parts if p) or f"<p>{escape(episode.title)}</p>"
    if len(html.encode("utf-8")) <= MAX_DESCRIPTION_BYTES:
        return html
    # Cutting HTML would break its tags: fall back to plain text.
    plain = plain_text(html)
    return fit_bytes(plain)


def transcript_order(transcripts: Sequence[TranscriptFile]) -> tuple[TranscriptFile, ...]:
    """The podcast:transcript tags in the order that leaves every parser a timed transcript.

    Podcasting 2.0 apps read them all, but parsers that keep one keep the last (podcastparser,
    as gPodder uses it; feedparser) or the first. So the spoken language's JSON (timed, with
    words when Whisper gave them) goes first and its WebVTT last; the plain text, SRT and the
    translations go between.

    >>> t = lambda fmt, lang="it", tr=False: TranscriptFile(key=f"{lang}.{fmt}", url="",
    ...     fmt=fmt, content_type="", language=lang, translated=tr, data=b"")
    >>> [x.key for x in transcript_order([t("vtt"), t("srt"), t("json"), t("txt"),
    ...                                   t("vtt", "en", True), t("txt", "en", True)])]
    ['it.json', 'en.vtt', 'en.txt', 'it.srt', 'it.txt', 'it.vtt']
    """

    def place(item: TranscriptFile) -> int:
        if item.translated:
            return 1
        return {_FIRST: 0, _LAST: 3}.get(item.fmt, 2)

    return tuple(sorted(transcripts, key=place))


def render_feed(
    episodes: Sequence[Episode],
    show: ShowInfo,
    *,
    artwork_url: str,
    feed_url: str = "",
    base_url: str = "",
    chapters: bool = True,
    podroll: Sequence[RemoteFeed] = (),
    links: Mapping[str, str] | None = None,
) -> bytes:
    """The whole feed.xml, newest episode first.

    `base_url` is where the site is served (default: the show's base_url); `feed_url` is
    `base_url` + feed.xml unless given. `chapters` says whether chapters/<slug>.json is published.
    `podroll` lists other feeds (the journeys' feeds, in the main feed) in podcast:podroll.
    `links` gives each episode's page by slug (`home.episode_pages`), the `<link>` of an episode
    that is not on the map (default index.html#slug); one on the map links its stop there
    (`episodes.links.map_link`).
    """
    base_url = base_url or show.site_url
    feed_url = feed_url or join_url(base_url, FEED_KEY)
    check_category(show.category, show.subcategory)
    if not artwork_url.lower().endswith((".png", ".jpg", ".jpeg")):
        raise SetupError(f"artwork URL {artwork_url} must end in .png or .jpg (Apple's rule).")

    fg = FeedGenerator()
    fg.load_extension("podcast")  # feedgen's name for the iTunes extension
    fg.register_extension("podcastindex", PodcastIndexExtension, PodcastIndexEntryExtension)

    fg.title(show.title)
    # feedgen gives RSS's <link> the last link added: the self link must come first.
    fg.link(href=feed_url, rel="self")
    fg.link(href=show.link or base_url, rel="alternate")
    fg.description(show_description(show))
    fg.language(show.language)
    fg.generator("fieldreports")
    fg.image(url=artwork_url, title=show.title, link=show.link or base_url)
    if show.copyright:
        fg.copyright(show.copyright)

    itunes = fg.podcast
    itunes.itunes_author(show.author)
    itunes.itunes_image(artwork_url)
    category = {"cat": show.category, **({"sub": show.subcategory} if show.subcategory else {})}
    itunes.itunes_category(category)
    itunes.itunes_type("episodic")
    if show.owner_email:
        itunes.itunes_owner(name=show.owner_name or show.author, email=show.owner_email)
    else:
        log.warning("[show] owner_email is empty: Apple needs it to verify the show's owner")

    p20: PodcastIndexExtension = fg.podcastindex
    p20.guid = podcast_guid(feed_url)
    p20.locked = show.locked
    p20.locked_owner = show.owner_email
    p20.explicit = show.explicit
    p20.podroll = tuple(podroll)
    p20.hub = show.websub_hub

    ordered = sorted(episodes, key=lambda e: (e.published_at, e.slug), reverse=True)
    for episode in ordered:
        link = (links or {}).get(episode.slug, f"index.html#{episode.slug}")
        _add_item(fg, episode, show, artwork_url=artwork_url, base_url=base_url,
                  chapters=chapters, link=link)  # fmt: skip
    if ordered:
        fg.lastBuildDate(ordered[0].published_at)
        fg.pubDate(ordered[0].published_at)
    else:
        # No episodes yet: a fixed date keeps an empty feed byte-identical between runs.
        fg.lastBuildDate(dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    return fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)


def _add_item(
    fg: FeedGenerator,
    episode: Episode,
    show: ShowInfo,
    *,
    artwork_url: str,
    base_url: str,
    chapters: bool,
    link: str,
) -> None:
    fe = fg.add_entry(order="append")
    fe.title(episode.title)
    fe.guid(episode.guid, permalink=False)
    # The episode's stop on the route map; its page in the archive when it is off the map.
    fe.link(href=join_url(base_url, map_link(episode) or link))
    fe.description(episode_description(episode))
    fe.enclosure(episode.audio.url, str(episode.audio.size_bytes), episode.audio.content_type)
    fe.pubDate(episode.published_at)
    for tag in episode.tags:
        fe.category(term=tag)

    itunes = fe.podcast
    itunes.itunes_duration(max(1, round(episode.duration_s)))
    itunes.itunes_author(episode.reporter or show.author)
    itunes.itunes_image(episode.image.url if episode.image else artwork_url)
    itunes.itunes_episode_type("full")
    if episode.number is not None:
        itunes.itunes_episode(episode.number)
    if episode.season is not None:
        itunes.itunes_season(episode.season)

    p20: PodcastIndexEntryExtension = fe.podcastindex
    p20.explicit = episode.explicit
    ordered = transcript_order(episode.transcripts)
    p20.transcripts = tuple(
        PodcastTranscript(
            url=t.url,
            type=t.content_type,
            language=t.language,
            rel="captions" if t.fmt in _CAPTION_FORMATS else "",
            language_source=t.language_source,
            language_probability=t.language_probability,
            # The last (a timed one) also reaches parsers that know only the first URI.
            also_legacy=t is ordered[-1],
        )
        for t in ordered
    )
    if chapters:
        p20.chapters_url = join_url(base_url, chapters_key(episode.slug))
    if episode.location is not None:
        p20.location = PodcastLocation(
            name=episode.location.name or episode.title,
            geo=geo_uri(episode.location.lat, episode.location.lon),
            country=episode.location.country_code,
        )
    if episode.subject is not None:
        p20.subject = PodcastLocation(
            name=episode.subject.name,
            geo=geo_uri(episode.subject.lat, episode.subject.lon),
            country=episode.subject.country_code,
            rel="subject",
        )
    if episode.reporter:
        p20.people = (PodcastPerson(name=episode.reporter),)
    p20.season = episode.season
    p20.season_name = episode.journey
    p20.episode = episode.number
