"""What Whisper heard: plain data, cheap to import, cached in the catalog as it is."""

from __future__ import annotations

from dataclasses import dataclass


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
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    language: str = ""  # the language this stretch of speech was transcribed in ("" = unknown)
    # The temperature of the decoding Whisper kept: 0 for its first, greedy pass; higher when
    # that pass was judged unlikely or looping and the window was sampled again.
    temperature: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Transcript:
    """What Whisper heard, and how it was asked: engine, model, task, language."""

    engine: str
    model: str
    task: str  # "transcribe" or "translate"
    language: str  # the main language: the one with the most seconds of speech
    language_probability: float
    duration_s: float
    segments: tuple[Segment, ...]
    warnings: tuple[str, ...] = ()
    language_source: str = ""  # "hint", "detected", "english-only model" or "" (no speech)
    speech_s: float = 0.0  # seconds that voice-activity detection kept
    model_identity: str = ""  # which weights exactly, e.g. the model package and its version
    options: tuple[tuple[str, str], ...] = ()  # the decoding options, as text, for the record

    @property
    def languages(self) -> tuple[str, ...]:
        """Every language the segments were transcribed in, the main one first."""
        seconds: dict[str, float] = {}
        for s in self.segments:
            if s.language:
                seconds[s.language] = seconds.get(s.language, 0.0) + s.end_s - s.start_s
        ranked = sorted(seconds, key=lambda lang: (lang != self.language, -seconds[lang]))
        return tuple(ranked)

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())
