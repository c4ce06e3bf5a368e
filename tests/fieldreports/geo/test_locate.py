"""locate: the resolution order, journey context, swapped coordinates, source protection."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

from fieldreports.config import GeotagSettings
from fieldreports.errors import ReportError, SetupError
from fieldreports.geo.coordinates import distance_km
from fieldreports.geo.gazetteer import Gazetteer, load_gazetteer
from fieldreports.geo.gpx import read_tracks
from fieldreports.geo.locate import Geotagger, Location, recording_time
from fieldreports.intake.inbox import FieldReport
from fieldreports.intake.notes import Notes, parse_front_matter

# A drive north from the Serbian side towards Röszke; the phone is off for 70 minutes after 08:20Z.
GPX = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
  <trk><name>Border Reached! 2022</name><trkseg>
    <trkpt lat="46.10" lon="19.95"><time>2022-03-14T08:00:00Z</time></trkpt>
    <trkpt lat="46.14" lon="19.97"><time>2022-03-14T08:10:00Z</time></trkpt>
    <trkpt lat="46.18" lon="20.03"><time>2022-03-14T08:20:00Z</time></trkpt>
    <trkpt lat="46.25" lon="20.15"><time>2022-03-14T09:30:00Z</time></trkpt>
  </trkseg></trk>
</gpx>
"""
SHOW_TZ = "Europe/Budapest"  # UTC+1 in March


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return load_gazetteer()


@pytest.fixture(scope="module")
def tracks(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("tracks")
    (folder / "drive.gpx").write_text(GPX, encoding="utf-8")
    return read_tracks(folder)


def tagger(gazetteer: Gazetteer, tracks=(), **settings) -> Geotagger:
    return Geotagger(
        tracks=tracks, settings=GeotagSettings(**settings), timezone=SHOW_TZ, gazetteer=gazetteer
    )


def report(tmp_path: Path, name: str = "report", audio: Path | None = None, **notes) -> FieldReport:
    notes.setdefault("title", name)
    return FieldReport(
        id=name,
        audio_path=audio or tmp_path / f"{name}.wav",
        notes_path=tmp_path / f"{name}.md",
        notes=Notes(**notes),
        audio_sha256="0" * 64,
        size_bytes=1,
    )


# ---- 1. notes ------------------------------------------------------------------------------


def test_coordinates_in_the_notes_win(tmp_path, gazetteer, tracks) -> None:
    r = report(
        tmp_path, lat=52.0705, lon=23.6010, place="Lampedusa",
        recorded_at=dt.datetime(2022, 3, 14, 9, 5),
    )  # fmt: skip
    loc = tagger(gazetteer, tracks).locate(r)
    assert loc.source == "notes"
    assert (loc.lat, loc.lon) == (loc.public_lat, loc.public_lon) == (52.0705, 23.6010)
    assert loc.name == "near Terespol, Poland"
    assert loc.country_code == "PL"
    assert loc.accuracy_m is not None and loc.accuracy_m < 100  # 3 decimals of 23.601
    assert loc.public().geo_uri.startswith("geo:52.0705,23.601;u=")


def test_swapped_coordinates_are_an_error_naming_the_file(tmp_path, gazetteer) -> None:
    r = report(tmp_path, "terespol-bridge", lat=23.6010, lon=52.0705)  # Terespol, swapped
    with pytest.raises(ReportError, match=r"terespol-bridge\.md.*wrong way round"):
        tagger(gazetteer, countries="PL, BY").locate(r)
    # The other stops of the journey are enough context, without the setting.
    terespol = Location(source="notes", lat=52.07, lon=23.60, country_code="PL")
    with pytest.raises(ReportError, match="swapped they lie in Poland") as raised:
        tagger(gazetteer).locate(r, nearby=[terespol])
    # The reason travels (status, webhooks): never the numbers that, swapped, are the place.
    assert "23.60" not in str(raised.value) and "52.07" not in str(raised.value)


def test_swapped_coordinates_without_a_journey_are_a_warning(tmp_path, gazetteer, caplog) -> None:
    # 19.67 N, 46.10 E is in the Rub' al Khali, far from any village; swapped it is Subotica.
    r = report(tmp_path, "desert", lat=19.67, lon=46.10)
    caplog.set_level("WARNING", logger="fieldreports.geo.locate")
    assert tagger(gazetteer).locate(r).source == "notes"  # kept: no journey to judge by
    assert "desert.md" in caplog.text and "wrong way round" in caplog.text


def test_coordinates_off_the_journey_are_kept_when_a_swap_does_not_help(
    tmp_path, gazetteer
) -> None:
    r = report(tmp_path, lat=41.12, lon=22.52)  # Idomeni, on a Polish journey: odd, not swapped
    assert tagger(gazetteer, countries="PL").locate(r).source == "notes"


def test_out_of_range_coordinates_are_rejected_naming_the_file(tmp_path) -> None:
    path = tmp_path / "fence.md"
    with pytest.raises(ReportError, match=r"fence\.md: lat = 123.4 is out of range"):
        parse_front_matter({"lat": 123.4, "lon": 20.0}, body="", path=path, default_title="x")


def test_unknown_country_in_settings_is_a_setup_error(gazetteer) -> None:
    with pytest.raises(SetupError, match="XX"):
        tagger(gazetteer, countries="PL, XX")


# ---- 2. GPX --------------------------------------------------------------------------------


def test_gpx_at_a_naive_time_in_the_show_time_zone(tmp_path, gazetteer, tracks) -> None:
    # 09:15 in Budapest is 08:15Z: halfway between the fixes at 08:10 and 08:20.
    r = report(tmp_path, recorded_at=dt.datetime(2022, 3, 14, 9, 15))
    loc = tagger(gazetteer, tracks).locate(r)
    assert loc.source == "gpx"
    assert distance_km(loc.lat, loc.lon, 46.16, 20.00) < 1.0
    assert loc.country_code in ("RS", "HU")
    assert loc.name.startswith("near ")


def test_gpx_with_a_clock_offset(tmp_path, gazetteer, tracks) -> None:
    # The recorder was 35 minutes slow: it says 08:40 local (07:40Z), the truth is 08:15Z.
    r = report(tmp_path, recorded_at=dt.datetime(2022, 3, 14, 8, 40))
    assert tagger(gazetteer, tracks).locate(r).source == "none"  # 20 min before the track
    loc = tagger(gazetteer, tracks, clock_offset_s=2100.0).locate(r)
    assert loc.source == "gpx"
    assert distance_km(loc.lat, loc.lon, 46.16, 20.00) < 1.0


def test_gpx_gap_falls_through_to_the_place(tmp_path, gazetteer, tracks) -> None:
    aware = dt.datetime(2022, 3, 14, 9, 50, tzinfo=dt.timezone(dt.timedelta(hours=1)))  # 08:50Z
    r = report(tmp_path, recorded_at=aware, place="Röszke")
    loc = tagger(gazetteer, tracks).locate(r)
    assert loc.source == "place"
    assert loc.name == "Röszke, Hungary"
    loc = tagger(gazetteer, tracks, max_gap_minutes=90.0).locate(r)
    assert loc.source == "gpx"  # the gap is bridged when the limit allows it
    assert distance_km(loc.lat, loc.lon, 46.21, 20.0814) < 1.0  # 30 of 70 minutes along


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
def test_recording_time_from_the_files_creation_tag(tmp_path, gazetteer, tracks) -> None:
    audio = tmp_path / "tagged.m4a"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0.3",
         "-metadata", "creation_time=2022-03-14T08:15:00Z", str(audio)],
        check=True,
    )  # fmt: skip
    r = report(tmp_path, audio=audio)
    assert recording_time(r, SHOW_TZ) == dt.datetime(2022, 3, 14, 8, 15, tzinfo=dt.UTC)
    assert tagger(gazetteer, tracks).locate(r).source == "gpx"
    untagged = tmp_path / "untagged.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0.3",
         "-fflags", "+bitexact", str(untagged)],
        check=True,
    )  # fmt: skip
    assert recording_time(report(tmp_path, audio=untagged), SHOW_TZ) is None
    noted = report(tmp_path, audio=audio, recorded_at=dt.datetime(2022, 3, 14, 10, 0))
    assert recording_time(noted, SHOW_TZ) == dt.datetime(2022, 3, 14, 9, 0, tzinfo=dt.UTC)


# ---- 3. place ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "name", "country"),
    [
        ("Bialowieza", "Białowieża", "PL"),
        ("Lesvos", "Lesbos", "GR"),
        ("the harbour in Lampedusa", "Lampedusa", "IT"),
        ("Idomeni (GR)", "Idomeni", "GR"),
        ("Samos, Spain", "Samos", "ES"),
        ("Border crossing at Kelebija", "Kelebija", "RS"),  # "Border" is also Bordères
        ("Police station in Kelebija", "Kelebija", "RS"),  # "Police" is a Polish town
    ],
)
def test_place_from_the_gazetteer(tmp_path, gazetteer, written, name, country) -> None:
    loc = tagger(gazetteer).locate(report(tmp_path, place=written))
    assert loc.source == "place"
    assert loc.name.startswith(name + ", ")
    assert loc.country_code == country
    assert loc.accuracy_m is not None and loc.accuracy_m >= 1000


def test_ambiguous_name_settled_by_the_nearest_other_stop(tmp_path, gazetteer, caplog) -> None:
    r = report(tmp_path, place="Samos")
    novi_sad = Location(source="notes", lat=45.25, lon=19.84, country_code="RS")
    chios = Location(source="place", lat=38.37, lon=26.14, country_code="GR")
    caplog.set_level("INFO", logger="fieldreports.geo.locate")
    loc = tagger(gazetteer).locate(r, nearby=[novi_sad])
    assert (loc.name, loc.country_code) == ("Samoš, Serbia", "RS")
    assert "chose Samoš, Serbia" in caplog.text  # the choice is logged
    assert tagger(gazetteer).locate(r, nearby=[chios]).country_code == "GR"
    assert tagger(gazetteer, countries="ES").locate(r).country_code == "ES"


def test_locate_all_uses_the_other_stops_of_the_journey(tmp_path, gazetteer) -> None:
    reports = [
        report(tmp_path, "a", journey="Balkans", lat=45.25, lon=19.84),
        report(tmp_path, "b", journey="Balkans", place="Samos"),
        report(tmp_path, "c", journey="Balkans", lat=19.84, lon=45.25),  # swapped
        report(tmp_path, "d", journey="Aegean", place="Chios"),
    ]
    batch = tagger(gazetteer).locate_all(reports)
    assert batch.locations["b"].country_code == "RS"
    assert "wrong way round" in str(batch.errors["c"])
    assert batch.locations["d"].country_code == "GR"


# ---- 4. text, 5. none ----------------------------------------------------------------------


def test_place_named_in_the_body_or_transcript(tmp_path, gazetteer) -> None:
    r = report(tmp_path, body="We waited all night at the fence before Röszke let us through.")
    loc = tagger(gazetteer, countries="HU, RS").locate(r)
    assert (loc.source, loc.name) == ("text", "Röszke, Hungary")
    loc = tagger(gazetteer, countries="HU, RS").locate(
        report(tmp_path), transcript_text="Tonight we sleep in Subotica, near the border."
    )
    assert (loc.source, loc.name) == ("text", "Subotica, Serbia")


def test_text_outside_the_journey_is_not_used(tmp_path, gazetteer) -> None:
    r = report(tmp_path, body="My grandmother was born in Palermo.")
    assert tagger(gazetteer, countries="PL").locate(r).source == "none"
    assert tagger(gazetteer).locate(r).source == "none"  # no journey known: no guessing


def test_nothing_known_is_not_located(tmp_path, gazetteer) -> None:
    loc = tagger(gazetteer).locate(report(tmp_path, place="Xyzzyvillage"))
    assert loc.source == "none"
    assert not loc.located and loc.public_lat is None
    assert loc.public() is None
    assert "not located" in loc.note


# ---- source protection ---------------------------------------------------------------------


def test_sensitive_report_publishes_a_point_at_least_5_km_away(tmp_path, gazetteer) -> None:
    exact = (52.06, 23.51)  # fields 7.5 km west of Terespol
    loc = tagger(gazetteer).locate(report(tmp_path, lat=exact[0], lon=exact[1], sensitive=True))
    assert loc.sensitive
    assert (loc.lat, loc.lon) == exact  # the exact point stays in the Location (the catalog)
    assert distance_km(*exact, loc.public_lat, loc.public_lon) >= 5
    assert loc.name == "near Terespol, Poland"
    assert loc.public_accuracy_m is not None and loc.public_accuracy_m >= 10_000
    assert "52.06," not in loc.public().geo_uri and "23.51" not in loc.public().geo_uri


def test_show_default_makes_every_report_sensitive(tmp_path, gazetteer) -> None:
    exact = (52.78, 23.90)  # deep in the Białowieża forest: snapped to the 10 km grid
    loc = tagger(gazetteer, sensitive=True).locate(report(tmp_path, lat=exact[0], lon=exact[1]))
    assert loc.sensitive and (loc.lat, loc.lon) == exact
    assert (loc.public_lat, loc.public_lon) != exact
    assert distance_km(*exact, loc.public_lat, loc.public_lon) < 8
    plain = tagger(gazetteer).locate(report(tmp_path, lat=exact[0], lon=exact[1]))
    assert not plain.sensitive and (plain.public_lat, plain.public_lon) == exact


def test_not_located_says_why(tmp_path, gazetteer, tracks) -> None:
    r = report(tmp_path, place="Xyzzyvillage", recorded_at=dt.datetime(2022, 3, 14, 12, 0))
    note = tagger(gazetteer, tracks, countries="HU").locate(r).note
    assert "no GPX fix around 2022-03-14T12:00:00+01:00" in note
    assert 'place "Xyzzyvillage" is not in the offline gazetteer' in note
    assert "no place in HU, RS named in the text" in note  # RS: the track passes there


# ---- chapters: route points ----------------------------------------------------------------


def test_route_points_trace_the_track_during_the_recording(tmp_path, gazetteer, tracks) -> None:
    geo = tagger(gazetteer, tracks)
    r = report(tmp_path, recorded_at=dt.datetime(2022, 3, 14, 9, 10))  # 08:10Z
    loc = geo.locate(r)
    points = geo.route_points(r, loc, offsets_s=[0, 300, 600])
    assert points[0] == (loc.public_lat, loc.public_lon) == (46.14, 19.97)
    assert distance_km(*points[1], 46.16, 20.00) < 0.1  # five minutes on
    assert distance_km(*points[2], 46.18, 20.03) < 0.1


def test_route_points_of_a_sensitive_report_are_only_its_public_point(
    tmp_path, gazetteer, tracks
) -> None:
    geo = tagger(gazetteer, tracks)
    r = report(tmp_path, recorded_at=dt.datetime(2022, 3, 14, 9, 10), sensitive=True)
    loc = geo.locate(r)
    assert loc.sensitive and loc.source == "gpx"
    public = (loc.public_lat, loc.public_lon)
    assert geo.route_points(r, loc, offsets_s=[0, 300, 600]) == (public, public, public)
    nowhere = geo.locate(report(tmp_path))
    assert geo.route_points(report(tmp_path), nowhere, offsets_s=[0]) == ()


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
def test_recording_time_read_with_mutagen_when_ffprobe_is_missing(tmp_path, monkeypatch) -> None:
    audio = tmp_path / "phone.mp3"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0.3",
         "-metadata", "date=2022-03-14T09:15:00", str(audio)],
        check=True,
    )  # fmt: skip
    monkeypatch.setattr("fieldreports.intake.recorder_tags.shutil.which", lambda _name: None)
    # An ID3 date without an offset is read in the show's time zone (UTC+1 in March).
    assert recording_time(report(tmp_path, audio=audio), SHOW_TZ) == dt.datetime(
        2022, 3, 14, 8, 15, tzinfo=dt.UTC
    )


def test_simultaneous_journeys_keep_to_their_own_tracks(tmp_path, gazetteer, tracks) -> None:
    sea = tmp_path / "sea"
    sea.mkdir()
    (sea / "giulia-russo.gpx").write_text(
        GPX.replace("Border Reached! 2022", "Mediterranean 2022")
        .replace('lat="46.', 'lat="35.')
        .replace('lon="19.', 'lon="12.')
        .replace('lon="20.', 'lon="12.'),
        encoding="utf-8",
    )
    both = (*tracks, *read_tracks(sea))
    when = dt.datetime(2022, 3, 14, 9, 15)
    by_journey = tagger(gazetteer, both).locate(
        report(tmp_path, recorded_at=when, journey="Mediterranean 2022")
    )
    assert by_journey.source == "gpx" and by_journey.lat < 40
    by_reporter = tagger(gazetteer, both).locate(
        report(tmp_path, recorded_at=when, reporter="Giulia Russo")
    )
    assert by_reporter.lat < 40  # the file is named after her
    balkans = tagger(gazetteer, both).locate(
        report(tmp_path, recorded_at=when, journey="Border Reached! 2022")
    )
    assert balkans.lat > 40


def test_coordinates_pasted_into_place(tmp_path, gazetteer) -> None:
    loc = tagger(gazetteer).locate(report(tmp_path, place="52°04′14″N 23°36′04″E"))
    assert (loc.source, loc.name) == ("notes", "near Terespol, Poland")
    assert distance_km(loc.lat, loc.lon, 52.0705, 23.6010) < 0.05
    with pytest.raises(ReportError, match=r"bad\.md.*out of range"):
        tagger(gazetteer).locate(report(tmp_path, "bad", place="95.1, 23.6"))


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
def test_the_recordings_own_gps_tag(tmp_path, gazetteer, tracks) -> None:
    audio = tmp_path / "phone.m4a"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0.3",
         "-metadata", "location=+52.0705+023.6010/", str(audio)],
        check=True,
    )  # fmt: skip
    loc = tagger(gazetteer).locate(report(tmp_path, audio=audio, place="Lampedusa"))
    assert (loc.source, loc.name) == ("gpx", "near Terespol, Poland")
    assert (loc.lat, loc.lon) == (52.0705, 23.601)
    assert loc.note == "the recording's own GPS tag"
    # A track fix as good as the phone's wins (08:10Z is on a track point) ...
    on_fix = report(tmp_path, audio=audio, recorded_at=dt.datetime(2022, 3, 14, 9, 10))
    assert tagger(gazetteer, tracks).locate(on_fix).lat == 46.14
    # ... but a guess across a 6 km hop between two track points does not.
    between = report(tmp_path, audio=audio, recorded_at=dt.datetime(2022, 3, 14, 9, 15))
    assert tagger(gazetteer, tracks).locate(between).lat == 52.0705


# ---- how sure a name is ------------------------------------------------------------------------

BALKAN_STOPS = [
    Location(source="notes", lat=45.25, lon=19.84, country_code="RS"),  # Novi Sad
    Location(source="notes", lat=45.75, lon=21.23, country_code="RO"),  # Timișoara
]


def test_salzburg_on_a_balkan_journey_is_flagged_not_pinned_in_romania(tmp_path, gazetteer) -> None:
    r = report(tmp_path, "salzburg", place="Salzburg")
    loc = tagger(gazetteer).locate(r, nearby=BALKAN_STOPS)
    assert not loc.located and loc.public() is None  # off the map
    assert loc.doubt.startswith("salzburg.md: ")
    assert 'place "Salzburg" could be Salzburg, Austria or Ocna Sibiului, Romania' in loc.doubt
    assert "place: Salzburg, Austria" in loc.doubt
    assert "Ocna Sibiului, Romania" in loc.alternatives or loc.name == "Ocna Sibiului, Romania"
    assert loc.confidence < 0.5


@pytest.mark.parametrize(
    "written", ["Salzburg, Austria", "Salzburg (AT)", "Salzburg, Österreich", "Salzburg, AUT"]
)
def test_a_country_qualified_place_is_pinned(tmp_path, gazetteer, written) -> None:
    loc = tagger(gazetteer).locate(report(tmp_path, place=written), nearby=BALKAN_STOPS)
    assert loc.located and not loc.doubt
    assert (loc.name, loc.country_code) == ("Salzburg, Austria", "AT")
    assert loc.confidence >= 0.9


def test_the_romanian_town_by_its_own_name(tmp_path, gazetteer) -> None:
    loc = tagger(gazetteer).locate(report(tmp_path, place="Salzburg, Romania"), nearby=BALKAN_STOPS)
    assert loc.located and loc.name == "Ocna Sibiului, Romania"


def test_an_ambiguous_far_away_match_is_flagged(tmp_path, gazetteer) -> None:
    # Seen from Warsaw every Samos (Greece, Spain, Serbia) lies over 700 km away, and none of
    # them dwarfs the others: a guess, so it is not pinned.
    far = tagger(gazetteer).locate(report(tmp_path, "far", place="Samos"), nearby=[
        Location(source="notes", lat=52.23, lon=21.01, country_code="PL"),  # Warsaw
    ])  # fmt: skip
    assert not far.located and "could be" in far.doubt


def test_a_clear_name_far_away_is_still_pinned(tmp_path, gazetteer) -> None:
    loc = tagger(gazetteer).locate(report(tmp_path, place="Calais"), nearby=BALKAN_STOPS)
    assert loc.located and loc.country_code == "FR" and not loc.doubt


def test_every_automatic_location_says_how_sure_it_is(tmp_path, gazetteer) -> None:
    noted = tagger(gazetteer).locate(report(tmp_path, lat=45.25, lon=19.84))
    assert noted.confidence == 1.0
    unique = tagger(gazetteer).locate(report(tmp_path, place="Idomeni (GR)"))
    assert unique.confidence >= 0.9 and unique.alternatives == ()
    samos = tagger(gazetteer).locate(report(tmp_path, place="Samos"), nearby=BALKAN_STOPS[:1])
    assert samos.located and 0.5 < samos.confidence < 0.9
    assert any(a.endswith("Greece") for a in samos.alternatives)
    assert "population" in samos.note and "km from the journey" in samos.note


def test_what_a_report_is_about_is_placed_by_the_same_rules(tmp_path, gazetteer) -> None:
    """`about: Moria` from Mytilene is Mória on Lesbos (not Jerusalem's Mount Moriah), and for a
    sensitive report it is published no more precisely than the place it was recorded."""
    geotagger = tagger(gazetteer)
    recorded = report(tmp_path, place="Mytilene", about="Moria")
    here = geotagger.locate(recorded)
    subject = geotagger.subject(recorded, nearby=[here])
    assert subject is not None and subject.country_code == "GR"
    assert distance_km(subject.lat, subject.lon, 39.132, 26.517) < 2
    assert subject.public() is not None and not subject.sensitive

    hidden = report(tmp_path, "hidden", place="Mytilene", about="Moria", sensitive=True)
    coarse = geotagger.subject(hidden, nearby=[here]).public()
    assert coarse.sensitive and distance_km(coarse.lat, coarse.lon, 39.132, 26.517) > 2
    assert geotagger.subject(report(tmp_path, "none", place="Mytilene")) is None
    assert geotagger.subject(report(tmp_path, "odd", about="Xyzzyville")) is None
