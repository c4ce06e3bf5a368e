"""Shared by the map tests and benchmarks/map.py: episodes for the map, a local web server, Chromium.

Episodes are built directly (not through the pipeline) around one tiny real MP3, so the popups'
audio players have something to play.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import http.server
import shutil
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from episodes.episode import Episode, MediaFile, TranscriptFile
from episodes.site.files import SiteFile
from fieldreports.audio.results import Loudness
from fieldreports.config import MapSettings, ShowInfo
from fieldreports.geo import PublicLocation
from fieldreports.geo.gpx import Track
from maps.assets import map_files
from maps.route import render_page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",
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
    reporter: str = "Ada Reporter",
    sensitive: bool = False,
    accuracy_m: float | None = None,
    language: str = "it",
    translated: bool = True,
    excerpt: str = "Stiamo aspettando al porto, la nave arriva stasera.",
    number: int | None = None,
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
        duration_s=1.0,
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
    """`count` stops spread along a line from Sfax to the Polish border, a few hours apart."""
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
