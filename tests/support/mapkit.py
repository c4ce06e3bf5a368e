"""Shared by the map and page tests and benchmarks/map.py: episodes for the map, a local web
server, Chromium, a page visit that records everything that goes wrong, and axe-core.

Episodes are built directly (not through the pipeline) around one tiny real MP3, so the stops'
audio players have something to play.

Give `page.wait_for_function` a function ("() => ..."), never a bare expression: Playwright
re-evaluates a bare expression with `eval` on every poll, which our pages' Content-Security-Policy
(no 'unsafe-eval') refuses, so the wait fails whenever its first check is false.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import http.server
import json
import re
import shutil
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from episodes.episode import Episode, MediaFile, TranscriptFile
from episodes.site.files import SiteFile
from fieldreports.audio.results import Loudness
from fieldreports.config import MapSettings, ShowInfo
from fieldreports.geo import PublicLocation
from fieldreports.geo.gpx import Track
from maps.assets import map_files
from maps.route import render_page
from tests.support import ROOT, unavailable

CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"  # `npm ci` (make install) puts it there
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",
    # Chromium's own test microphone (a beep), allowed without asking: the station's upload page
    # records with it (tests/episodes/station). Nothing else asks for a microphone.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
)
UTC = dt.UTC


def make_mp3(out: Path, *, seconds: float = 1.0) -> Path:
    """A short real MP3 (a 440 Hz tone) made by ffmpeg."""
    from tests.support import audio as audiogen

    audiogen.require("ffmpeg")
    audiogen.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:duration={seconds}",
            "-ac",
            "1",
            "-b:a",
            "64k",
            str(out),
        ]
    )
    return out


def episode(
    *,
    slug: str,
    mp3: Path,
    title: str = "",
    journey: str = "Border Reached! 2022",
    lat: float | None = 35.5,
    lon: float | None = 12.6,
    when: dt.datetime | None = None,
    notes: str = "",
    place: str = "Lampedusa",
    reporter: str = "Ada Rossi",
    sensitive: bool = False,
    accuracy_m: float | None = None,
    language: str = "it",
    translated: bool = True,
    excerpt: str = "Stiamo aspettando al porto, la nave arriva stasera.",
    number: int | None = None,
    words: Sequence[tuple[float, float, str]] = (),
    duration_s: float = 1.0,
) -> Episode:
    """One publishable episode; its files are keyed like the publishing stage keys them."""
    base = "https://example.org/show/"
    when = when or dt.datetime(2022, 3, 14, 9, 40, tzinfo=UTC)
    audio = MediaFile(
        key=f"episodes/{slug}.mp3",
        url=f"{base}episodes/{slug}.mp3",
        source=mp3,
        size_bytes=mp3.stat().st_size,
        content_type="audio/mpeg",
        sha256="0" * 64,
    )
    master = MediaFile(
        key=f"masters/{slug}.wav",
        url=f"{base}masters/{slug}.wav",
        source=mp3,
        size_bytes=mp3.stat().st_size,
        content_type="audio/wav",
        sha256="0" * 64,
    )
    transcripts = [
        TranscriptFile(
            key=f"transcripts/{slug}.{language}.txt",
            url=f"{base}transcripts/{slug}.{language}.txt",
            fmt="txt",
            content_type="text/plain",
            language=language,
            translated=False,
            data=excerpt.encode(),
        ),
        TranscriptFile(
            key=f"transcripts/{slug}.{language}.vtt",
            url=f"{base}transcripts/{slug}.{language}.vtt",
            fmt="vtt",
            content_type="text/vtt",
            language=language,
            translated=False,
            data=b"WEBVTT\n\n00:00.000 --> 00:01.000\n" + excerpt.encode() + b"\n",
        ),
    ]
    if words:  # the Podcasting 2.0 JSON, one word a segment, as Whisper's word times give it
        segments = [{"startTime": a, "endTime": b, "body": w} for a, b, w in words]
        transcripts.append(
            TranscriptFile(
                key=f"transcripts/{slug}.{language}.json",
                url=f"{base}transcripts/{slug}.{language}.json",
                fmt="json",
                content_type="application/json",
                language=language,
                translated=False,
                data=json.dumps({"version": "1.0.0", "segments": segments}).encode(),
            )
        )
    if translated:
        transcripts.append(
            TranscriptFile(
                key=f"transcripts/{slug}.en.txt",
                url=f"{base}transcripts/{slug}.en.txt",
                fmt="txt",
                content_type="text/plain",
                language="en",
                translated=True,
                data=b"We are waiting at the harbour.",
            )
        )
    loud = Loudness(integrated_lufs=-16.0, true_peak_dbtp=-1.5, range_lu=3.0)
    return Episode(
        guid=f"guid-{slug}",
        slug=slug,
        title=title or slug.replace("-", " "),
        notes_markdown=notes,
        journey=journey,
        reporter=reporter,
        tags=(),
        explicit=False,
        language=language,
        published_at=when,
        recorded_at=when,
        season=None,
        number=number,
        duration_s=duration_s,
        audio=audio,
        master=master,
        transcripts=tuple(transcripts),
        transcript_excerpt=excerpt,
        location=PublicLocation(
            lat=lat,
            lon=lon,
            accuracy_m=accuracy_m,
            name=place,
            country_code="",
            sensitive=sensitive,
            source="notes",
        )
        if lat is not None and lon is not None
        else None,
        podcast_loudness=loud,
        master_loudness=loud,
    )


def many_episodes(count: int, mp3: Path, *, journeys: int = 2) -> list[Episode]:
    """`count` stops spread along a line from Sfax to the Polish border, a few hours apart,
    numbered within their journey as the numbering stage would."""
    start = dt.datetime(2022, 3, 1, 8, 0, tzinfo=UTC)
    out = []
    for i in range(count):
        f = i / max(count - 1, 1)
        out.append(
            episode(
                slug=f"stop-{i:04d}",
                mp3=mp3,
                title=f"Stop {i}",
                journey=f"Journey {i % journeys + 1}",
                lat=34.74 + f * (52.1 - 34.74),
                lon=10.76 + f * (23.6 - 10.76),
                when=start + dt.timedelta(hours=3 * i),
                place=f"Place {i}",
                notes=f"Notes for **stop {i}**: the queue, the weather, the *border*.",
                number=i // journeys + 1,
            )
        )
    return out


def write_site(files: Sequence[SiteFile], episodes: Sequence[Episode], root: Path) -> Path:
    """The map's files plus each episode's MP3 and transcripts, laid out as published."""
    for f in files:
        target = root / f.key
        target.parent.mkdir(parents=True, exist_ok=True)
        if f.data is not None:
            target.write_bytes(f.data)
        else:
            assert f.source is not None
            shutil.copyfile(f.source, target)
    for ep in episodes:
        target = root / ep.audio.key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ep.audio.source, target)
        for t in ep.transcripts:
            (root / t.key).parent.mkdir(parents=True, exist_ok=True)
            (root / t.key).write_bytes(t.data)
    return root


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve `root` on a free localhost port in a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def block_outside(page, allowed_prefix: str, blocked: list[str]) -> None:  # noqa: ANN001
    """Abort every request that does not go to our own server, and note it."""

    def handle(route, request) -> None:  # noqa: ANN001
        if request.url.startswith(allowed_prefix) or request.url.startswith("data:"):
            route.continue_()
        else:
            blocked.append(request.url)
            route.abort()

    page.route("**/*", handle)


def render_map(
    episodes: Sequence[Episode],
    show: ShowInfo,
    *,
    tracks: Sequence[Track] = (),
    settings: MapSettings,
) -> tuple[SiteFile, ...]:
    """The map's files as publishing gets them: the page (rendered now) and its assets."""
    return map_files(render_page(episodes, show, tracks=tracks, settings=settings).encode())


FIND_MAP = "Object.values(window).find(v => v instanceof L.Map)"  # folium's L.Map, by any name


class Visit:
    """A page in its own browser context with everything that can go wrong recorded: requests
    outside our server (blocked), failed requests, console errors, page errors and dialogs."""

    def __init__(
        self,
        browser: Any,
        base: str,
        path: str = "map/index.html",
        *,
        viewport: dict[str, int] | None = None,
        wait_for_map: bool = True,
    ) -> None:
        self.base = base
        self.context = browser.new_context(viewport=viewport or {"width": 1280, "height": 800})
        self.page = self.context.new_page()
        self.blocked: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url} {r.failure}"))
        self.page.on(
            "response", lambda r: r.status >= 400 and self.failed.append(f"{r.url} {r.status}")
        )

        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        self.page.on("dialog", on_dialog)
        block_outside(self.page, base, self.blocked)
        self.page.goto(base + path, wait_until="load")
        if wait_for_map:
            self.page.wait_for_function(
                "() => window.fieldreportsStory && window.fieldreportsStory.ready"
            )

    @property
    def sheet(self) -> Any:
        """The open stop's content (title, player, transcript, notes)."""
        return self.page.locator("#fr-sheet")

    def open_stop(self, stop: int | str, nth: int = 0) -> Any:
        """Click the marker with this number (the `nth` such) or this label ("2. Lampedusa");
        returns the open sheet."""
        if isinstance(stop, str):
            marker = self.page.locator(f".leaflet-marker-icon[aria-label={json.dumps(stop)}]")
        else:
            markers = self.page.locator(
                ".leaflet-marker-pane .fr-stop", has_text=re.compile(f"^{stop}$")
            )
            marker = markers.nth(nth)
        marker.click()
        self.page.locator("#fr-sheet:not([hidden])").wait_for(state="visible")
        return self.sheet

    def wait_for_stop(self, label: str) -> None:
        """Until the sheet shows the stop labelled `label` ("2. Lampedusa")."""
        self.page.wait_for_function(
            "label => !document.getElementById('fr-sheet').hidden && "
            "document.getElementById('fr-sheet-title').textContent === label",
            arg=label,
            timeout=15000,
        )

    def axe(self) -> list[dict[str, Any]]:
        """axe-core's violations of impact moderate, serious or critical on the page as it is."""
        return axe_violations(self.page)

    def close(self) -> None:
        self.context.close()


# Leaflet's own English, which the page must replace or leave out.
LEAFLET_ENGLISH = ("Zoom in", "Zoom out", "Layers", "A JavaScript library for interactive maps")


def english_words() -> set[str]:
    """Words of our English interface text that the Dutch catalog never uses."""
    from episodes.i18n import catalog_messages

    dutch = " ".join(s for _, s, _ in catalog_messages("nl"))
    dutch = re.sub(r"\{\w*\}", " ", dutch).casefold()
    words: set[str] = set()
    for msgid, _, _ in catalog_messages("en"):
        for word in re.findall(r"[A-Za-z]{3,}", re.sub(r"\{\w*\}", " ", str(msgid))):
            if not re.search(rf"\b{word.casefold()}\b", dutch):
                words.add(word)
    return words


def page_text(v: Visit) -> str:
    """What a visitor reads or hears: the text, the title and every label."""
    return v.page.evaluate(
        """() => [document.title, document.body.innerText,
            ...[...document.querySelectorAll('[aria-label], [title], [alt], [placeholder]')]
                .flatMap(e => ['aria-label', 'title', 'alt', 'placeholder']
                    .map(a => e.getAttribute(a) || ''))].join('\\n')"""
    )


def assert_no_english(text: str) -> None:
    words = english_words()
    assert {"Next", "Previous", "Close", "Stops", "journey"} <= words
    found = sorted(w for w in words if re.search(rf"\b{w}\b", text, re.IGNORECASE))
    assert found == [], found
    for phrase in LEAFLET_ENGLISH:
        assert phrase not in text


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Runs axe-core (from npm, injected into the page) with its default rules."""
    if not AXE.is_file():
        unavailable(f"needs {AXE} (make install runs npm ci)")
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => (await axe.run(document)).violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(' ') + ' ' + n.html.slice(0, 120))}))"""
    )
    return [v for v in found if v["impact"] in ("moderate", "serious", "critical")]


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium through playwright (`unavailable` when it is missing)."""
    from playwright import sync_api

    if not CHROMIUM.exists():
        unavailable(f"needs {CHROMIUM} (make test installs it)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()
