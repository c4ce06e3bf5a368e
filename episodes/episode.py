"""make_episode: a report, mastered, transcribed and located, becomes a publishable Episode.

An Episode is the one record the feed, the map, the home page and partners.json read. Its files
are keyed by the report's slug, so a re-mastered or re-transcribed report replaces its own files
and keeps its URLs; its GUID comes from the catalog, stored once per report, and never changes.

Keys under the site root:

    episodes/<slug>.mp3               the podcast MP3 with clean ID3 tags
    masters/<slug>.wav                the broadcast master for radio partners
    transcripts/<slug>.<lang>.<fmt>   each transcript format (and an English translation)
    chapters/<slug>.json              Podcasting 2.0 chapters, written by publish.build_site
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from fieldreports.audio.master import AudioTags, MasteredAudio, write_tags
from fieldreports.config import ShowInfo
from fieldreports.digest import file_sha256
from fieldreports.geo.locate import Location
from fieldreports.intake.inbox import FieldReport
from fieldreports.times import as_aware
from fieldreports.transcription.formats import FORMATS, render
from fieldreports.transcription.whisper import Transcript

log = logging.getLogger(__name__)

EXCERPT_CHARS = 280


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaFile:
    """A local file and where it will be published."""

    key: str
    url: str
    source: Path
    size_bytes: int
    content_type: str
    sha256: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptFile:
    """One rendered transcript (or its English translation) and where it will be published."""

    key: str
    url: str
    fmt: str  # "vtt", "srt", "json" or "txt"
    content_type: str
    language: str
    translated: bool
    data: bytes
    # How the spoken language was settled ("hint", "detected"...) and Whisper's confidence.
    language_source: str = ""
    language_probability: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Episode:
    """Everything the feed, the map, the home page and partners.json say about one report."""

    guid: str
    report_id: str
    slug: str
    title: str
    notes_markdown: str
    journey: str
    reporter: str
    tags: tuple[str, ...]
    explicit: bool
    language: str
    published_at: dt.datetime  # timezone-aware
    recorded_at: dt.datetime | None  # timezone-aware
    season: int | None
    number: int | None
    duration_s: float
    audio: MediaFile  # the podcast MP3
    master: MediaFile  # the broadcast WAV
    transcripts: tuple[TranscriptFile, ...]
    transcript_excerpt: str
    location: Location
    mastered: MasteredAudio
    # Transcript segments as (start_s, end_s, text), kept for chapters; empty when untranscribed.
    segments: tuple[tuple[float, float, str], ...] = ()
    # Publishable (start_s, lat, lon) along the route while recording, for chapter waypoints;
    # empty means every chapter sits at the location's public point.
    waypoints: tuple[tuple[float, float, float], ...] = ()

    @property
    def chapters_key(self) -> str:
        return chapters_key(self.slug)


def audio_key(slug: str) -> str:
    return f"episodes/{slug}.mp3"


def master_key(slug: str) -> str:
    return f"masters/{slug}.wav"


def chapters_key(slug: str) -> str:
    return f"chapters/{slug}.json"


def transcript_key(slug: str, language: str, fmt: str) -> str:
    """
    >>> transcript_key("lampedusa-harbour", "it", "vtt")
    'transcripts/lampedusa-harbour.it.vtt'
    """
    return f"transcripts/{slug}.{language or 'und'}.{fmt}"


def join_url(base_url: str, key: str) -> str:
    """
    >>> join_url("https://example.org/show", "episodes/a.mp3")
    'https://example.org/show/episodes/a.mp3'
    >>> join_url("https://example.org/show/", "feed.xml")
    'https://example.org/show/feed.xml'
    """
    return base_url.rstrip("/") + "/" + key


def excerpt(text: str, max_chars: int = EXCERPT_CHARS) -> str:
    """The start of `text`, cut at a word boundary, with an ellipsis when cut.

    >>> excerpt("ask not what your country can do for you", 20)
    'ask not what your…'
    >>> excerpt("  short  ", 20)
    'short'
    """
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.") + "…"


def media_file(source: Path, *, key: str, base_url: str, content_type: str) -> MediaFile:
    sha256, size = file_sha256(source)
    return MediaFile(
        key=key,
        url=join_url(base_url, key),
        source=source,
        size_bytes=size,
        content_type=content_type,
        sha256=sha256,
    )


def make_episode(
    report: FieldReport,
    mastered: MasteredAudio,
    transcripts: Sequence[Transcript],
    location: Location,
    *,
    guid: str,
    season: int | None,
    number: int | None,
    published_at: dt.datetime,
    show: ShowInfo,
    staging_dir: Path,
    base_url: str = "",
    artwork: Path | None = None,
    recorded_at: dt.datetime | None = None,
    waypoints: Sequence[tuple[float, float, float]] = (),
) -> Episode:
    """Stage the tagged MP3, render the transcripts and compute every key and URL.

    `base_url` is where the site is served (the storage's public base URL); the show's
    base_url when empty. `artwork` is embedded in the MP3's tags when given.
    """
    if published_at.tzinfo is None:
        raise ValueError("published_at must be timezone-aware")
    base_url = base_url or show.site_url
    notes = report.notes
    slug = report.id
    # The caller may know better than the notes (the recording's own creation-time tag).
    recorded_at = recorded_at or notes.recorded_at
    recorded_at = as_aware(recorded_at, show.timezone) if recorded_at else None

    staged = staging_dir / audio_key(slug)
    staged.parent.mkdir(parents=True, exist_ok=True)
    tmp = staged.with_name(staged.name + ".tmp")
    shutil.copyfile(mastered.podcast_mp3, tmp)
    write_tags(
        tmp,
        AudioTags(
            title=notes.title,
            show=show.title,
            artist=notes.reporter or show.author,
            episode=number,
            season=season,
            year=(recorded_at or published_at).year,
            artwork=artwork,
        ),
    )
    tmp.replace(staged)

    spoken = next((t for t in transcripts if t.task != "translate"), None)
    language = (spoken.language if spoken else "") or notes.language or show.language
    return Episode(
        guid=guid,
        report_id=report.id,
        slug=slug,
        title=notes.title,
        notes_markdown=notes.body,
        journey=notes.journey,
        reporter=notes.reporter,
        tags=tuple(notes.tags),
        explicit=notes.explicit,
        language=language,
        published_at=published_at,
        recorded_at=recorded_at,
        season=season,
        number=number,
        duration_s=mastered.duration_s,
        audio=media_file(staged, key=audio_key(slug), base_url=base_url, content_type="audio/mpeg"),
        master=media_file(
            mastered.master_wav, key=master_key(slug), base_url=base_url, content_type="audio/wav"
        ),
        transcripts=render_transcripts(slug, transcripts, base_url=base_url, fallback=language),
        transcript_excerpt=excerpt(spoken.text) if spoken else "",
        location=location,
        mastered=mastered,
        segments=tuple((s.start_s, s.end_s, s.text.strip()) for s in spoken.segments)
        if spoken
        else (),
        waypoints=tuple(waypoints),
    )


def render_transcripts(
    slug: str, transcripts: Sequence[Transcript], *, base_url: str, fallback: str
) -> tuple[TranscriptFile, ...]:
    """Every format of every transcript; a translation into the spoken language is dropped."""
    files: list[TranscriptFile] = []
    seen: set[str] = set()
    # The spoken-language transcript first, so it wins a clash of language codes.
    for transcript in sorted(transcripts, key=lambda t: t.task == "translate"):
        translated = transcript.task == "translate"
        language = "en" if translated else (transcript.language or fallback)
        if language in seen:
            log.debug("%s: skipping a translation into its own language %s", slug, language)
            continue
        seen.add(language)
        for fmt, (_suffix, mime) in FORMATS.items():
            key = transcript_key(slug, language, fmt)
            files.append(
                TranscriptFile(
                    key=key,
                    url=join_url(base_url, key),
                    fmt=fmt,
                    content_type=mime,
                    language=language,
                    translated=translated,
                    # Word times, when Whisper gave them ([transcription] word_timestamps),
                    # go into the JSON, where apps highlight each word as it is spoken.
                    data=render(transcript, fmt, words=True).encode("utf-8"),
                    language_source="translated" if translated else transcript.language_source,
                    language_probability=None if translated else transcript.language_probability,
                )
            )
    return tuple(files)


def rebase(episode: Episode, base_url: str) -> Episode:
    """The same episode with every URL under `base_url` (keys are unchanged)."""
    return replace(
        episode,
        audio=replace(episode.audio, url=join_url(base_url, episode.audio.key)),
        master=replace(episode.master, url=join_url(base_url, episode.master.key)),
        transcripts=tuple(replace(t, url=join_url(base_url, t.key)) for t in episode.transcripts),
    )
