"""The mic level meter: RMS and peak in dBFS, clipping."""

from __future__ import annotations

import math

import numpy as np

from voice_tui.audio.level import SILENCE_DBFS, LevelMeter


def test_a_full_scale_sine_is_minus_3_dbfs_rms_and_0_peak() -> None:
    meter = LevelMeter()
    t = np.arange(2400) / 24000
    meter.add((32767 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16))
    level = meter.take()
    assert math.isclose(level.rms_dbfs, -3.01, abs_tol=0.05)
    assert math.isclose(level.peak_dbfs, 0.0, abs_tol=0.01)
    assert level.clipping


def test_levels_accumulate_between_takes_and_restart_after() -> None:
    meter = LevelMeter()
    quiet = np.full(480, 328, np.int16)  # -40 dBFS
    meter.add(quiet)
    meter.add(np.zeros(480, np.int16))
    level = meter.take()
    assert math.isclose(level.rms_dbfs, -40 - 3.01, abs_tol=0.1)  # half the power
    assert math.isclose(level.peak_dbfs, -40, abs_tol=0.1)
    assert not level.clipping
    assert not meter.pending
    meter.add(np.zeros(480, np.int16))
    assert meter.take().rms_dbfs == SILENCE_DBFS


def test_the_meter_matches_a_direct_computation_at_the_rails() -> None:
    meter = LevelMeter()
    block = np.array([-32768, 32767, 0, -1, 1] * 96, np.int16)  # int16 squares overflow
    for _ in range(3):
        meter.add(block)
    meter.add(np.full(120, -32768, np.int16))  # a shorter block reuses the scratch
    wide = np.concatenate([block, block, block, np.full(120, -32768)]).astype(np.float64)
    level = meter.take()
    expected_rms = 20 * math.log10(math.sqrt(np.mean(wide * wide)) / 32768)
    assert math.isclose(level.rms_dbfs, expected_rms, abs_tol=1e-9)
    assert level.peak_dbfs == 0.0 and level.clipping
