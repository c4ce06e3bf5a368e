"""External programs are never waited on forever (fieldreports.tools), with real processes."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from fieldreports.errors import StageTimeout
from fieldreports.tools import Watchdog, run_tool, stop
from tests.support.audio import tone


def test_a_program_that_gives_nothing_is_killed_and_named() -> None:
    proc = subprocess.Popen(["sleep", "60"], stdout=subprocess.PIPE)
    watchdog = Watchdog(proc, what="sleep decoding", stall_s=0.5)
    started = time.monotonic()
    with watchdog.waiting():
        assert proc.stdout is not None and proc.stdout.read() == b""
    assert time.monotonic() - started < 5
    assert proc.wait() == -9 and watchdog.fired
    with pytest.raises(StageTimeout, match="sleep decoding gave no sound for 0.5 s"):
        watchdog.check()


def test_time_spent_away_from_the_pipe_does_not_count() -> None:
    """Whisper working on a window while ffmpeg waits on a full pipe is not a stall."""
    proc = subprocess.Popen(["sh", "-c", "echo a; sleep 1.5; echo b"], stdout=subprocess.PIPE)
    watchdog = Watchdog(proc, what="sh", stall_s=1.0)
    assert proc.stdout is not None
    with watchdog.waiting():
        assert proc.stdout.readline() == b"a\n"
    time.sleep(1.5)  # busy elsewhere, longer than stall_s
    with watchdog.waiting():
        assert proc.stdout.readline() == b"b\n"
    watchdog.close()
    assert proc.wait() == 0 and not watchdog.fired


def test_a_probe_past_its_deadline_is_killed() -> None:
    started = time.monotonic()
    with pytest.raises(StageTimeout, match="sleep did not finish within 0.3 s"):
        run_tool(["sleep", "30"], timeout_s=0.3)
    assert time.monotonic() - started < 5


def test_stop_kills_and_reaps() -> None:
    proc = subprocess.Popen(["sleep", "60"])
    stop(proc, None)
    assert proc.returncode == -9


def test_a_decode_stopped_early_takes_its_ffmpeg_with_it(tmp_path: Path) -> None:
    """What a time limit does to mastering: the reader stops, and ffmpeg must not go on."""
    from fieldreports.audio.decode import probe, stream

    info = probe(tone(tmp_path / "long.wav", seconds=120, rate_hz=48000))
    blocks = stream(info, rate_hz=48000, channels=1, block_frames=4800)
    next(blocks)
    blocks.close()  # as when SoftTimeLimitExceeded unwinds through the reader
    assert not _running_on(tmp_path)


def _running_on(folder: Path) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "ffmpeg" in argv and str(folder) in argv:
            found.append(argv)
    return found
