"""The transcribe stage: Whisper on one recording, in its own language or translated to English.

`transcribe(job)` loads the engine the job's settings name once per process and keeps it (a
worker transcribes many reports with one model in memory). Whisper, torch and CTranslate2 are
imported only then: a run whose transcripts are all cached never loads them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fieldreports.catalog.serialise import NOT_IN_KEY
from fieldreports.config import TranscriptionSettings
from fieldreports.intake.inbox import FieldReport
from fieldreports.transcription.models import weights_identity
from fieldreports.transcription.results import Segment, Transcript, Word

if TYPE_CHECKING:
    from fieldreports.transcription.whisper import Engine

__all__ = ["Segment", "TranscribeJob", "Transcript", "Word", "transcribe", "transcription_job"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscribeJob:
    """One recording to transcribe (`task` "transcribe") or translate into English ("translate").

    `language` is the hint: the notes' language, else the show's; "" to detect it, region by
    region. `languages` holds the notes' languages when they list several: detection per region
    among those. `weights` names the exact model files (package and version), so new weights
    make new transcripts.
    """

    audio: Path = field(metadata=NOT_IN_KEY)
    audio_sha256: str
    settings: TranscriptionSettings
    weights: str
    language: str = ""
    task: str = "transcribe"
    languages: tuple[str, ...] = ()


def transcription_job(
    report: FieldReport,
    settings: TranscriptionSettings,
    *,
    task: str = "transcribe",
    language: str | None = None,
    languages: tuple[str, ...] | None = None,
) -> TranscribeJob:
    """The job for `report`; `language` or `languages` override the notes' (a translation names
    what was heard)."""
    several = report.notes.languages if languages is None else languages
    if len(several) > 1:
        hint = ""
    else:
        hint = report.notes.language or settings.language if language is None else language
        several = ()
    return TranscribeJob(
        audio=report.audio_path,
        audio_sha256=report.audio_sha256,
        settings=settings,
        weights=weights_identity(settings.model),
        language=hint.strip().lower(),
        task=task,
        languages=tuple(several),
    )


def transcribe(
    job: TranscribeJob,
    *,
    work_dir: Path | None = None,
    on_progress: Callable[[float, float], None] | None = None,
) -> Transcript:
    """What was said in `job.audio` (see `whisper.transcribe`); writes no files."""
    from fieldreports.transcription.whisper import transcribe as run_whisper

    return run_whisper(
        job.audio,
        engine_for(job.settings),
        language=job.language,
        languages=job.languages,
        task=job.task,
        on_progress=on_progress,
    )


@functools.lru_cache(maxsize=2)
def engine_for(settings: TranscriptionSettings) -> Engine:
    """The loaded engine for `settings`, loaded on first use and kept for this process."""
    from fieldreports.transcription.whisper import load_engine

    return load_engine(settings)
