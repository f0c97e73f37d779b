"""Measuring echo handling: ERLE and levels from what an `EchoCanceller` saw.

`EchoRecording` is an `EchoMonitor`: install it on a canceller (`monitor=`), play
something, then ask how much echo was removed over a span of mic time. Used by the
echo tests and the benchmarks.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voice_tui.audio.devices import TARGET_RATE
from voice_tui.audio.echo_guard import db, power
from voice_tui.audio.ring import Samples


def erle_db(mic: Samples, output: Samples) -> float:
    """Echo return loss enhancement: mic power over output power, in dB (for spans
    where only echo is heard). Silent output counts as -120 dBFS."""
    return db(power(mic)) - max(db(power(output)), -120.0)


def level_dbfs(samples: Samples) -> float:
    return max(db(power(samples)), -120.0)


@dataclass(frozen=True, slots=True)
class EchoFigures:
    mic_dbfs: float  # echo as captured
    cleaned_dbfs: float  # after the canceller
    sent_dbfs: float  # after the residual-echo guard
    far_dbfs: float  # the aligned far end

    @property
    def canceller_erle_db(self) -> float:
        return self.mic_dbfs - self.cleaned_dbfs

    @property
    def total_erle_db(self) -> float:
        return self.mic_dbfs - self.sent_dbfs


class EchoRecording:
    """Keeps every block a canceller processed (worker thread writes, anyone reads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blocks: list[tuple[Samples, Samples, Samples, Samples]] = []

    def add(self, mic: Samples, far: Samples, cleaned: Samples, sent: Samples) -> None:
        with self._lock:
            self._blocks.append((mic.copy(), far.copy(), cleaned.copy(), sent.copy()))

    @property
    def samples(self) -> int:
        with self._lock:
            return sum(len(b[0]) for b in self._blocks)

    def signals(self) -> tuple[Samples, Samples, Samples, Samples]:
        """(mic, far, cleaned, sent), each one array over all blocks so far."""
        with self._lock:
            blocks = list(self._blocks)
        if not blocks:
            empty: Samples = np.zeros(0, dtype=np.int16)
            return empty, empty, empty, empty
        mic, far, cleaned, sent = (np.concatenate(parts) for parts in zip(*blocks, strict=True))
        return mic, far, cleaned, sent

    def figures(self, start: int = 0, end: int | None = None) -> EchoFigures:
        """Levels over mic samples [start, end) (24 kHz sample indices)."""
        mic, far, cleaned, sent = (x[start:end] for x in self.signals())
        return EchoFigures(level_dbfs(mic), level_dbfs(cleaned), level_dbfs(sent), level_dbfs(far))


def frame_levels(samples: Samples, frame: int = TARGET_RATE // 100) -> npt.NDArray[np.float64]:
    """dBFS of each whole 10 ms frame."""
    n = len(samples) // frame
    x = samples[: n * frame].astype(np.float64).reshape(n, frame) / 32768.0
    return np.asarray(10 * np.log10(np.maximum(np.mean(x * x, axis=1), 1e-12)))
