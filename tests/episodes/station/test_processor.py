"""The processor's rules without a running thread: when a report is due, what it waits for,
what a scan of the inbox takes. The pipeline itself runs in test_station_flow.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from episodes.episode import Episode
from episodes.i18n import interface
from episodes.station import states as st
from episodes.station.notify import Notifier
from episodes.station.processor import TRANSCRIBE_RETRIES, Processor
from fieldreports.catalog import Catalog, open_catalog
from fieldreports.errors import RunLocked
from fieldreports.intake.identity import Identity
from fieldreports.intake.inbox import Failure
from tests.support.episodes import make_show_episodes, show_config
from tests.support.station import RecordingRun, ScriptedRun, Told


@pytest.fixture
def processor(tmp_path: Path) -> Iterator[Processor]:
    config = show_config(tmp_path / "show", station={"notes_wait_s": 300.0})
    config.inbox_dir.mkdir()
    with open_catalog(config.state_dir, config.catalog) as catalog:
        made = Processor(config, RecordingRun(), catalog, Notifier(config.notify, secret=None))
        made._seen = made._last_listing = made._listing()
        yield made


def catalog_of(processor: Processor) -> Catalog:
    return processor.catalog


def test_a_recording_waits_for_its_notes_and_goes_when_they_land(processor: Processor) -> None:
    inbox = processor.config.inbox_dir
    (inbox / "fence.wav").write_bytes(b"RIFF....WAVE")
    processor.landed(inbox / "fence.wav")
    state = st.load_state(processor.catalog, "fence")
    assert state is not None and state.state == st.WAITING and state.waiting_until is not None
    assert 290 < processor._pending["fence"] - time.time() <= 300
    (inbox / "fence.md").write_text("---\ntitle: At the fence\n---\n", encoding="utf-8")
    processor.landed(inbox / "fence.md")
    assert processor._pending["fence"] <= time.time()
    state = st.load_state(processor.catalog, "fence")
    assert state is not None and (state.state, state.title) == (st.RECEIVED, "At the fence")


def test_notes_that_come_first_wait_for_their_recording(processor: Processor) -> None:
    inbox = processor.config.inbox_dir
    (inbox / "camp.md").write_text("---\ntitle: Camp\n---\n", encoding="utf-8")
    processor.landed(inbox / "camp.md")
    assert "camp" not in processor._pending
    (inbox / "camp.m4a").write_bytes(b"\x00\x00\x00\x1cftypM4A ")
    processor.landed(inbox / "camp.m4a")
    assert processor._pending["camp"] <= time.time()  # with its notes: at once


def test_a_scan_takes_a_copied_file_once_it_has_stopped_growing(processor: Processor) -> None:
    inbox = processor.config.inbox_dir
    (inbox / "copied.md").write_text("---\ntitle: Copied\n---\n", encoding="utf-8")
    recording = inbox / "copied.wav"
    recording.write_bytes(b"RIFF" + bytes(1000))
    processor._scan()
    assert "copied" not in processor._pending  # seen once: maybe still being copied
    with recording.open("ab") as more:
        more.write(bytes(1000))
    processor._scan()
    assert "copied" not in processor._pending  # it grew
    processor._scan()
    assert processor._pending["copied"] <= time.time()  # the same twice: whole
    del processor._pending["copied"]
    processor._scan()
    assert "copied" not in processor._pending  # taken once


def test_a_restart_picks_up_reports_on_their_way(processor: Processor) -> None:
    inbox = processor.config.inbox_dir
    (inbox / "late.wav").write_bytes(b"RIFF....WAVE")
    processor.landed(inbox / "late.wav")
    processor.catalog.record_upload(file_name="late.wav", report_id="late", reporter="Amal",
                                    sha256="0" * 64)  # fmt: skip
    waiting_until = processor._pending["late"]
    again = Processor(processor.config, RecordingRun(), processor.catalog, processor.notifier)
    again._restore()
    assert again._pending["late"] == pytest.approx(waiting_until, abs=1)


def test_health_says_when_runs_fail_and_when_they_work_again(processor: Processor) -> None:
    def broken(config: object, **options: object) -> object:
        raise OSError("No space left on device")

    good = processor.run
    processor.run = broken
    processor._run({"fence"}, set())
    health = processor.health()
    assert health["failed_runs_in_a_row"] == 1 and health["ok"] is False
    assert health["last_run_at"] is None and health["reports_waiting"] == 1  # tried again later
    processor.run = good
    processor._run({"fence"}, set())
    health = processor.health()
    assert health["failed_runs_in_a_row"] == 0 and health["runs"] == 1
    assert health["last_run_at"] is not None
    assert "fence" not in str(health)  # nothing of any report


# -- after a run: states and news, with a scripted run ------------------------------------

NOTES = "---\ntitle: Waiting at the harbour\n---\n"


@pytest.fixture
def scripted(tmp_path: Path) -> Iterator[tuple[Processor, ScriptedRun, Told, Episode]]:
    config = show_config(tmp_path / "show", station={"notes_wait_s": 300.0})
    config.inbox_dir.mkdir()
    episode = make_show_episodes(config, tmp_path / "work")[0]
    with open_catalog(config.state_dir, config.catalog) as catalog:
        run, told = ScriptedRun(), Told()
        made = Processor(config, run, catalog, told)  # type: ignore[arg-type]
        made._seen = made._last_listing = made._listing()
        yield made, run, told, episode


def publish(processor: Processor, run: ScriptedRun, episode: Episode) -> None:
    inbox = processor.config.inbox_dir
    (inbox / "x.md").write_text(NOTES, encoding="utf-8")
    processor.landed(inbox / "x.md")
    (inbox / "x.wav").write_bytes(b"RIFF....WAVE")
    processor.landed(inbox / "x.wav")
    run.episodes = {"x": episode}
    processor._run_once()


def state_of(processor: Processor, report_id: str) -> st.ReportState:
    state = st.load_state(processor.catalog, report_id)
    assert state is not None
    return state


def test_edited_notes_of_a_published_report_are_an_update(scripted) -> None:
    processor, run, told, episode = scripted
    publish(processor, run, episode)
    inbox = processor.config.inbox_dir
    (inbox / "x.md").write_text(NOTES + "Edited.\n", encoding="utf-8")
    processor.landed(inbox / "x.md")  # sent again with replace
    retagged = replace(episode, audio=replace(episode.audio, sha256="f" * 64))
    run.episodes = {"x": retagged}
    processor._run_once()
    assert told.names() == ["episode.published", "episode.updated"]


def test_a_rejected_replacement_stays_failed_and_is_not_published_again(scripted) -> None:
    processor, run, told, episode = scripted
    publish(processor, run, episode)
    inbox = processor.config.inbox_dir
    (inbox / "x.wav").write_bytes(b"RIFF..broken..")
    processor.landed(inbox / "x.wav")
    run.failures = [Failure(report_id="x", path=inbox / "x.wav", stage="normalise",
                            reason="not audio", set_aside=True)]  # fmt: skip
    run.kept = {"x"}
    processor._run_once()
    (inbox / "x.wav").unlink()  # set aside into quarantine/; the old episode stays up
    run.failures = []
    processor._run_at = time.time()  # the next run, for another report or the scan
    processor._run_once()
    assert told.names() == ["episode.published", "report.failed"]
    assert (state_of(processor, "x").state, state_of(processor, "x").stage) == (
        st.FAILED,
        "normalise",
    )


def test_a_reporter_is_told_the_reason_without_the_station_s_folders(scripted) -> None:
    processor, run, _, _ = scripted
    inbox = processor.config.inbox_dir
    (inbox / "x.m4a").write_bytes(b"\x00\x00\x00\x1cftypM4A ")
    processor.landed(inbox / "x.m4a")
    ffmpeg = f"{inbox / 'x.m4a'}: Invalid data found when processing input"
    run.failures = [Failure(report_id="x", path=inbox / "x.m4a", stage="normalise",
                            reason=f"ffmpeg cannot decode the aac audio: {ffmpeg}",
                            set_aside=True)]  # fmt: skip
    processor._run_once()
    view = st.public_view("x", state_of(processor, "x"), [], Identity(name="Amal"), interface("en"))
    assert view["reason"] == (
        "ffmpeg cannot decode the aac audio: x.m4a: Invalid data found when processing input"
    )


def test_a_failed_transcription_is_tried_again_by_itself_a_few_times(scripted) -> None:
    processor, run, told, episode = scripted
    inbox = processor.config.inbox_dir
    (inbox / "x.md").write_text(NOTES, encoding="utf-8")
    processor.landed(inbox / "x.md")
    (inbox / "x.wav").write_bytes(b"RIFF....WAVE")
    processor.landed(inbox / "x.wav")
    run.failures = [Failure(report_id="x", path=inbox / "x.wav", stage="transcribe",
                            reason="its worker was lost", set_aside=False)]  # fmt: skip
    waits: list[float | None] = []
    for _ in range(TRANSCRIBE_RETRIES + 1):
        processor._pending["x"] = started = time.time()  # due, as each retry makes it
        processor._run_once()
        waits.append(
            round(processor._pending["x"] - started) if "x" in processor._pending else None
        )
    retry_s = processor.config.station.retry_s
    assert waits == [retry_s, 2 * retry_s, 4 * retry_s, None]
    assert told.names() == ["report.failed"]  # the desk is told once, not at every try
    run.failures, run.episodes = [], {"x": episode}  # the next try goes through
    processor._pending["x"] = time.time()
    processor._run_once()
    assert state_of(processor, "x").state == st.PUBLISHED


def test_a_withdrawn_recording_leaves_no_dead_links(scripted) -> None:
    processor, run, told, episode = scripted
    publish(processor, run, episode)
    (processor.config.inbox_dir / "x.wav").unlink()  # taken out by the desk
    run.episodes = {}
    processor._run_at = time.time()
    processor._run_once()
    state = state_of(processor, "x")
    assert (state.state, state.links, state.title) == (st.RECEIVED, None, "Waiting at the harbour")


def test_a_copied_recording_waiting_for_notes_still_waits_after_a_restart(scripted) -> None:
    processor, run, told, _ = scripted
    (processor.config.inbox_dir / "copied.wav").write_bytes(b"RIFF....WAVE")
    processor._scan()
    processor._scan()
    assert state_of(processor, "copied").state == st.WAITING
    again = Processor(processor.config, run, processor.catalog, told)  # type: ignore[arg-type]
    again._restore()
    again._seen = again._last_listing = again._listing()
    again._run_once()  # the first run at start
    assert "copied" in run.calls[-1]  # held back: still waiting for its notes


def test_the_first_run_is_tried_again_when_a_run_at_the_desk_holds_the_lock(scripted) -> None:
    processor, run, _, _ = scripted

    def locked(config: object, **options: object) -> object:
        raise RunLocked("another run holds the show")

    processor.run = locked  # type: ignore[assignment]
    processor._run_once()  # the run at start, with nothing due
    assert processor._run_at is not None and processor._run_at > time.time() + 5


def test_a_run_that_keeps_failing_tells_the_desk_once(scripted) -> None:
    processor, _, told, _ = scripted

    def broken(config: object, **options: object) -> object:
        raise OSError("No space left on device")

    processor.run = broken  # type: ignore[assignment]
    processor._run({"x"}, set())
    processor._run({"x"}, set())  # the retry fails too
    assert told.names() == ["report.failed"]
    (event,) = told.events
    assert event["report"]["stage"] == "station" and "OSError" in event["report"]["reason"]
