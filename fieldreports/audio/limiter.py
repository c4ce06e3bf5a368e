"""A look-ahead true-peak limiter, planned from the analysis pass and applied while rendering.

Because the first pass already knows every hop's true peak, the limiter needs no delay line: the
whole gain curve is planned in advance on a control grid of hops (5 ms), and the render pass only
interpolates it. Planning in advance also lets us *predict* the loudness the limited output will
have, so the static gain is solved for the target once, not found by trial renders.

The curve, in dB per hop j (all values <= 0):

1. required[j] = min(0, ceiling - gain - peak[j])   what hop j needs to stay under the ceiling;
2. a forward minimum over the look-ahead window, then a moving average of the same length: the
   averaged value at j is a mean of minima that all include j, so it never exceeds required[j],
   and the gain ramps down smoothly *before* the peak (the attack);
3. a release that rises at most `release_db_per_s`, again never above what is required;
4. a three-hop minimum, so linear interpolation between hop centres stays under the requirement
   inside every hop.

Clipping never happens: a peak is turned down, never cut off.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import minimum_filter1d

from fieldreports.audio.loudness import HopStats, Loudness

LOOKAHEAD_S = 0.01
RELEASE_DB_PER_S = 80.0
# How far over the ceiling the smooth curve leaves single peaks for the PeakLimiter to take.
PEAK_RANGE_DB = 6.0
# How close the predicted integrated loudness must come to the target before we stop refining.
_SOLVE_TOLERANCE_LU = 0.005
# No target is worth more limiting than this; beyond it we stay under target and say so.
_MAX_LIMITING_DB = 24.0
# Hops per chunk of the curve computation (about 5.5 minutes of audio).
_CURVE_CHUNK = 1 << 16
# How far under the ceiling a levelled hop still counts as reaching it (the curve moves within
# a hop by at most the leveler's slew, 0.12 dB).
_LEVEL_MARGIN_DB = 0.25


@dataclass(frozen=True, slots=True, kw_only=True)
class GainPlan:
    """A static gain, a smooth limiter curve over hops [start_hop, stop_hop) of the analysed stream
    (float16, one value per hop), and the ceiling of the sample-level PeakLimiter after it (None
    when no peak will reach it). `source_peak` is the analysis's per-hop true peak (not a copy)."""

    gain_db: float
    reduction_db: np.ndarray
    hop: int
    start_hop: int
    stop_hop: int
    predicted: Loudness
    peak_ceiling_dbtp: float | None = None
    source_peak: np.ndarray | None = None
    # The speech leveler's gain in dB, one value per hop of the whole stream (leveler.py), or
    # None; `source_peak` then is the levelled peak.
    level_db: np.ndarray | None = None

    def reaches_ceiling(self, first_frame: int, frames: int) -> bool:
        """Whether any hop of these frames (or its neighbours) peaks over the PeakLimiter's ceiling
        after the planned gain: where none does, the limiter can skip its oversampling."""
        if self.peak_ceiling_dbtp is None:
            return False
        if self.source_peak is None:
            return True
        lo = max(first_frame // self.hop - 2, self.start_hop)
        hi = min((first_frame + frames) // self.hop + 3, self.stop_hop)
        if hi <= lo:
            return False
        with np.errstate(divide="ignore"):
            planned = (
                20.0 * np.log10(self.source_peak[lo:hi])
                + self.gain_db
                + self.reduction_db[lo - self.start_hop : hi - self.start_hop]
            )
        # The leveler's curve moves a little inside a hop: keep a margin for it.
        margin = _LEVEL_MARGIN_DB if self.level_db is not None else 0.0
        return bool(planned.max() > self.peak_ceiling_dbtp - margin)

    @property
    def max_reduction_db(self) -> float:
        return float(-self.reduction_db.min()) if len(self.reduction_db) else 0.0

    def gains(self, first_frame: int, frames: int) -> np.ndarray | float:
        """Linear gain for frames [first_frame, first_frame + frames) of the analysed stream."""
        static = 10.0 ** (self.gain_db / 20.0)
        lo = max(first_frame // self.hop - 2, self.start_hop)
        hi = min((first_frame + frames) // self.hop + 3, self.stop_hop)
        curve = self.reduction_db[lo - self.start_hop : hi - self.start_hop].astype(np.float64)
        limited = len(curve) and curve.min() < 0.0
        if not limited and self.level_db is None:
            return static
        centres = (np.arange(lo, hi) + 0.5) * self.hop
        positions = np.arange(first_frame, first_frame + frames, dtype=np.float64)
        total = np.zeros(frames)
        if limited:
            # Step 4 of the module docstring: a three-hop minimum keeps the interpolation
            # between hop centres under what every hop requires.
            padded = np.concatenate([[0.0], curve, [0.0]])
            curve = np.minimum(np.minimum(padded[:-2], padded[1:-1]), padded[2:])
            total += np.interp(positions, centres, curve)
        if self.level_db is not None and hi > lo:
            total += np.interp(positions, centres, self.level_db[lo:hi].astype(np.float64))
        return static * 10.0 ** (total / 20.0)

    def apply(self, block: np.ndarray, first_frame: int) -> np.ndarray:
        gains = self.gains(first_frame, len(block))
        return block * (gains[:, None] if isinstance(gains, np.ndarray) else gains)


@dataclass(frozen=True, slots=True, kw_only=True)
class Excerpt:
    """A stretch of the analysed signal kept to rehearse the PeakLimiter on (see `plan`)."""

    first_frame: int
    samples: np.ndarray


def forward_minimum(values: np.ndarray, width: int) -> np.ndarray:
    """min(values[i : i + width]) for every i with a whole window (van Herk/Gil-Werman, O(n)).

    >>> forward_minimum(np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0]), 3).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    count = len(values) - width + 1
    if count <= 0:
        return np.zeros(0)
    centred = minimum_filter1d(values, size=width, mode="nearest")
    return centred[width // 2 : width // 2 + count]


def moving_mean(values: np.ndarray, width: int) -> np.ndarray:
    """mean(values[i : i + width]) for every i with a whole window, by a running sum.

    >>> moving_mean(np.array([0.0, -2.0, -4.0, -2.0]), 2).tolist()
    [-1.0, -3.0, -3.0]
    """
    sums = np.concatenate([[0.0], np.cumsum(values)])
    return (sums[width:] - sums[:-width]) / width


def reduction_curve(
    peak: np.ndarray,
    gain_db: float,
    ceiling_dbtp: float,
    *,
    hop_s: float,
    start: int = 0,
    stop: int | None = None,
    lookahead_s: float = LOOKAHEAD_S,
    release_db_per_s: float = RELEASE_DB_PER_S,
) -> np.ndarray:
    """Limiter gain reduction in dB (<= 0, float16) for hops [start, stop) of `peak` (linear true
    peak per hop), keeping `peak + gain_db` under the ceiling; steps 1-3 of the module docstring
    (step 4 is applied by GainPlan.gains). Computed in chunks: memory stays small at any length.

    >>> peaks = 10 ** (np.array([-20.0, -20.0, -20.0, 0.0, -20.0, -20.0, -20.0, -20.0]) / 20)
    >>> curve = reduction_curve(peaks, 6.0, -1.0, hop_s=0.005, lookahead_s=0.01)
    >>> bool(curve[3] <= -6.999), bool((curve <= 0).all()), float(curve[0]), bool(curve[2] < 0)
    (True, True, 0.0, True)
    """
    stop = len(peak) if stop is None else stop
    # float16 keeps 0.01 dB over the limiter's range and halves a long recording's curve.
    out = np.zeros(max(0, stop - start), dtype=np.float16)
    width = max(1, round(lookahead_s / hop_s))
    rate = release_db_per_s * hop_s
    level = ceiling_dbtp - gain_db
    released = 0.0

    def required(a: int, b: int) -> np.ndarray:
        lo, hi = max(a, start), min(b, stop)
        values = np.zeros(b - a)
        if hi > lo:
            with np.errstate(divide="ignore"):
                values[lo - a : hi - a] = np.minimum(
                    0.0, level - 20.0 * np.log10(peak[lo:hi].astype(np.float64))
                )
        return values

    for a in range(start, stop, _CURVE_CHUNK):
        b = min(stop, a + _CURVE_CHUNK)
        # Nothing over the ceiling here or within look-ahead reach of the next chunk, and the
        # previous chunk ended fully released: the curve is zero, as `out` already says.
        quiet = float(peak[a : min(stop, b + width)].max(initial=0.0)) <= 10.0 ** (level / 20.0)
        if released >= 0.0 and quiet:
            continue
        extended = required(a - (width - 1), b + (width - 1))
        forward = forward_minimum(extended, width)  # positions [a - width + 1, b)
        smoothed = np.minimum(moving_mean(forward, width), extended[width - 1 : width - 1 + b - a])
        ramp = rate * np.arange(1, b - a + 1)
        curve = np.minimum(ramp + np.minimum.accumulate(smoothed - ramp), released + ramp)
        curve = np.minimum(curve, smoothed)  # float rounding in the ramp must not lift a hop
        stored = curve.astype(np.float16)
        # Round towards more reduction, never less: the ceiling must hold after rounding too.
        stored = np.where(stored > curve, np.nextafter(stored, np.float16(-np.inf)), stored)
        out[a - start : b - start] = stored
        released = float(curve[-1])
    return out


def plan(
    stats: HopStats,
    *,
    target_lufs: float,
    ceiling_dbtp: float,
    start_hop: int = 0,
    stop_hop: int | None = None,
    excerpts: tuple[Excerpt, ...] = (),
    peak_range_db: float = PEAK_RANGE_DB,
    level_db: np.ndarray | None = None,
) -> GainPlan:
    """The static gain that brings hops [start_hop, stop_hop) to `target_lufs` after limiting.

    With `level_db` (the speech leveler's curve, one value per hop) the plan is made for the
    levelled signal.

    Two stages keep the ceiling: the smooth curve brings every hop to within `peak_range_db` of it,
    and the sample-level PeakLimiter takes single peaks the rest of the way. The curve's effect on
    loudness follows from the hop statistics; the PeakLimiter's is rehearsed on `excerpts` (the
    analysed signal's own loud stretches) as a table of energy kept against how far a hop's peak
    reaches over the ceiling, then applied to every hop. Without excerpts the curve does it all.
    """
    stop_hop = len(stats.energy) if stop_hop is None else stop_hop
    hop_s = stats.hop / stats.rate_hz
    if level_db is not None:
        stats = levelled(stats, level_db)
    unlimited = stats.loudness(0.0, start_hop, stop_hop)
    if not math.isfinite(unlimited.integrated_lufs):
        raise ValueError("nothing above the -70 LUFS gate to normalise")
    smooth_ceiling = ceiling_dbtp + (peak_range_db if excerpts else 0.0)
    floor = target_lufs - unlimited.integrated_lufs
    if unlimited.true_peak_dbtp + floor <= ceiling_dbtp:
        excerpts = ()  # no peak comes near the ceiling: plain gain, nothing to limit
        smooth_ceiling = ceiling_dbtp
    table = (
        _rehearse(
            stats, excerpts, floor, ceiling_dbtp, smooth_ceiling, start_hop, stop_hop, level_db
        )
        if excerpts
        else None
    )

    def attempt(gain: float) -> tuple[np.ndarray, Loudness]:
        reduction = reduction_curve(
            stats.peak, gain, smooth_ceiling, hop_s=hop_s, start=start_hop, stop=stop_hop
        )

        def applied(a: int, b: int) -> np.ndarray:
            total = gain + reduction[a - start_hop : b - start_hop].astype(np.float64)
            if table is None:
                return total
            with np.errstate(divide="ignore"):
                over_db = 20.0 * np.log10(stats.peak[a:b].astype(np.float64)) + total - ceiling_dbtp
            kept = np.interp(over_db, table[0], table[1])
            # Energy lost to the PeakLimiter counts; its peaks are capped at the ceiling below.
            return total + 10.0 * np.log10(np.maximum(kept, 1e-12))

        loudness = stats.loudness(applied, start_hop, stop_hop)
        planned_peak = _planned_peak(stats, gain, reduction, start_hop, stop_hop)
        return reduction, Loudness(
            integrated_lufs=loudness.integrated_lufs,
            true_peak_dbtp=min(planned_peak, ceiling_dbtp),
            range_lu=loudness.range_lu,
        )

    gain, reduction, predicted = _solve(attempt, floor, target_lufs)
    over = _planned_peak(stats, gain, reduction, start_hop, stop_hop) > ceiling_dbtp
    return GainPlan(
        gain_db=gain,
        reduction_db=reduction,
        hop=stats.hop,
        start_hop=start_hop,
        stop_hop=stop_hop,
        predicted=predicted,
        peak_ceiling_dbtp=ceiling_dbtp if over else None,
        source_peak=stats.peak,
        level_db=level_db,
    )


def levelled(stats: HopStats, level_db: np.ndarray) -> HopStats:
    """The statistics the leveler's curve (dB per hop) would give: energy and peak scaled."""
    gain = level_db[: len(stats.energy)].astype(np.float64)
    return HopStats(
        rate_hz=stats.rate_hz,
        hop=stats.hop,
        hops_per_step=stats.hops_per_step,
        frames=stats.frames,
        energy=(stats.energy * 10.0 ** (gain / 10.0)).astype(np.float32),
        peak=(stats.peak * 10.0 ** (gain / 20.0)).astype(np.float32),
    )


def _planned_peak(
    stats: HopStats, gain: float, reduction: np.ndarray, start: int, stop: int
) -> float:
    """The highest hop peak (dBTP) after the gain and the smooth curve."""
    return stats.peak_dbtp(
        lambda a, b: gain + reduction[a - start : b - start].astype(np.float64), start, stop
    )


def _solve(
    attempt: Callable[[float], tuple[np.ndarray, Loudness]], floor: float, target_lufs: float
) -> tuple[float, np.ndarray, Loudness]:
    """The gain whose attempt lands on the target.

    Loudness after limiting rises with the gain but never faster than the gain itself, so the
    plain gain (`floor`) is a lower bound. Bracket the target from there, then narrow the bracket
    with the secant step, falling back to bisection when the secant strays (the curve flattens as
    the limiter works harder).
    """
    low = floor
    reduction, predicted = attempt(low)
    best = (low, reduction, predicted)
    low_error = target_lufs - predicted.integrated_lufs
    if low_error <= _SOLVE_TOLERANCE_LU:
        return best
    high, high_error = low, low_error
    step = max(1.0, 2.0 * low_error)
    while high_error > 0 and high < floor + _MAX_LIMITING_DB:
        low, low_error = high, high_error
        high = min(low + step, floor + _MAX_LIMITING_DB)
        step *= 2.0
        reduction, predicted = attempt(high)
        high_error = target_lufs - predicted.integrated_lufs
        best = (high, reduction, predicted)
    for _ in range(40):
        if high_error > 0 or abs(high_error) < _SOLVE_TOLERANCE_LU:
            break  # out of reach (best is the most limiting allowed) or already there
        gain = (low * high_error - high * low_error) / (high_error - low_error)
        if not low < gain < high:
            gain = 0.5 * (low + high)
        reduction, predicted = attempt(gain)
        error = target_lufs - predicted.integrated_lufs
        best = (gain, reduction, predicted)
        if abs(error) < _SOLVE_TOLERANCE_LU or high - low < 1e-4:
            break
        if error > 0:
            low, low_error = gain, error
        else:
            high, high_error = gain, error
    return best


def _rehearse(
    stats: HopStats,
    excerpts: tuple[Excerpt, ...],
    floor: float,
    ceiling_dbtp: float,
    smooth_ceiling: float,
    start_hop: int,
    stop_hop: int,
    level_db: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Energy the PeakLimiter keeps, by how far a hop's peak reaches over the ceiling (dB).

    Run on the excerpts at a few gains so that overshoots from none to the full range occur.
    """
    from fieldreports.audio.loudness import LoudnessMeter

    edges = np.arange(-6.0, PEAK_RANGE_DB + 3.01, 0.5)
    before = np.zeros(len(edges) + 1)
    after = np.zeros(len(edges) + 1)
    hop_s = stats.hop / stats.rate_hz
    channels = excerpts[0].samples.shape[1]
    for extra in (0.0, 3.0, 7.0):
        gain = floor + extra
        trial = GainPlan(
            gain_db=gain,
            reduction_db=reduction_curve(
                stats.peak, gain, smooth_ceiling, hop_s=hop_s, start=start_hop, stop=stop_hop
            ),
            hop=stats.hop,
            start_hop=start_hop,
            stop_hop=stop_hop,
            predicted=Loudness(integrated_lufs=0.0, true_peak_dbtp=0.0, range_lu=0.0),
            level_db=level_db,
        )
        for excerpt in excerpts:
            y = trial.apply(excerpt.samples.astype(np.float64), excerpt.first_frame)
            limiter = PeakLimiter(
                rate_hz=stats.rate_hz, channels=channels, ceiling_dbtp=ceiling_dbtp
            )
            out = np.concatenate([limiter.feed(y), limiter.finish()])
            metered = []
            for signal_, true_peak in ((y, True), (out, False)):
                meter = LoudnessMeter(
                    rate_hz=stats.rate_hz, channels=channels, hop_s=hop_s, true_peak=true_peak
                )
                meter.feed(signal_)
                metered.append(meter.finish())
            n = min(len(metered[0].energy), len(metered[1].energy))
            with np.errstate(divide="ignore"):
                over = 20.0 * np.log10(metered[0].peak[:n].astype(np.float64)) - ceiling_dbtp
            bins = np.digitize(over, edges)
            np.add.at(before, bins, metered[0].energy[:n])
            np.add.at(after, bins, metered[1].energy[:n])
    centres = np.concatenate([[edges[0] - 0.25], edges + 0.25])
    seen = before > 0
    if not seen.any():
        return np.array([0.0]), np.array([1.0])
    kept = np.minimum(1.0, after[seen] / before[seen])
    # More overshoot never keeps more energy; smooth out the noise of sparse bins that way.
    kept = np.minimum.accumulate(kept)
    return np.concatenate([[-1e9], centres[seen]]), np.concatenate([[1.0], kept])


class PeakLimiter:
    """A streaming sample-level look-ahead true-peak limiter: the last stage before the encoder.

    The planned curve above handles loud passages smoothly; this stage catches what is left at
    the scale of single waveform peaks (a voice's glottal pulses), which a 5 ms grid cannot reach.
    Same construction as `reduction_curve`, per sample: required gain from the 4x-oversampled
    peak, a forward minimum and a moving average over the look-ahead (the attack), and a release
    that rises at most `release_db_per_s`. Output lags input by `delay` frames; `finish` flushes.
    """

    def __init__(
        self,
        *,
        rate_hz: int,
        channels: int,
        ceiling_dbtp: float,
        lookahead_s: float = 0.0015,
        release_db_per_s: float = 400.0,
    ) -> None:
        from fieldreports.audio.loudness import TruePeak

        self._peaks = TruePeak(rate_hz=rate_hz, channels=channels)
        self.ceiling_dbtp = ceiling_dbtp
        self.channels = channels
        self._attack = max(1, round(lookahead_s * rate_hz))
        # The interpolator reports a peak about half its length late; the window reaches past it.
        self._window = self._attack + self._peaks.delay + 4
        self.delay = self._window - 1
        self._rate = release_db_per_s / rate_hz
        self._x = np.zeros((0, channels))
        self._required = np.zeros(0)
        self._forward_tail = np.zeros(self._attack - 1)
        self._release = 0.0
        self._fed = 0
        self._out = 0
        self.max_reduction_db = 0.0

    def feed(self, block: np.ndarray, *, below_ceiling: bool = False) -> np.ndarray:
        """Limit the next block; returns the frames that are ready (fewer at first: the delay).

        `below_ceiling` says the caller knows no peak in `block` reaches the ceiling (from the
        analysis), so the oversampling is skipped.
        """
        x = np.asarray(block, dtype=np.float64).reshape(-1, self.channels)
        self._fed += len(x)
        if below_ceiling:
            self._peaks.skip(x)
            required = np.zeros(len(x))
        else:
            with np.errstate(divide="ignore"):
                required = np.minimum(0.0, self.ceiling_dbtp - 20.0 * np.log10(self._peaks.feed(x)))
        self._x = np.concatenate([self._x, x])
        self._required = np.concatenate([self._required, required])
        ready = len(self._required) - (self._window - 1)
        if ready <= 0:
            return np.zeros((0, self.channels))
        forward = forward_minimum(self._required, self._window)[:ready]
        history = np.concatenate([self._forward_tail, forward])
        smoothed = moving_mean(history, self._attack)
        smoothed = np.minimum(smoothed, forward)
        ramp = self._rate * np.arange(1, ready + 1)
        gain_db = np.minimum(ramp + np.minimum.accumulate(smoothed - ramp), self._release + ramp)
        gain_db = np.minimum(gain_db, smoothed)  # float rounding in the ramp must not lift it
        self._release = float(gain_db[-1])
        self.max_reduction_db = max(self.max_reduction_db, float(-gain_db.min()))
        out = self._x[:ready] * (10.0 ** (gain_db / 20.0))[:, None]
        self._x = self._x[ready:]
        self._required = self._required[ready:]
        self._forward_tail = (
            history[len(history) - (self._attack - 1) :] if self._attack > 1 else history[:0]
        )
        self._out += ready
        return out

    def finish(self) -> np.ndarray:
        """The delayed frames still inside the limiter, limited."""
        fed = self._fed
        tail = self.feed(np.zeros((self._window - 1 + self._peaks.delay, self.channels)))
        return tail[: max(0, fed - (self._out - len(tail)))]
