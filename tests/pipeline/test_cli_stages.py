"""The single-stage commands on loose files, like the ffmpeg and whisper command lines."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pipeline import cli
from tests.support.audio import ebur128, speak


def test_normalise_masters_loose_files_and_names_a_broken_one(tmp_path: Path) -> None:
    good = speak("Testing the normalise command on a loose file.", tmp_path / "loose.wav")
    broken = tmp_path / "photo.m4a"
    broken.write_bytes(b"\xff\xd8\xff\xe0" + b"JFIF" + bytes(2000))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["normalise", str(good), str(broken), "-o", str(out)], terminal_width=200
    )
    assert result.exit_code == 1
    assert "photo.m4a" in result.output and "JPEG" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["loose.master.wav", "loose.mp3"]
    assert abs(ebur128(out / "loose.mp3")[0] - -16) <= 1
    assert abs(ebur128(out / "loose.master.wav")[0] - -23) <= 1


def test_transcribe_writes_every_format(tmp_path: Path, jfk: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["transcribe", str(jfk), "-o", str(out), "--model", "tiny.en"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["jfk.json", "jfk.srt", "jfk.txt", "jfk.vtt"]
    assert "ask not what your country" in (out / "jfk.txt").read_text().lower()
    document = json.loads((out / "jfk.json").read_text())
    assert document["version"] == "1.0.0" and document["segments"][0]["startTime"] >= 0


def test_normalise_never_overwrites_a_recording(tmp_path: Path) -> None:
    source = speak("Do not overwrite me.", tmp_path / "rec.wav")
    mp3 = tmp_path / "rec.mp3"
    mp3.write_bytes(b"the original phone recording")
    result = CliRunner().invoke(cli, ["normalise", str(mp3), str(source), "-o", str(tmp_path)])
    assert result.exit_code == 1
    assert "overwrite a recording" in result.output or "would both write" in result.output
    assert mp3.read_bytes() == b"the original phone recording"
