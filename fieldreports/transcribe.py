"""transcribe: Whisper (faster-whisper or openai-whisper) on weights a package ships.

SKELETON: the data model and signatures the pipeline relies on; the bodies are being written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fieldreports.config import TranscriptionSettings

ProgressFn = Callable[[float, float], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Word:
    start_s: float
    end_s: float
    text: str
    probability: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Transcript:
    """What Whisper heard, and how it was asked: engine, model, task, language."""

    engine: str
    model: str
    task: str  # "transcribe" or "translate"
    language: str
    language_probability: float
    duration_s: float
    segments: tuple[Segment, ...]
    warnings: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())


class Engine:
    """A loaded Whisper model; load once per run, reuse for every report."""

    settings: TranscriptionSettings


def load_engine(settings: TranscriptionSettings, *, cache_dir: Path | None = None) -> Engine:
    """Load the configured engine and model; SetupError with what to install when weights are missing."""
    raise NotImplementedError


def transcribe(
    audio: Path,
    engine: Engine,
    *,
    language: str = "",
    task: str = "transcribe",
    on_progress: ProgressFn | None = None,
) -> Transcript:
    """Transcribe (or translate to English) one recording."""
    raise NotImplementedError
