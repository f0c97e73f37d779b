"""A stream's sample count mapped onto `time.perf_counter`, robust to bad stamps.

A block's stamp is PortAudio's device time (ADC or DAC) on the perf_counter clock
(`device_stream.StreamTime`). Most stamps agree to a fraction of a millisecond; the rest
are off in both directions:
- late, by tens of milliseconds and for many blocks in a row, where the stream's clock
  is not one `StreamTime` recognises (mapped through the callback's "now", they carry
  its wait for the GIL or the scheduler);
- early, now and then by a whole block: when PortAudio catches up on several periods at
  once, a callback can carry the device time of the one before.
So a stream's times are counted (sample index / rate) from one origin, the time of
sample 0, taken as a low quantile of the origins the recent stamps imply: it ignores
the late ones unless nearly all are late, and a rare early one entirely.
"""

from __future__ import annotations

import math
from collections import deque

CLOCK_WINDOW = 100  # stamps (about 2 s of blocks) the origin is taken from
# The origin is the stamp this far up the sorted window: above the rare early ones,
# below the late ones. A real change of origin (lost audio, a restarted stream) is
# taken once it has lasted a tenth of the window (earlier) or nine tenths (later).
EARLY_SHARE = 0.1


class StreamClock:
    """Maps a stream's sample count to perf_counter time. One thread uses it."""

    def __init__(self, rate: int, window: int = CLOCK_WINDOW) -> None:
        self.rate = rate
        self.count = 0  # samples seen so far
        self._seen: deque[float] = deque(maxlen=window)
        self._origin: float | None = None  # cached until the next stamp

    @property
    def origin(self) -> float | None:
        """perf_counter time of sample 0 (None before the first stamp)."""
        if self._origin is None and self._seen:
            ranked = sorted(self._seen)
            self._origin = ranked[int(len(ranked) * EARLY_SHARE)]
        return self._origin

    def advance(self, n: int, end_time: float) -> None:
        """Count `n` more samples, the last of which ends at `end_time` (its stamp;
        a non-finite one only counts)."""
        self.count += n
        if math.isfinite(end_time):
            self._seen.append(end_time - self.count / self.rate)
            self._origin = None

    def time_of(self, index: int) -> float:
        origin = self.origin
        assert origin is not None
        return origin + index / self.rate

    def forget_stamps(self) -> None:
        """Samples were lost uncounted (the device overflowed): the stamps before no
        longer tell the origin."""
        self._seen.clear()
        self._origin = None
