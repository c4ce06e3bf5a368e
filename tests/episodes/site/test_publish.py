"""build_site + publish to the local folder: order, no broken references, pages, partners,
chapters, artwork, and a failure part-way that leaves the previous feed."""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import pytest
from lxml import etree
from PIL import Image

from episodes.episode import Episode
from episodes.feed.check import apple_problems
from episodes.site.files import Site, SiteFile
from episodes.site.publish import build_site, publish
from episodes.site.storage import LocalStorage, open_storage
from fieldreports.config import ShowConfig
from tests.support.episodes import BASE_URL, make_show_episodes, show_config

MAP_FILES = (
    SiteFile(
        key="map/index.html",
        content_type="text/html; charset=utf-8",
        data=b"<!doctype html><title>map</title><script src='vendor/leaflet.js'></script>",
    ),
    SiteFile(
        key="map/vendor/leaflet.js",
        content_type="text/javascript; charset=utf-8",
        data=b"/* leaflet */",
    ),
)


class Recording:
    """A storage that records the order of writes and can fail on a chosen key."""

    def __init__(self, inner: LocalStorage, *, fail_on: str = "") -> None:
        self.inner = inner
        self.fail_on = fail_on
        self.order: list[str] = []

    def put(self, file: SiteFile) -> bool:
        if file.key == self.fail_on:
            raise OSError(f"disk full while writing {file.key}")
        self.order.append(file.key)
        return self.inner.put(file)

    def url(self, key: str) -> str:
        return self.inner.url(key)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[ShowConfig, tuple[Episode, ...]]:
    work = tmp_path_factory.mktemp("publish")
    config = show_config(work / "show")
    return config, make_show_episodes(config, work)


@pytest.fixture(scope="module")
def published(made) -> tuple[ShowConfig, tuple[Episode, ...], Site, list[str]]:
    config, episodes = made
    site = build_site(episodes, config, map_files=MAP_FILES)
    storage = Recording(open_storage(config))
    report = publish(site, storage)
    assert set(report.uploaded) == set(site.keys())
    return config, episodes, site, storage.order


def test_publishing_order_puts_the_feed_last(published) -> None:
    _config, _episodes, site, order = published

    def first(prefix: str) -> int:
        return next(i for i, k in enumerate(order) if k.startswith(prefix))

    def last(prefix: str) -> int:
        return max(i for i, k in enumerate(order) if k.startswith(prefix))

    assert last("episodes/") < first("transcripts/")
    assert last("masters/") < first("transcripts/")
    assert last("chapters/") < first("map/")
    assert last("map/") < order.index("index.html")
    assert order[-1] == "feed.xml"
    assert order == list(site.keys())


def test_every_url_in_feed_and_home_page_exists(published) -> None:
    config, episodes, _site, _order = published
    public = config.public_dir
    feed = (public / "feed.xml").read_bytes()
    assert (
        apple_problems(
            feed, read_artwork=lambda url: (public / url.removeprefix(BASE_URL)).read_bytes()
        )
        == ()
    )
    urls = set(re.findall(rb'(?:url|href)="(' + re.escape(BASE_URL.encode()) + rb'[^"#]*)"', feed))
    assert len(urls) > 20
    for url in urls:
        key = url.decode().removeprefix(BASE_URL)
        # a folder ("", "map/") is its index.html, as every static host serves it
        path = public / key / "index.html" if key.endswith("/") or not key else public / key
        assert path.is_file(), f"feed points at missing {key}"
    root = etree.fromstring(feed)
    for enclosure in root.iter("enclosure"):
        key = enclosure.get("url").removeprefix(BASE_URL)
        assert int(enclosure.get("length")) == (public / key).stat().st_size

    home = (public / "index.html").read_text()
    links = set(re.findall(r'(?:src|href)="([^"#:]+)"', home))
    assert {"map/index.html", "pages/1.html", "partners/index.html", "search.js"} <= links
    for page in ("index.html", "pages/1.html", "partners/index.html"):
        text = (public / page).read_text()
        for link in set(re.findall(r'(?:src|href)="([^"#:]+)"', text)):
            target = (public / page).parent / link
            assert target.resolve().is_file(), f"{page} links to missing {link}"
    for episode in episodes:
        assert f'src="{episode.audio.key}"' in home
        assert f'id="{episode.slug}"' in home
    assert "Border Reached!" in home and BASE_URL + "feed.xml" in home


def test_partners_json_describes_each_master(published) -> None:
    config, episodes, _site, _order = published
    document = json.loads((config.public_dir / "partners.json").read_text())
    assert document["masters"]["target_lufs"] == -23.0
    entries = {e["guid"]: e for e in document["episodes"]}
    assert set(entries) == {e.guid for e in episodes}
    for episode in episodes:
        entry = entries[episode.guid]
        master = config.public_dir / entry["master_key"]
        assert hashlib.sha256(master.read_bytes()).hexdigest() == entry["sha256"]
        assert entry["master_url"] == BASE_URL + f"masters/{episode.slug}.wav"
        assert entry["integrated_lufs"] == -23.0 and entry["true_peak_dbtp"] == -2.5
        assert entry["duration_s"] == 1.5
        assert (entry["channels"], entry["sample_rate_hz"], entry["bit_depth"]) == (1, 48000, 24)
        assert entry["mp3_url"] == BASE_URL + episode.audio.key
        assert {t["url"] for t in entry["transcripts"]} == {
            BASE_URL + t.key for t in episode.transcripts
        }
    harbour = entries[episodes[0].guid]
    assert harbour["date"] == "2022-03-14" and harbour["place"] == "Lampedusa"
    assert harbour["notes"] == "Boats arrive at dawn. See UNHCR."
    assert {t["language"] for t in harbour["transcripts"] if t["translated"]} == {"en"}
    # Only the public point's name: never coordinates, exact or not.
    assert "35.5" not in json.dumps(document) and "lat" not in harbour


def test_chapters_trace_public_coordinates_only(published) -> None:
    config, episodes, _site, _order = published
    lampedusa = json.loads((config.public_dir / episodes[0].chapters_key).read_text())
    assert lampedusa["waypoints"] is True
    assert lampedusa["version"] == "1.2.0"
    # Three 40 s segments: a chapter at 0 and one at the first boundary after 60 s.
    assert [c["startTime"] for c in lampedusa["chapters"]] == [0, 80.0]
    assert all(
        c["location"] == {"name": "Lampedusa", "geo": "geo:35.5,12.6"}
        for c in lampedusa["chapters"]
    )
    unlocated = json.loads((config.public_dir / episodes[2].chapters_key).read_text())
    assert unlocated["waypoints"] is False
    assert "location" not in unlocated["chapters"][0]
    # No exact coordinate reaches any published text file.
    for path in config.public_dir.rglob("*"):
        if path.suffix in (".json", ".xml", ".html", ".vtt", ".srt", ".txt"):
            text = path.read_text()
            for exact in ("35.5011", "12.6058", "46.1873", "20.0386"):
                assert exact not in text, f"{exact} leaked into {path.name}"


def test_default_artwork_is_a_1400_px_png(published) -> None:
    config, _episodes, _site, _order = published
    with Image.open(config.public_dir / "artwork.png") as image:
        assert (image.format, image.size, image.mode) == ("PNG", (1400, 1400), "RGB")


def test_republish_writes_nothing(published) -> None:
    config, episodes, _site, _order = published
    site = build_site(episodes, config, map_files=MAP_FILES)
    report = publish(site, open_storage(config))
    assert report.uploaded == ()
    assert not [p for p in config.public_dir.rglob("*.tmp")]


def test_failure_part_way_keeps_the_previous_feed(made, tmp_path: Path) -> None:
    config, episodes = made
    storage = LocalStorage(tmp_path / "public", base_url=BASE_URL)
    publish(build_site(episodes[:1], config, map_files=()), storage)
    old_feed = storage.get("feed.xml")

    site = build_site(episodes, config, map_files=MAP_FILES)
    failing = Recording(storage, fail_on=episodes[1].transcripts[0].key)
    with pytest.raises(OSError, match="disk full"):
        publish(site, failing)
    assert storage.get("feed.xml") == old_feed
    assert episodes[1].audio.key in failing.order  # media went first

    report = publish(site, storage)
    assert episodes[1].audio.key in report.unchanged
    assert storage.get("feed.xml") == site.feed[-1].data != old_feed


def test_show_artwork_is_checked_and_corrected(made, tmp_path: Path) -> None:
    _config, episodes = made
    show_dir = tmp_path / "show"
    show_dir.mkdir()
    Image.new("RGB", (1600, 1200), (200, 30, 30)).save(show_dir / "cover.jpg", format="JPEG")
    config = show_config(show_dir, show={"artwork": "cover.jpg"})
    site = build_site(episodes, config, map_files=())
    (artwork,) = [f for f in site.media if f.key.startswith("artwork")]
    with Image.open(io.BytesIO(artwork.read())) as image:
        assert image.size == (1400, 1400)  # centre-cropped to square, 1400 px
    assert b'itunes:image href="' + (BASE_URL + artwork.key).encode() in site.feed[0].data

    good = show_dir / "square.png"
    Image.new("RGB", (1500, 1500), (0, 90, 200)).save(good, format="PNG")
    config = show_config(show_dir, show={"artwork": "square.png"})
    site = build_site(episodes, config, map_files=())
    (artwork,) = [f for f in site.media if f.key.startswith("artwork")]
    assert artwork.read() == good.read_bytes() and artwork.key == "artwork.png"  # as it is


def test_parallel_groups_keep_the_order_and_stop_before_the_feed(made, tmp_path: Path) -> None:
    config, episodes = made
    site = build_site(episodes, config, map_files=MAP_FILES)
    storage = Recording(LocalStorage(tmp_path / "public", base_url=BASE_URL))
    publish(site, storage, workers=4)
    group_of = {
        f.key: n
        for n, group in enumerate((site.media, site.transcripts, site.map, site.pages, site.feed))
        for f in group
    }
    groups = [group_of[k] for k in storage.order]
    assert groups == sorted(groups) and sorted(storage.order) == sorted(site.keys())

    failing = Recording(
        LocalStorage(tmp_path / "other", base_url=BASE_URL), fail_on=episodes[0].transcripts[3].key
    )
    with pytest.raises(OSError):
        publish(site, failing, workers=4)
    assert not any(k.startswith("map/") or k in ("index.html", "feed.xml") for k in failing.order)
    assert not (tmp_path / "other" / "feed.xml").exists()


def test_prune_removes_a_withdrawn_report_after_the_feed(made, tmp_path: Path) -> None:
    config, episodes = made
    storage = LocalStorage(tmp_path / "public", base_url=BASE_URL, prune=True)
    publish(build_site(episodes, config, map_files=MAP_FILES), storage)
    (tmp_path / "public" / "robots.txt").write_text("User-agent: *\n")  # not ours: kept
    withdrawn = episodes[1]

    report = publish(build_site(episodes[:1] + episodes[2:], config, map_files=()), storage)
    expected = {
        withdrawn.audio.key,
        withdrawn.master.key,
        withdrawn.chapters_key,
        *(t.key for t in withdrawn.transcripts),
        *(f.key for f in MAP_FILES),
    }
    assert set(report.deleted) == expected
    assert not any((tmp_path / "public" / key).exists() for key in expected)
    assert not (tmp_path / "public" / "map").exists()  # emptied folders go too
    assert (tmp_path / "public" / "robots.txt").exists()
    assert withdrawn.guid.encode() not in storage.get("feed.xml")
    assert (
        publish(
            build_site(episodes[:1] + episodes[2:], config, map_files=()),
            storage,
        ).deleted
        == ()
    )
