"""The microphone: an input stream whose callback only copies into a ring buffer.

Everything slow (resampling to 24 kHz, metering, sending) happens in the worker thread
that reads the ring. Each block is stamped with when its newest sample was captured,
on the `time.perf_counter()` clock, from PortAudio's ADC time (so benchmarks can
measure microphone to wire).
"""

from __future__ import annotations

import contextlib
import threading
import time
from types import ModuleType
from typing import Any

from voice_tui.audio.devices import TARGET_RATE, AudioDevice, pick_rate
from voice_tui.audio.resample import StreamResampler
from voice_tui.audio.ring import SampleRing
from voice_tui.config.schema import AudioSettings

RING_SECONDS = 2.0  # how far the reader may fall behind before the oldest audio drops


class Capture:
    def __init__(
        self,
        sd: ModuleType,
        device: AudioDevice,
        settings: AudioSettings,
        wake: threading.Event,
        rate: int | None = None,
    ) -> None:
        self.device = device
        self.rate = rate or pick_rate(sd.check_input_settings, device.id, device.default_rate)
        self.ring = SampleRing(int(self.rate * RING_SECONDS), self.rate, wake)
        self.resampler = StreamResampler(self.rate, TARGET_RATE)
        self.device_overflows = 0
        self.last_callback = time.perf_counter()  # for the worker's liveness check
        self.callbacks = 0
        self.stream: Any = sd.InputStream(
            device=device.id,
            samplerate=self.rate,
            channels=1,
            dtype="int16",
            blocksize=self.rate * settings.block_ms // 1000,
            # A number sets the speaker's buffer; the microphone's blocks bound its delay.
            latency="low" if isinstance(settings.latency, int) else settings.latency,
            callback=self._callback,
        )

    def _callback(self, indata: Any, frames: int, stamp: Any, status: Any) -> None:
        now = time.perf_counter()
        adc = stamp.inputBufferAdcTime
        # The stream clock and perf_counter tick alike; map via "now" on both.
        end = adc - stamp.currentTime + now + frames / self.rate if adc > 0 else now
        self.ring.write(indata[:, 0], end)
        if status.input_overflow:
            self.device_overflows += 1
        self.last_callback = now
        self.callbacks += 1

    def start(self) -> None:
        self.last_callback = time.perf_counter()
        self.stream.start()

    @property
    def active(self) -> bool:
        return bool(self.stream.active)

    def close(self) -> None:
        """Stop and release the stream; a stream whose server died may refuse: ignore."""
        # A stream whose device or server is gone may fail to stop: nothing to release.
        with contextlib.suppress(Exception):
            self.stream.abort(ignore_errors=True)
        with contextlib.suppress(Exception):
            self.stream.close(ignore_errors=True)
