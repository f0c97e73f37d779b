"""What the capture and output streams share: their lifecycle, the liveness record the
worker checks, and the mapping of PortAudio's stream clock onto `time.perf_counter`."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

# A candidate clock reads at most this much past the callback's `currentTime` when it
# is the stream's clock (the callback waited for the GIL in between).
SAME_CLOCK_S = 0.5
CANDIDATE_CLOCKS: tuple[Callable[[], float], ...] = (time.time, time.monotonic)


class StreamTime:
    """Maps a stream's clock (PortAudio's `currentTime`, DAC and ADC times) onto
    perf_counter, for one stream's callbacks.

    PortAudio reads its clock before the Python callback runs; the callback may wait
    for the GIL first, by tens of milliseconds on a busy machine. Mapped through "now"
    (perf_counter read in the callback), every stamp would be late by that wait. So the
    stream's clock is recognised instead (ALSA's is the wall clock): both clocks are
    read together, and their offset maps the stamp, however late the callback runs.
    A stream on no clock recognised here is mapped through "now"."""

    def __init__(self) -> None:
        self._clock: Callable[[], float] | None = None

    def to_perf(self, stream_time: float, current_time: float, now: float) -> float:
        """`stream_time` on the perf_counter clock (`now`: perf_counter in the callback;
        returned itself when the host API gives no timestamp, 0)."""
        if stream_time <= 0:
            return now
        clock = self._clock
        if clock is None:
            clock = self._clock = _clock_of(current_time)
            if clock is None:
                return stream_time - current_time + now
        return stream_time - (clock() - time.perf_counter())


def _clock_of(current_time: float) -> Callable[[], float] | None:
    for clock in CANDIDATE_CLOCKS:
        if 0 <= clock() - current_time < SAME_CLOCK_S:
            return clock
    return None


class DeviceStream:
    """A PortAudio stream owned by the audio worker. Subclasses set `self.stream` and
    call `_beat(now)` from their callback."""

    stream: Any

    def __init__(self) -> None:
        self.last_callback = time.perf_counter()  # for the worker's liveness check
        self.callbacks = 0
        self.stream_time = StreamTime()  # callback-owned
        # The native id of the thread PortAudio calls back on (per-thread CPU figures):
        # a new one each time the stream starts.
        self.thread_id: int | None = None

    def _beat(self, now: float) -> None:
        self.last_callback = now
        self.callbacks += 1
        self.thread_id = threading.get_native_id()

    def start(self) -> None:
        self.last_callback = time.perf_counter()
        self.stream.start()

    @property
    def active(self) -> bool:
        return bool(self.stream.active)

    def close(self) -> None:
        """Stop and release the stream. A stream whose device or server is gone may fail
        to stop: there is nothing left to release then."""
        with contextlib.suppress(Exception):
            self.stream.abort(ignore_errors=True)
        with contextlib.suppress(Exception):
            self.stream.close(ignore_errors=True)
