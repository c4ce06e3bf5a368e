"""The home page, its archive and the partners' page in real Chromium (playwright), published to
a folder and served by `fieldreports serve`, the outside network blocked: axe-core (npm, injected
into the page) finds no serious or critical accessibility problem, and the search box finds an
episode by a place, a transcript word and a title, on the first page and from the archive."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest

from episodes.episode import Episode, audio_key, master_key
from episodes.site.publish import build_site, publish
from episodes.site.serve import running
from episodes.site.storage import open_storage
from tests.support import mapkit
from tests.support.episodes import make_show_episodes, show_config

playwright_api = pytest.importorskip("playwright.sync_api")

PAGES = ("index.html", "pages/1.html", "partners/index.html")


def clone(episode: Episode, day: int) -> Episode:
    """Another episode on `day` of June 2022, with files of its own."""
    slug = f"2022-06-{day:02d}-day-{day}"
    return dataclasses.replace(
        episode,
        guid=f"urn:uuid:{day:08d}-0000-5000-8000-000000000000",
        slug=slug,
        title=f"Day {day} on the road",
        published_at=dt.datetime(2022, 6, day, 12, tzinfo=dt.UTC),
        recorded_at=None,
        audio=dataclasses.replace(episode.audio, key=audio_key(slug)),
        master=dataclasses.replace(episode.master, key=master_key(slug)),
        transcripts=tuple(
            dataclasses.replace(t, key=t.key.replace(episode.slug, slug))
            for t in episode.transcripts
        ),
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, tuple[Episode, ...]]]:
    work = tmp_path_factory.mktemp("pages")
    config = show_config(work / "show")
    episodes = make_show_episodes(config, work)
    # 23 more, so the archive has two pages and the home page shows only the newest 20.
    more = tuple(clone(episodes[2], i) for i in range(1, 24))
    every = episodes + more
    publish(build_site(every, config, map_files=()), open_storage(config))
    with running(config.public_dir) as base_url:
        yield base_url, every


@pytest.fixture(scope="module")
def browser(browser):  # noqa: ANN001, ANN201 - the run's one Chromium (tests/conftest.py)
    if not mapkit.AXE.is_file():
        pytest.fail(f"{mapkit.AXE} is missing: run make install (npm ci)")
    return browser


def open_page(browser, base: str, key: str, errors: list[str]):  # noqa: ANN001, ANN201
    page = browser.new_page()
    blocked: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    mapkit.block_outside(page, base, blocked)
    page.goto(base + key, wait_until="load")
    assert blocked == [], f"{key} asked for {blocked}"
    return page


@pytest.mark.parametrize("key", PAGES)
def test_pages_pass_axe(browser, served, key: str) -> None:  # noqa: ANN001
    base, _episodes = served
    errors: list[str] = []
    page = open_page(browser, base, key, errors)
    assert mapkit.axe_violations(page) == []
    assert errors == []
    # The check can fail: a control without its label is critical.
    page.evaluate("document.querySelectorAll('label').forEach(l => l.remove())")
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<input id=x>')")
    assert "label" in {v["id"] for v in mapkit.axe_violations(page)}
    page.close()


def test_home_shows_the_newest_twenty_and_the_archive_has_them_all(browser, served) -> None:  # noqa: ANN001
    base, episodes = served
    errors: list[str] = []
    page = open_page(browser, base, "index.html", errors)
    assert page.locator("main article").count() == 20
    assert page.locator("nav a").all_inner_texts() == ["Page 1", "Page 2"]
    first = page.locator("main article").first
    assert "Day 23 on the road" in first.inner_text()
    assert "Duration 0:02" in first.inner_text()
    archive = open_page(browser, base, "pages/1.html", errors)
    assert archive.locator("main article").count() == 20
    assert "Waiting at the harbour" in archive.inner_text("main")
    # The reporter's notes, rendered and sanitised, on the page where the episode lives.
    assert archive.locator("[id='2022-03-14-lampedusa-harbour'] strong").inner_text() == "dawn"
    assert open_page(browser, base, "pages/2.html", errors).locator("main article").count() == 6
    assert errors == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("roszke", "At the fence"),  # the place, without its accent
        ("alba", "Waiting at the harbour"),  # a word of the Italian transcript
        ("day 7", "Day 7 on the road"),  # a title
    ],
)
def test_search_finds_episodes_without_a_server_side(
    browser, served, query: str, expected: str
) -> None:  # noqa: ANN001
    base, _episodes = served
    errors: list[str] = []
    page = open_page(browser, base, "pages/2.html", errors)  # from the archive: paths from ../
    page.fill("#search-q", query)
    page.wait_for_selector("#search-results li")
    assert "match" in page.inner_text("#search-status")
    results = page.locator("#search-results li a")
    assert expected in results.all_inner_texts()
    link = results.filter(has_text=expected).first
    link.click()
    page.wait_for_load_state("load")
    slug = page.url.split("#", 1)[1]
    assert page.locator(f"[id='{slug}'] h3").inner_text() == expected
    assert errors == []


def test_partners_page_links_every_master(browser, served) -> None:  # noqa: ANN001
    base, episodes = served
    errors: list[str] = []
    page = open_page(browser, base, "partners/index.html", errors)
    assert page.locator("main article").count() == len(episodes)
    hrefs = page.locator("a[download]").evaluate_all("links => links.map(a => a.href)")
    assert {h.removeprefix(base) for h in hrefs} == {e.master.key for e in episodes}
    harbour = page.locator("[id='2022-03-14-lampedusa-harbour']")
    assert "Lampedusa" in harbour.inner_text() and "-23.0 LUFS" in harbour.inner_text()
    assert "text (English, translation)" in harbour.inner_text()  # the language by its name
    assert errors == []
