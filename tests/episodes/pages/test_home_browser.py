"""The home page in real Chromium: axe-core, the show's language, and its links onto the map.

tests/episodes/site/test_pages_browser.py checks the published pages (archive, search,
partners) as a whole."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from episodes.pages.home import SEARCH_JS, SEARCH_SCRIPT_KEY, HomeLinks, render_home_pages
from fieldreports.config import MapSettings, ShowInfo
from tests.support import mapkit
from tests.support.mapkit import Visit, assert_no_english, page_text, render_map

UTC = dt.UTC


def _site(root: Path, mp3: Path, show: ShowInfo, journey: str) -> list:
    """The map, the home page (with its artwork) and the episodes' files, as published."""
    episodes = [
        mapkit.episode(slug="sfax", mp3=mp3, title="Sfax", journey=journey, number=1,
                       lat=34.74, lon=10.76, when=dt.datetime(2022, 3, 14, 8, tzinfo=UTC)),
        mapkit.episode(slug="lampedusa", mp3=mp3, title="Lampedusa", journey=journey, number=2,
                       when=dt.datetime(2022, 3, 15, 8, tzinfo=UTC)),
        mapkit.episode(slug="studio", mp3=mp3, title="Studio", journey="", number=1,
                       lat=None, lon=None, when=dt.datetime(2022, 3, 16, 8, tzinfo=UTC)),
    ]  # fmt: skip
    mapkit.write_site(
        render_map(episodes, show, settings=MapSettings(tiles="none")), episodes, root
    )
    from PIL import Image

    Image.new("RGB", (64, 64), "#1d3557").save(root / "artwork.png")
    links = HomeLinks(
        feed_url=show.site_url + "feed.xml", artwork_url="artwork.png", map_url="map/index.html"
    )
    for key, page in render_home_pages(episodes, show, links).items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(page)
    (root / SEARCH_SCRIPT_KEY).write_text(SEARCH_JS, encoding="utf-8")
    (root / "partners").mkdir()
    (root / "partners" / "index.html").write_text("<!doctype html><title>p</title>")
    return episodes


@pytest.fixture(scope="module")
def mp3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mapkit.make_mp3(tmp_path_factory.mktemp("audio") / "tone.mp3", seconds=0.5)


def test_home_page_passes_axe_and_its_links_open_the_stops(
    browser,  # noqa: ANN001
    tmp_path: Path,
    mp3: Path,
) -> None:
    show = ShowInfo(title="Border Reached!", base_url="https://example.org/show/")
    _site(tmp_path, mp3, show, "Border Reached! 2022")
    with mapkit.serve(tmp_path) as base:
        v = Visit(browser, base, "index.html", wait_for_map=False)
        try:
            assert v.page.evaluate("document.documentElement.lang") == "en"
            assert v.axe() == []
            heading = v.page.locator("#sfax audio").get_attribute("aria-labelledby")
            assert v.page.locator(f"#{heading}").inner_text() == "Sfax"  # a named player
            # the report off the map has no map link; the others open their stop
            assert v.page.locator("#studio a", has_text="On the map").count() == 0
            v.page.locator("#lampedusa a", has_text="On the map").click()
            v.page.wait_for_function(
                "() => window.fieldreportsStory && window.fieldreportsStory.ready"
            )
            v.wait_for_stop("2. Lampedusa")
            assert v.page.url.endswith("/map/index.html#border-reached-2022/2")
            v.page.go_back()
            v.page.wait_for_url(base + "index.html")
            # (leaving a page cancels what it was still fetching, such as its icon)
            assert [f for f in v.failed if "ERR_ABORTED" not in f] == []
            assert v.errors == [] and v.blocked == []
        finally:
            v.close()


def test_a_dutch_home_page(browser, tmp_path: Path, mp3: Path) -> None:  # noqa: ANN001
    show = ShowInfo(title="Grens Bereikt!", base_url="https://example.org/show/", language="nl")
    _site(tmp_path, mp3, show, "Grens 2022")
    with mapkit.serve(tmp_path) as base:
        v = Visit(browser, base, "index.html", wait_for_map=False)
        try:
            assert v.page.evaluate("document.documentElement.lang") == "nl"
            text = page_text(v)
            assert "Nieuwste afleveringen" in text and "15 maart 2022" in text
            assert "tekst (Italiaans)" in text and "Aflevering 2" in text
            assert_no_english(text)
            excerpt = v.page.locator("#sfax p[lang]")
            assert excerpt.get_attribute("lang") == "it"
            assert v.axe() == []
        finally:
            v.close()
