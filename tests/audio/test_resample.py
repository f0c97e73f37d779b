"""Streaming resampling: block by block equals the whole, no drift, no edge clicks."""

from __future__ import annotations

import numpy as np
import pytest

from voice_tui.audio.resample import StreamResampler


def sine(rate: int, seconds: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (10000 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


@pytest.mark.parametrize(
    ("src", "dst", "block"), [(48000, 24000, 960), (24000, 48000, 480), (44100, 24000, 882)]
)
def test_blocks_resample_to_the_same_continuous_signal(src: int, dst: int, block: int) -> None:
    resampler = StreamResampler(src, dst)
    x = sine(src, 1.0)
    parts = [resampler.process(x[i : i + block]) for i in range(0, len(x), block)]
    parts.append(resampler.flush())
    y = np.concatenate(parts).astype(np.float64)
    assert abs(len(y) - dst) <= 1  # no drift: one second in, one second out
    # Compare with the ideal sine at the new rate (after the filter's settling).
    ideal = sine(dst, 1.0).astype(np.float64)
    middle = slice(dst // 10, dst - dst // 10)
    assert np.corrcoef(y[middle], ideal[middle])[0, 1] > 0.999
    # No click at block edges: the largest sample-to-sample step stays that of a sine.
    max_step = 10000 * 2 * np.pi * 440 / dst
    assert np.max(np.abs(np.diff(y[middle]))) < 1.1 * max_step


def test_equal_rates_pass_through_untouched() -> None:
    resampler = StreamResampler(24000, 24000)
    x = sine(24000, 0.1)
    assert resampler.passthrough
    assert resampler.process(x) is x
