"""End to end: a show folder of generated recordings becomes a feed, masters, transcripts and a map."""

from __future__ import annotations

import json
import math
import re
import shutil
import sqlite3
from pathlib import Path

import feedparser
import podcastparser
import pytest
from click.testing import CliRunner
from lxml import etree

from pipeline import cli
from tests.support.audio import convert, ebur128, speak, with_noise

BASE_URL = "https://radio.example.org/border/"
PODCAST_NS = "https://podcastindex.org/namespace/1.0"
GPX = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>
<trkpt lat="52.0000" lon="23.5000"><time>2022-03-02T09:00:00Z</time></trkpt>
<trkpt lat="52.1000" lon="23.7000"><time>2022-03-02T09:30:00Z</time></trkpt>
</trkseg></trk></gpx>
"""


def km_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def write_notes(path: Path, front: str) -> None:
    path.write_text(f"---\n{front}---\nNotes for {path.stem}.\n", encoding="utf-8")


@pytest.fixture(scope="module")
def show(tmp_path_factory: pytest.TempPathFactory, jfk: Path) -> Path:
    show = tmp_path_factory.mktemp("show")
    work = tmp_path_factory.mktemp("work")
    (show / "show.toml").write_text(
        f'[show]\ntitle = "Test Border Show"\nbase_url = "{BASE_URL}"\ntimezone = "Europe/Warsaw"\n'
        '[map]\ntiles = "none"\n',
        encoding="utf-8",
    )
    inbox = show / "inbox"
    inbox.mkdir()
    (show / "tracks").mkdir()
    (show / "tracks" / "route.gpx").write_text(GPX, encoding="utf-8")

    shutil.copy(jfk, inbox / "jfk-speech.flac")
    write_notes(
        inbox / "jfk-speech.md",
        "title: Ask not\njourney: Test\nlanguage: en\n"
        "recorded_at: 2022-03-01T12:00:00+01:00\nlat: 35.4990\nlon: 12.6060\n",
    )

    english = speak(
        "We are driving north along the border river. The queue of trucks is long.",
        work / "en.wav",
        voice="en-gb",
    )
    convert(
        with_noise(english, work / "en-noisy.wav"),
        inbox / "on-the-road.ogg",
        "-c:a",
        "libopus",
        "-b:a",
        "32k",
    )
    # 09:15 UTC, halfway between the two track points.
    write_notes(
        inbox / "on-the-road.md",
        "title: On the road\njourney: Test\nlanguage: en\nrecorded_at: 2022-03-02T10:15:00+01:00\n",
    )

    dutch = speak("We staan bij het grenshek. Het is koud.", work / "nl.wav", voice="nl")
    convert(dutch, inbox / "bij-het-hek.m4a", "-c:a", "aac", "-b:a", "64k")
    write_notes(
        inbox / "bij-het-hek.md",
        "title: Bij het hek\njourney: Test\nlanguage: nl\n"
        "recorded_at: 2022-03-03T10:00:00+01:00\nplace: Röszke\n",
    )

    convert(english, inbox / "somewhere.wav")
    # Salzburg, Austria, or Ocna Sibiului, Romania (German: Salzburg), nearer the other stops?
    write_notes(inbox / "somewhere.md", "title: Somewhere\njourney: Test\nplace: Salzburg\n")

    (inbox / "broken.mp3").write_bytes(b"\xff\xfb\x90\x00" + bytes(range(256)) * 8)
    write_notes(inbox / "broken.md", "title: Broken upload\n")

    convert(dutch, inbox / "typo.wav")
    write_notes(inbox / "typo.md", "title: Typo\nplase: Röszke\n")
    return show


@pytest.fixture(scope="module")
def first_run(show: Path):
    return CliRunner().invoke(cli, ["run", str(show)], catch_exceptions=False)


@pytest.fixture(scope="module")
def feed_bytes(show: Path, first_run) -> bytes:
    return (show / "public" / "feed.xml").read_bytes()


def local(show: Path, url: str) -> Path:
    assert url.startswith(BASE_URL), url
    return show / "public" / url[len(BASE_URL) :]


def test_failures_are_named_and_the_rest_is_published(show: Path, first_run) -> None:
    assert first_run.exit_code == 1
    output = " ".join(first_run.output.split())
    assert "broken.mp3" in output
    assert 'unknown key "plase"' in output
    # The undecodable recording is set aside with its reason; the notes typo stays for the reporter.
    assert (show / "quarantine" / "broken.mp3").is_file()
    assert (show / "quarantine" / "broken.mp3.reason.txt").read_text().strip()
    assert (show / "inbox" / "typo.wav").is_file()


def test_feed_parses_in_podcast_clients(show: Path, feed_bytes: bytes) -> None:
    parsed = podcastparser.parse(BASE_URL + "feed.xml", __import__("io").BytesIO(feed_bytes))
    titles = sorted(e["title"] for e in parsed["episodes"])
    assert titles == ["Ask not", "Bij het hek", "On the road", "Somewhere"]
    for episode in parsed["episodes"]:
        (enclosure,) = episode["enclosures"]
        assert enclosure["mime_type"] == "audio/mpeg"
        assert enclosure["file_size"] == local(show, enclosure["url"]).stat().st_size
        assert episode["guid"]
        assert episode["total_time"] > 1
    fp = feedparser.parse(feed_bytes)
    assert not fp.bozo, fp.bozo_exception
    assert len(fp.entries) == 4
    assert len({e.id for e in fp.entries}) == 4


def test_published_audio_meets_loudness_targets(show: Path, feed_bytes: bytes) -> None:
    mp3s = sorted((show / "public" / "episodes").glob("*.mp3"))
    masters = sorted((show / "public" / "masters").glob("*.wav"))
    assert len(mp3s) == 4 and len(masters) == 4
    for mp3 in mp3s:
        lufs, peak = ebur128(mp3)
        assert abs(lufs - -16) <= 1, (mp3.name, lufs)
        assert peak <= -0.5, (mp3.name, peak)
    for master in masters:
        lufs, _ = ebur128(master)
        assert abs(lufs - -23) <= 1, (master.name, lufs)


def test_transcripts_are_published_and_linked(show: Path, feed_bytes: bytes) -> None:
    root = etree.fromstring(feed_bytes)
    items = {i.findtext("title"): i for i in root.iter("item")}
    links = items["Ask not"].findall(f"{{{PODCAST_NS}}}transcript")
    types = {link.get("type") for link in links}
    assert {"text/vtt", "application/x-subrip", "application/json"} <= types
    fr = "{urn:fieldreports:1.0}"
    assert {link.get(f"{fr}languageSource") for link in links} == {"hint"}
    detected = items["Somewhere"].find(f"{{{PODCAST_NS}}}transcript")
    assert detected.get("language") == "en"
    assert detected.get(f"{fr}languageSource") == "detected"
    assert 0.5 < float(detected.get(f"{fr}languageProbability")) <= 1
    vtt = next(link.get("url") for link in links if link.get("type") == "text/vtt")
    text = local(show, vtt).read_text(encoding="utf-8").lower()
    assert text.startswith("webvtt")
    for word in ("fellow americans", "ask not", "your country"):
        assert word in text


def test_gpx_report_lands_on_the_track(show: Path, feed_bytes: bytes) -> None:
    root = etree.fromstring(feed_bytes)
    items = {i.findtext("title"): i for i in root.iter("item")}
    location = items["On the road"].find(f"{{{PODCAST_NS}}}location")
    assert location is not None
    lat, lon = (float(v) for v in location.get("geo").removeprefix("geo:").split(";")[0].split(","))
    assert km_between(lat, lon, 52.05, 23.60) <= 1.0
    chapters_url = items["On the road"].find(f"{{{PODCAST_NS}}}chapters").get("url")
    chapters = json.loads(local(show, chapters_url).read_text(encoding="utf-8"))
    assert chapters["waypoints"] is True
    geo = chapters["chapters"][0]["location"]["geo"].removeprefix("geo:")
    assert km_between(*(float(v) for v in geo.split(",")), 52.05, 23.60) <= 1.0


def test_a_doubtful_place_is_published_off_the_map_with_the_fix(
    show: Path, first_run, feed_bytes: bytes
) -> None:
    root = etree.fromstring(feed_bytes)
    items = {i.findtext("title"): i for i in root.iter("item")}
    assert items["Somewhere"].find(f"{{{PODCAST_NS}}}location") is None
    said = " ".join(first_run.output.split())
    warning = (
        'somewhere.md: place "Salzburg" could be Salzburg, Austria or Ocna Sibiului, Romania; '
        "add a country: place: Salzburg, Austria"
    )
    assert warning in said
    status = CliRunner().invoke(cli, ["status", str(show)], env={"COLUMNS": "300"})
    assert warning in " ".join(status.output.split())


def test_map_is_offline_with_a_marker_per_episode(show: Path, feed_bytes: bytes) -> None:
    page = (show / "public" / "map" / "index.html").read_text(encoding="utf-8")
    assert len(re.findall(r'<template id="fr-stop-\d+">', page)) == 3  # one stop each
    for url in re.findall(r"https?://[^\s\"'<>)`]+", page):
        assert url.startswith(BASE_URL), f"map refers outside the site: {url}"
    for src in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page):
        assert not src.startswith(("http:", "https:", "//")), src
        if src.startswith("data:"):
            continue
        assert (show / "public" / "map" / src.split("?")[0]).resolve().is_file(), src


def test_second_run_does_no_audio_or_whisper_work(show: Path, feed_bytes: bytes) -> None:
    again = CliRunner().invoke(cli, ["run", str(show)], catch_exceptions=False)
    assert again.exit_code == 1  # the notes typo is still there, and still named
    assert 'unknown key "plase"' in " ".join(again.output.split())
    db = sqlite3.connect(show / ".fieldreports" / "catalog.sqlite3")
    last_run = db.execute("SELECT MAX(id) FROM runs").fetchone()[0]
    stages = db.execute("SELECT stage FROM work WHERE run_id = ?", (last_run,)).fetchall()
    assert stages == []
    first_stages = {s for (s,) in db.execute("SELECT stage FROM work WHERE run_id = 1")}
    assert {"normalise", "transcribe:transcribe"} <= first_stages
    assert (show / "public" / "feed.xml").read_bytes().count(b"<item>") == 4


def test_status_shows_loudness_gain_place_and_failures(show: Path, feed_bytes: bytes) -> None:
    result = CliRunner().invoke(cli, ["status", str(show)], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert "published" in rows["jfk-speech"]
    assert re.search(r"-1[56]\.\d, -\d+\.\d / -2[23]\.\d, -\d+\.\d", rows["jfk-speech"])
    assert re.search(r"\+\d+\.\d / \+\d+\.\d dB|[-+]\d+\.\d / [-+]\d+\.\d dB", rows["jfk-speech"])
    assert "(notes)" in rows["on-the-road"] or "(gpx)" in rows["on-the-road"]
    assert "failed" in rows["typo"] and "plase" in rows["typo"]
    assert "quarantined: broken.mp3" in " ".join(result.output.split())


def test_exact_point_of_a_report_stays_in_the_private_catalog(
    show: Path, feed_bytes: bytes
) -> None:
    db = sqlite3.connect(show / ".fieldreports" / "catalog.sqlite3")
    (summary,) = db.execute("SELECT summary FROM reports WHERE id = 'jfk-speech'").fetchone()
    stored = json.loads(summary)
    assert (stored["lat"], stored["lon"]) == (35.499, 12.606)
