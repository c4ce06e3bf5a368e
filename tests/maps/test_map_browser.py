"""The route map opened in real Chromium (playwright), served over HTTP, external network blocked.

Story mode (next, previous, addresses, playing a journey, the phone layout) is in
test_story_browser.py."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from fieldreports.config import MapSettings, ShowInfo
from fieldreports.geo.gpx import Track, TrackPoint
from tests.support import mapkit
from tests.support.mapkit import FIND_MAP, Visit, render_map

SHOW = ShowInfo(title="Border Reached! <i>test</i>", base_url="https://example.org/show/")
HOSTILE = "<script>alert(1)</script> ${alert(2)} </script> `tick` \\x3cb\\x3e {{ 7*7 }}"
UTC = dt.UTC


def _t(hour: int) -> dt.datetime:
    return dt.datetime(2022, 3, 14, hour, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def mp3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mapkit.make_mp3(tmp_path_factory.mktemp("audio") / "tone.mp3")


@pytest.fixture(scope="module")
def episodes(mp3: Path) -> list:
    return [
        mapkit.episode(slug="sfax", mp3=mp3, lat=34.74, lon=10.76, when=_t(8), place="Sfax"),
        mapkit.episode(
            slug="lampedusa",
            mp3=mp3,
            lat=35.50,
            lon=12.60,
            when=_t(12),
            place="Lampedusa",
            notes="We **wait**.\n\n- one\n- two",
        ),
        # hostile text in title, place, reporter and notes; recorded last in this journey
        mapkit.episode(
            slug="hostile",
            mp3=mp3,
            lat=37.5,
            lon=15.1,
            when=_t(18),
            title=HOSTILE,
            place=HOSTILE,
            reporter=HOSTILE,
            notes=f"{HOSTILE}\n\n<img src=x onerror=alert(3)> [x](javascript:alert(4))",
        ),
        # coarsened: drawn as an area
        mapkit.episode(
            slug="border",
            mp3=mp3,
            lat=52.1,
            lon=23.6,
            when=_t(20),
            journey="Poland 2021 <img src=x onerror=alert(5)>",
            place="Podlasie",
            sensitive=True,
            accuracy_m=10_000,
            translated=False,
        ),
        mapkit.episode(
            slug="bihac",
            mp3=mp3,
            lat=44.81,
            lon=15.87,
            when=_t(22),
            journey="Poland 2021 <img src=x onerror=alert(5)>",
            place="Bihać",
        ),
        mapkit.episode(slug="nowhere", mp3=mp3, lat=None, lon=None, when=_t(23)),
    ]


@pytest.fixture(scope="module")
def track() -> Track:
    # between Sfax (08:00) and Lampedusa (12:00): a detour through three points
    points = tuple(
        TrackPoint(time=_t(h).replace(minute=30), lat=lat, lon=lon)
        for h, lat, lon in ((8, 34.9, 11.2), (9, 35.1, 11.6), (10, 35.4, 12.4))
    )
    return Track(name="boat", source=Path("boat.gpx"), points=points)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, episodes: list, track: Track) -> Path:
    files = render_map(episodes, SHOW, tracks=(track,), settings=MapSettings(tiles="none"))
    return mapkit.write_site(files, episodes, tmp_path_factory.mktemp("site"))


@pytest.fixture
def visit(browser, site: Path):  # noqa: ANN001
    with mapkit.serve(site) as base:
        v = Visit(browser, base)
        yield v
        v.close()


def test_offline_map_loads_with_no_failed_request_and_no_console_error(visit: Visit) -> None:
    visit.page.wait_for_timeout(300)
    assert visit.blocked == []
    assert visit.failed == []
    assert visit.errors == []
    assert visit.dialogs == []


def test_one_marker_per_located_episode(visit: Visit, episodes: list) -> None:
    located = [e for e in episodes if e.location is not None]
    assert visit.page.locator(".leaflet-marker-pane > *").count() == len(located) == 5
    numbers = visit.page.locator(".leaflet-marker-pane .fr-stop").all_inner_texts()
    assert sorted(numbers) == ["1", "1", "2", "2", "3"]  # numbered in time order per journey


def test_route_follows_the_track_where_there_is_one(visit: Visit) -> None:
    assert visit.page.locator("path.fr-route").count() == 2  # one per journey
    lengths = visit.page.evaluate(
        f"""() => {{ const out = []; {FIND_MAP}.eachLayer(l => {{
              if (l instanceof L.Polyline && !(l instanceof L.Polygon) && l.options.className === 'fr-route')
                  out.push(l.getLatLngs().map(p => [p.lat, p.lng])); }}); return out; }}"""
    )
    by_size = sorted(lengths, key=len)
    # journey 2: stop to stop (the sensitive stop allows no track); journey 1: 3 stops + 3 points
    assert len(by_size[0]) == 2
    assert len(by_size[1]) == 6
    assert by_size[1][0] == [34.74, 10.76] and by_size[1][1] == [34.9, 11.2]
    assert by_size[1][-1] == [37.5, 15.1]


def test_sensitive_stop_is_an_area_not_a_pin(visit: Visit) -> None:
    assert visit.page.locator("path.fr-area-circle").count() == 1
    area_labels = visit.page.locator(".leaflet-marker-pane .fr-stop.fr-area")
    assert area_labels.count() == 1
    assert visit.page.locator(".leaflet-marker-pane img").count() == 0  # no pin images at all


def test_stop_has_a_playable_audio_player_and_transcript_links(visit: Visit) -> None:
    popup = visit.open_stop(2)  # Lampedusa, 2nd stop of the first journey
    assert "Lampedusa" in popup.inner_text()
    assert "Ada Rossi" in popup.inner_text()
    assert "14 March 2022" in popup.inner_text()
    assert popup.locator("blockquote.fr-excerpt").inner_text().startswith("Stiamo aspettando")
    assert popup.locator(".fr-notes strong").inner_text() == "wait"
    audio = popup.locator("audio")
    assert audio.get_attribute("preload") == "none"
    result = visit.page.evaluate(
        """async () => {
            const audio = document.querySelector('#fr-sheet audio');
            const response = await fetch(audio.currentSrc || audio.src);
            await audio.play();
            await new Promise(r => setTimeout(r, 300));
            return {status: response.status, type: response.headers.get('content-type'),
                    src: audio.src, time: audio.currentTime, canPlay: audio.canPlayType('audio/mpeg')};
        }"""
    )
    assert result["status"] == 200 and result["type"] == "audio/mpeg"
    assert result["src"].endswith("/episodes/lampedusa.mp3")
    assert result["time"] > 0  # it really played
    links = popup.locator(".fr-links a")
    assert links.all_inner_texts() == ["Full transcript", "English translation"]
    for href in (links.nth(0).get_attribute("href"), links.nth(1).get_attribute("href")):
        status = visit.page.evaluate(
            "async h => (await fetch(new URL(h, location.href))).status", href
        )
        assert status == 200
    assert visit.failed == [] and visit.errors == []


def test_hostile_text_is_shown_as_text_and_runs_nothing(visit: Visit) -> None:
    popup = visit.open_stop(3)
    title = popup.locator("h2").inner_text()
    assert title == f"3. {HOSTILE}"
    assert (
        popup.locator(".fr-place").inner_text() == HOSTILE + " (approximate area)"
        or popup.locator(".fr-place").inner_text() == HOSTILE
    )
    notes = popup.locator(".fr-notes")
    assert "<script>alert(1)</script>" in notes.inner_text()
    assert "${alert(2)}" in notes.inner_text()
    assert "<img src=x onerror=alert(3)>" in notes.inner_text()
    assert popup.locator("script, img, [onerror]").count() == 0
    assert popup.locator("a[href^='javascript']").count() == 0
    # the journey's hostile name is text in the layer control too
    visit.page.locator(".leaflet-control-layers").hover()
    assert (
        "Poland 2021 <img src=x onerror=alert(5)>"
        in visit.page.locator(".leaflet-control-layers-overlays").inner_text()
    )
    # and in the tooltip
    visit.page.locator(".leaflet-marker-pane .fr-stop", has_text=re.compile("^3$")).hover()
    assert HOSTILE in visit.page.locator(".leaflet-tooltip").inner_text()
    visit.page.wait_for_timeout(200)
    assert visit.dialogs == []
    assert visit.errors == []
    assert visit.page.title() == "Border Reached! <i>test</i>: route map"


def test_markers_cluster_when_stops_crowd(browser, tmp_path: Path, mp3: Path) -> None:  # noqa: ANN001
    crowd = mapkit.many_episodes(120, mp3, journeys=1)
    files = render_map(crowd, SHOW, settings=MapSettings(tiles="none", cluster_min_stops=40))
    root = mapkit.write_site(files, crowd, tmp_path)
    with mapkit.serve(root) as base:
        v = Visit(browser, base)
        try:
            # every stop is either a visible marker or counted inside a cluster, once the
            # clusters have finished animating in
            v.page.wait_for_function(
                """() => {
                    const pane = document.querySelector('.leaflet-marker-pane');
                    const inClusters = [...pane.querySelectorAll('.marker-cluster')]
                        .reduce((n, c) => n + parseInt(c.innerText, 10), 0);
                    return inClusters + pane.querySelectorAll('.fr-stop').length === 120;
                }""",
                timeout=15000,
            )
            assert v.page.locator(".leaflet-marker-pane .marker-cluster").count() > 1
            assert v.failed == [] and v.errors == [] and v.blocked == []
        finally:
            v.close()


def test_blocked_tiles_leave_borders_and_route(browser, tmp_path: Path, episodes: list) -> None:  # noqa: ANN001
    """With the default OpenStreetMap tiles and no network only tile images fail to load."""
    files = render_map(episodes, SHOW, settings=MapSettings())
    root = mapkit.write_site(files, episodes, tmp_path)
    with mapkit.serve(root) as base:
        v = Visit(browser, base)
        try:
            v.page.wait_for_timeout(500)
            assert v.blocked, "the tile layer asked for no tiles"
            assert all(u.startswith("https://tile.openstreetmap.org/") for u in v.blocked)
            assert all("tile.openstreetmap.org" in f for f in v.failed)
            assert [e for e in v.errors if "Failed to load resource" not in e] == []
            assert v.page.locator(".leaflet-fr-borders-pane path").count() == 1
            assert v.page.locator("path.fr-route").count() == 2
        finally:
            v.close()


def test_journeys_are_switchable_layers(visit: Visit) -> None:
    visit.page.locator(".leaflet-control-layers").hover()
    boxes = visit.page.locator(".leaflet-control-layers-overlays input[type=checkbox]")
    assert boxes.count() == 2
    boxes.nth(1).uncheck()  # the second journey: two stops
    assert visit.page.locator(".leaflet-marker-pane > *").count() == 3
    assert visit.page.locator("path.fr-route").count() == 1
    boxes.nth(1).check()
    assert visit.page.locator(".leaflet-marker-pane > *").count() == 5


def test_map_works_opened_from_disk(browser, site: Path) -> None:  # noqa: ANN001
    """Relative URLs and a script (not fetch) for the borders: file:// works too."""
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    blocked: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    mapkit.block_outside(page, "file://", blocked)
    try:
        page.goto((site / "map" / "index.html").as_uri(), wait_until="load")
        assert page.locator(".leaflet-marker-pane > *").count() == 5
        assert page.locator(".leaflet-fr-borders-pane path").count() == 1
        assert errors == [] and blocked == []
    finally:
        context.close()


def test_stops_at_one_place_stay_reachable(browser, tmp_path: Path, mp3: Path) -> None:  # noqa: ANN001
    """Two reports from the same harbour: a cluster of 2 that spreads out when clicked."""
    same = [
        mapkit.episode(slug="first", mp3=mp3, lat=35.5, lon=12.6, when=_t(9)),
        mapkit.episode(slug="second", mp3=mp3, lat=35.5, lon=12.6, when=_t(10)),
        mapkit.episode(slug="elsewhere", mp3=mp3, lat=37.5, lon=15.1, when=_t(11)),
    ]
    root = mapkit.write_site(
        render_map(same, SHOW, settings=MapSettings(tiles="none")), same, tmp_path
    )
    with mapkit.serve(root) as base:
        v = Visit(browser, base)
        try:
            cluster = v.page.locator(".leaflet-marker-pane .marker-cluster")
            v.page.wait_for_function(  # once the clusters have finished animating in
                "() => document.querySelectorAll('.leaflet-marker-pane .marker-cluster').length === 1",
                timeout=15000,
            )
            assert cluster.inner_text() == "2"
            assert v.page.locator(".leaflet-marker-pane .fr-stop").count() == 1
            cluster.click()  # zooms to the closest zoom, then spreads the two markers
            v.page.wait_for_function(
                "() => document.querySelectorAll('.leaflet-marker-pane .fr-stop').length >= 2",
                timeout=15000,
            )
            v.page.locator(".leaflet-marker-pane .fr-stop", has_text=re.compile("^2$")).click()
            v.wait_for_stop("2. second")
            assert "second" in v.sheet.inner_text()
            assert v.errors == [] and v.failed == []
        finally:
            v.close()
