"""GPX tracks: reading, interpolation against hand-computed points, gaps and track ends."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from fieldreports.errors import SetupError
from fieldreports.geo.coordinates import distance_km
from fieldreports.geo.gpx import position_at, read_gpx, read_tracks

# A drive towards Röszke: a fix every 10 minutes, then the phone is off for 70 minutes.
# One time is written with an offset (+01:00) to check it is read as the same instant.
GPX = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
  <trk><name>Border Reached! 2022</name><trkseg>
    <trkpt lat="46.0" lon="20.0"><time>2022-03-14T08:00:00Z</time></trkpt>
    <trkpt lat="46.1" lon="20.1"><time>2022-03-14T09:10:00+01:00</time></trkpt>
    <trkpt lat="46.1" lon="20.3"><time>2022-03-14T08:20:00Z</time></trkpt>
    <trkpt lat="46.2" lon="20.3"><time>2022-03-14T09:30:00Z</time></trkpt>
    <trkpt lat="46.25" lon="20.3"><time>2022-03-14T09:40:00Z</time></trkpt>
    <trkpt lat="47.0" lon="21.0"></trkpt>
  </trkseg></trk>
</gpx>
"""

MAX_GAP_S = 30 * 60


def utc(hour: int, minute: int) -> dt.datetime:
    return dt.datetime(2022, 3, 14, hour, minute, tzinfo=dt.UTC)


@pytest.fixture()
def tracks(tmp_path: Path):
    (tmp_path / "drive.gpx").write_text(GPX, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a track", encoding="utf-8")
    return read_tracks(tmp_path)


def test_reads_timed_points_in_time_order(tracks) -> None:
    (track,) = tracks
    assert track.name == "Border Reached! 2022"
    assert len(track.points) == 5  # the point without a time is dropped
    assert [p.time for p in track.points] == sorted(p.time for p in track.points)
    assert track.points[1].time == utc(8, 10)  # +01:00 read as the same instant
    assert all(p.time.tzinfo is not None for p in track.points)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (utc(8, 5), (46.05, 20.05)),  # halfway between the first two fixes
        (utc(8, 15), (46.1, 20.2)),
        (utc(8, 12), (46.1, 20.14)),  # a fifth of the way
        (utc(8, 20), (46.1, 20.3)),  # exactly on a fix
        (dt.datetime(2022, 3, 14, 9, 15, tzinfo=dt.timezone(dt.timedelta(hours=1))), (46.1, 20.2)),
        (utc(9, 35), (46.225, 20.3)),
    ],
)
def test_interpolates_between_the_two_nearest_points(tracks, when, expected) -> None:
    fix = position_at(tracks, when, max_gap_s=MAX_GAP_S)
    assert fix is not None
    assert distance_km(fix.lat, fix.lon, *expected) < 0.05


def test_no_position_in_a_gap_longer_than_the_limit(tracks) -> None:
    assert position_at(tracks, utc(8, 50), max_gap_s=MAX_GAP_S) is None
    # The limit is a setting: allow 90 minutes and the gap is bridged (halfway: 35 of 70 min).
    fix = position_at(tracks, utc(8, 55), max_gap_s=90 * 60)
    assert fix is not None
    assert distance_km(fix.lat, fix.lon, 46.15, 20.3) < 0.05
    # A long hop is reported as a poor accuracy, not as a precise point.
    assert fix.accuracy_m > 5000


def test_track_ends_count_only_close_to_the_end(tracks) -> None:
    near_start = position_at(tracks, utc(7, 50), max_gap_s=MAX_GAP_S)
    assert near_start is not None and (near_start.lat, near_start.lon) == (46.0, 20.0)
    assert position_at(tracks, utc(7, 40), max_gap_s=MAX_GAP_S) is None
    assert position_at(tracks, utc(10, 30), max_gap_s=MAX_GAP_S) is None


def test_naive_time_is_refused(tracks) -> None:
    with pytest.raises(ValueError):
        position_at(tracks, dt.datetime(2022, 3, 14, 8, 5), max_gap_s=MAX_GAP_S)


def test_broken_gpx_is_a_setup_error_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gpx"
    bad.write_text("<gpx><trk><trkseg><trkpt lat=", encoding="utf-8")
    with pytest.raises(SetupError, match="broken.gpx"):
        read_gpx(bad)


def test_a_broken_track_is_left_out_and_the_others_are_read(tmp_path: Path, caplog) -> None:
    (tmp_path / "broken.gpx").write_text("<gpx><trk><trkseg><trkpt lat=", encoding="utf-8")
    (tmp_path / "good.gpx").write_text(
        '<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>'
        '<trkpt lat="52.0" lon="23.5"><time>2022-03-02T09:00:00Z</time></trkpt>'
        '<trkpt lat="52.1" lon="23.7"><time>2022-03-02T09:30:00Z</time></trkpt>'
        "</trkseg></trk></gpx>",
        encoding="utf-8",
    )
    (track,) = read_tracks(tmp_path)
    assert len(track.points) == 2
    assert "broken.gpx" in caplog.text


def test_missing_tracks_folder_is_no_tracks(tmp_path: Path) -> None:
    assert read_tracks(tmp_path / "tracks") == ()
