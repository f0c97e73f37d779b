"""The far end for an echo canceller: what the speaker played, lined up with the mic.

The output callback writes every sample it hands to the device into a reference ring,
stamped with its DAC time; the capture callback stamps mic blocks with their ADC time.
Both stamps already include the streams' reported latencies, so a mic sample captured
at time t pairs with the far-end sample that reached the DAC at t (its echo arrives a
little later: the acoustic path, which the adaptive filter finds itself).

The stamps jitter by a few milliseconds (callback scheduling), so each stream's clock
is smoothed, and the far-end cursor advances by exactly the mic block's length: the
canceller sees one continuous far-end stream with a constant delay. The cursor only
jumps when it has drifted `resync_ms` away from where the clocks say it should be
(a reopened device, dropped mic audio, clock drift between two sound cards). The far
end is handed over `lead_ms` early so stamp errors never make the echo come before its
reference (a filter cannot cancel what it has not seen yet).
"""

from __future__ import annotations

import math
import time

import numpy as np

from voice_tui.audio.devices import TARGET_RATE
from voice_tui.audio.resample import StreamResampler
from voice_tui.audio.ring import SampleRing, Samples

HISTORY_S = 2.0  # far end kept: more than input + output latency ever add up to
CLOCK_SMOOTHING = 0.05  # weight of each new stamp in a stream's clock estimate
CLOCK_JUMP_S = 0.05  # a stamp this far off is a new timeline (reopen, lost audio)


class StreamClock:
    """Maps a stream's sample count to perf_counter time: time of sample 0, smoothed
    over the jittery per-block stamps."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.count = 0  # samples seen so far
        self.origin: float | None = None  # perf_counter time of sample 0

    def advance(self, n: int, end_time: float) -> bool:
        """Count `n` more samples, the last of which ends at `end_time`; True when
        the timeline jumped (the first stamp, or one far off the estimate)."""
        self.count += n
        if not math.isfinite(end_time):
            return self.origin is None
        origin = end_time - self.count / self.rate
        if self.origin is None or abs(origin - self.origin) > CLOCK_JUMP_S:
            self.origin = origin
            return True
        self.origin += CLOCK_SMOOTHING * (origin - self.origin)
        return False

    def time_of(self, index: int) -> float:
        assert self.origin is not None
        return self.origin + index / self.rate


class FarEndAligner:
    """Pulls the playback reference and hands out far-end blocks aligned with mic blocks
    (24 kHz, like the mic after resampling). Used from the audio worker thread only."""

    def __init__(self, lead_ms: int = 10, resync_ms: int = 20) -> None:
        self.lead = TARGET_RATE * lead_ms // 1000
        self.resync = TARGET_RATE * resync_ms // 1000
        self.lead_ms = lead_ms
        self._history: Samples = np.zeros(int(TARGET_RATE * HISTORY_S), dtype=np.int16)
        self._ring: SampleRing | None = None
        self._resampler: StreamResampler | None = None
        self._far = StreamClock(TARGET_RATE)
        self._mic = StreamClock(TARGET_RATE)
        self._cursor: int | None = None  # far-end index of the next sample to hand out
        self.resyncs = 0  # cursor jumps after the first alignment
        self.missing = 0  # far-end samples asked for but not (or no longer) available

    @property
    def written(self) -> int:
        return self._far.count

    def pull(self, ring: SampleRing | None) -> bool:
        """Take what the output callback wrote since the last pull; True when the
        reference is a new one (a reopened speaker): the history starts over."""
        renewed = ring is not self._ring
        if renewed:
            self._ring = ring
            self._resampler = None if ring is None else StreamResampler(ring.rate, TARGET_RATE)
            self._history[:] = 0
            self._far = StreamClock(TARGET_RATE)
            self._cursor = None
        if ring is None or self._resampler is None:
            return renewed
        got = ring.read()
        if got is None:
            return renewed
        samples = self._resampler.process(got.samples)
        if got.dropped:  # we fell behind the ring: those samples are a gap in time
            self._append(np.zeros(got.dropped * TARGET_RATE // ring.rate, dtype=np.int16))
        self._append(samples)
        if self._far.advance(0, got.end_time) and self._cursor is not None:
            self._cursor = None  # the far timeline jumped: realign
        return renewed

    def _append(self, samples: Samples) -> None:
        size = len(self._history)
        if len(samples) > size:  # only the newest `size` samples can be kept
            self._far.count += len(samples) - size
            samples = samples[-size:]
        n = len(samples)
        start = self._far.count % size
        first = min(n, size - start)
        self._history[start : start + first] = samples[:first]
        self._history[: n - first] = samples[first:]
        self._far.count += n

    def take(self, n: int, mic_end_time: float) -> Samples:
        """The `n` far-end samples that go with the mic block ending at `mic_end_time`
        (zeros where the speaker played nothing or the reference is missing)."""
        if not math.isfinite(mic_end_time):
            mic_end_time = time.perf_counter()
        self._mic.advance(n, mic_end_time)
        out = np.zeros(n, dtype=np.int16)
        if self._far.origin is None:
            return out
        first_mic = self._mic.time_of(self._mic.count - n)
        target = round((first_mic - self._far.time_of(0)) * TARGET_RATE) - self.lead
        if self._cursor is None:
            self._cursor = target
        elif abs(self._cursor - target) > self.resync:
            self._cursor = target
            self.resyncs += 1
        start, self._cursor = self._cursor, self._cursor + n
        oldest = self._far.count - len(self._history)
        lo, hi = max(start, oldest, 0), min(start + n, self._far.count)
        if hi > lo:
            size = len(self._history)
            idx = np.arange(lo, hi) % size
            out[lo - start : hi - start] = self._history[idx]
        self.missing += n - max(0, hi - lo)
        return out
