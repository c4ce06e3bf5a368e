"""A streaming loudness meter: ITU-R BS.1770-4 integrated loudness, EBU Tech 3342 loudness range,
EBU Tech 3341 maximum momentary and short-term loudness and BS.1770-4 Annex 2 true peak, fed block by block so a three-hour recording needs no more memory
than a three-second one.

The meter keeps only small per-hop statistics (the K-weighted energy and the 4x-oversampled peak of
each hop), never the audio. Everything else (gating, loudness range, the limiter's gain curve and the
loudness a gain *would* give) is computed from those statistics afterwards, over any span of hops.

>>> import numpy as np
>>> rate = 48000
>>> t = np.arange(rate * 20) / rate
>>> sine = 10 ** (-23 / 20) * np.sin(2 * np.pi * 1000 * t)
>>> meter = LoudnessMeter(rate_hz=rate, channels=2)
>>> meter.feed(np.stack([sine, sine], axis=1))
>>> round(meter.finish().loudness().integrated_lufs, 1)   # EBU Tech 3341 case 1
-23.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy import signal

from fieldreports.audio.results import Loudness

# BS.1770-4 section 2: gating blocks are 400 ms long and start every 100 ms (75 % overlap).
BLOCK_S = 0.4
STEP_S = 0.1
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
# EBU Tech 3342: 3 s short-term loudness; relative gate 20 LU below; 10th to 95th percentile.
SHORT_TERM_S = 3.0
LRA_RELATIVE_GATE_LU = -20.0
LRA_LOW_PERCENTILE = 10.0
LRA_HIGH_PERCENTILE = 95.0
SILENCE_LUFS = -math.inf
# Hop statistics are processed this many 100 ms steps at a time (bounded temporary memory).
_CHUNK_STEPS = 4000

GainFn = Callable[[int, int], np.ndarray]

# BS.1770-4 Table 3 channel weights: 1.0 front, 1.41 (+1.5 dB) surround, LFE left out.
SURROUND_WEIGHT = 1.41
_LAYOUT_WEIGHTS: dict[str, tuple[float, ...]] = {
    "quad": (1.0, 1.0, SURROUND_WEIGHT, SURROUND_WEIGHT),
    "4.0": (1.0, 1.0, 1.0, SURROUND_WEIGHT),
    "5.0": (1.0, 1.0, 1.0, SURROUND_WEIGHT, SURROUND_WEIGHT),
    "5.0(side)": (1.0, 1.0, 1.0, SURROUND_WEIGHT, SURROUND_WEIGHT),
    "5.1": (1.0, 1.0, 1.0, 0.0, SURROUND_WEIGHT, SURROUND_WEIGHT),
    "5.1(side)": (1.0, 1.0, 1.0, 0.0, SURROUND_WEIGHT, SURROUND_WEIGHT),
}


def channel_weights(channels: int, layout: str = "") -> tuple[float, ...]:
    """BS.1770-4 weights for a channel layout named as ffmpeg names it.

    >>> channel_weights(2)
    (1.0, 1.0)
    >>> channel_weights(6, "5.1")
    (1.0, 1.0, 1.0, 0.0, 1.41, 1.41)
    """
    weights = _LAYOUT_WEIGHTS.get(layout)
    if weights is not None and len(weights) == channels:
        return weights
    return (1.0,) * channels


def k_weighting_sos(rate_hz: float) -> np.ndarray:
    """The two K-weighting biquads (BS.1770-4 Annex 1) designed for any sample rate.

    The standard gives coefficients for 48 kHz only; these are the analogue prototypes behind them
    (as libebur128 derives them) put through the bilinear transform, so that at 48 kHz they give
    the published numbers to within 1e-8:

    >>> sos = k_weighting_sos(48000)
    >>> [round(float(c), 8) for c in sos[0]]
    [1.53512486, -2.69169619, 1.19839281, 1.0, -1.69065929, 0.73248077]
    >>> [round(float(c), 8) for c in sos[1][3:]]
    [1.0, -1.99004745, 0.99007225]
    """
    # Stage 1: a high shelf of about +4 dB modelling the head (Annex 1, "pre-filter").
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate_hz)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf = (
        (vh + vb * k / q + k * k) / a0,
        2.0 * (k * k - vh) / a0,
        (vh - vb * k / q + k * k) / a0,
        1.0,
        2.0 * (k * k - 1.0) / a0,
        (1.0 - k / q + k * k) / a0,
    )
    # Stage 2: the RLB high-pass (Annex 1, "RLB weighting curve").
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate_hz)
    a0 = 1.0 + k / q + k * k
    highpass = (1.0, -2.0, 1.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0)
    return np.array([shelf, highpass], dtype=np.float64)


def oversampling_factor(rate_hz: float) -> int:
    """BS.1770-4 Annex 2 oversamples to at least 192 kHz: 4x at 48 kHz, 2x at 96 kHz.

    >>> oversampling_factor(48000), oversampling_factor(96000), oversampling_factor(8000)
    (4, 2, 4)
    """
    return int(min(4, max(1, math.ceil(192000 / rate_hz - 1e-9))))


@cache
def _interpolator(factor: int, taps_per_phase: int = 24) -> np.ndarray:
    """Polyphase interpolation filter, shape (taps_per_phase, factor), reversed for a dot product.

    A Kaiser-windowed sinc cut at the input's Nyquist frequency, flat to within 0.1 dB up to 0.8 of
    it; Annex 2's own example uses 12 taps a phase, we use 24 for a flatter top octave.
    """
    # An odd length puts the group delay on a whole output sample, so one phase lands exactly on
    # the input samples and the others at 1/4, 1/2 and 3/4 between them.
    length = factor * taps_per_phase
    taps = signal.firwin(length - 1, 1.0 / factor, window=("kaiser", 8.0)) * factor
    taps = np.append(taps, 0.0)
    phases = taps.reshape(taps_per_phase, factor)  # phases[j, k] = taps[j * factor + k]
    return np.ascontiguousarray(phases[::-1, :])


class TruePeak:
    """Per-frame true peak of a stream: |sample| maximum over channels and oversampled phases.

    The value reported for frame n covers the interpolator's window ending at n, so it describes
    the signal about `delay` frames earlier; `flush` runs the filter out on silence.
    """

    def __init__(self, *, rate_hz: int, channels: int) -> None:
        self.factor = oversampling_factor(rate_hz)
        self._phases = _interpolator(self.factor) if self.factor > 1 else np.ones((1, 1))
        # The odd-length design makes one branch a pure delay: its output is the input samples,
        # which `feed` counts anyway, so that branch is skipped.
        self._kernels = [
            np.ascontiguousarray(self._phases[::-1, k])
            for k in range(self.factor)
            if np.count_nonzero(np.abs(self._phases[:, k]) > 1e-9) > 1
        ]
        self._history = np.zeros((self._phases.shape[0] - 1, channels))
        self.channels = channels
        self.delay = self._phases.shape[0] // 2

    def feed(self, x: np.ndarray) -> np.ndarray:
        if self.factor == 1:
            return np.abs(x).max(axis=1)
        padded = np.concatenate([self._history, x])
        self._history = padded[len(padded) - len(self._history) :]
        peak = np.abs(x).max(axis=1)  # the samples themselves are peaks too
        for c in range(self.channels):
            column = np.ascontiguousarray(padded[:, c])
            for taps in self._kernels:
                # One polyphase branch: np.convolve is several times faster than a matrix
                # product over a strided window view.
                np.maximum(peak, np.abs(np.convolve(column, taps, mode="valid")), out=peak)
        return peak

    def skip(self, x: np.ndarray) -> None:
        """Take `x` into the filter's history without measuring it."""
        if self.factor > 1 and len(self._history):
            padded = np.concatenate([self._history, x])
            self._history = padded[len(padded) - len(self._history) :]

    def flush(self) -> float:
        """The largest peak in the filter's tail once the stream ends."""
        if self.factor == 1 or not len(self._history):
            return 0.0
        return float(self.feed(np.zeros((len(self._history), self.channels))).max())


class LoudnessMeter:
    """Feed blocks of samples (frames x channels); finish() gives the per-hop statistics.

    `hop_s` is the resolution of the statistics kept: 100 ms (the gating step) for a plain
    measurement, a few milliseconds when a limiter will need a peak envelope. With `true_peak`
    off the peaks are sample peaks: cheaper, for when only the loudness matters.
    """

    def __init__(
        self,
        *,
        rate_hz: int,
        channels: int,
        weights: tuple[float, ...] | None = None,
        hop_s: float = STEP_S,
        true_peak: bool = True,
        expected_frames: int = 0,
    ) -> None:
        if channels < 1:
            raise ValueError("a meter needs at least one channel")
        self.rate_hz = rate_hz
        self.channels = channels
        self.weights = np.asarray(weights or (1.0,) * channels, dtype=np.float64)
        step = round(STEP_S * rate_hz)
        self.hop = max(1, round(hop_s * rate_hz))
        if step % self.hop:
            # Keep 100 ms an exact number of hops so gating blocks are sums of hops.
            self.hop = step // max(1, round(step / self.hop))
            step = self.hop * round(step / self.hop)
        self.hops_per_step = step // self.hop
        self._sos = k_weighting_sos(rate_hz)
        self._zi = np.zeros((self._sos.shape[0], 2, channels))
        self._peaks = TruePeak(rate_hz=rate_hz, channels=channels) if true_peak else None
        self._carry_energy = np.zeros(0)
        self._carry_peak = np.zeros(0)
        # Statistics go into arrays sized from the expected length (grown if it was short), so
        # finishing needs no second copy of them.
        capacity = expected_frames // self.hop + expected_frames // self.hop // 50 + 64
        self._energy = np.zeros(capacity, dtype=np.float32)
        self._peak = np.zeros(capacity, dtype=np.float32)
        self._hops = 0
        self.frames = 0

    def feed(self, block: np.ndarray) -> None:
        """Meter the next `block`: (frames, channels), or (frames,) for mono; full scale is 1.0."""
        x = np.asarray(block, dtype=np.float64)
        if x.ndim == 1:
            x = x[:, None]
        if x.shape[1] != self.channels:
            raise ValueError(f"expected {self.channels} channels, got {x.shape[1]}")
        if not len(x):
            return
        self.frames += len(x)
        weighted, self._zi = signal.sosfilt(self._sos, x, axis=0, zi=self._zi)
        energy = (weighted * weighted) @ self.weights
        peak = self._peaks.feed(x) if self._peaks else np.abs(x).max(axis=1)
        self._bin(energy, peak)

    def _bin(self, energy: np.ndarray, peak: np.ndarray) -> None:
        if len(self._carry_energy):
            energy = np.concatenate([self._carry_energy, energy])
            peak = np.concatenate([self._carry_peak, peak])
        whole = len(energy) // self.hop * self.hop
        if whole:
            self._store(
                energy[:whole].reshape(-1, self.hop).sum(axis=1),
                peak[:whole].reshape(-1, self.hop).max(axis=1),
            )
        self._carry_energy = energy[whole:]
        self._carry_peak = peak[whole:]

    def _store(self, energy: np.ndarray, peak: np.ndarray) -> None:
        end = self._hops + len(energy)
        if end > len(self._energy):
            size = max(end, 2 * len(self._energy))
            self._energy = np.resize(self._energy, size)
            self._peak = np.resize(self._peak, size)
        self._energy[self._hops : end] = energy
        self._peak[self._hops : end] = peak
        self._hops = end

    def finish(self) -> HopStats:
        """Flush the interpolator and return the statistics; the meter is done after this."""
        if self.frames:
            # Run the filter's tail out on silence so the last samples' inter-sample peaks count.
            extra = self._peaks.flush() if self._peaks else 0.0
            if len(self._carry_peak):
                self._carry_peak = np.maximum(self._carry_peak, extra)
            elif self._hops:
                self._peak[self._hops - 1] = max(float(self._peak[self._hops - 1]), extra)
        if len(self._carry_energy):
            # A partial last hop: kept for the peak and the length; it never forms part of a
            # whole 100 ms step, so its energy is left out of gating (see HopStats.chunks).
            self._store(self._carry_energy.sum(keepdims=True), self._carry_peak.max(keepdims=True))
            self._carry_energy = self._carry_peak = np.zeros(0)
        energy, peak = self._energy[: self._hops], self._peak[: self._hops]
        return HopStats(
            rate_hz=self.rate_hz,
            hop=self.hop,
            hops_per_step=self.hops_per_step,
            frames=self.frames,
            energy=energy,
            peak=peak,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class HopStats:
    """Per-hop K-weighted energy (channel-weighted sum of squares) and true peak (linear)."""

    rate_hz: int
    hop: int
    hops_per_step: int
    frames: int
    energy: np.ndarray
    peak: np.ndarray

    @property
    def duration_s(self) -> float:
        return self.frames / self.rate_hz

    @property
    def whole_hops(self) -> int:
        return self.frames // self.hop

    def chunks(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, int]]:
        """Hop ranges [a, b) covering [start, stop) in whole 100 ms steps (the tail's partial step
        is left out, as BS.1770 leaves out a partial block), about 400 s of audio each: work on
        hops goes chunk by chunk so that its temporary arrays stay small at any length."""
        stop = min(self.whole_hops if stop is None else stop, self.whole_hops)
        count = max(0, (stop - start) // self.hops_per_step)
        chunk = _CHUNK_STEPS * self.hops_per_step
        for first in range(0, count * self.hops_per_step, chunk):
            yield start + first, start + min(first + chunk, count * self.hops_per_step)

    def loudness(
        self, gain_db: GainFn | float = 0.0, start: int = 0, stop: int | None = None
    ) -> Loudness:
        """Loudness of hops [start, stop) after a gain: a constant, or a function giving the gain
        in dB of hops [a, b) as an array (called chunk by chunk, in order)."""
        stop = len(self.energy) if stop is None else stop
        whole_stop = (
            start
            + max(0, (min(stop, self.whole_hops) - start))
            // self.hops_per_step
            * self.hops_per_step
        )
        parts = []
        peak = -math.inf
        for a in range(start, stop, _CHUNK_STEPS * self.hops_per_step):
            b = min(stop, a + _CHUNK_STEPS * self.hops_per_step)
            gain = np.asarray(gain_db(a, b) if callable(gain_db) else gain_db, dtype=np.float64)
            with np.errstate(divide="ignore"):
                peak = max(
                    peak, float((20.0 * np.log10(self.peak[a:b]) + gain).max(initial=-math.inf))
                )
            whole = min(b, whole_stop)
            if whole > a:
                gain_whole = gain[: whole - a] if gain.ndim else gain
                energy = self.energy[a:whole] * 10.0 ** (gain_whole / 10.0)
                parts.append(energy.reshape(-1, self.hops_per_step).sum(axis=1))
        steps = np.concatenate(parts) if parts else np.zeros(0)
        step_frames = self.hop * self.hops_per_step
        return Loudness(
            integrated_lufs=integrated_loudness(steps, step_frames),
            true_peak_dbtp=peak,
            range_lu=loudness_range(steps, step_frames, self.rate_hz),
            max_momentary_lufs=max_loudness(steps, step_frames, BLOCK_S),
            max_short_term_lufs=max_loudness(steps, step_frames, SHORT_TERM_S),
        )

    def peak_dbtp(
        self, gain_db: GainFn | float = 0.0, start: int = 0, stop: int | None = None
    ) -> float:
        """The highest true peak (dBTP) of hops [start, stop) after a gain (as for `loudness`)."""
        stop = len(self.peak) if stop is None else stop
        peak = -math.inf
        for a in range(start, stop, _CHUNK_STEPS * self.hops_per_step):
            b = min(stop, a + _CHUNK_STEPS * self.hops_per_step)
            gain = gain_db(a, b) if callable(gain_db) else gain_db
            with np.errstate(divide="ignore"):
                levels = 20.0 * np.log10(self.peak[a:b].astype(np.float64)) + gain
            peak = max(peak, float(levels.max(initial=-math.inf)))
        return peak

    def step_levels(self) -> np.ndarray:
        """Loudness (LUFS) of each whole 100 ms step, ungated."""
        parts = [
            self.energy[a:b].astype(np.float64).reshape(-1, self.hops_per_step).sum(axis=1)
            for a, b in self.chunks()
        ]
        steps = np.concatenate(parts) if parts else np.zeros(0)
        with np.errstate(divide="ignore"):
            return -0.691 + 10.0 * np.log10(steps / (self.hop * self.hops_per_step))


def _block_loudness(steps: np.ndarray, steps_per_block: int, step_frames: int) -> np.ndarray:
    """Loudness (LUFS) of every block of `steps_per_block` steps, sliding by one step."""
    if len(steps) < steps_per_block:
        return np.zeros(0)
    sums = np.convolve(steps, np.ones(steps_per_block), mode="valid")
    mean_square = np.maximum(sums, 0.0) / (steps_per_block * step_frames)
    with np.errstate(divide="ignore"):
        # BS.1770-4 eq. 2: L = -0.691 + 10 log10(sum_i G_i z_i).
        return -0.691 + 10.0 * np.log10(mean_square)


def _gated_mean_lufs(block_lufs: np.ndarray) -> float:
    if not len(block_lufs):
        return -math.inf
    return -0.691 + 10.0 * math.log10(float(np.mean(10.0 ** ((block_lufs + 0.691) / 10.0))))


def integrated_loudness(steps: np.ndarray, step_frames: int) -> float:
    """BS.1770-4 gated integrated loudness (LUFS) from 100 ms step energies; -inf when all is gated.

    Blocks of 400 ms (four steps) are gated at -70 LUFS, then 10 LU below the mean of those left.
    """
    blocks = _block_loudness(steps, round(BLOCK_S / STEP_S), step_frames)
    above = blocks[blocks > ABSOLUTE_GATE_LUFS]
    if not len(above):
        return -math.inf
    relative_gate = _gated_mean_lufs(above) + RELATIVE_GATE_LU
    return _gated_mean_lufs(above[above > relative_gate])


def max_loudness(steps: np.ndarray, step_frames: int, window_s: float) -> float:
    """The loudest ungated window of `window_s` (LUFS), sliding by 100 ms: EBU Tech 3341 §2.2's
    maximum momentary loudness for 0.4 s, maximum short-term loudness for 3 s; -inf when the
    programme is shorter than one window.

    >>> import numpy as np
    >>> steps = np.full(50, 4800 * 10 ** ((-23 + 0.691) / 10))  # 5 s steady at -23 LUFS
    >>> round(max_loudness(steps, 4800, 0.4), 2), round(max_loudness(steps, 4800, 3.0), 2)
    (-23.0, -23.0)
    >>> max_loudness(steps[:20], 4800, 3.0)
    -inf
    """
    blocks = _block_loudness(steps, round(window_s / STEP_S), step_frames)
    return float(blocks.max()) if len(blocks) else -math.inf


def loudness_range(steps: np.ndarray, step_frames: int, rate_hz: int) -> float:
    """EBU Tech 3342 loudness range (LU) from 100 ms step energies: 3 s short-term loudness every
    100 ms, gated at -70 LUFS and 20 LU below their mean, then the 95th minus the 10th percentile."""
    short = _block_loudness(steps, round(SHORT_TERM_S / STEP_S), step_frames)
    above = short[short > ABSOLUTE_GATE_LUFS]
    if not len(above):
        return 0.0
    gate = _gated_mean_lufs(above) + LRA_RELATIVE_GATE_LU
    kept = above[above > gate]
    if len(kept) < 2:
        return 0.0
    low, high = np.percentile(kept, [LRA_LOW_PERCENTILE, LRA_HIGH_PERCENTILE])
    return float(high - low)


def measure_samples(
    samples: np.ndarray, rate_hz: int, *, weights: tuple[float, ...] | None = None
) -> Loudness:
    """Measure an in-memory signal (frames x channels, or mono); for tests and short clips.

    >>> import numpy as np
    >>> rate = 48000
    >>> t = np.arange(rate * 5) / rate
    >>> fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.02)  # no onset splatter
    >>> sine = 0.5 * np.sin(2 * np.pi * rate / 4 * t + np.pi / 4) * fade
    >>> round(measure_samples(sine, rate).true_peak_dbtp, 1)  # sample peak is -9.0 dBFS
    -6.0
    """
    x = np.asarray(samples, dtype=np.float64)
    meter = LoudnessMeter(
        rate_hz=rate_hz, channels=1 if x.ndim == 1 else x.shape[1], weights=weights
    )
    block = rate_hz * 10
    for start in range(0, len(x), block):
        meter.feed(x[start : start + block])
    return meter.finish().loudness()
