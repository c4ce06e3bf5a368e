"""GPS tracks of the journeys (GPX), read with gpxpy.

SKELETON: the data model and signatures the pipeline relies on; the bodies are being written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackPoint:
    time: dt.datetime  # timezone-aware, UTC
    lat: float
    lon: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Track:
    name: str
    source: Path
    points: tuple[TrackPoint, ...]


def read_tracks(tracks_dir: Path) -> tuple[Track, ...]:
    """Every track in every .gpx file of `tracks_dir`, points in time order."""
    raise NotImplementedError
