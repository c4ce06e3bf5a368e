"""The limiter's promises, on synthetic signals: peaks end at or under the ceiling, nothing under it
is touched, no sample is lost or shifted, and the planned gain lands on the target."""

from __future__ import annotations

import numpy as np
import pytest

from fieldreports.audio.limiter import PeakLimiter, plan, reduction_curve
from fieldreports.audio.loudness import LoudnessMeter, measure_samples

RATE = 48000


def pulses(seconds: float, *, level: float, rate: int = RATE, seed: int = 7) -> np.ndarray:
    """A peaky, voice-like signal: a 120 Hz train of sharp pulses through a resonance, plus noise."""
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    train = np.zeros(n)
    train[:: rate // 120] = 1.0
    t = np.arange(200) / rate
    formant = np.exp(-t * 900) * np.sin(2 * np.pi * 700 * t)
    voiced = np.convolve(train, formant)[:n]
    signal = voiced / np.abs(voiced).max() + 0.01 * rng.standard_normal(n)
    return level * signal / np.abs(signal).max()


def run_limiter(
    signal: np.ndarray, ceiling_dbtp: float, block: int = 1234
) -> tuple[np.ndarray, PeakLimiter]:
    limiter = PeakLimiter(rate_hz=RATE, channels=1, ceiling_dbtp=ceiling_dbtp)
    parts = [limiter.feed(signal[i : i + block, None]) for i in range(0, len(signal), block)]
    parts.append(limiter.finish())
    return np.concatenate(parts)[:, 0], limiter


def test_peak_limiter_holds_the_true_peak_ceiling() -> None:
    loud = pulses(3, level=1.4)  # +3 dBFS sample peaks, more between samples
    out, limiter = run_limiter(loud, -1.0)
    assert len(out) == len(loud)
    assert measure_samples(out, RATE).true_peak_dbtp <= -1.0 + 0.05
    assert limiter.max_reduction_db > 3.0


def test_peak_limiter_leaves_quiet_audio_untouched_and_in_place() -> None:
    quiet = pulses(2, level=0.1)  # -20 dBFS: nowhere near the ceiling
    out, limiter = run_limiter(quiet, -1.0)
    assert limiter.max_reduction_db == 0.0
    np.testing.assert_array_equal(out, quiet)  # same samples, same positions: no delay left


def test_reduction_curve_never_asks_less_than_each_hop_needs() -> None:
    rng = np.random.default_rng(3)
    peak_db = rng.uniform(-40, -12, 200_000)  # more than one chunk of hops
    loud = rng.choice(len(peak_db), 300, replace=False)
    peak_db[loud] = rng.uniform(-6, 3, len(loud))
    gain_db, ceiling = 4.0, -1.0
    curve = reduction_curve(10 ** (peak_db / 20), gain_db, ceiling, hop_s=0.005).astype(np.float64)
    assert (peak_db + gain_db + curve).max() <= ceiling + 1e-9
    assert curve.max() <= 0.0
    assert curve[loud].min() < -5.0
    # A limiter, not a fader: away from the loud hops the gain is left alone.
    assert np.mean(curve == 0.0) > 0.8


def test_plan_predicts_the_loudness_the_limited_render_has() -> None:
    signal = np.concatenate([pulses(6, level=0.9), pulses(6, level=0.3, seed=8)])
    meter = LoudnessMeter(rate_hz=RATE, channels=1, hop_s=0.005)
    meter.feed(signal)
    stats = meter.finish()
    target, ceiling = -17.0, -2.0
    gain_plan = plan(stats, target_lufs=target, ceiling_dbtp=ceiling)
    assert gain_plan.max_reduction_db > 2.0  # the target needs limiting
    rendered = gain_plan.apply(signal[:, None], 0)[:, 0]
    result = measure_samples(rendered, RATE)
    assert result.integrated_lufs == pytest.approx(target, abs=0.1)
    assert result.true_peak_dbtp <= ceiling + 0.1
