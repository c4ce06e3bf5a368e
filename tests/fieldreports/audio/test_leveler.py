"""The speech leveler and the gain cap, on recordings made here: espeak-ng voices, sox noise."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldreports.audio.master import normalise
from fieldreports.config import AudioSettings
from fieldreports.errors import ReportError
from tests.support.audio import convert, ebur128, noise, run, speak

REPORTER = "We are at the border crossing. The queue has not moved since the morning."
GUEST = "We waited here for three days. Nobody told us anything about the buses."


def at_lufs(source: Path, out: Path, lufs: float) -> Path:
    """`source` turned to `lufs` integrated, as ffmpeg's meter reads it (32-bit float: a
    close voice may peak over full scale, as it does before a recorder's limiter)."""
    measured, _peak = ebur128(source)
    run(
        [
            "sox",
            str(source),
            "-e",
            "floating-point",
            "-b",
            "32",
            str(out),
            "vol",
            f"{lufs - measured:.2f}dB",
        ]
    )
    return out


@pytest.fixture(scope="module")
def interview(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """A reporter close to the microphone (-12 LUFS) then a guest three metres away (-35 LUFS),
    1.5 s apart, over a quiet room; and where the guest starts (s)."""
    folder = tmp_path_factory.mktemp("interview")
    near = at_lufs(speak(REPORTER, folder / "r.wav", voice="en"), folder / "near.wav", -12.0)
    far = at_lufs(speak(GUEST, folder / "g.wav", voice="en+f3"), folder / "far.wav", -35.0)
    gap = folder / "gap.wav"
    run(
        [
            "sox",
            "-n",
            "-r",
            "22050",
            "-c",
            "1",
            "-e",
            "floating-point",
            "-b",
            "32",
            str(gap),
            "trim",
            "0",
            "1.5",
        ]
    )
    dry = folder / "dry.wav"
    run(["sox", str(near), str(gap), str(far), str(dry)])
    length = run_out(["soxi", "-D", str(dry)])
    bed = noise(folder / "bed.wav", seconds=float(length), level_dbfs=-70, rate_hz=22050)
    mixed = folder / "interview.wav"
    run(["sox", "-m", "-v", "1", str(dry), "-v", "1", str(bed), "-e", "floating-point", str(mixed)])
    near_s = float(run_out(["soxi", "-D", str(near)]))
    return mixed, near_s + 1.5


def run_out(argv: list[str]) -> str:
    import subprocess

    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip()


def passage_lufs(path: Path, start_s: float, end_s: float, work: Path) -> float:
    piece = convert(path, work / f"piece-{start_s:.1f}.wav", "-ss", f"{start_s}", "-to", f"{end_s}")
    return ebur128(piece)[0]


def test_a_near_and_a_far_voice_end_up_at_one_level(
    interview: tuple[Path, float], tmp_path: Path
) -> None:
    source, guest_s = interview
    result = normalise(source, tmp_path / "out", AudioSettings())
    master = result.master_wav
    offset = result.trimmed_start_s
    near = passage_lufs(master, 0.3, guest_s - offset - 1.5, tmp_path)
    far = passage_lufs(master, guest_s - offset + 0.8, result.duration_s - 0.3, tmp_path)
    assert abs(near - far) <= 3.0, (near, far)
    lufs, peak = ebur128(master)
    assert lufs == pytest.approx(-23.0, abs=0.5) and peak <= -1.0
    lufs, peak = ebur128(result.podcast_mp3)
    assert lufs == pytest.approx(-16.0, abs=0.5) and peak <= -1.0
    assert result.leveler_boost_db > 5 and result.speech_s > 5


def test_without_the_leveler_the_voices_stay_apart(
    interview: tuple[Path, float], tmp_path: Path
) -> None:
    source, guest_s = interview
    result = normalise(source, tmp_path / "out", AudioSettings(leveler=False))
    offset = result.trimmed_start_s
    near = passage_lufs(result.master_wav, 0.3, guest_s - offset - 1.5, tmp_path)
    far = passage_lufs(result.master_wav, guest_s - offset + 0.8, result.duration_s - 0.3, tmp_path)
    assert near - far > 15


def test_room_tone_is_not_raised_into_loud_noise(tmp_path: Path) -> None:
    tone = noise(tmp_path / "room.wav", seconds=40, level_dbfs=-52, colour="pinknoise")
    before, _ = ebur128(tone)
    result = normalise(tone, tmp_path / "out", AudioSettings())
    after, _ = ebur128(result.podcast_mp3)
    assert after - before <= AudioSettings().max_gain_db
    assert after - before <= 0.5  # no speech: published at its own level
    assert any("no speech found" in w for w in result.warnings)
    with pytest.raises(ReportError, match="no speech found"):
        normalise(tone, tmp_path / "held", AudioSettings(publish_without_speech=False))


def test_quiet_speech_is_raised_by_at_most_max_gain_db(tmp_path: Path) -> None:
    quiet = at_lufs(speak(GUEST, tmp_path / "g.wav"), tmp_path / "quiet.wav", -50.0)
    result = normalise(quiet, tmp_path / "out", AudioSettings(max_gain_db=12))
    lufs, _ = ebur128(result.podcast_mp3)
    assert lufs <= -50.0 + 12 + 0.5
    assert any("max_gain_db" in w for w in result.warnings)
