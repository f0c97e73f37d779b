"""A fixed-size ring of int16 samples between a PortAudio callback and one reader.

The callback (the only writer) copies into a preallocated numpy buffer and never waits
for the reader: when the reader falls behind by more than the capacity, the oldest
samples are overwritten, and the reader counts them as dropped. The reader sleeps on a
`threading.Event` the writer sets, so nothing busy-polls.

Positions are absolute sample counts (`written`, `read`), each owned by one side; a
plain attribute store is atomic under the GIL, so no lock is shared with the callback.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.int16]


@dataclass(frozen=True, slots=True)
class RingRead:
    """Samples taken from the ring, with when their last sample was captured."""

    samples: Samples
    end_time: float  # time.perf_counter() of the newest sample (nan if never stamped)
    dropped: int  # samples lost to overflow just before these


class SampleRing:
    def __init__(self, capacity: int, rate: int, wake: threading.Event | None = None) -> None:
        if capacity <= 0:
            raise ValueError("ring capacity must be positive")
        self.capacity = capacity
        self.rate = rate
        self._buf: Samples = np.zeros(capacity, dtype=np.int16)
        self._written = 0  # writer-owned: samples ever written
        self._read = 0  # reader-owned: samples ever consumed (or dropped)
        self._dropped_total = 0  # reader-owned
        self._writing_to = 0  # writer-owned: end of the block being written (or written)
        # (absolute index just past a block, perf_counter time of that block's end),
        # replaced as a whole so the reader never sees half of it.
        self._stamp: tuple[int, float] = (0, float("nan"))
        self.wake = wake if wake is not None else threading.Event()
        # Reader-owned: how many unread samples make the writer signal `wake` (more
        # than one block: the reader sleeps through several, e.g. in a quiet room).
        self.wake_after = 1
        # Reader-owned: a block with a sample beyond +-wake_peak wakes the reader at
        # once, however few are unread (a voice in a quiet room); None: only the count.
        self.wake_peak: int | None = None
        self.loud_blocks = 0  # writer-owned: blocks that woke the reader by their peak
        # Writer-owned: the writer has stopped for now (a sleeping speaker: its time
        # passes in silence), and how often it started again (what follows is not
        # contiguous in time with what came before).
        self.paused = False
        self.restarts = 0
        self.gaps = 0  # silences written because the writer fell behind (an underflow)

    # -- writer side (the audio callback) -------------------------------------------
    def write(self, samples: Samples, end_time: float) -> None:
        """Append a block; never blocks, never allocates a buffer."""
        n = len(samples)
        if n == 0:
            return
        if n > self.capacity:  # only the newest `capacity` samples can survive anyway
            self._written += n - self.capacity
            samples = samples[n - self.capacity :]
            n = self.capacity
        self._writing_to = self._written + n  # announced before the copy
        start = self._written % self.capacity
        first = min(n, self.capacity - start)
        self._buf[start : start + first] = samples[:first]
        if first < n:
            self._buf[: n - first] = samples[first:]
        self._written += n
        self._stamp = (self._written, end_time)
        if self._written - self._read >= self.wake_after:
            self.wake.set()
        elif (peak := self.wake_peak) is not None and (
            int(samples.max()) > peak or int(samples.min()) < -peak
        ):
            self.loud_blocks += 1
            self.wake.set()

    def write_silence(self, n: int, end_time: float) -> None:
        """Append `n` zeros without a source array (a stream that slept: its time
        passes in silence). More than the capacity counts as dropped by the reader."""
        if n <= 0:
            return
        if n > self.capacity:
            self._written += n - self.capacity
            n = self.capacity
        self._writing_to = self._written + n
        start = self._written % self.capacity
        first = min(n, self.capacity - start)
        self._buf[start : start + first] = 0
        if first < n:
            self._buf[: n - first] = 0
        self._written += n
        self._stamp = (self._written, end_time)
        self.wake.set()

    # -- reader side ----------------------------------------------------------------
    @property
    def available(self) -> int:
        return min(self._written - self._read, self.capacity)

    @property
    def dropped_total(self) -> int:
        return self._dropped_total

    def read(self) -> RingRead | None:
        """Everything written since the last read (None when nothing is new)."""
        written = self._written
        start = self._read
        if written == start:
            return None
        dropped = 0
        if written - start > self.capacity:
            dropped = written - self.capacity - start
            start = written - self.capacity
        n = written - start
        out = np.empty(n, dtype=np.int16)
        i = start % self.capacity
        first = min(n, self.capacity - i)
        out[:first] = self._buf[i : i + first]
        if first < n:
            out[first:] = self._buf[: n - first]
        # The writer may have lapped us while we copied: discard what it overwrote,
        # including what the block it is writing right now (not yet counted) covers.
        lapped = self._writing_to - self.capacity - start
        if lapped > 0:
            lost = min(lapped, n)
            out = out[lost:]
            dropped += lost
        self._read = written
        self._dropped_total += dropped
        stamp_index, stamp_time = self._stamp
        end_time = stamp_time - (stamp_index - written) / self.rate
        return RingRead(out, end_time, dropped)

    def wait(self, timeout: float) -> bool:
        """Sleep until the writer (or `wake.set()`) signals, at most `timeout` s."""
        signalled = self.wake.wait(timeout)
        self.wake.clear()
        return signalled

    def clear(self) -> None:
        """Forget unread samples (reader side), e.g. when push-to-talk starts."""
        self._read = self._written
