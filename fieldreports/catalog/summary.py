"""What `status` shows of a published report, as the catalog keeps it (private: exact point too)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportSummary:
    title: str
    duration_s: float
    source_lufs: float
    source_true_peak_dbtp: float
    source_range_lu: float
    podcast_lufs: float
    podcast_true_peak_dbtp: float
    podcast_gain_db: float
    master_lufs: float
    master_true_peak_dbtp: float
    master_gain_db: float
    language: str
    location_source: str
    place: str
    # The exact point stays here, in the private catalog; only public_* is ever published.
    lat: float | None
    lon: float | None
    public_lat: float | None
    public_lon: float | None
    sensitive: bool
    season: int | None = None
    number: int | None = None
    # What the editor should fix: a place too doubtful to pin, audio held under target.
    warnings: tuple[str, ...] = ()
