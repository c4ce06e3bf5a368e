"""make_episode: staged MP3 with clean tags, keys, URLs, transcripts, excerpt, times."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from mutagen.id3 import ID3

from episodes.episode import Episode, make_episode, rebase
from tests.support.episodes import (
    BASE_URL,
    LAMPEDUSA,
    mastered,
    report,
    show_config,
    transcript,
)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Episode, Path]:
    work = tmp_path_factory.mktemp("episode")
    config = show_config(work / "show")
    audio = mastered(work / "audio", "lampedusa")
    spoken = transcript("it", "Aspettiamo al porto da ore, " * 20, "Le barche arrivano.")
    translated = transcript("en", "We have been waiting.", task="translate")
    episode = make_episode(
        report(
            "2022-03-14-lampedusa-harbour",
            audio.podcast_mp3,
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
        staging_dir=work / "staging",
    )
    return episode, work


def test_mp3_is_staged_under_the_slug_with_clean_tags(made) -> None:
    episode, work = made
    staged = work / "staging" / "episodes" / "2022-03-14-lampedusa-harbour.mp3"
    assert episode.audio.source == staged and staged.is_file()
    assert episode.audio.size_bytes == staged.stat().st_size
    assert episode.audio.sha256 == hashlib.sha256(staged.read_bytes()).hexdigest()
    tags = ID3(staged)
    assert str(tags["TIT2"]) == "Al porto"
    assert str(tags["TPE1"]) == "Giulia Rossi"
    assert str(tags["TALB"]) == "Border Reached!"
    # The cached master MP3 itself is untouched: tags go on the staged copy only.
    assert episode.mastered.podcast_mp3.read_bytes() != staged.read_bytes()


def test_keys_and_urls_follow_the_slug(made) -> None:
    episode, _work = made
    assert episode.slug == "2022-03-14-lampedusa-harbour"
    assert episode.audio.key == "episodes/2022-03-14-lampedusa-harbour.mp3"
    assert episode.audio.url == BASE_URL + "episodes/2022-03-14-lampedusa-harbour.mp3"
    assert episode.master.key == "masters/2022-03-14-lampedusa-harbour.wav"
    assert episode.master.content_type == "audio/wav"
    assert episode.chapters_key == "chapters/2022-03-14-lampedusa-harbour.json"
    moved = rebase(episode, "https://cdn.example.net/br/")
    assert moved.audio.url == "https://cdn.example.net/br/episodes/2022-03-14-lampedusa-harbour.mp3"
    assert moved.audio.key == episode.audio.key


def test_transcripts_in_every_format_and_the_translation(made) -> None:
    episode, _work = made
    keys = {t.key: t for t in episode.transcripts}
    assert set(keys) == {
        f"transcripts/2022-03-14-lampedusa-harbour.{lang}.{fmt}"
        for lang in ("it", "en")
        for fmt in ("vtt", "srt", "json", "txt")
    }
    vtt = keys["transcripts/2022-03-14-lampedusa-harbour.it.vtt"]
    assert vtt.data.startswith(b"WEBVTT") and not vtt.translated
    assert "Aspettiamo" in vtt.data.decode()
    assert keys["transcripts/2022-03-14-lampedusa-harbour.en.txt"].translated
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
    episode = make_episode(
        report("english", audio.podcast_mp3),
        audio,
        (transcript("en", "Hello."), transcript("en", "Hello.", task="translate")),
        LAMPEDUSA,
        guid="g",
        season=None,
        number=None,
        published_at=dt.datetime(2022, 5, 1, tzinfo=dt.UTC),
        show=config.show,
        staging_dir=work / "staging2",
    )
    assert len(episode.transcripts) == 4
    assert not any(t.translated for t in episode.transcripts)


def test_naive_published_at_is_refused(made) -> None:
    _episode, work = made
    config = show_config(work / "show3")
    audio = mastered(work / "audio3", "x")
    with pytest.raises(ValueError, match="timezone-aware"):
        make_episode(
            report("x", audio.podcast_mp3),
            audio,
            (),
            LAMPEDUSA,
            guid="g",
            season=None,
            number=None,
            published_at=dt.datetime(2022, 5, 1),
            show=config.show,
            staging_dir=work / "s3",
        )
