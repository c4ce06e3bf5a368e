"""GPS tracks of the journeys (GPX), read with gpxpy, and where a track was at a given moment.

A phone logs a point every few seconds to minutes; between two points we interpolate linearly,
which is within a few metres for points a minute apart at road speed. When the two points
around a moment are far apart in time (the phone was off, in a tunnel, out of battery), the
reporter could have been anywhere in between, so we give no position at all.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import gpxpy
import gpxpy.gpx

from fieldreports.digest import file_sha256
from fieldreports.errors import SetupError
from fieldreports.geo.coordinates import distance_km

log = logging.getLogger(__name__)

# What a phone's GPS fix is usually good to, in the open (metres); the floor of accuracy_m.
GPS_ACCURACY_M = 25.0


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


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackFix:
    """A position read off a track: interpolated between `before` and `after`."""

    lat: float
    lon: float
    accuracy_m: float
    track: Track
    before: TrackPoint
    after: TrackPoint

    @property
    def gap_s(self) -> float:
        return (self.after.time - self.before.time).total_seconds()


def gpx_time(value: dt.datetime) -> dt.datetime:
    """A GPX time in UTC; a time without an offset is UTC, as the GPX 1.1 schema says.

    >>> gpx_time(dt.datetime(2022, 3, 14, 8, 40)).isoformat()
    '2022-03-14T08:40:00+00:00'
    >>> gpx_time(dt.datetime.fromisoformat("2022-03-14T09:40:00+01:00")).isoformat()
    '2022-03-14T08:40:00+00:00'
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def read_gpx(path: Path) -> tuple[Track, ...]:
    """The timed tracks in one GPX file (tracks and routes; points without a time are dropped).

    SetupError when the file is not GPX: a broken track would misplace every report.
    """
    try:
        with path.open(encoding="utf-8") as handle:
            document = gpxpy.parse(handle)
    except (gpxpy.gpx.GPXException, ValueError, UnicodeDecodeError, OSError) as exc:
        raise SetupError(
            f"{path}: not a readable GPX file ({exc}); re-export it from the tracking app, "
            "or move it out of tracks/."
        ) from exc
    tracks: list[Track] = []
    for number, gpx_track in enumerate(document.tracks, start=1):
        raw = [p for segment in gpx_track.segments for p in segment.points]
        tracks.append(_track(gpx_track.name or f"{path.stem} #{number}", path, raw))
    for number, route in enumerate(document.routes, start=1):
        tracks.append(_track(route.name or f"{path.stem} route #{number}", path, route.points))
    untimed = [t for t in tracks if not t.points]
    for track in untimed:
        log.warning(
            "%s: track %r has no timed points; it cannot place reports", path.name, track.name
        )
    return tuple(t for t in tracks if t.points)


def _track(
    name: str, path: Path, raw: Sequence[gpxpy.gpx.GPXTrackPoint | gpxpy.gpx.GPXRoutePoint]
) -> Track:
    points = sorted(
        (
            TrackPoint(time=gpx_time(p.time), lat=p.latitude, lon=p.longitude)
            for p in raw
            if p.time is not None
        ),
        key=lambda p: p.time,
    )
    return Track(name=name, source=path, points=tuple(points))


def gpx_files(tracks_dir: Path) -> tuple[Path, ...]:
    """The .gpx files of `tracks_dir`, sorted (none when it does not exist)."""
    if not tracks_dir.is_dir():
        return ()
    return tuple(
        sorted(p for p in tracks_dir.iterdir() if p.suffix.lower() == ".gpx" and p.is_file())
    )


def tracks_fingerprint(tracks_dir: Path) -> str:
    """A hash of every GPX file's name and content: what locating depends on, read cheaply."""
    digest = hashlib.sha256()
    for path in gpx_files(tracks_dir):
        digest.update(f"{path.name}\0{file_sha256(path)[0]}\n".encode())
    return digest.hexdigest()


def read_tracks(tracks_dir: Path) -> tuple[Track, ...]:
    """Every track in every .gpx file of `tracks_dir`, points in time order."""
    files = gpx_files(tracks_dir)
    read: list[Track] = []
    for path in files:
        try:
            read.extend(read_gpx(path))
        except SetupError as exc:
            # A half-synced track must not stop every report: those it would place are placed
            # by their notes, or wait off the map until the next run reads it whole.
            log.warning("%s; this track is left out of this run", exc)
    tracks = tuple(read)
    log.debug("read %d tracks from %d GPX files in %s", len(tracks), len(files), tracks_dir)
    return tracks


def position_at(tracks: Sequence[Track], when: dt.datetime, *, max_gap_s: float) -> TrackFix | None:
    """Where the tracks put the reporter at `when` (timezone-aware), or None.

    Linear interpolation between the points just before and just after `when`; None when they
    are more than `max_gap_s` apart. Before a track's first point or after its last, the end
    point counts when it is at most half of `max_gap_s` away (the same doubt as in a gap).
    Of several tracks that cover `when`, the one with the smallest gap wins.
    """
    return TrackIndex(tracks).position_at(when, max_gap_s=max_gap_s)


class TrackIndex:
    """Tracks with their times laid out for bisection, for many look-ups in one run."""

    def __init__(self, tracks: Sequence[Track]) -> None:
        self.tracks = tuple(tracks)
        self._times = tuple([p.time for p in t.points] for t in self.tracks)

    def position_at(
        self,
        when: dt.datetime,
        *,
        max_gap_s: float,
        only: Callable[[Track], bool] | None = None,
    ) -> TrackFix | None:
        """See `position_at`; `only` picks the tracks to look at (default: all)."""
        if when.tzinfo is None:
            raise ValueError("position_at needs a timezone-aware time")
        when = when.astimezone(dt.UTC)
        best: TrackFix | None = None
        for track, times in zip(self.tracks, self._times, strict=True):
            if only is not None and not only(track):
                continue
            fix = _fix(track, times, when, max_gap_s)
            if fix is not None and (best is None or fix.gap_s < best.gap_s):
                best = fix
        return best


def _fix(
    track: Track, times: Sequence[dt.datetime], when: dt.datetime, max_gap_s: float
) -> TrackFix | None:
    i = bisect.bisect_left(times, when)
    if i < len(times) and times[i] == when:
        point = track.points[i]
        return TrackFix(
            lat=point.lat,
            lon=point.lon,
            accuracy_m=GPS_ACCURACY_M,
            track=track,
            before=point,
            after=point,
        )
    if i == 0 or i == len(times):
        end = track.points[0] if i == 0 else track.points[-1]
        if abs((when - end.time).total_seconds()) > max_gap_s / 2:
            return None
        return TrackFix(
            lat=end.lat, lon=end.lon, accuracy_m=GPS_ACCURACY_M, track=track, before=end, after=end
        )
    before, after = track.points[i - 1], track.points[i]
    span_s = (after.time - before.time).total_seconds()
    if span_s > max_gap_s:
        return None
    share = (when - before.time).total_seconds() / span_s
    lat = before.lat + (after.lat - before.lat) * share
    lon = before.lon + (after.lon - before.lon) * share
    # Between fixes the reporter may have left the straight line; half the hop bounds how far
    # off the interpolated point can be if they went at a steady pace by some other way.
    hop_m = distance_km(before.lat, before.lon, after.lat, after.lon) * 1000.0
    return TrackFix(
        lat=lat,
        lon=lon,
        accuracy_m=max(GPS_ACCURACY_M, hop_m / 2),
        track=track,
        before=before,
        after=after,
    )
