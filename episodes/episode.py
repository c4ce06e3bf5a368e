"""make_episode: a report, mastered, transcribed and placed, becomes a publishable Episode.

An `Episode` is the one record the feed, the map, the home page and partners.json read, and it
holds only what may be published: the public location (coarsened for a sensitive report), the
loudness of its outputs, the files to publish. It has no field for the exact point, the original
file name or the report id, so no consumer can publish them by mistake. Its GUID comes from the
catalog, stored once per report, and never changes; its slug (see `numbering`) names its files:

    episodes/<slug>.mp3               the podcast MP3 with clean ID3 tags
    masters/<slug>.wav                the broadcast master (BWF: bext and iXML) for radio partners
    transcripts/<slug>.<lang>.<fmt>   each transcript format (and an English translation)
    chapters/<slug>.json              Podcasting 2.0 chapters, written by publish.build_site

`make_episode` is a stage (`EPISODE`): its job holds every input, private ones included (the
catalog keeps the last job of each report, so an episode can be made again while its report
fails), and its result is cached, so an unchanged show tags no MP3 and renders no transcript.
It tags copies, never the cached masters: the MP3 gets ID3 tags, the WAV master `bext` and
`iXML` chunks written from the public episode (`episodes.broadcast`).
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from episodes.numbering import Numbering
from fieldreports.audio.results import Loudness, MasteredAudio
from fieldreports.catalog.serialise import NOT_IN_KEY
from fieldreports.catalog.summary import ReportSummary
from fieldreports.config import ShowInfo
from fieldreports.digest import file_sha256
from fieldreports.errors import ReportError
from fieldreports.geo import Placement, PublicLocation
from fieldreports.intake.notes import Notes
from fieldreports.naming import excerpt
from fieldreports.stages import Stage
from fieldreports.times import as_aware
from fieldreports.transcription.formats import FORMATS, render
from fieldreports.transcription.results import Transcript

log = logging.getLogger(__name__)


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
    location: PublicLocation | None  # None: published off the map
    # What the report is about, where that differs from where it was recorded (notes' `about`).
    subject: PublicLocation | None = None
    podcast_loudness: Loudness
    master_loudness: Loudness
    # The master's layout: one per show ([audio] master_channels), stated for partners.
    master_channels: int = 0
    master_sample_rate_hz: int = 0
    master_bit_depth: int = 0
    image: MediaFile | None = None  # the episode's artwork; None: the show's
    # Transcript segments as (start_s, end_s, text), kept for chapters; empty when untranscribed.
    segments: tuple[tuple[float, float, str], ...] = ()
    # Publishable (start_s, lat, lon) along the route while recording, for chapter waypoints;
    # empty means every chapter sits at the location's public point.
    waypoints: tuple[tuple[float, float, float], ...] = ()

    @property
    def chapters_key(self) -> str:
        return chapters_key(self.slug)


@dataclass(frozen=True, slots=True, kw_only=True)
class EpisodeJob:
    """Every input of one episode. Private (it holds the placement): it stays in the catalog."""

    guid: str
    notes: Notes
    mastered: MasteredAudio
    transcripts: tuple[Transcript, ...]
    placement: Placement
    numbering: Numbering
    published_at: dt.datetime  # timezone-aware: recorded, else first seen
    show: ShowInfo
    artwork: Path | None = field(default=None, metadata=NOT_IN_KEY)  # embedded in the MP3
    artwork_sha256: str = ""
    # The notes' `image`: the episode's own artwork, re-encoded before it is published.
    image: Path | None = field(default=None, metadata=NOT_IN_KEY)
    image_sha256: str = ""


def audio_key(slug: str) -> str:
    return f"episodes/{slug}.mp3"


def master_key(slug: str) -> str:
    return f"masters/{slug}.wav"


def image_key(slug: str, suffix: str) -> str:
    return f"images/{slug}{suffix}"


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


def media_file(
    source: Path, *, key: str, base_url: str, content_type: str, sha256: str = "", size: int = 0
) -> MediaFile:
    """A file to publish; its hash is taken here unless the caller knows it already."""
    if not sha256:
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
    job: EpisodeJob,
    *,
    work_dir: Path,
    on_progress: Callable[[float, float], None] | None = None,
) -> Episode:
    """Tag a copy of the MP3 in `work_dir`, render the transcripts, compute every key and URL."""
    from fieldreports.audio.id3 import AudioTags, write_tags

    if job.published_at.tzinfo is None:
        raise ValueError("published_at must be timezone-aware")
    notes, show, mastered, numbering = job.notes, job.show, job.mastered, job.numbering
    slug = numbering.slug
    recorded_at = job.placement.recorded_at or notes.recorded_at
    recorded_at = as_aware(recorded_at, show.timezone) if recorded_at else None
    base_url = show.site_url

    work_dir.mkdir(parents=True, exist_ok=True)
    image = _episode_image(job, work_dir)
    tagged = work_dir / "podcast.mp3"
    tmp = tagged.with_name(tagged.name + ".tmp")
    shutil.copyfile(mastered.podcast_mp3, tmp)
    write_tags(
        tmp,
        AudioTags(
            title=notes.title,
            show=show.title,
            artist=notes.reporter or show.author,
            episode=numbering.number,
            season=numbering.season,
            year=(recorded_at or job.published_at).year,
            artwork=image.source if image else job.artwork,
        ),
    )
    tmp.replace(tagged)

    spoken = next((t for t in job.transcripts if t.task != "translate"), None)
    language = (spoken.language if spoken else "") or notes.language or show.language
    location = job.placement.location.public() if job.placement.location else None
    subject = job.placement.subject.public() if job.placement.subject else None
    if subject is not None and location is not None and subject.geo_uri == location.geo_uri:
        subject = None  # about where it was made: nothing more to say
    episode = Episode(
        guid=job.guid,
        slug=slug,
        title=notes.title,
        notes_markdown=notes.body,
        journey=notes.journey,
        reporter=notes.reporter,
        tags=tuple(notes.tags),
        explicit=notes.explicit,
        language=language,
        published_at=job.published_at,
        recorded_at=recorded_at,
        season=numbering.season,
        number=numbering.number,
        duration_s=mastered.duration_s,
        audio=media_file(tagged, key=audio_key(slug), base_url=base_url, content_type="audio/mpeg"),
        master=media_file(
            mastered.master_wav,
            key=master_key(slug),
            base_url=base_url,
            content_type="audio/wav",
            sha256=mastered.master_sha256,
            size=mastered.master_size_bytes,
        ),
        transcripts=render_transcripts(slug, job.transcripts, base_url=base_url, fallback=language),
        transcript_excerpt=excerpt(spoken.text) if spoken else "",
        location=location,
        subject=subject,
        image=image,
        podcast_loudness=mastered.podcast,
        master_loudness=mastered.master,
        segments=tuple((s.start_s, s.end_s, s.text.strip()) for s in spoken.segments)
        if spoken
        else (),
        # Waypoints only for a located report: they are public points, or the public point.
        waypoints=job.placement.waypoints if location else (),
    )
    return with_broadcast_master(episode, job, work_dir / "master.wav")


def with_broadcast_master(episode: Episode, job: EpisodeJob, out: Path) -> Episode:
    """The episode with its master replaced by a BWF copy whose chunks say what the public
    episode says (the cached master stays untouched)."""
    from episodes.broadcast import broadcast_info
    from fieldreports.audio.bwf import read_format, write_bwf

    fmt = read_format(job.mastered.master_wav)
    info = broadcast_info(episode, show_title=job.show.title, mastered=job.mastered, fmt=fmt)
    sha256, size = write_bwf(job.mastered.master_wav, out, info)
    master = media_file(
        out,
        key=episode.master.key,
        base_url=job.show.site_url,
        content_type="audio/wav",
        sha256=sha256,
        size=size,
    )
    return replace(
        episode,
        master=master,
        master_channels=fmt.channels,
        master_sample_rate_hz=fmt.sample_rate_hz,
        master_bit_depth=fmt.bits,
    )


def _episode_image(job: EpisodeJob, work_dir: Path) -> MediaFile | None:
    """The notes' photo, checked and re-encoded (no EXIF, no GPS), or None."""
    if job.image is None:
        return None
    if not job.image.is_file():  # a kept episode whose photo was since removed from inbox/
        log.warning("%s: the episode's image is gone; the show's artwork stands in", job.image)
        return None
    from episodes.pages.artwork import conform_photo

    try:
        data, suffix = conform_photo(job.image.read_bytes())
    except OSError as exc:
        raise ReportError(
            f"{job.image.name} is not a JPEG or PNG that can be read ({exc}); export the photo "
            "again or remove the image line from the notes.",
            path=job.image,
        ) from exc
    out = work_dir / f"image{suffix}"
    out.write_bytes(data)
    content_type = "image/png" if suffix == ".png" else "image/jpeg"
    key = image_key(job.numbering.slug, suffix)
    return media_file(out, key=key, base_url=job.show.site_url, content_type=content_type)


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
        image=replace(episode.image, url=join_url(base_url, episode.image.key))
        if episode.image
        else None,
    )


EPISODE: Stage[EpisodeJob, Episode] = Stage(
    name="episode",
    version=3,
    job=EpisodeJob,
    result=Episode,
    run=make_episode,
    outputs=lambda e: (e.audio.source, e.master.source, *((e.image.source,) if e.image else ())),
)


def summarise(job: EpisodeJob, episode: Episode) -> ReportSummary:
    """What the catalog keeps of a published report for `status`."""
    mastered, location = job.mastered, job.placement.location
    return ReportSummary(
        title=episode.title,
        season=episode.season,
        number=episode.number,
        duration_s=round(mastered.duration_s, 1),
        source_lufs=round(mastered.before.integrated_lufs, 1),
        source_true_peak_dbtp=round(mastered.before.true_peak_dbtp, 1),
        source_range_lu=round(mastered.before.range_lu, 1),
        podcast_lufs=round(mastered.podcast.integrated_lufs, 1),
        podcast_true_peak_dbtp=round(mastered.podcast.true_peak_dbtp, 1),
        podcast_gain_db=round(mastered.podcast_gain_db, 1),
        master_lufs=round(mastered.master.integrated_lufs, 1),
        master_true_peak_dbtp=round(mastered.master.true_peak_dbtp, 1),
        master_gain_db=round(mastered.master_gain_db, 1),
        language=episode.language,
        location_source=location.source if location else "none",
        place=location.name if location else "",
        lat=location.lat if location else None,
        lon=location.lon if location else None,
        public_lat=episode.location.lat if episode.location else None,
        public_lon=episode.location.lon if episode.location else None,
        sensitive=location.sensitive if location else False,
        warnings=(*((location.doubt,) if location and location.doubt else ()), *mastered.warnings),
    )
