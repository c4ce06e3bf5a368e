"""Speech presence and the speech leveler, planned from the analysis pass's hop statistics.

Field interviews put two voices at very different distances from one microphone: the reporter
close (-12 LUFS), the person answering three metres away (-35 LUFS). One static gain keeps them
23 LU apart. The leveler rides the gain on speech, as a careful engineer rides a fader:

1. **Where is speech?** (`speech_steps`) Each 100 ms step's loudness is compared with the
   recording's noise floor (its 10th percentile) and with the steps around it. Speech is
   syllables: within any second it swings by `SYLLABLE_SWING_DB` or more, where a fan, traffic
   or room tone stays within a few dB. A step is speech when it stands `ABOVE_FLOOR_DB` over
   the floor inside such a swing. No step of it: no speech (see `normalise`, `max_gain_db`).
2. **How loud is the voice here?** The mean energy of the speech steps within `WINDOW_S`
   around each speech step (pauses and noise are left out, so a pause does not lower it).
3. **Gain:** the programme's mean speech loudness minus that, at most `MAX_BOOST_DB` up and
   `MAX_CUT_DB` down. Between speech the gain holds where the last speech left it: pauses are
   neither pumped up nor ducked.
4. **Smooth:** a moving average over `SMOOTH_S` (the ramp starts a little before the new voice:
   the plan is made in advance), then the change is limited to `SLEW_DB_PER_S` each way.

The curve is one value per hop (5 ms, float32: 8.6 MB for three hours), so memory stays
bounded however long the recording; the render pass interpolates it (`limiter.GainPlan`). The
static gain, the true-peak limiter and the verification after it work on the levelled signal
as before, so the programme still lands on its loudness target under the ceiling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d, uniform_filter1d

from fieldreports.audio.loudness import ABSOLUTE_GATE_LUFS, HopStats

# Step 1: speech presence.
SYLLABLE_SWING_DB = 8.0
SWING_WINDOW_S = 1.0
ABOVE_FLOOR_DB = 6.0
FLOOR_PERCENTILE = 10.0
# Less speech than this in a whole recording is no speech (a door, a cough).
MIN_SPEECH_S = 1.0
# Steps 2-4: the leveler.
WINDOW_S = 3.0
MAX_BOOST_DB = 24.0
MAX_CUT_DB = 12.0
SMOOTH_S = 1.0
SLEW_DB_PER_S = 24.0
_FLOOR_LUFS = -120.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Speech:
    """Which 100 ms steps hold speech, and how many seconds that is."""

    steps: np.ndarray  # bool, one per whole 100 ms step
    step_s: float

    @property
    def seconds(self) -> float:
        return float(self.steps.sum()) * self.step_s

    @property
    def found(self) -> bool:
        return self.seconds >= MIN_SPEECH_S


def speech_steps(stats: HopStats) -> Speech:
    """Step 1 of the module docstring: the steps that hold speech.

    >>> rate, hop = 48000, 240
    >>> steady = np.full(20 * 200, 1e-4 * hop)  # 20 s of even noise, 5 ms hops
    >>> stats = HopStats(rate_hz=rate, hop=hop, hops_per_step=20, frames=len(steady) * hop,
    ...                  energy=steady.astype(np.float32), peak=np.full(len(steady), 0.01))
    >>> speech_steps(stats).found
    False
    >>> syllables = steady * np.tile(np.r_[np.full(40, 100.0), np.ones(40)], 50)  # 4 Hz swings
    >>> stats = HopStats(rate_hz=rate, hop=hop, hops_per_step=20, frames=len(steady) * hop,
    ...                  energy=syllables.astype(np.float32), peak=np.full(len(steady), 0.01))
    >>> round(speech_steps(stats).seconds)
    10
    """
    levels = np.maximum(stats.step_levels(), _FLOOR_LUFS)
    step_s = stats.hop * stats.hops_per_step / stats.rate_hz
    if not len(levels):
        return Speech(steps=np.zeros(0, dtype=bool), step_s=step_s)
    floor = float(np.percentile(levels, FLOOR_PERCENTILE))
    width = max(1, round(SWING_WINDOW_S / step_s))
    swing = maximum_filter1d(levels, width) - minimum_filter1d(levels, width)
    # A swing marks the whole second around it as speech-like, not only its loud edge.
    swinging = maximum_filter1d((swing >= SYLLABLE_SWING_DB).astype(np.uint8), width) > 0
    loud = (levels > floor + ABOVE_FLOOR_DB) & (levels > ABSOLUTE_GATE_LUFS)
    return Speech(steps=loud & swinging, step_s=step_s)


def level_curve(stats: HopStats, speech: Speech) -> np.ndarray | None:
    """Steps 2-4 of the module docstring: the leveler's gain in dB, one value per hop (float32);
    None when there is no speech to level or nothing to change."""
    if not speech.found:
        return None
    step_s = speech.step_s
    energy = 10.0 ** (np.maximum(stats.step_levels(), _FLOOR_LUFS) / 10.0)
    mask = speech.steps.astype(np.float64)
    width = max(1, round(WINDOW_S / step_s))
    # Mean energy of the speech steps in the window: two running means, of energy and of count.
    spoken = uniform_filter1d(energy * mask, width, mode="constant")
    count = uniform_filter1d(mask, width, mode="constant")
    with np.errstate(divide="ignore", invalid="ignore"):
        local_db = 10.0 * np.log10(spoken / count)
    reference_db = 10.0 * np.log10(float(np.mean(energy[speech.steps])))
    wanted = np.clip(reference_db - local_db, -MAX_CUT_DB, MAX_BOOST_DB)
    gain = _hold(np.where(speech.steps, wanted, np.nan))
    gain = uniform_filter1d(gain, max(1, round(SMOOTH_S / step_s)), mode="nearest")
    gain = _slew(gain, SLEW_DB_PER_S * step_s)
    if float(np.abs(gain).max(initial=0.0)) < 0.05:
        return None
    # One value per hop, by linear interpolation between step centres.
    hops = len(stats.energy)
    centres = (np.arange(len(gain)) + 0.5) * stats.hops_per_step
    return np.interp(np.arange(hops) + 0.5, centres, gain).astype(np.float32)


def _hold(values: np.ndarray) -> np.ndarray:
    """NaN (no speech) takes the value before it, or the first value at the start.

    >>> _hold(np.array([np.nan, 2.0, np.nan, np.nan, -1.0, np.nan])).tolist()
    [2.0, 2.0, 2.0, 2.0, -1.0, -1.0]
    """
    known = ~np.isnan(values)
    if not known.any():
        return np.zeros_like(values)
    index = np.where(known, np.arange(len(values)), 0)
    np.maximum.accumulate(index, out=index)
    held = values[index]
    held[: int(np.argmax(known))] = values[int(np.argmax(known))]
    return held


def _slew(values: np.ndarray, step_db: float) -> np.ndarray:
    """At most `step_db` change from one value to the next: the mean of a pass that follows the
    curve late (forward) and one that follows it early (backward), so a ramp is centred on the
    change it makes.

    >>> _slew(np.array([0.0, 0.0, 10.0, 10.0, 10.0]), 4.0).tolist()
    [1.0, 3.0, 7.0, 9.0, 10.0]
    """
    late = values.astype(np.float64)
    for i in range(1, len(late)):
        late[i] = min(max(late[i], late[i - 1] - step_db), late[i - 1] + step_db)
    early = values.astype(np.float64)
    for i in range(len(early) - 2, -1, -1):
        early[i] = min(max(early[i], early[i + 1] - step_db), early[i + 1] + step_db)
    return 0.5 * (late + early)
