"""What mastering measures and makes: plain data, cheap to import (no numpy, no scipy)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True, kw_only=True)
class Loudness:
    """A BS.1770 measurement: integrated loudness, loudness range, true peak, and the loudest
    momentary (400 ms) and short-term (3 s) loudness EBU Tech 3341 defines (None: not measured;
    -inf: nothing to measure, such as a short-term maximum of a recording under 3 s)."""

    integrated_lufs: float
    true_peak_dbtp: float
    range_lu: float
    max_momentary_lufs: float | None = None
    max_short_term_lufs: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MasteredAudio:
    """A recording mastered twice: a podcast MP3 and a broadcast WAV master, measured after encoding."""

    source: Path
    source_sha256: str
    duration_s: float
    podcast_mp3: Path
    master_wav: Path
    before: Loudness
    podcast: Loudness
    master: Loudness
    podcast_gain_db: float
    master_gain_db: float
    source_format: str = ""
    source_sample_rate_hz: int = 0
    source_channels: int = 0
    source_duration_s: float = 0.0
    trimmed_start_s: float = 0.0
    trimmed_end_s: float = 0.0
    # The most each limiter stage turned any moment down (dB): planned, then sample-level.
    podcast_limiter_db: float = 0.0
    master_limiter_db: float = 0.0
    podcast_peak_limiter_db: float = 0.0
    master_peak_limiter_db: float = 0.0
    # Fingerprints of the outputs, taken once here so later stages never hash them again.
    podcast_sha256: str = ""
    podcast_size_bytes: int = 0
    master_sha256: str = ""
    master_size_bytes: int = 0
    # Seconds of speech the cheap detector found, and the leveler's largest boost and cut (dB).
    speech_s: float = 0.0
    leveler_boost_db: float = 0.0
    leveler_cut_db: float = 0.0
    # What the editor should know: no speech found, held under target by max_gain_db.
    warnings: tuple[str, ...] = ()
