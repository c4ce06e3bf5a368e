"""make_episode: a tagged MP3, keys, URLs, transcripts, excerpt, times, and nothing private."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from pathlib import Path

import pytest
from mutagen.id3 import ID3

from episodes.episode import Episode, rebase
from fieldreports.intake.notes import Notes
from tests.support.episodes import (
    BASE_URL,
    LAMPEDUSA,
    build_episode,
    mastered,
    show_config,
    transcript,
)

SLUG = "2022-03-14-al-porto"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Episode, Path]:
    work = tmp_path_factory.mktemp("episode")
    config = show_config(work / "show")
    audio = mastered(work / "audio", "lampedusa")
    spoken = transcript("it", "Aspettiamo al porto da ore, " * 20, "Le barche arrivano.")
    translated = transcript("en", "We have been waiting.", task="translate")
    episode = build_episode(
        Notes(
            title="Al porto",
            reporter="Giulia Rossi",
            journey="Border Reached! 2022",
            recorded_at=dt.datetime(2022, 3, 14, 9, 40),
        ),
        audio,
        (translated, spoken),  # order must not matter
        LAMPEDUSA,
        guid="urn:uuid:11111111-1111-5111-8111-111111111111",
        season=1,
        number=4,
        published_at=dt.datetime(2022, 5, 1, 12, tzinfo=dt.UTC),
        show=config.show,
        work_dir=work / "made",
    )
    return episode, work


def test_mp3_is_a_tagged_copy(made) -> None:
    episode, work = made
    tagged = episode.audio.source
    assert tagged.is_file() and tagged.is_relative_to(work / "made")
    assert episode.audio.size_bytes == tagged.stat().st_size
    assert episode.audio.sha256 == hashlib.sha256(tagged.read_bytes()).hexdigest()
    tags = ID3(tagged)
    assert str(tags["TIT2"]) == "Al porto"
    assert str(tags["TPE1"]) == "Giulia Rossi"
    assert str(tags["TALB"]) == "Border Reached!"
    assert str(tags["TRCK"]) == "4" and str(tags["TPOS"]) == "1"
    # The cached master MP3 itself is untouched: tags go on the copy only.
    assert (work / "audio" / "lampedusa.mp3").read_bytes() != tagged.read_bytes()


def test_keys_and_urls_follow_the_slug(made) -> None:
    episode, _work = made
    assert episode.slug == SLUG
    assert episode.audio.key == f"episodes/{SLUG}.mp3"
    assert episode.audio.url == BASE_URL + f"episodes/{SLUG}.mp3"
    assert episode.master.key == f"masters/{SLUG}.wav"
    assert episode.master.content_type == "audio/wav"
    assert episode.chapters_key == f"chapters/{SLUG}.json"
    moved = rebase(episode, "https://cdn.example.net/br/")
    assert moved.audio.url == f"https://cdn.example.net/br/episodes/{SLUG}.mp3"
    assert moved.audio.key == episode.audio.key


def test_an_episode_holds_nothing_private(made) -> None:
    """The type itself: no exact point, no report id or file name, whatever a consumer reads."""
    episode, _work = made
    names = {f.name for f in dataclasses.fields(Episode)}
    assert not names & {"report_id", "mastered", "notes_path", "audio_path"}
    assert {f.name for f in dataclasses.fields(type(episode.location))} == {
        "lat", "lon", "accuracy_m", "name", "country_code", "sensitive", "source"
    }  # fmt: skip
    assert (episode.location.lat, episode.location.lon) == (35.5, 12.6)  # the public point
    assert "35.50111" not in repr(episode)


def test_transcripts_in_every_format_and_the_translation(made) -> None:
    episode, _work = made
    keys = {t.key: t for t in episode.transcripts}
    assert set(keys) == {
        f"transcripts/{SLUG}.{lang}.{fmt}" for lang in ("it", "en") for fmt in ("vtt", "srt", "json", "txt")
    }  # fmt: skip
    vtt = keys[f"transcripts/{SLUG}.it.vtt"]
    assert vtt.data.startswith(b"WEBVTT") and not vtt.translated
    assert "Aspettiamo" in vtt.data.decode()
    assert keys[f"transcripts/{SLUG}.en.txt"].translated
    assert episode.language == "it"


def test_excerpt_times_and_notes(made) -> None:
    episode, _work = made
    assert episode.transcript_excerpt.startswith("Aspettiamo al porto")
    assert len(episode.transcript_excerpt) <= 280 and episode.transcript_excerpt.endswith("…")
    # A naive recorded_at is read in the show's time zone (Europe/Rome, UTC+1 in March).
    assert episode.recorded_at.utcoffset() == dt.timedelta(hours=1)
    assert (episode.season, episode.number, episode.journey) == (1, 4, "Border Reached! 2022")
    assert episode.segments[1] == (40.0, 80.0, "Le barche arrivano.")


def test_translation_into_the_spoken_language_is_dropped(made) -> None:
    _episode, work = made
    config = show_config(work / "show2")
    audio = mastered(work / "audio2", "english")
    episode = build_episode(
        Notes(title="English"),
        audio,
        (transcript("en", "Hello."), transcript("en", "Hello.", task="translate")),
        LAMPEDUSA,
        guid="g",
        published_at=dt.datetime(2022, 5, 1, tzinfo=dt.UTC),
        show=config.show,
        work_dir=work / "made2",
    )
    assert len(episode.transcripts) == 4
    assert not any(t.translated for t in episode.transcripts)


def test_naive_published_at_is_refused(made) -> None:
    _episode, work = made
    config = show_config(work / "show3")
    audio = mastered(work / "audio3", "x")
    with pytest.raises(ValueError, match="timezone-aware"):
        build_episode(
            Notes(title="X"),
            audio,
            (),
            LAMPEDUSA,
            guid="g",
            published_at=dt.datetime(2022, 5, 1),
            show=config.show,
            work_dir=work / "made3",
            slug="x",
        )
