"""Microphone level for the meter: RMS and peak in dBFS, and whether it clipped."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voice_tui.audio.ring import Samples

FULL_SCALE = 32768.0
SILENCE_DBFS = -100.0  # the floor reported for digital silence
CLIP_SAMPLE = 32767  # a sample at either rail counts as clipping


@dataclass(frozen=True, slots=True)
class MicLevel:
    rms_dbfs: float
    peak_dbfs: float
    clipping: bool


def to_dbfs(amplitude: float) -> float:
    if amplitude <= 0.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20.0 * math.log10(amplitude / FULL_SCALE))


class LevelMeter:
    """Accumulates blocks between publications (so no block is missed between two
    ~30 Hz updates) and reports their combined level."""

    def __init__(self) -> None:
        self._sum_squares = 0.0
        self._count = 0
        self._peak = 0
        self._clipped = False
        self._squares: npt.NDArray[np.int32] = np.empty(0, np.int32)  # scratch, reused

    def add(self, samples: Samples) -> int:
        """Every block, on the audio worker: no allocation once the scratch is grown.
        Returns the block's peak (absolute sample value)."""
        n = len(samples)
        if n == 0:
            return 0
        if len(self._squares) < n:
            self._squares = np.empty(n, np.int32)
        squares = self._squares[:n]
        np.multiply(samples, samples, out=squares, dtype=np.int32)  # each fits an int32
        self._sum_squares += float(squares.sum(dtype=np.int64))  # their sum may not
        self._count += n
        peak = max(int(samples.max()), -int(samples.min()))
        self._peak = max(self._peak, peak)
        self._clipped = self._clipped or peak >= CLIP_SAMPLE
        return peak

    @property
    def pending(self) -> bool:
        return self._count > 0

    def take(self) -> MicLevel:
        """The level since the last `take`, then start over."""
        rms = math.sqrt(self._sum_squares / self._count) if self._count else 0.0
        level = MicLevel(to_dbfs(rms), to_dbfs(float(self._peak)), self._clipped)
        self._sum_squares, self._count, self._peak, self._clipped = 0.0, 0, 0, False
        return level
