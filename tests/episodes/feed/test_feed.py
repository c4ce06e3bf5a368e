"""The feed: parsed back by podcastparser and feedparser, Podcasting 2.0 tags read with lxml,
Apple's rules checked, GUIDs stable."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import os
import uuid
from pathlib import Path

import feedparser
import podcastparser
import pytest
from lxml import etree

from episodes.episode import Episode
from episodes.feed.check import apple_problems
from episodes.feed.podcast_ns import PODCAST_LEGACY_NS, PODCAST_NS
from episodes.feed.rss import MAX_DESCRIPTION_BYTES, render_feed
from episodes.pages.artwork import default_artwork
from fieldreports.config import ShowConfig
from fieldreports.errors import SetupError
from fieldreports.geo import Location
from fieldreports.intake.notes import Notes
from tests.support import DATA
from tests.support.episodes import (
    BASE_URL,
    LAMPEDUSA,
    REPORT_IDS,
    build_episode,
    make_show_episodes,
    mastered,
    show_config,
)

FEED_URL = BASE_URL + "feed.xml"
ARTWORK_URL = BASE_URL + "artwork.png"
NS = {"podcast": PODCAST_NS, "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd"}
# Tags also written under the namespace's first URI, which the spec takes as the same.
LEGACY = {"podcast": PODCAST_LEGACY_NS}


@pytest.fixture(scope="module")
def show(tmp_path_factory: pytest.TempPathFactory) -> tuple[ShowConfig, tuple[Episode, ...]]:
    work = tmp_path_factory.mktemp("feed")
    config = show_config(work / "show")
    return config, make_show_episodes(config, work)


@pytest.fixture(scope="module")
def feed(show: tuple[ShowConfig, tuple[Episode, ...]]) -> bytes:
    config, episodes = show
    return render_feed(episodes, config.show, artwork_url=ARTWORK_URL)


def _item(feed: bytes, guid: str) -> etree._Element:
    root = etree.fromstring(feed)
    return next(i for i in root.iter("item") if i.findtext("guid") == guid)


def test_podcastparser_reads_every_episode_with_its_enclosure(feed: bytes, show) -> None:
    _config, episodes = show
    parsed = podcastparser.parse(FEED_URL, io.BytesIO(feed))
    assert parsed["title"] == "Border Reached!"
    assert parsed["cover_url"] == ARTWORK_URL
    by_guid = {e["guid"]: e for e in parsed["episodes"]}
    assert set(by_guid) == {e.guid for e in episodes}
    for episode in episodes:
        got = by_guid[episode.guid]
        assert got["title"] == episode.title
        (enclosure,) = got["enclosures"]
        assert enclosure["url"] == episode.audio.url
        assert enclosure["file_size"] == episode.audio.source.stat().st_size
        assert enclosure["mime_type"] == "audio/mpeg"
        assert got["published"] == int(episode.published_at.timestamp())
        assert got["total_time"] == 2  # 1.5 s rounds to 2
    # Newest first.
    assert [e["guid"] for e in parsed["episodes"]] == [
        e.guid for e in sorted(episodes, key=lambda e: e.published_at, reverse=True)
    ]


def test_feedparser_reads_it_without_complaint(feed: bytes, show) -> None:
    _config, episodes = show
    parsed = feedparser.parse(feed)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.feed.title == "Border Reached!"
    assert parsed.feed.language == "en"
    assert {e.id for e in parsed.entries} == {e.guid for e in episodes}
    lampedusa = next(e for e in parsed.entries if e.title == "Waiting at the harbour")
    assert lampedusa.enclosures[0].href.endswith("episodes/2022-03-14-lampedusa-harbour.mp3")
    assert "<strong>dawn</strong>" in lampedusa.summary


def test_apple_rules_pass_and_catch_a_broken_feed(feed: bytes, show) -> None:
    config, _episodes = show
    artwork = default_artwork(config.show)
    assert apple_problems(feed, read_artwork=lambda url: artwork) == ()
    # The checker must be able to fail: break the feed in four ways.
    broken = (
        feed.replace(
            b"<itunes:explicit>false</itunes:explicit>", b"<itunes:explicit>no</itunes:explicit>", 1
        )
        .replace(b'text="Politics"', b'text="Gossip"')
        .replace(b'length="', b'length="-', 1)
    )
    problems = apple_problems(broken, read_artwork=lambda url: b"not an image")
    assert any("itunes:explicit" in p for p in problems)
    assert any("Gossip" in p for p in problems)
    assert any("enclosure length" in p for p in problems)
    assert any(p.startswith("artwork:") for p in problems)


def test_channel_podcast_guid_locked_and_apple_tags(feed: bytes) -> None:
    channel = etree.fromstring(feed).find("channel")
    guid = channel.findtext("podcast:guid", namespaces=NS)
    expected = uuid.uuid5(
        uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6"), "example.org/border-reached/feed.xml"
    )
    assert guid == str(expected)
    assert uuid.UUID(guid).version == 5
    locked = channel.find("podcast:locked", NS)
    assert (locked.text, locked.get("owner")) == ("yes", "editor@example.org")
    assert channel.find("itunes:category", NS).get("text") == "News"
    assert channel.find("itunes:image", NS).get("href") == ARTWORK_URL
    assert channel.findtext("itunes:owner/itunes:email", namespaces=NS) == "editor@example.org"
    assert channel.findtext("link") == BASE_URL


def test_item_transcripts_one_per_format_and_language(feed: bytes, show) -> None:
    _config, episodes = show
    lampedusa = next(e for e in episodes if e.slug.endswith("lampedusa-harbour"))
    item = _item(feed, lampedusa.guid)
    tags = item.findall("podcast:transcript", NS)
    found = {(t.get("language"), t.get("type"), t.get("rel")) for t in tags}
    for language in ("it", "en"):  # Italian original and its English translation
        assert (language, "text/vtt", "captions") in found
        assert (language, "application/x-subrip", "captions") in found
        assert (language, "application/json", None) in found
        assert (language, "text/plain", None) in found
    assert len(tags) == 8
    urls = {t.get("url") for t in tags}
    assert BASE_URL + "transcripts/2022-03-14-lampedusa-harbour.it.vtt" in urls
    assert {t.url for t in lampedusa.transcripts} == urls
    # Once more under the namespace's first URI, last: the spoken language's WebVTT.
    (legacy,) = item.findall("podcast:transcript", LEGACY)
    assert legacy.get("url") == BASE_URL + "transcripts/2022-03-14-lampedusa-harbour.it.vtt"
    assert list(item.iter("{*}transcript"))[-1] is legacy


def test_item_location_uses_public_coordinates_only(feed: bytes, show) -> None:
    _config, episodes = show
    for episode in episodes:
        item = _item(feed, episode.guid)
        location = item.find("podcast:location", NS)
        if episode.location is None:
            assert location is None
            continue
        loc = episode.location
        assert location.text == loc.name
        assert location.get("geo") == f"geo:{loc.lat},{loc.lon}"
        assert location.get("country") == loc.country_code.lower()
    # The exact coordinates never appear anywhere in the feed.
    assert b"35.5011" not in feed and b"46.187" not in feed and b"20.038" not in feed


def test_item_people_season_episode_chapters(feed: bytes, show) -> None:
    _config, episodes = show
    roszke = next(e for e in episodes if e.slug.endswith("roszke-fence"))
    item = _item(feed, roszke.guid)
    person = item.find("podcast:person", NS)
    assert (person.text, person.get("role")) == ("Jan Kowalski", "reporter")
    season = item.find("podcast:season", NS)
    assert (season.text, season.get("name")) == ("1", "Border Reached! 2022")
    assert item.findtext("podcast:episode", namespaces=NS) == "2"
    assert item.findtext("itunes:season", namespaces=NS) == "1"
    chapters = item.find("podcast:chapters", NS)
    assert item.find("podcast:chapters", LEGACY).attrib == chapters.attrib
    assert chapters.get("url") == BASE_URL + "chapters/2022-04-02-roszke-fence.json"
    assert chapters.get("type") == "application/json+chapters"
    studio = _item(feed, next(e.guid for e in episodes if e.slug == "studio-wrap-up"))
    assert studio.find("podcast:season", NS) is None  # no journey, no season
    assert studio.find("podcast:person", NS) is None  # no reporter named


def test_descriptions_fit_in_4000_bytes(show) -> None:
    config, episodes = show
    long_notes = ("Żółć na granicy, " * 400) + "**end**"
    long_show = dataclasses.replace(config.show, description="Opis " * 2000)
    feed = render_feed(
        [dataclasses.replace(episodes[0], notes_markdown=long_notes)],
        long_show,
        artwork_url=ARTWORK_URL,
    )
    channel = etree.fromstring(feed).find("channel")
    assert len(channel.findtext("description").encode()) <= MAX_DESCRIPTION_BYTES
    item_description = channel.find("item").findtext("description")
    assert 3000 < len(item_description.encode()) <= MAX_DESCRIPTION_BYTES
    assert item_description.endswith("…")
    assert apple_problems(feed) == ()


def test_same_episodes_same_bytes_and_guids_survive_edits(feed: bytes, show) -> None:
    config, episodes = show
    assert render_feed(episodes, config.show, artwork_url=ARTWORK_URL) == feed
    # A reporter retitles a report and it is re-mastered: the catalog hands back the same GUID.
    edited = [dataclasses.replace(episodes[0], title="Still waiting at the harbour")]
    again = render_feed(edited + list(episodes[1:]), config.show, artwork_url=ARTWORK_URL)
    parsed = podcastparser.parse(FEED_URL, io.BytesIO(again))
    titles = {e["guid"]: e["title"] for e in parsed["episodes"]}
    assert titles[episodes[0].guid] == "Still waiting at the harbour"
    assert set(titles) == {e.guid for e in episodes}

    def channel_guid(xml: bytes) -> str:
        return etree.fromstring(xml).findtext("channel/podcast:guid", namespaces=NS)

    assert channel_guid(again) == channel_guid(feed)


def test_unknown_category_is_a_setup_error(show) -> None:
    config, episodes = show
    with pytest.raises(SetupError, match='did you mean "News"'):
        render_feed(
            episodes, dataclasses.replace(config.show, category="Newz"), artwork_url=ARTWORK_URL
        )


def test_explicit_episode_and_unlocked_show(show, tmp_path: Path) -> None:
    config, episodes = show
    feed = render_feed(
        [dataclasses.replace(episodes[0], explicit=True)],
        dataclasses.replace(config.show, locked=False),
        artwork_url=ARTWORK_URL,
    )
    root = etree.fromstring(feed)
    assert root.find("channel/podcast:locked", NS).text == "no"
    assert root.find("channel/item/itunes:explicit", NS).text == "true"


GOLDEN = DATA / "publishing" / "feed.golden.json"


def test_feed_matches_the_golden_podcastparser_reading(feed: bytes) -> None:
    """podcastparser's view of the fixture show, kept as a golden file (podcastparser's habit).

    Enclosure sizes depend on the local ffmpeg's MP3 encoder, so they are blanked; regenerate
    with UPDATE_GOLDEN=1 after an intended change and review the diff.
    """
    parsed = podcastparser.parse(FEED_URL, io.BytesIO(feed))
    for episode in parsed["episodes"]:
        for enclosure in episode["enclosures"]:
            enclosure["file_size"] = "<size>"
    text = json.dumps(parsed, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert json.loads(text) == json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_catalog_guid_survives_a_retitle_remaster_and_a_move(show, tmp_path: Path) -> None:
    """The GUID the feed carries comes from the catalog, stored at first sight of the report."""
    from fieldreports.catalog.sqlite import open_catalog

    config, episodes = show
    with open_catalog(tmp_path / "state") as catalog:
        first = catalog.guid_for(REPORT_IDS[0], feed_url=FEED_URL)
    # Next run: the notes were edited, the audio re-mastered, the show moved to a CDN.
    with open_catalog(tmp_path / "state") as catalog:
        again = catalog.guid_for(REPORT_IDS[0], feed_url="https://cdn.example.net/feed.xml")
    assert again == first
    feeds = [
        render_feed(
            [dataclasses.replace(episodes[0], guid=guid, title=title, duration_s=duration)],
            config.show,
            artwork_url=ARTWORK_URL,
        )
        for guid, title, duration in ((first, "Waiting", 1.5), (again, "Still waiting", 1.7))
    ]
    guids = [podcastparser.parse(FEED_URL, io.BytesIO(f))["episodes"][0]["guid"] for f in feeds]
    assert guids == [first, first]


def test_what_a_report_is_about_is_a_second_location_with_rel_subject(tmp_path: Path) -> None:
    config = show_config(tmp_path / "show")
    moria = Location(source="about", lat=39.132, lon=26.517, public_lat=39.132, public_lon=26.517,
                     name="Mória, Greece", country_code="GR")  # fmt: skip
    episode = build_episode(
        Notes(title="Fire at the camp", about="Moria"),
        mastered(tmp_path / "audio", "moria"),
        (),
        LAMPEDUSA,
        subject=moria,
        guid="g-moria",
        published_at=dt.datetime(2022, 5, 1, tzinfo=dt.UTC),
        show=config.show,
        work_dir=tmp_path / "made",
    )
    root = etree.fromstring(render_feed([episode], config.show, artwork_url=ARTWORK_URL))
    made, about = root.findall("channel/item/podcast:location", NS)
    assert made.get("rel") == "creator" and made.text == "Lampedusa"
    assert about.get("rel") == "subject" and about.text == "Mória, Greece"
    assert about.get("geo") == "geo:39.132,26.517"
