"""The main feed and the journeys' feeds as three parsers read them: feedparser, podcastparser
(gPodder's) and podcast-partytime (a Podcasting 2.0 parser, under node), each finding every
episode and a timed transcript; Apple's rules on every feed; one journey however it is typed."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import subprocess
from pathlib import Path

import feedparser
import podcastparser
import pytest
from lxml import etree

from episodes.episode import Episode
from episodes.feed.check import apple_problems
from episodes.feed.journeys import group_journeys
from episodes.feed.podcast_ns import PODCAST_NS, podcast_guid
from episodes.pages.artwork import default_artwork
from episodes.site.files import Site
from episodes.site.publish import build_site
from fieldreports.config import ShowConfig
from tests.support import ROOT
from tests.support.audio import require
from tests.support.episodes import BASE_URL, make_show_episodes, show_config

TIMED = ("text/vtt", "application/json")
NS = {"podcast": PODCAST_NS}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[ShowConfig, tuple[Episode, ...], Site]:
    work = tmp_path_factory.mktemp("parsers")
    config = show_config(work / "show")
    episodes = make_show_episodes(config, work)
    # The second report's journey typed differently in the field: still the same journey.
    episodes = (
        episodes[0],
        dataclasses.replace(episodes[1], journey="  border reached!   2022 "),
        episodes[2],
    )
    return config, episodes, build_site(episodes, config, map_files=())


def feeds(site: Site) -> dict[str, bytes]:
    return {f.key: f.read() for f in site.feed}


def test_one_feed_per_journey_and_the_main_feed_last(site) -> None:
    _config, episodes, built = site
    assert [f.key for f in built.feed] == [
        "journeys/border-reached-2022/feed.xml",
        "feed.xml",
    ]
    (journey,) = group_journeys(episodes)
    assert journey.name == "Border Reached! 2022" and len(journey.episodes) == 2
    journey_feed = etree.fromstring(feeds(built)["journeys/border-reached-2022/feed.xml"])
    assert journey_feed.findtext("channel/title") == "Border Reached!: Border Reached! 2022"
    assert len(journey_feed.findall("channel/item")) == 2


def test_every_feed_passes_apple_rules(site) -> None:
    config, _episodes, built = site
    artwork = default_artwork(config.show)
    for key, xml in feeds(built).items():
        assert apple_problems(xml, read_artwork=lambda url: artwork) == (), key


def test_main_feed_lists_the_journeys_in_its_podroll(site) -> None:
    _config, _episodes, built = site
    channel = etree.fromstring(feeds(built)["feed.xml"]).find("channel")
    (remote,) = channel.findall("podcast:podroll/podcast:remoteItem", NS)
    url = BASE_URL + "journeys/border-reached-2022/feed.xml"
    assert remote.get("feedUrl") == url and remote.get("feedGuid") == podcast_guid(url)
    journey = etree.fromstring(feeds(built)["journeys/border-reached-2022/feed.xml"])
    assert journey.findtext("channel/podcast:guid", namespaces=NS) == podcast_guid(url)


@pytest.mark.parametrize("key", ["feed.xml", "journeys/border-reached-2022/feed.xml"])
def test_feedparser_and_podcastparser_keep_a_timed_transcript(site, key: str) -> None:
    _config, episodes, built = site
    xml = feeds(built)[key]
    parsed = feedparser.parse(xml)
    assert not parsed.bozo, parsed.get("bozo_exception")
    expected = 3 if key == "feed.xml" else 2
    assert len(parsed.entries) == expected
    for entry in parsed.entries:
        assert entry.podcast_transcript["type"] in TIMED, entry.title
    gpodder = podcastparser.parse(BASE_URL + key, io.BytesIO(xml))
    assert len(gpodder["episodes"]) == expected
    for episode in gpodder["episodes"]:
        assert episode["transcript_url"].endswith((".vtt", ".json")), episode["title"]
    # The spoken language's, not the English translation's.
    harbour = next(e for e in gpodder["episodes"] if e["title"] == "Waiting at the harbour")
    assert harbour["transcript_url"].endswith(".it.vtt")


def test_partytime_reads_every_feed(site, tmp_path: Path) -> None:
    require("node")
    if not (ROOT / "node_modules" / "podcast-partytime").is_dir():
        pytest.fail("node_modules/podcast-partytime is missing: run make install (npm ci)")
    _config, episodes, built = site
    paths = []
    for key, xml in feeds(built).items():
        path = tmp_path / key.replace("/", "_")
        path.write_bytes(xml)
        paths.append(str(path))
    node = shutil.which("node")
    result = subprocess.run(
        [node, str(ROOT / "tests" / "support" / "partytime.js"), *paths],
        check=True, capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    journey_feed, main = json.loads(result.stdout)
    assert "error" not in main and "error" not in journey_feed
    assert main["guid"] == podcast_guid(BASE_URL + "feed.xml")
    assert main["podroll"] == [
        {
            "feedGuid": podcast_guid(BASE_URL + "journeys/border-reached-2022/feed.xml"),
            "feedUrl": BASE_URL + "journeys/border-reached-2022/feed.xml",
        }
    ]
    assert {i["guid"] for i in main["items"]} == {e.guid for e in episodes}
    assert len(journey_feed["items"]) == 2
    for feed in (main, journey_feed):
        for item in feed["items"]:
            types = {t["type"] for t in item["transcripts"]}
            assert types & set(TIMED), item["title"]
            assert item["chapters"] == "application/json+chapters"
