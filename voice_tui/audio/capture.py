"""The microphone: an input stream whose callback only copies into a ring buffer.

Everything slow (resampling to 24 kHz, metering, sending) happens in the worker thread
that reads the ring. Each block is stamped with when its newest sample was captured,
on the `time.perf_counter()` clock, from PortAudio's ADC time; the reader turns those
stamps into times counted from a robust origin (`captured_at`), which move forward with
the audio (so the echo canceller and benchmarks can rely on them).
"""

from __future__ import annotations

import threading
import time
from types import ModuleType
from typing import Any

from voice_tui.audio.device_stream import DeviceStream
from voice_tui.audio.devices import TARGET_RATE, AudioDevice, pick_rate
from voice_tui.audio.resample import StreamResampler
from voice_tui.audio.ring import RingRead, SampleRing
from voice_tui.audio.stream_clock import StreamClock
from voice_tui.config.schema import AudioSettings

RING_SECONDS = 2.0  # how far the reader may fall behind before the oldest audio drops


def input_buffering(settings: AudioSettings, rate: int) -> tuple[int, float | str]:
    """(blocksize in frames, PortAudio latency) for the microphone. A number in
    `audio.latency` sets the speaker's buffer; the microphone's blocks bound its delay,
    so it keeps PortAudio's "low"."""
    latency = "low" if isinstance(settings.latency, int) else settings.latency
    return rate * settings.block_ms // 1000, latency


class Capture(DeviceStream):
    def __init__(
        self,
        sd: ModuleType,
        device: AudioDevice,
        settings: AudioSettings,
        wake: threading.Event,
        rate: int | None = None,
    ) -> None:
        super().__init__()
        self.device = device
        self.rate = rate or pick_rate(sd.check_input_settings, device.id, device.default_rate)
        self.ring = SampleRing(int(self.rate * RING_SECONDS), self.rate, wake)
        self.resampler = StreamResampler(self.rate, TARGET_RATE)
        self.device_overflows = 0  # callback-owned
        # Reader-owned: the clock that times what is read, the overflows it has seen,
        # and the last time handed out.
        self._clock = StreamClock(self.rate)
        self._overflows_timed = 0
        self._last_captured_at = float("-inf")
        block, latency = input_buffering(settings, self.rate)
        self.stream: Any = sd.InputStream(
            device=device.id,
            samplerate=self.rate,
            channels=1,
            dtype="int16",
            blocksize=block,
            latency=latency,
            callback=self._callback,
        )

    def _callback(self, indata: Any, frames: int, stamp: Any, status: Any) -> None:
        now = time.perf_counter()
        adc = stamp.inputBufferAdcTime
        # The block's newest sample: its first one's ADC time plus the block's length.
        end = self.stream_time.to_perf(adc, stamp.currentTime, now)
        if adc > 0:
            end += frames / self.rate
        self.ring.write(indata[:, 0], end)
        if status.input_overflow:
            self.device_overflows += 1
        self._beat(now)

    def captured_at(self, got: RingRead) -> float:
        """When the newest sample of `got` (the ring's next read) was captured: counted
        from the stream's origin, so a late or stale stamp moves no time, and never
        before the previous read's."""
        if self.device_overflows != self._overflows_timed:
            # The device lost audio the count never saw: the old stamps are off by it.
            self._overflows_timed = self.device_overflows
            self._clock.forget_stamps()
        self._clock.advance(len(got.samples) + got.dropped, got.end_time)
        if self._clock.origin is None:
            return got.end_time  # never stamped (nan)
        at = max(self._clock.time_of(self._clock.count), self._last_captured_at)
        self._last_captured_at = at
        return at
