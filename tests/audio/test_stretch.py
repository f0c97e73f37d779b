"""Lengthening by whole periods (`stretch.lengthen`): the jitter buffer's margin."""

from __future__ import annotations

import numpy as np
import pytest

from voice_tui.audio.stretch import lengthen

RATE = 24_000


def voiced(pitch_hz: float, ms: int, rate: int = RATE) -> np.ndarray:
    """A vowel-like tone: a fundamental and two harmonics."""
    t = np.arange(rate * ms // 1000) / rate
    harmonics = ((1, 6000), (2, 2500), (3, 1200))
    wave = sum(a * np.sin(2 * np.pi * pitch_hz * h * t) for h, a in harmonics)
    return np.round(wave).astype(np.int16)


def played(samples: np.ndarray, at_most: int, rate: int = RATE) -> tuple[np.ndarray, int]:
    longer = lengthen(samples, at_most, rate)
    assert longer is not None
    whole = np.concatenate([samples[: longer.cut], longer.filler, samples[longer.cut :]])
    return whole, len(longer.filler)


@pytest.mark.parametrize(
    ("pitch_hz", "rate"), [(100.0, 24_000), (180.0, 24_000), (220.0, 24_000), (130.0, 48_000)]
)
def test_a_voice_is_lengthened_by_whole_periods_without_a_seam(pitch_hz: float, rate: int) -> None:
    source = voiced(pitch_hz, 40, rate)
    period = rate / pitch_hz  # not always a whole number of samples
    whole, added = played(source, rate * 10 // 1000, rate)  # up to 10 ms
    repeats = round(added / period)
    assert repeats >= 1 and abs(added - repeats * period) <= repeats
    assert added <= rate * 10 // 1000
    # No step much bigger than the voice's own (a period rounded to whole samples may
    # add a little): the seams are not heard as clicks.
    steps = np.abs(np.diff(whole.astype(np.int32)))
    assert steps.max() <= np.abs(np.diff(source.astype(np.int32))).max() * 1.2

    # And the pitch is the voice's: it repeats itself one period on as well as before.
    def misfit(x: np.ndarray) -> float:
        lag = round(period)
        return float(np.abs(x[lag:].astype(np.float64) - x[:-lag]).max())

    assert misfit(whole) <= misfit(source) * 1.2 + 10


def test_silence_is_lengthened_with_silence() -> None:
    whole, added = played(np.zeros(960, np.int16), 240)
    assert added and not whole.any()


def test_nothing_is_inserted_when_the_piece_or_the_room_is_too_small() -> None:
    assert lengthen(voiced(150, 5), 240, RATE) is None  # too short to find a period in
    assert lengthen(voiced(150, 40), 30, RATE) is None  # less than the shortest period
    assert lengthen(voiced(100, 40), 200, RATE) is None  # its period (240) is longer
