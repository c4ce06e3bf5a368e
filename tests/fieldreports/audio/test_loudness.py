"""The meter against EBU Tech 3341 (loudness, true peak) and Tech 3342 (loudness range) test signals,
synthesised here, and against two independent meters: pyloudnorm and ffmpeg's ebur128 filter."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest

from fieldreports.audio.loudness import LoudnessMeter, measure_samples
from fieldreports.audio.master import measure
from tests.support.audio import ebur128

RATE = 48000


def sine(
    level_dbfs: float,
    seconds: float,
    *,
    freq_hz: float = 1000.0,
    channels: int = 2,
    phase_deg: float = 0.0,
    rate: int = RATE,
) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    wave_ = 10 ** (level_dbfs / 20) * np.sin(2 * np.pi * freq_hz * t + np.deg2rad(phase_deg))
    return np.repeat(wave_[:, None], channels, axis=1)


def sequence(*parts: tuple[float, float], channels: int = 2, rate: int = RATE) -> np.ndarray:
    """1 kHz sine segments of (level dBFS, seconds), back to back, as the Tech 3341/3342 cases are."""
    return np.concatenate(
        [sine(level, seconds, channels=channels, rate=rate) for level, seconds in parts]
    )


# EBU Tech 3341 (2016) table 1, cases 1-5: stereo 1 kHz sine segments (dBFS, seconds),
# expected integrated loudness (LUFS), tolerance +-0.1.
TECH_3341 = {
    "case 1: -23 dBFS": (((-23, 20),), -23.0),
    "case 2: -33 dBFS": (((-33, 20),), -33.0),
    "case 3: relative gate": (((-36, 10), (-23, 60), (-36, 10)), -23.0),
    "case 4: both gates": (((-72, 10), (-36, 10), (-23, 60), (-36, 10), (-72, 10)), -23.0),
    "case 5: level steps": (((-26, 20), (-20, 20.1), (-26, 20)), -23.0),
}

# EBU Tech 3342 (2016) table 1, cases 1-4: expected loudness range (LU), tolerance +-1 (we ask 0.1).
TECH_3342 = {
    "case 1": (((-20, 20), (-30, 20)), 10.0),
    "case 2": (((-20, 20), (-15, 20)), 5.0),
    "case 3": (((-40, 20), (-20, 20)), 20.0),
    "case 4": (((-50, 20), (-35, 20), (-20, 20), (-35, 20), (-50, 20)), 15.0),
}


@pytest.mark.parametrize("case", TECH_3341)
def test_integrated_loudness_matches_tech_3341_and_pyloudnorm(case: str) -> None:
    parts, expected = TECH_3341[case]
    signal = sequence(*parts)
    ours = measure_samples(signal, RATE).integrated_lufs
    assert ours == pytest.approx(expected, abs=0.1)
    assert ours == pytest.approx(pyloudnorm.Meter(RATE).integrated_loudness(signal), abs=0.05)


def test_surround_channels_are_weighted_as_tech_3341_case_6() -> None:
    # 5.0: L and R at -28 dBFS, C at -24, Ls and Rs at -30 make -23.0 LUFS with the 1.41 weights.
    signal = np.concatenate(
        [sine(-28, 20, channels=2), sine(-24, 20, channels=1), sine(-30, 20, channels=2)], axis=1
    )
    weights = (1.0, 1.0, 1.0, 1.41, 1.41)
    assert measure_samples(signal, RATE, weights=weights).integrated_lufs == pytest.approx(
        -23.0, abs=0.1
    )
    # Unweighted, the surrounds count 1.5 dB too little: proof that the weights do something.
    assert measure_samples(signal, RATE).integrated_lufs < -23.3


@pytest.mark.parametrize("case", TECH_3342)
def test_loudness_range_matches_tech_3342(case: str) -> None:
    parts, expected = TECH_3342[case]
    assert measure_samples(sequence(*parts), RATE).range_lu == pytest.approx(expected, abs=0.1)


def faded(signal: np.ndarray, seconds: float = 0.02) -> np.ndarray:
    """A short raised-cosine fade in and out: a sine switched on at full level splatters, and its
    true overshoot at the switch would be measured instead of the tone's."""
    n = round(seconds * RATE)
    ramp = np.sin(np.linspace(0, np.pi / 2, n)) ** 2
    out = signal.copy()
    out[:n] *= ramp[:, None]
    out[-n:] *= ramp[::-1, None]
    return out


# EBU Tech 3341 table 2, cases 15-18: 0.5-amplitude sines whose samples miss their peaks;
# expected true peak -6.0 dBTP (+0.2/-0.4), whatever the sample peak says.
TRUE_PEAK = {
    "case 15: fs/4, 0 deg": (RATE / 4, 0.0),
    "case 16: fs/4, 45 deg": (RATE / 4, 45.0),
    "case 17: fs/6, 60 deg": (RATE / 6, 60.0),
    "case 18: fs/8, 67.5 deg": (RATE / 8, 67.5),
}


@pytest.mark.parametrize("case", TRUE_PEAK)
def test_true_peak_matches_tech_3341(case: str) -> None:
    freq, phase = TRUE_PEAK[case]
    signal = faded(sine(-6.0206, 5, freq_hz=freq, phase_deg=phase, channels=1))
    result = measure_samples(signal, RATE)
    assert result.true_peak_dbtp == pytest.approx(-6.02, abs=0.1)
    if phase:
        assert 20 * np.log10(np.abs(signal).max()) < -6.6  # the samples alone would read low


def test_meter_is_independent_of_block_size() -> None:
    signal = sequence((-30, 3), (-18, 4))
    whole = measure_samples(signal, RATE)
    meter = LoudnessMeter(rate_hz=RATE, channels=2)
    for start in range(0, len(signal), 777):
        meter.feed(signal[start : start + 777])
    pieces = meter.finish().loudness()
    assert pieces.integrated_lufs == pytest.approx(whole.integrated_lufs, abs=1e-9)
    assert pieces.true_peak_dbtp == pytest.approx(whole.true_peak_dbtp, abs=1e-9)


def test_nothing_above_the_gate_is_minus_infinity_not_nan() -> None:
    result = measure_samples(sine(-80, 5, channels=1), RATE)
    assert result.integrated_lufs == -np.inf


def write_wav(path: Path, signal: np.ndarray, rate: int = RATE) -> Path:
    ints = np.clip(np.round(signal * 2**23), -(2**23), 2**23 - 1).astype("<i4")
    frames = ints.reshape(-1, 1).view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(signal.shape[1])
        out.setsampwidth(3)
        out.setframerate(rate)
        out.writeframes(frames)
    return path


@pytest.mark.parametrize("rate", [48000, 44100])
def test_file_measurement_agrees_with_ffmpeg_ebur128(tmp_path: Path, rate: int) -> None:
    # Tech 3341 case 5 at two rates: the K-weighting must follow the rate.
    signal = sequence((-26, 20), (-20, 20.1), (-26, 20), rate=rate)
    path = write_wav(tmp_path / "case.wav", signal, rate)
    ours = measure(path)
    theirs, theirs_peak = ebur128(path)
    assert ours.integrated_lufs == pytest.approx(-23.0, abs=0.1)
    assert ours.integrated_lufs == pytest.approx(theirs, abs=0.1)
    assert ours.true_peak_dbtp == pytest.approx(theirs_peak, abs=0.15)


# EBU Tech 3341 (2016) table 1, cases 9 and 12: bursts whose period is the window, so every
# window holds the same energy and the short-term (case 9) or momentary (case 12) loudness stays
# at -23.0 LUFS +-0.1 once the first window is full: its maximum is -23.0 too.
def test_max_short_term_matches_tech_3341_case_9() -> None:
    signal = sequence(*[part for _ in range(20) for part in ((-20, 1.34), (-30, 1.66))])
    assert measure_samples(signal, RATE).max_short_term_lufs == pytest.approx(-23.0, abs=0.1)


def test_max_momentary_matches_tech_3341_case_12() -> None:
    signal = sequence(*[part for _ in range(25) for part in ((-20, 0.18), (-30, 0.22))])
    assert measure_samples(signal, RATE).max_momentary_lufs == pytest.approx(-23.0, abs=0.1)


def test_max_momentary_and_short_term_agree_with_ffmpeg(tmp_path: Path) -> None:
    """A 1 s burst 10 LU over a -30 LUFS bed: the burst fills a 400 ms window (-20) but only a
    third of a 3 s one. ffmpeg's ebur128 filter prints M and S every 100 ms: the maxima agree."""
    import subprocess

    signal = sequence((-30, 6), (-20, 1), (-30, 6))
    ours = measure_samples(signal, RATE)
    assert ours.max_momentary_lufs == pytest.approx(-20.0, abs=0.1)
    path = write_wav(tmp_path / "burst.wav", signal)
    log = subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-i", str(path), "-af", "ebur128", "-f", "null", "-"],
        check=True, capture_output=True, text=True,
    ).stderr  # fmt: skip
    frames = [line for line in log.splitlines() if " M:" in line and " S:" in line]
    momentary = max(float(line.split(" M:")[1].split()[0]) for line in frames)
    short_term = max(float(line.split(" S:")[1].split()[0]) for line in frames)
    assert ours.max_momentary_lufs == pytest.approx(momentary, abs=0.1)
    assert ours.max_short_term_lufs == pytest.approx(short_term, abs=0.1)
    # The loudest 3 s: the burst and 2 s of bed, 10 log10((1 x 0.01 + 2 x 0.001) / 3).
    assert ours.max_short_term_lufs == pytest.approx(-23.98, abs=0.1)


def test_under_three_seconds_has_no_short_term_maximum() -> None:
    result = measure_samples(sine(-23, 2), RATE)
    assert result.max_momentary_lufs == pytest.approx(-23.0, abs=0.1)
    assert result.max_short_term_lufs == -np.inf
