"""normalise: decode any field recording and master it to loudness targets (ITU-R BS.1770, EBU R 128).

SKELETON: the data model and signatures the pipeline relies on; the bodies are being written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fieldreports.config import AudioSettings

ProgressFn = Callable[[float, float], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Loudness:
    """A BS.1770 measurement: integrated loudness, loudness range, true peak."""

    integrated_lufs: float
    true_peak_dbtp: float
    range_lu: float


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


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioTags:
    """What a published MP3 says about itself (ID3)."""

    title: str
    show: str
    artist: str = ""
    episode: int | None = None
    season: int | None = None
    year: int | None = None
    artwork: Path | None = None


def normalise(
    source: Path,
    out_dir: Path,
    settings: AudioSettings,
    *,
    source_sha256: str = "",
    on_progress: ProgressFn | None = None,
) -> MasteredAudio:
    """Master `source` into `out_dir/podcast.mp3` and `out_dir/master.wav`.

    Raises ReportError with a plain reason for empty, truncated, non-audio or unsupported input.
    """
    raise NotImplementedError


def measure(path: Path) -> Loudness:
    """Measure a file's loudness and true peak (BS.1770-4)."""
    raise NotImplementedError


def write_tags(mp3: Path, tags: AudioTags) -> None:
    """Replace every tag in `mp3` with clean ID3 metadata (no GPS, device or owner tags survive)."""
    raise NotImplementedError
