"""The route map as files: relative URLs, vendored assets, safe text, settings (no browser)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from fieldreports.config import MapSettings, ShowInfo
from fieldreports.errors import SetupError
from fieldreports.geo.gpx import Track, TrackPoint
from maps.popup import for_template_literal, popup_html
from maps.route import render_page
from tests.support import mapkit
from tests.support.mapkit import render_map

SHOW = ShowInfo(title="Border Reached!", base_url="https://example.org/show/")
OFFLINE = MapSettings(tiles="none")
UTC = dt.UTC


@pytest.fixture(scope="module")
def mp3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mapkit.make_mp3(tmp_path_factory.mktemp("audio") / "tone.mp3", seconds=0.3)


def _urls(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]*)"', page)


def test_every_url_is_relative_and_every_asset_is_published(mp3: Path) -> None:
    episodes = mapkit.many_episodes(60, mp3)  # enough to cluster, so the plugin is linked
    files = render_map(episodes, SHOW, settings=OFFLINE)
    keys = {f.key for f in files}
    assert files[0].key == "map/index.html"
    assert all(k.startswith("map/") for k in keys)
    page = (files[0].data or b"").decode()
    assert not re.search(r"https?://", page)
    for url in _urls(page):
        assert not url.startswith(("/", "http:", "https:", "//")), url
        if url.startswith("vendor/"):
            assert f"map/{url}" in keys, url
    # what the vendored CSS itself asks for is published too
    for f in files:
        if f.key.endswith(".css"):
            assert f.source is not None
            for ref in re.findall(r"url\(['\"]?([^'\")]+)", f.source.read_text()):
                if not ref.startswith(("data:", "#")):
                    target = Path(f.key).parent / ref.split("?")[0].split("#")[0]
                    assert str(Path(*_normalise(target.parts))) in keys, (f.key, ref)
    assert "../episodes/stop-0001.mp3" in page
    assert "../transcripts/stop-0001.it.txt" in page and "../transcripts/stop-0001.en.txt" in page


def _normalise(parts: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for part in parts:
        if part == "..":
            out.pop()
        elif part != ".":
            out.append(part)
    return out


def test_assets_have_types_and_long_cache(mp3: Path) -> None:
    files = render_map([mapkit.episode(slug="a", mp3=mp3)], SHOW, settings=OFFLINE)
    by_key = {f.key: f for f in files}
    assert by_key["map/index.html"].content_type.startswith("text/html")
    assert by_key["map/index.html"].cache_control == "public, max-age=300"
    leaflet = by_key["map/vendor/leaflet-1.9.3/leaflet.js"]
    assert (
        leaflet.content_type.startswith("text/javascript") and "immutable" in leaflet.cache_control
    )
    assert (
        by_key["map/vendor/fontawesome-free-6.2.0/webfonts/fa-solid-900.woff2"].content_type
        == "font/woff2"
    )
    assert all(f.source is not None and f.source.is_file() for f in files[1:])


def test_render_is_deterministic(mp3: Path) -> None:
    episodes = mapkit.many_episodes(5, mp3)
    assert render_page(episodes, SHOW, settings=OFFLINE) == render_page(
        episodes, SHOW, settings=OFFLINE
    )


def test_unlocated_episodes_stay_off_the_map(mp3: Path) -> None:
    page = render_page(
        [
            mapkit.episode(slug="here", mp3=mp3),
            mapkit.episode(slug="nowhere", mp3=mp3, lat=None, lon=None),
        ],
        SHOW,
        settings=OFFLINE,
    )
    assert "here.mp3" in page and "nowhere.mp3" not in page
    empty = render_page([], SHOW, settings=OFFLINE)
    assert "L.map(" in empty and "fitBounds" in empty


def test_tiles_settings(mp3: Path) -> None:
    episodes = [mapkit.episode(slug="a", mp3=mp3)]
    osm = render_page(episodes, SHOW, settings=MapSettings())
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in osm
    own = render_page(
        episodes,
        SHOW,
        settings=MapSettings(
            tiles="../tiles/{z}/{x}/{y}.png", attribution="© OpenStreetMap contributors"
        ),
    )
    assert "../tiles/{z}/{x}/{y}.png" in own and not re.search(r"https?://", own)
    with pytest.raises(SetupError, match="attribution"):
        render_page(episodes, SHOW, settings=MapSettings(tiles="https://t.example/{z}/{x}/{y}.png"))
    with pytest.raises(SetupError, match="tiles"):
        render_page(episodes, SHOW, settings=MapSettings(tiles="NoSuchProvider.Anywhere"))


def test_hostile_text_cannot_leave_its_context(mp3: Path) -> None:
    hostile = "<script>alert(1)</script> ${alert(2)} </script> `x` \\`${alert(3)}<!--"
    ep = mapkit.episode(
        slug="h",
        mp3=mp3,
        title=hostile,
        place=hostile,
        reporter=hostile,
        notes=hostile,
        journey=hostile,
    )
    page = render_page([ep], SHOW, settings=OFFLINE)
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", page, flags=re.S)
    body = "".join(scripts)
    assert "alert" in body  # the text is there ...
    for bad in ("${", "`x`", "<script>alert", "<!--"):  # ... but never as code
        assert bad not in body, bad
    # inside the template literals nothing can end the literal or interpolate
    for literal in re.findall(r"\$\(`(.*?)`\)\[0\]", page, flags=re.S):
        assert (
            "`" not in literal and "${" not in literal and "\\" not in literal.replace("<\\/", "")
        )


def test_template_literal_escaping_round_trips() -> None:
    markup = "<p>a $ b ` c \\ d</p>"
    safe = for_template_literal(markup)
    assert "$" not in safe and "`" not in safe and "\\" not in safe.replace("<\\/", "")


def test_sensitive_stop_gets_no_track_and_an_area(mp3: Path) -> None:
    t0 = dt.datetime(2022, 3, 14, 8, tzinfo=UTC)
    episodes = [
        mapkit.episode(slug="a", mp3=mp3, lat=45.0, lon=19.0, when=t0),
        mapkit.episode(
            slug="b", mp3=mp3, lat=45.2, lon=19.4, when=t0 + dt.timedelta(hours=2), sensitive=True
        ),
    ]
    track = Track(
        name="t",
        source=Path("t.gpx"),
        points=(
            TrackPoint(time=t0 + dt.timedelta(minutes=30), lat=45.123456, lon=19.123456),
            TrackPoint(time=t0 + dt.timedelta(minutes=90), lat=45.199999, lon=19.399999),
        ),
    )
    page = render_page(episodes, SHOW, tracks=(track,), settings=OFFLINE)
    assert "45.123456" not in page and "45.199999" not in page
    assert "L.circle(" in page and "fr-area" in page
    # without the sensitive flag the track is followed
    open_page = render_page(
        [
            episodes[0],
            mapkit.episode(slug="b", mp3=mp3, lat=45.2, lon=19.4, when=t0 + dt.timedelta(hours=2)),
        ],
        SHOW,
        tracks=(track,),
        settings=OFFLINE,
    )
    assert "45.123456" in open_page and "L.circle(" not in open_page


def test_popup_without_translation_or_time(mp3: Path) -> None:
    ep = mapkit.episode(slug="p", mp3=mp3, translated=False, notes="", excerpt="")
    html = popup_html(ep, number=4, excerpt_chars=50)
    assert "English translation" not in html and "Full transcript" in html
    assert "fr-excerpt" not in html and "fr-notes" not in html
    assert 'preload="none"' in html and "../episodes/p.mp3" in html


def test_route_ignores_someone_elses_track(mp3: Path) -> None:
    t0 = dt.datetime(2022, 3, 14, 8, tzinfo=UTC)
    episodes = [
        mapkit.episode(slug="a", mp3=mp3, lat=45.0, lon=19.0, when=t0),
        mapkit.episode(slug="b", mp3=mp3, lat=45.2, lon=19.4, when=t0 + dt.timedelta(hours=2)),
    ]
    ours = Track(
        name="ours",
        source=Path("ours.gpx"),
        points=(TrackPoint(time=t0 + dt.timedelta(minutes=40), lat=45.111111, lon=19.111111),),
    )
    # logged at the same time by another team in Lampedusa
    theirs = Track(
        name="theirs",
        source=Path("theirs.gpx"),
        points=tuple(
            TrackPoint(time=t0 + dt.timedelta(minutes=m), lat=35.5 + m / 1000, lon=12.6)
            for m in range(10, 110, 10)
        ),
    )
    page = render_page(episodes, SHOW, tracks=(theirs, ours), settings=OFFLINE)
    assert "45.111111" in page
    assert "35.51" not in page


def test_title_box_and_noscript_list(mp3: Path) -> None:
    show = ShowInfo(title="Border <b>Reached</b> ${x}", base_url="https://example.org/")
    episodes = [mapkit.episode(slug="a", mp3=mp3, title="Harbour <i>", place="Lampedusa")]
    page = render_page(episodes, show, settings=OFFLINE)
    assert (
        '<div class="fr-title-box"><a href="../">Border &lt;b&gt;Reached&lt;/b&gt; $&#123;x&#125;</a></div>'
        in page
    )
    noscript = page[page.index("<noscript>") : page.index("</noscript>")]
    assert (
        '<a href="../episodes/a.mp3">Harbour &lt;i&gt;</a> (Lampedusa, 14 March 2022, 09:40)'
        in noscript
    )


def test_impossible_coordinates_are_left_off_not_fatal(
    mp3: Path, caplog: pytest.LogCaptureFixture
) -> None:
    episodes = [
        mapkit.episode(slug="ok", mp3=mp3),
        mapkit.episode(slug="bad", mp3=mp3, lat=float("nan"), lon=12.0),
        mapkit.episode(slug="far", mp3=mp3, lat=95.0, lon=12.0),
    ]
    page = render_page(episodes, SHOW, settings=OFFLINE)
    assert page.count("L.marker(") == 1
    assert "bad: left off the map" in caplog.text and "far: left off the map" in caplog.text


def test_jinja_in_field_text_is_not_evaluated(mp3: Path) -> None:
    """branca re-renders every script as a Jinja template: braces from the field must not reach it."""
    payload = (
        "{{ 7*7 }} {% if true %}yes{% endif %} {# x {{ cycler.__init__.__globals__.os.getcwd() }}"
    )
    show = ShowInfo(title=f"S {payload}", base_url="https://example.org/")
    ep = mapkit.episode(
        slug="j",
        mp3=mp3,
        title=payload,
        notes=payload,
        place=payload,
        reporter=payload,
        journey=payload,
        excerpt=payload,
    )
    page = render_page(
        [ep],
        show,
        settings=MapSettings(tiles="../t/{z}/{x}/{y}.png", attribution=f"© us {payload}"),
    )
    assert "49 yes" not in page and str(Path.cwd()) not in page
    assert not re.search(r"\{\{|\{%|\{#", page.split("<body>")[1])
    assert page.count("&#123;&#123; 7*7 &#125;&#125;") >= 8  # every place it lands
    with pytest.raises(SetupError, match="single braces"):
        render_page(
            [ep], show, settings=MapSettings(tiles="../t/{{z}}/{x}/{y}.png", attribution="x")
        )


def test_page_links_only_published_files(mp3: Path) -> None:
    """Every <script src> and <link href> names a file render_map returns (as the e2e test checks)."""
    files = render_map([mapkit.episode(slug="a", mp3=mp3)], SHOW, settings=OFFLINE)
    keys = {f.key for f in files}
    page = (files[0].data or b"").decode()
    links = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)
    assert "icon.svg" in links
    for src in links:
        assert f"map/{src}" in keys, src


def test_no_track_of_any_journey_is_drawn_through_a_sensitive_area(tmp_path: Path) -> None:
    def t(h: int, m: int = 0) -> dt.datetime:
        return dt.datetime(2022, 3, 14, h, m, tzinfo=dt.UTC)

    mp3 = mapkit.make_mp3(tmp_path / "a.mp3")
    safe_house = (52.123456, 23.654321)  # a sensitive report's exact point, in another journey
    stops = [
        mapkit.episode(slug="a", mp3=mp3, journey="A", lat=52.10, lon=23.60, when=t(10)),
        mapkit.episode(slug="b", mp3=mp3, journey="A", lat=52.15, lon=23.70, when=t(14)),
        mapkit.episode(
            slug="c",
            mp3=mp3,
            journey="B",
            lat=52.14,
            lon=23.66,
            when=t(12),
            sensitive=True,
            accuracy_m=3000,
        ),
    ]
    points = [TrackPoint(time=t(10, 1), lat=52.10, lon=23.60)]
    points += [
        TrackPoint(time=t(11, m), lat=52.10 + m * 0.0004, lon=23.60 + m * 0.0009)
        for m in range(1, 59)
    ]
    points += [
        TrackPoint(time=t(12, m), lat=safe_house[0], lon=safe_house[1]) for m in range(0, 59, 5)
    ]
    points += [TrackPoint(time=t(13, 59), lat=52.15, lon=23.70)]
    track = Track(name="walk", source=Path("walk.gpx"), points=tuple(points))
    page = render_page(
        stops,
        ShowInfo(title="s", base_url="https://e.org/"),
        tracks=[track],
        settings=MapSettings(tiles="none"),
    )
    assert "52.123456" not in page and "23.654321" not in page
    # Away from the sensitive area, the walk is still drawn along the track.
    assert "52.1004" in page or "52.10040" in page
