"""Optional noise reduction (noisereduce's spectral gating), made streamable.

noisereduce works on a whole array; we hand it overlapping windows of a fixed size instead, keep the
middle of each and drop the overlaps, so memory stays flat and the output does not depend on how
the decoder happened to cut its blocks: the analysis and render passes see identical samples.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np

log = logging.getLogger(__name__)

CHUNK_S = 10.0
# Context either side of a chunk: longer than noisereduce's STFT window and its 2 s time constant's
# useful reach, so chunk seams do not show.
PAD_S = 1.0


class Denoiser:
    """Feed blocks (frames x channels); get denoised blocks back, delayed by up to one chunk."""

    def __init__(self, *, rate_hz: int, channels: int, strength: float = 0.8) -> None:
        self.rate_hz = rate_hz
        self.channels = channels
        self.strength = min(1.0, max(0.0, strength))
        self.chunk = round(CHUNK_S * rate_hz)
        self.pad = round(PAD_S * rate_hz)
        self._buffer = np.zeros((0, channels), dtype=np.float32)
        self._buffer_start = 0  # stream position of _buffer[0]
        self._next = 0  # stream position of the next output frame
        self._total = 0

    def feed(self, block: np.ndarray) -> Iterator[np.ndarray]:
        self._buffer = np.concatenate([self._buffer, block.astype(np.float32)])
        self._total += len(block)
        while self._total >= self._next + self.chunk + self.pad:
            yield self._emit(self._next + self.chunk)

    def finish(self) -> Iterator[np.ndarray]:
        while self._next < self._total:
            yield self._emit(min(self._total, self._next + self.chunk))

    def _emit(self, end: int) -> np.ndarray:
        lo = max(0, self._next - self.pad)
        hi = min(self._total, end + self.pad)
        window = self._buffer[lo - self._buffer_start : hi - self._buffer_start]
        cleaned = self._reduce(window)
        out = cleaned[self._next - lo : end - lo]
        self._next = end
        keep_from = max(0, self._next - self.pad)
        self._buffer = self._buffer[keep_from - self._buffer_start :]
        self._buffer_start = keep_from
        return out

    def _reduce(self, window: np.ndarray) -> np.ndarray:
        import noisereduce  # imported late: it pulls in a large stack only this option needs

        if len(window) < 4096:
            return window
        reduced = noisereduce.reduce_noise(
            y=window.T, sr=self.rate_hz, stationary=False, prop_decrease=self.strength, n_jobs=1
        )
        return np.asarray(reduced, dtype=np.float32).reshape(self.channels, -1).T
