"""A run that stops part-way loses only the report in flight, and publishes nothing half-done."""

from __future__ import annotations

import fcntl
from collections.abc import Mapping
from pathlib import Path

import pytest

from fieldreports.catalog.sqlite import open_catalog
from fieldreports.config import load_config
from fieldreports.errors import SetupError
from pipeline import Progress, run_show
from tests.support.audio import convert, speak


def audio_and_whisper(work: Mapping[str, int]) -> dict[str, int]:
    return {stage: n for stage, n in work.items() if stage.startswith(("normalise", "transcribe"))}


def make_show(root: Path) -> Path:
    show = root / "show"
    (show / "inbox").mkdir(parents=True)
    (show / "show.toml").write_text(
        '[show]\ntitle = "Resume"\nbase_url = "https://e.org/r/"\n'
        '[transcription]\nmodel = "tiny.en"\n[map]\ntiles = "none"\n',
        encoding="utf-8",
    )
    for name, text in (("a-first", "The first report."), ("b-second", "The second report.")):
        convert(speak(text, root / f"{name}.wav"), show / "inbox" / f"{name}.mp3")
        (show / "inbox" / f"{name}.md").write_text(f"---\ntitle: {name}\n---\n", encoding="utf-8")
    return show


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    config = load_config(show)

    def stop_at_second_report(p: Progress) -> None:
        if p.report_id == "b-second" and p.stage == "transcribe":
            raise KeyboardInterrupt  # Ctrl+C while Whisper works on the second report

    with pytest.raises(KeyboardInterrupt):
        run_show(config, on_progress=stop_at_second_report)
    # Nothing was published: not a feed that lists one report, not a map.
    assert not (show / "public" / "feed.xml").exists()

    summary = run_show(config)
    assert sorted(summary.episodes) == ["a-first", "b-second"]
    # Both were mastered and the first transcribed before the stop: only the rest is done now.
    assert audio_and_whisper(summary.work) == {"transcribe:transcribe": 1}
    assert (show / "public" / "feed.xml").read_bytes().count(b"<item>") == 2
    with open_catalog(config.state_dir) as catalog:
        assert {r.id: r.status for r in catalog.reports()} == {
            "a-first": "published",
            "b-second": "published",
        }


def test_a_show_wide_problem_stops_the_run_and_moves_no_recording(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    toml = show / "show.toml"
    toml.write_text(toml.read_text() + "[audio]\npodcast_channels = 3\n", encoding="utf-8")
    with pytest.raises(SetupError, match="podcast_channels"):
        run_show(load_config(show))
    assert sorted(p.name for p in (show / "inbox").iterdir()) == [
        "a-first.md",
        "a-first.mp3",
        "b-second.md",
        "b-second.mp3",
    ]
    assert not (show / "quarantine").exists() and not (show / "public").exists()


def test_one_run_at_a_time(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    config = load_config(show)
    config.state_dir.mkdir(parents=True)
    with (config.state_dir / "run.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(SetupError, match="another fieldreports run"):
            run_show(config)


def test_a_failing_report_keeps_its_published_episode(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    config = load_config(show)
    run_show(config)
    notes = show / "inbox" / "a-first.md"
    notes.write_text("---\ntitle: a-first\nplase: Lampedusa\n---\n", encoding="utf-8")
    summary = run_show(config)
    assert [f.report_id for f in summary.failures] == ["a-first"]
    assert any("a-first" in w and "stays up" in w for w in summary.warnings)
    feed = (show / "public" / "feed.xml").read_bytes()
    assert feed.count(b"<item>") == 2 and b"<title>a-first</title>" in feed
    assert audio_and_whisper(summary.work) == {}


def test_quarantine_keeps_every_broken_file(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    config = load_config(show)
    for attempt in (b"first", b"second"):
        (show / "inbox" / "broken.mp3").write_bytes(b"\xff\xd8\xff\xe0JFIF" + attempt * 100)
        summary = run_show(config)
        assert any(f.report_id == "broken" and "not audio" in f.reason for f in summary.failures)
    quarantined = sorted(p.name for p in (show / "quarantine").iterdir())
    assert quarantined == [
        "broken-2.mp3",
        "broken-2.mp3.reason.txt",
        "broken.mp3",
        "broken.mp3.reason.txt",
    ]


def test_a_damaged_recopy_keeps_the_published_episode_and_its_notes(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    config = load_config(show)
    run_show(config)
    good = (show / "inbox" / "a-first.mp3").read_bytes()
    (show / "inbox" / "a-first.mp3").write_bytes(b"\xff\xd8\xff\xe0JFIF" + bytes(300))
    first = run_show(config)
    assert [(f.report_id, f.set_aside) for f in first.failures] == [("a-first", True)]
    assert (show / "inbox" / "a-first.md").is_file()  # the notes wait for a good copy
    second = run_show(config)  # the recording is in quarantine now: nothing fails...
    assert not second.failures
    feed = (show / "public" / "feed.xml").read_bytes()
    assert feed.count(b"<item>") == 2  # ...and the episode stays published
    (show / "inbox" / "a-first.mp3").write_bytes(good)
    third = run_show(config)
    assert sorted(third.episodes) == ["a-first", "b-second"]


def test_private_caches_of_withdrawn_reports_are_removed(tmp_path: Path) -> None:
    """A report deleted from the inbox leaves no master, tagged copy or half-written file."""
    show = make_show(tmp_path)
    config = load_config(show)
    run_show(config)
    cache = config.state_dir / "cache"
    masters = sorted((cache / "normalise").iterdir())
    assert len(masters) == 2
    stray = cache / "episode" / "killed-run" / "podcast.mp3.tmp"  # a run killed mid-tagging
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"half")
    (show / "inbox" / "b-second.mp3").unlink()
    (show / "inbox" / "b-second.md").unlink()
    run_show(config)
    assert len(list((cache / "normalise").iterdir())) == 1
    assert len(list((cache / "episode").iterdir())) == 1
    assert not stray.parent.exists()
