"""A run that stops part-way loses only the report in flight, and publishes nothing half-done."""

from __future__ import annotations

from pathlib import Path

import pytest
from audiogen import convert, speak

from fieldreports.catalog import open_catalog
from fieldreports.config import load_config
from pipeline import Progress, run_show


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
    assert sorted(e.report_id for e in summary.episodes) == ["a-first", "b-second"]
    # Both were mastered and the first transcribed before the stop: only the rest is done now.
    assert summary.work == {"transcribe:transcribe": 1}
    assert (show / "public" / "feed.xml").read_bytes().count(b"<item>") == 2
    with open_catalog(config.state_dir) as catalog:
        assert {r.id: r.status for r in catalog.reports()} == {
            "a-first": "published",
            "b-second": "published",
        }
