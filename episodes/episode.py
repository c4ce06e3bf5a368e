"""make_episode: a report, mastered, transcribed and located, becomes a publishable Episode.

SKELETON: the data model and signatures the pipeline relies on; the bodies are being written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from fieldreports.audio import MasteredAudio
from fieldreports.geotag import Location


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
