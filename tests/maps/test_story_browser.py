"""Story mode in real Chromium: next and previous, addresses and the back button, playing a
journey, the phone layout, the keyboard, the interactive transcript, axe-core and Dutch.

Served over HTTP with every other request blocked, like test_map_browser.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from episodes.links import map_link
from fieldreports.config import MapSettings, ShowInfo
from tests.support import mapkit
from tests.support.mapkit import FIND_MAP, Visit, assert_no_english, page_text, render_map

SHOW = ShowInfo(title="Border Reached!", base_url="https://example.org/show/")
UTC = dt.UTC
# Two sentences, one word a segment, as Whisper's word times give them.
WORDS = (
    (0.0, 0.4, "Stiamo"),
    (0.4, 1.0, "aspettando."),
    (1.2, 1.6, "La"),
    (1.6, 2.0, "nave"),
    (2.0, 2.6, "arriva."),
)


def _t(hour: int) -> dt.datetime:
    return dt.datetime(2022, 3, 14, hour, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A short report (0.6 s) and a longer one (3 s) to click around in."""
    folder = tmp_path_factory.mktemp("audio")
    return (
        mapkit.make_mp3(folder / "short.mp3", seconds=0.6),
        mapkit.make_mp3(folder / "long.mp3", seconds=3.0),
    )


def _episodes(short: Path, long: Path, **fields: str) -> list:
    """Journey A: Sfax, Lampedusa (with word times), Catania (sensitive), Milan, numbered 1-4
    with Rome (3) off the map; journey B: Bihać and Podlasie."""
    a, b = fields.get("a", "Border Reached! 2022"), fields.get("b", "Poland 2021")

    def stop(slug: str, hour: int, number: int, lat: float, lon: float, **kw: object):  # noqa: ANN202
        kw.setdefault("journey", a)
        kw.setdefault("mp3", short)
        return mapkit.episode(
            slug=slug, title=kw.pop("title", slug.capitalize()), when=_t(hour), number=number,
            lat=lat, lon=lon, place=kw.pop("place", slug.capitalize()), **kw,
        )  # fmt: skip

    return [
        stop("sfax", 8, 1, 34.74, 10.76),
        stop("lampedusa", 10, 2, 35.50, 12.60, mp3=long, words=WORDS, duration_s=3.0),
        stop("rome", 11, 3, None, None),
        stop("catania", 12, 4, 37.50, 15.10, sensitive=True, accuracy_m=10_000),
        stop("milan", 14, 5, 45.46, 9.19),
        stop("bihac", 9, 1, 44.81, 15.87, journey=b, title="Bihać", place="Bihać"),
        stop("podlasie", 15, 2, 52.10, 23.60, journey=b),
    ]


@pytest.fixture(scope="module")
def episodes(audio: tuple[Path, Path]) -> list:
    return _episodes(*audio)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, episodes: list) -> Path:
    files = render_map(episodes, SHOW, settings=MapSettings(tiles="none"))
    return mapkit.write_site(files, episodes, tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def base(site: Path):  # noqa: ANN201
    with mapkit.serve(site) as url:
        yield url


@pytest.fixture
def visit(browser, base: str):  # noqa: ANN001, ANN201
    v = Visit(browser, base)
    yield v
    v.close()


def _title(v: Visit) -> str:
    return v.page.locator("#fr-sheet-title").inner_text()


def _wait_until_shown(v: Visit, lat: float, lon: float) -> None:
    """Until the map, done moving, shows this point in the middle part of its view (an opened
    stop is brought to the view, not merely left somewhere inside it)."""
    v.page.wait_for_function(
        f"([lat, lon]) => {{ const m = {FIND_MAP}; if (m._animatingZoom || m._panAnim?._inProgress)"
        " return false; const b = m.getBounds().pad(-0.25); return b.contains([lat, lon]); }",
        arg=[lat, lon],
        timeout=15000,
    )


def test_next_and_previous_walk_every_stop_of_a_journey_in_order(visit: Visit) -> None:
    journey_a = [("1. Sfax", 34.74, 10.76), ("2. Lampedusa", 35.5, 12.6),
                 ("4. Catania", 37.5, 15.1), ("5. Milan", 45.46, 9.19)]  # fmt: skip
    nxt, prev = visit.page.locator(".fr-next"), visit.page.locator(".fr-prev")
    assert prev.is_disabled()
    seen = []
    for label, lat, lon in journey_a:
        nxt.click()
        visit.wait_for_stop(label)
        _wait_until_shown(visit, lat, lon)
        seen.append((_title(visit), visit.page.evaluate("location.hash")))
        assert "of 4" in visit.page.locator(".fr-position").inner_text()
    assert seen == [
        ("1. Sfax", "#border-reached-2022/1"),
        ("2. Lampedusa", "#border-reached-2022/2"),
        ("4. Catania", "#border-reached-2022/4"),  # 3 is off the map: a gap, not a renumbering
        ("5. Milan", "#border-reached-2022/5"),
    ]
    assert nxt.is_disabled()  # the journey's last stop
    # the open stop's marker is marked, and only that one
    assert visit.page.locator(".fr-marker.fr-active").inner_text() == "5"
    for label, lat, lon in reversed(journey_a[:-1]):
        prev.click()
        visit.wait_for_stop(label)
        _wait_until_shown(visit, lat, lon)
    assert prev.is_disabled() and not nxt.is_disabled()
    assert visit.errors == [] and visit.failed == [] and visit.blocked == []


def test_an_address_opens_its_stop_and_back_walks_back(browser, base: str, episodes: list) -> None:  # noqa: ANN001
    podlasie = next(e for e in episodes if e.slug == "podlasie")
    link = map_link(podlasie, page="map/index.html")  # what the home page links to
    assert link == "map/index.html#poland-2021/2"
    v = Visit(browser, base, link)
    try:
        v.wait_for_stop("2. Podlasie")
        _wait_until_shown(v, 52.1, 23.6)
        v.page.locator(".fr-prev").click()
        v.wait_for_stop("1. Bihać")
        v.page.locator(".fr-list-toggle").click()
        v.page.locator(".fr-stops a", has_text="2. Lampedusa").click()
        v.wait_for_stop("2. Lampedusa")
        v.page.go_back()
        v.wait_for_stop("1. Bihać")
        v.page.go_back()
        v.wait_for_stop("2. Podlasie")
        v.page.go_forward()
        v.wait_for_stop("1. Bihać")
        # closing is a step too: back opens the stop again
        v.page.locator(".fr-close").click()
        assert v.page.locator("#fr-sheet").is_hidden() and v.page.evaluate("location.hash") == ""
        v.page.go_back()
        v.wait_for_stop("1. Bihać")
        assert v.errors == [] and v.failed == []
    finally:
        v.close()


def test_an_unknown_address_shows_the_list(browser, base: str) -> None:  # noqa: ANN001
    v = Visit(browser, base, "map/index.html#no-such-journey/9")
    try:
        assert v.page.locator("#fr-sheet").is_hidden()
        assert v.page.locator("#fr-stops").is_visible()
        assert v.errors == []
    finally:
        v.close()


def test_play_the_journey_moves_on_when_a_report_ends(browser, base: str) -> None:  # noqa: ANN001
    v = Visit(browser, base, "map/index.html#poland-2021/1")
    try:
        v.wait_for_stop("1. Bihać")
        play = v.page.locator(".fr-play")
        play.click()
        assert play.get_attribute("aria-pressed") == "true"
        # Bihać's 0.6 s report ends; Podlasie opens and plays
        v.wait_for_stop("2. Podlasie")
        v.page.wait_for_function(
            "() => { const a = document.querySelector('#fr-sheet audio');"
            " return a && a.currentTime > 0; }",
            timeout=15000,
        )
        assert v.page.evaluate("location.hash") == "#poland-2021/2"
        # the journey's last report ends: playing stops, the stop stays open
        v.page.wait_for_function(
            "() => document.querySelector('.fr-play').getAttribute('aria-pressed') === 'false'",
            timeout=15000,
        )
        assert _title(v) == "2. Podlasie"
        assert v.errors == [] and v.failed == []
    finally:
        v.close()


def test_play_the_journey_from_nothing_open_starts_at_the_first_stop(visit: Visit) -> None:
    visit.page.locator(".fr-play").click()
    visit.wait_for_stop("1. Sfax")
    visit.wait_for_stop("2. Lampedusa")  # after Sfax's report ends
    visit.page.locator(".fr-play").click()  # stop
    assert visit.page.locator(".fr-play").get_attribute("aria-pressed") == "false"
    assert visit.page.evaluate("document.querySelector('#fr-sheet audio').paused")


def _box(v: Visit, selector: str) -> dict:
    box = v.page.locator(selector).bounding_box()
    assert box is not None, selector
    return box


def _overlap(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


@pytest.mark.parametrize("size", [(390, 844), (360, 640)], ids=["390x844", "360x640"])
def test_on_a_phone_the_open_stop_is_never_under_a_control(browser, base: str, size) -> None:  # noqa: ANN001
    width, height = size
    v = Visit(browser, base, viewport={"width": width, "height": height})
    try:
        viewport = v.page.locator('meta[name="viewport"]').get_attribute("content") or ""
        assert "user-scalable=no" not in viewport and "maximum-scale" not in viewport
        v.open_stop("2. Lampedusa")
        v.wait_for_stop("2. Lampedusa")
        controls = v.page.locator(
            ".leaflet-control, .fr-title-box, .fr-bar button, .fr-position"
        ).all()
        assert len(controls) >= 8
        for selector in ("#fr-sheet-title", ".fr-close"):
            box = _box(v, selector)
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, selector
            assert box["y"] >= 0 and box["y"] + box["height"] <= height, selector
            for control in controls:
                other = control.bounding_box()
                assert other is None or not _overlap(box, other), (selector, control)
            # nothing at all is drawn over it
            assert v.page.evaluate(
                """s => { const e = document.querySelector(s); const r = e.getBoundingClientRect();
                   const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
                   return e === hit || e.contains(hit); }""",
                selector,
            ), selector
        player = _box(v, "#fr-sheet audio")
        assert player["width"] > 150 and player["x"] + player["width"] <= width
        # the map is still there, above the sheet, with the stop in view
        assert _box(v, ".folium-map")["height"] > height * 0.3
        _wait_until_shown(v, 35.5, 12.6)
        v.page.locator(".fr-close").click()
        assert v.page.locator("#fr-stops").is_visible()
        assert v.errors == []
    finally:
        v.close()


def test_keyboard_reaches_the_controls_the_stops_and_the_markers(visit: Visit) -> None:
    page = visit.page
    focused: list[str] = []
    for _ in range(8):  # the title, the story controls, then the list of stops
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.textContent.trim()"))
        if focused[-1] == "1. Sfax":
            break
    assert "Next ›" in focused and "▶ Play the journey" in focused
    assert focused[-1] == "1. Sfax"
    page.keyboard.press("Enter")
    visit.wait_for_stop("1. Sfax")
    # focus moves to the stop's title, so a screen reader reads what opened
    assert page.evaluate("document.activeElement.id") == "fr-sheet-title"
    page.keyboard.press("Escape")
    assert page.locator("#fr-sheet").is_hidden()
    assert page.evaluate("document.activeElement.textContent") == "1. Sfax"
    # each marker is a named button that Enter opens
    marker = page.locator(".leaflet-marker-icon[aria-label='5. Milan']")
    assert marker.get_attribute("tabindex") == "0" and marker.get_attribute("role") == "button"
    marker.focus()
    page.keyboard.press("Enter")
    visit.wait_for_stop("5. Milan")


def test_the_transcript_follows_the_voice_and_a_sentence_seeks(visit: Visit) -> None:
    sheet = visit.open_stop("2. Lampedusa")
    words = sheet.locator(".fr-words")
    words.wait_for(state="visible")
    assert words.get_attribute("lang") == "it"
    sentences = words.locator(".fr-sentence")
    assert sentences.all_inner_texts() == ["Stiamo aspettando.", "La nave arriva."]
    assert sheet.locator(".fr-excerpt").is_hidden()  # the whole transcript replaces it
    sentences.nth(1).click()
    visit.page.wait_for_function(
        "() => { const a = document.querySelector('#fr-sheet audio');"
        " return !a.paused && a.currentTime >= 1.2; }",
        timeout=15000,
    )
    # the word being spoken is lit, in the sentence that was clicked
    visit.page.wait_for_function(
        "() => { const w = document.querySelector('#fr-sheet .fr-word.fr-now');"
        " return w && ['La', 'nave', 'arriva.'].includes(w.textContent); }",
        timeout=15000,
    )
    assert sheet.locator(".fr-word.fr-now").count() == 1
    # by keyboard too: Enter on the first sentence goes back to the start
    sentences.nth(0).focus()
    visit.page.keyboard.press("Enter")
    visit.page.wait_for_function(
        "() => document.querySelector('#fr-sheet audio').currentTime < 1.0", timeout=15000
    )
    visit.page.evaluate("document.querySelector('#fr-sheet audio').pause()")
    assert visit.errors == [] and visit.failed == []


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_axe_finds_no_violations(browser, base: str, size) -> None:  # noqa: ANN001
    v = Visit(browser, base, viewport={"width": size[0], "height": size[1]})
    try:
        assert v.axe() == []  # the list of stops
        v.open_stop("2. Lampedusa")
        v.page.locator(".fr-words .fr-sentence").first.wait_for()
        assert v.axe() == []  # a stop with its player and transcript
    finally:
        v.close()


# --- Dutch ----------------------------------------------------------------------------------------


def test_a_dutch_show_has_a_dutch_map(browser, tmp_path: Path, audio: tuple[Path, Path]) -> None:  # noqa: ANN001
    show = ShowInfo(title="Grens Bereikt!", base_url="https://example.org/show/", language="nl")
    episodes = _episodes(*audio, a="Grens 2022", b="Polen 2021")
    files = render_map(episodes, show, settings=MapSettings(tiles="none"))
    root = mapkit.write_site(files, episodes, tmp_path)
    with mapkit.serve(root) as url:
        v = Visit(browser, url)
        try:
            assert v.page.evaluate("document.documentElement.lang") == "nl"
            listed = page_text(v)
            assert "Volgende" in listed and "14 maart 2022" in listed
            v.open_stop("2. Lampedusa")
            v.page.locator(".fr-words .fr-sentence").first.wait_for()
            opened = page_text(v)
            assert "14 maart 2022 om 10:00" in opened and "Engelse vertaling" in opened
            assert_no_english(listed + "\n" + opened)
            assert v.page.locator(".fr-excerpt").get_attribute("lang") == "it"
            assert v.axe() == []
        finally:
            v.close()
