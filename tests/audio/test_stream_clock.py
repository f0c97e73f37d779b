"""Stream times: PortAudio's stamps mapped onto perf_counter without the callback's wait
for the GIL, counted from a robust origin so a late or stale stamp moves no time, and
never going backwards (CI once saw a capture stamp one block early: PortAudio catching
up)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tests.support.virtual_audio import VirtualAudio
from voice_tui.audio.capture import Capture
from voice_tui.audio.device_stream import StreamTime
from voice_tui.audio.devices import choose_device, list_devices
from voice_tui.audio.problems import load_sounddevice
from voice_tui.audio.ring import RingRead
from voice_tui.audio.stream_clock import CLOCK_WINDOW, StreamClock
from voice_tui.config.schema import AudioSettings

RATE = 48_000
BLOCK = 960  # 20 ms
START = 1000.0  # the true time of sample 0


def true_end(block: int) -> float:
    return START + (block + 1) * BLOCK / RATE


def test_times_are_counted_through_late_and_stale_stamps() -> None:
    clock = StreamClock(RATE)
    rng = np.random.default_rng(1)
    for block in range(300):
        stamp = true_end(block) + rng.uniform(0, 0.0001)  # the usual sub-ms jitter
        if block % 3 == 1:
            stamp += 0.045  # the callback waited for the GIL
        if block % 40 == 17:
            stamp -= BLOCK / RATE  # PortAudio reused the previous block's ADC time
        clock.advance(BLOCK, stamp)
        assert clock.time_of(clock.count) == pytest.approx(true_end(block), abs=0.0002)


def test_a_real_change_of_origin_is_taken_once_it_has_lasted() -> None:
    clock = StreamClock(RATE)
    for block in range(50):
        clock.advance(BLOCK, true_end(block))
    lost = 0.2  # the device dropped 200 ms the count never saw
    later = [clock.time_of(clock.count)]
    for block in range(50, 50 + CLOCK_WINDOW):
        clock.advance(BLOCK, true_end(block) + lost)
        later.append(clock.time_of(clock.count))
    assert later[-1] == pytest.approx(true_end(50 + CLOCK_WINDOW - 1) + lost)
    clock.forget_stamps()  # what the capture does when it sees the device overflow
    clock.advance(BLOCK, true_end(200) + 2 * lost)
    assert clock.time_of(clock.count) == pytest.approx(true_end(200) + 2 * lost)


def test_a_non_finite_stamp_only_counts() -> None:
    clock = StreamClock(RATE)
    clock.advance(BLOCK, float("nan"))
    assert clock.origin is None
    clock.advance(BLOCK, true_end(1))
    assert clock.time_of(BLOCK) == pytest.approx(true_end(0))


def test_capture_times_move_forward_with_the_audio(virtual_audio: VirtualAudio) -> None:
    loaded = load_sounddevice()
    assert loaded.module is not None
    device = choose_device(list_devices(loaded.module), None, "input").device
    assert device is not None
    capture = Capture(loaded.module, device, AudioSettings(), threading.Event(), rate=RATE)
    try:
        block = np.zeros(BLOCK, dtype=np.int16)
        stamps = [true_end(i) for i in range(20)]
        stamps += [true_end(19) + 0.0001, true_end(21) + 0.045, true_end(22)]  # stale, late
        times = [capture.captured_at(RingRead(block, s, 0)) for s in stamps]
        assert times == sorted(times)
        assert times[-3:] == pytest.approx([true_end(20), true_end(21), true_end(22)])
        # Audio dropped by the ring (the reader fell behind) still counts as time.
        dropped = capture.captured_at(RingRead(block, true_end(24), BLOCK))
        assert dropped == pytest.approx(true_end(24))
        # The device overflowed: samples were lost uncounted, and the new stamps rule.
        capture.device_overflows += 1
        after = capture.captured_at(RingRead(block, true_end(25) + 0.5, 0))
        assert after == pytest.approx(true_end(25) + 0.5)
    finally:
        capture.close()


def test_a_stamp_on_the_wall_clock_is_not_late_by_the_callbacks_wait() -> None:
    mapping = StreamTime()
    # PortAudio (ALSA) read the wall clock 30 ms before the callback got the GIL; the
    # block reaches the DAC 20 ms after that reading.
    current = time.time() - 0.03
    mapped = mapping.to_perf(current + 0.02, current, time.perf_counter())
    assert mapped == pytest.approx(time.perf_counter() - 0.01, abs=0.005)


def test_a_stream_on_an_unknown_clock_is_mapped_through_the_callbacks_now() -> None:
    mapping = StreamTime()
    now = time.perf_counter()
    assert mapping.to_perf(5.02, 5.0, now) == pytest.approx(now + 0.02)
    assert mapping.to_perf(0.0, 5.0, now) == now  # no timestamp from the host API
