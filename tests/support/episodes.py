"""Shared builders for the publishing tests: a small show, tiny real MP3/WAV files, Episodes.

No Whisper and no loudness pass here: MasteredAudio, Transcript and Location are built directly
around real files that ffmpeg makes in a second, so the feed, storage and publishing tests stay fast.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from episodes.episode import EPISODE, Episode, EpisodeJob, make_episode
from episodes.numbering import Numbering, episode_slug
from fieldreports.audio.master import Loudness, MasteredAudio
from fieldreports.config import ShowConfig, ShowInfo, parse_config
from fieldreports.geo import Placement
from fieldreports.geo.locate import Location
from fieldreports.intake.inbox import FieldReport
from fieldreports.intake.notes import Notes
from fieldreports.transcription.results import Segment, Transcript
from tests.support.audio import require, run

UTC = dt.UTC
BASE_URL = "https://example.org/border-reached/"


def show_config(show_dir: Path, **tables: dict[str, Any]) -> ShowConfig:
    """A ShowConfig as show.toml would give it, with the [show] table filled in."""
    show = {
        "title": "Border Reached!",
        "base_url": BASE_URL,
        "author": "Border Reached team",
        "description": "Field reports from the edges of Europe.",
        "language": "en",
        "category": "News",
        "subcategory": "Politics",
        "owner_name": "Ana Editor",
        "owner_email": "editor@example.org",
        "timezone": "Europe/Rome",
        **tables.pop("show", {}),
    }
    show_dir.mkdir(parents=True, exist_ok=True)
    return parse_config({"show": show, **tables}, show_dir=show_dir, source=show_dir / "show.toml")


def tone_mp3(out: Path, *, seconds: float = 1.5, freq_hz: int = 440) -> Path:
    require("ffmpeg")
    run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={freq_hz}:duration={seconds}:sample_rate=44100",
            "-ac",
            "1",
            "-b:a",
            "64k",
            str(out),
        ]
    )
    return out


def tone_wav(out: Path, *, seconds: float = 1.5, freq_hz: int = 440) -> Path:
    require("ffmpeg")
    run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={freq_hz}:duration={seconds}:sample_rate=48000",
            "-ac",
            "1",
            "-c:a",
            "pcm_s24le",
            str(out),
        ]
    )
    return out


def mastered(work: Path, name: str, *, freq_hz: int = 440, seconds: float = 1.5) -> MasteredAudio:
    work.mkdir(parents=True, exist_ok=True)
    mp3 = tone_mp3(work / f"{name}.mp3", freq_hz=freq_hz, seconds=seconds)
    wav = tone_wav(work / f"{name}.wav", freq_hz=freq_hz, seconds=seconds)
    return MasteredAudio(
        source=wav,
        source_sha256=hashlib.sha256(wav.read_bytes()).hexdigest(),
        duration_s=seconds,
        podcast_mp3=mp3,
        master_wav=wav,
        before=Loudness(integrated_lufs=-30.2, true_peak_dbtp=-8.0, range_lu=3.1),
        podcast=Loudness(integrated_lufs=-16.1, true_peak_dbtp=-1.2, range_lu=3.0),
        master=Loudness(integrated_lufs=-23.04, true_peak_dbtp=-2.46, range_lu=3.0),
        podcast_gain_db=14.1,
        master_gain_db=7.2,
    )


def report(report_id: str, audio: Path, **notes: Any) -> FieldReport:
    return FieldReport(
        id=report_id,
        audio_path=audio,
        notes_path=None,
        notes=Notes(**{"title": report_id.replace("-", " ").capitalize(), **notes}),
        audio_sha256=hashlib.sha256(audio.read_bytes()).hexdigest(),
        size_bytes=audio.stat().st_size,
    )


def transcript(
    language: str, *texts: str, task: str = "transcribe", seconds_each: float = 40.0
) -> Transcript:
    segments = tuple(
        Segment(start_s=i * seconds_each, end_s=(i + 1) * seconds_each, text=f" {t}")
        for i, t in enumerate(texts)
    )
    return Transcript(
        engine="faster-whisper",
        model="base",
        task=task,
        language=language,
        language_probability=0.97,
        duration_s=seconds_each * len(texts),
        segments=segments,
    )


# Exact coordinates (private) and coarsened ones (public), deliberately far apart so a test can
# tell which were published.
LAMPEDUSA = Location(
    source="notes",
    lat=35.50111,
    lon=12.60583,
    public_lat=35.5,
    public_lon=12.6,
    name="Lampedusa",
    country_code="it",
    accuracy_m=5.0,
)
ROSZKE = Location(
    source="gpx",
    lat=46.18734,
    lon=20.03862,
    public_lat=46.2,
    public_lon=20.0,
    name="Röszke",
    country_code="hu",
    sensitive=True,
)
NOWHERE = Location(source="none")


REPORT_IDS = ("2022-03-14-lampedusa-harbour", "2022-04-02-roszke-fence", "studio-wrap-up")


def build_episode(
    notes: Notes,
    mastered_audio: MasteredAudio,
    transcripts: Sequence[Transcript],
    location: Location | None,
    *,
    guid: str,
    published_at: dt.datetime,
    show: ShowInfo,
    work_dir: Path,
    season: int | None = None,
    number: int = 1,
    slug: str = "",
    recorded_at: dt.datetime | None = None,
    waypoints: Sequence[tuple[float, float, float]] = (),
    artwork: Path | None = None,
    image: Path | None = None,
    subject: Location | None = None,
) -> Episode:
    """An Episode through the real episode stage, from parts a test chooses."""
    when = recorded_at or notes.recorded_at or published_at
    job = EpisodeJob(
        guid=guid,
        notes=notes,
        mastered=mastered_audio,
        transcripts=tuple(transcripts),
        placement=Placement(
            report_id="r",
            recorded_at=recorded_at,
            location=location if location is not None and location.source != "none" else None,
            waypoints=tuple(waypoints),
            subject=subject,
        ),
        numbering=Numbering(
            season=season, number=number, slug=slug or episode_slug(when, notes.title)
        ),
        published_at=published_at,
        show=show,
        artwork=artwork,
        image=image,
        image_sha256=hashlib.sha256(image.read_bytes()).hexdigest() if image else "",
    )
    return make_episode(job, work_dir=work_dir / EPISODE.key(job))


def make_show_episodes(config: ShowConfig, work: Path) -> tuple[Episode, ...]:
    """Three episodes: Italian with an English translation, Hungarian-route English, unlocated."""
    plans: Sequence[tuple[str, dict[str, Any], Location, tuple[Transcript, ...], int]] = (
        (
            REPORT_IDS[0],
            {
                "title": "Waiting at the harbour",
                "journey": "Border Reached! 2022",
                "reporter": "Giulia Rossi",
                "language": "it",
                "tags": ("sea", "arrivals"),
                "recorded_at": dt.datetime(2022, 3, 14, 9, 40),
                "body": "Boats arrive at **dawn**. See [UNHCR](https://www.unhcr.org/).",
            },
            LAMPEDUSA,
            (
                transcript(
                    "it",
                    "Aspettiamo al porto da ore.",
                    "Le barche arrivano all'alba.",
                    "Il molo è pieno.",
                ),
                transcript(
                    "en",
                    "We have been waiting at the harbour for hours.",
                    "The boats arrive at dawn.",
                    "The pier is full.",
                    task="translate",
                ),
            ),
            440,
        ),
        (
            REPORT_IDS[1],
            {
                "title": "At the fence",
                "journey": "Border Reached! 2022",
                "reporter": "Jan Kowalski",
                "recorded_at": dt.datetime(2022, 4, 2, 16, 5, tzinfo=UTC),
            },
            ROSZKE,
            (transcript("en", "The fence runs as far as we can see."),),
            550,
        ),
        (
            REPORT_IDS[2],
            {"title": "Wrap-up from the studio"},
            NOWHERE,
            (transcript("en", "That was the journey."),),
            660,
        ),
    )
    episodes = []
    for number, (report_id, notes, location, transcripts, freq) in enumerate(plans, start=1):
        audio = mastered(work / "audio", report_id, freq_hz=freq)
        episodes.append(
            build_episode(
                Notes(**notes),
                audio,
                transcripts,
                location,
                guid=f"urn:uuid:00000000-0000-5000-8000-00000000000{number}",
                season=1 if notes.get("journey") else None,
                number=number,
                slug=report_id,
                published_at=dt.datetime(2022, 5, number, 12, 0, tzinfo=UTC),
                show=config.show,
                work_dir=work / "episodes",
            )
        )
    return tuple(episodes)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
