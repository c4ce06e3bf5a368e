"""Recordings the tests make: espeak-ng speech, sox tones, noise and level changes, ffmpeg formats."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support import unavailable


def require(*programs: str) -> None:
    """Skip a test when a program is missing locally; in CI (CI=true) a missing program fails."""
    missing = [p for p in programs if shutil.which(p) is None]
    if not missing:
        return
    unavailable(f"needs {', '.join(missing)} (make test installs it)")


def run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def speak(text: str, out: Path, *, voice: str = "en", speed_wpm: int = 150) -> Path:
    """Real synthetic speech in the given espeak-ng voice, as a 22.05 kHz mono WAV."""
    require("espeak-ng")
    run(["espeak-ng", "-v", voice, "-s", str(speed_wpm), "-w", str(out), text])
    return out


def tone(
    out: Path,
    *,
    freq_hz: float = 1000,
    seconds: float = 5,
    level_dbfs: float = -20,
    rate_hz: int = 48000,
    channels: int = 1,
) -> Path:
    """A sine at a known peak level (dBFS)."""
    require("sox")
    run(
        [
            "sox",
            "-n",
            "-r",
            str(rate_hz),
            "-c",
            str(channels),
            "-b",
            "24",
            str(out),
            "synth",
            str(seconds),
            "sine",
            str(freq_hz),
            "vol",
            f"{level_dbfs}dB",
        ]
    )
    return out


def noise(
    out: Path,
    *,
    seconds: float = 5,
    level_dbfs: float = -40,
    rate_hz: int = 48000,
    colour: str = "pinknoise",
) -> Path:
    require("sox")
    run(
        [
            "sox",
            "-n",
            "-r",
            str(rate_hz),
            "-c",
            "1",
            "-b",
            "24",
            str(out),
            "synth",
            str(seconds),
            colour,
            "vol",
            f"{level_dbfs}dB",
        ]
    )
    return out


def with_noise(speech: Path, out: Path, *, noise_dbfs: float = -45) -> Path:
    """Speech mixed with pink room noise at a fixed level."""
    require("sox")
    length = subprocess.run(
        ["soxi", "-D", str(speech)], check=True, capture_output=True, text=True
    ).stdout.strip()
    rate = subprocess.run(
        ["soxi", "-r", str(speech)], check=True, capture_output=True, text=True
    ).stdout.strip()
    bed = out.with_name(out.stem + "-bed.wav")
    run(
        [
            "sox",
            "-n",
            "-r",
            rate,
            "-c",
            "1",
            "-b",
            "16",
            str(bed),
            "synth",
            length,
            "pinknoise",
            "vol",
            f"{noise_dbfs}dB",
        ]
    )
    run(["sox", "-m", str(speech), str(bed), str(out)])
    bed.unlink()
    return out


def gain(source: Path, out: Path, *, db: float) -> Path:
    require("sox")
    run(["sox", str(source), str(out), "gain", str(db)])
    return out


def convert(source: Path, out: Path, *extra: str) -> Path:
    """Re-encode with ffmpeg; the output format follows `out`'s suffix unless `extra` says more."""
    require("ffmpeg")
    run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(source), *extra, str(out)])
    return out


def ebur128(path: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) by ffmpeg's ebur128 filter: an independent meter."""
    require("ffmpeg")
    result = subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-hide_banner",
            "-i",
            str(path),
            "-af",
            "ebur128=peak=true",
            "-f",
            "null",
            "-",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    summary = result.stderr[result.stderr.rindex("Summary:") :]
    integrated = float(summary.split("I:")[1].split("LUFS")[0])
    peak = float(summary.split("Peak:")[1].split("dBFS")[0])
    return integrated, peak
