"""The normalise stage: a recording becomes a podcast MP3 and a broadcast master (EBU R 128).

`master(job)` decodes, measures, limits and encodes (see `master.py` for how). Everything heavy
(numpy, scipy, the encoders) is imported when a recording is really mastered, so a run whose
masters are all cached never loads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fieldreports.audio.results import Loudness, MasteredAudio
from fieldreports.catalog.serialise import NOT_IN_KEY
from fieldreports.config import AudioSettings
from fieldreports.intake.inbox import FieldReport

__all__ = ["Loudness", "MasterJob", "MasteredAudio", "master", "master_job"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MasterJob:
    """One recording to master: the file (found by its hash) and the targets."""

    source: Path = field(metadata=NOT_IN_KEY)
    source_sha256: str
    settings: AudioSettings


def master_job(report: FieldReport, settings: AudioSettings) -> MasterJob:
    return MasterJob(source=report.audio_path, source_sha256=report.audio_sha256, settings=settings)


def master(
    job: MasterJob,
    *,
    work_dir: Path,
    on_progress: Callable[[float, float], None] | None = None,
) -> MasteredAudio:
    """Master `job.source` into `work_dir/podcast.mp3` and `work_dir/master.wav`."""
    from fieldreports.audio.master import normalise

    return normalise(
        job.source,
        work_dir,
        job.settings,
        source_sha256=job.source_sha256,
        on_progress=on_progress,
    )
