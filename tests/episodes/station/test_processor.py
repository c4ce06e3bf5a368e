"""The processor's rules without a running thread: when a report is due, what it waits for,
what a scan of the inbox takes. The pipeline itself runs in test_station_flow.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from episodes.station import states as st
from episodes.station.notify import Notifier
from episodes.station.processor import Processor
from fieldreports.catalog import Catalog, open_catalog
from tests.support.episodes import show_config
from tests.support.station import RecordingRun


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
