"""The far end for an echo canceller: what the speaker played, lined up with the mic.

The output callback writes every sample it hands to the device into a reference ring,
stamped with its DAC time; the capture callback stamps mic blocks with their ADC time.
Both stamps already include the streams' reported latencies, so a mic sample captured
at time t pairs with the far-end sample that reached the DAC at t (its echo arrives a
little later: the acoustic path, which the adaptive filter finds itself).

A stamp can be off by a block or more (PortAudio catching up, a host clock mapped
through a late callback), so each stream's times are counted from a robust origin
(`StreamClock`), and the far-end cursor advances by exactly the mic block's length: the
canceller sees one continuous far-end stream with a constant delay (every jump makes it
re-converge). The far end is handed over `lead_ms` ahead of the mic (as far as the
speaker's buffer allows) so stamp errors never make the echo come before its reference:
a filter cannot cancel what it has not seen yet. The cursor only jumps on a real
discontinuity (a reopened device, dropped mic audio, long clock drift between two sound
cards).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import numpy as np

from voice_tui.audio.devices import TARGET_RATE
from voice_tui.audio.resample import StreamResampler
from voice_tui.audio.ring import SampleRing, Samples
from voice_tui.audio.stream_clock import StreamClock

log = logging.getLogger(__name__)

HISTORY_S = 2.0  # far end kept: more than input + output latency ever add up to
CUT_MARGIN = TARGET_RATE // 100  # 10 ms
# Once aligned, a far end not yet written is waited for this long (the speaker's
# callback ran late on a busy machine) rather than moved: every move of the far end
# makes the canceller re-converge, and residual echo leaks meanwhile.
FAR_WAIT_S = 0.03
# For this many blocks after an alignment the lead may be cut to what the speaker's
# buffer gives: once at their end by what all of them lacked, or at once when a block's
# far end is still missing after FAR_WAIT_S. Afterwards a missing far end is late.
SETTLE_BLOCKS = 50


class FarEndAligner:
    """Pulls the playback reference and hands out far-end blocks aligned with mic blocks
    (24 kHz, like the mic after resampling). Used from the audio worker thread only."""

    def __init__(self, lead_ms: int = 20, jump_ms: int = 150) -> None:
        self.lead = TARGET_RATE * lead_ms // 1000
        self.lead_ms = lead_ms
        # Stamps can be off by tens of ms, and every realignment makes the canceller
        # re-converge: only a real discontinuity (lost audio, a stream that restarted)
        # moves the cursor; smaller drifts are the canceller's to follow.
        self._jump = TARGET_RATE * jump_ms // 1000
        self._history: Samples = np.zeros(int(TARGET_RATE * HISTORY_S), dtype=np.int16)
        self._ring: SampleRing | None = None
        self._restarts = 0  # the ring's restarts when last aligned
        self._lead_now: int | None = None  # the last block's far end over its aligned start
        self._kept_lead: int | None = None  # carried across a speaker's sleep
        self._resampler: StreamResampler | None = None
        self._far = StreamClock(TARGET_RATE)
        self._far_in = 0.0
        self._mic = StreamClock(TARGET_RATE)
        self._cursor: int | None = None  # far-end index of the next sample to hand out
        self._settling = 0  # blocks left in which the lead may still be cut
        self._least_short: int | None = None  # the least far end missing while settling
        self._stalled_at = -1  # far-end count at which a whole wait saw nothing written
        self.resyncs = 0  # cursor jumps after the first alignment
        self.lead_cuts = 0  # times the lead was shortened to what had been played
        self.missing = 0  # far-end samples asked for but not (or no longer) available
        self.late = 0  # blocks whose far end was still not written after FAR_WAIT_S
        self.short = 0  # far-end samples the last block lacked (not written yet)
        self.last_n = 0  # samples in the last block taken

    def pull(self, ring: SampleRing | None) -> bool:
        """Take what the output callback wrote since the last pull; True when the
        reference is a new one (a reopened speaker): the history starts over."""
        renewed = ring is not self._ring
        restarted = ring is not None and ring.restarts != self._restarts
        if renewed or restarted:
            # A new speaker stream, or the same one started again after sleeping: its
            # samples are not contiguous in time with the ones before; align afresh.
            # Woken (the same stream): keep the lead the canceller is adapted to.
            self._kept_lead = self._lead_now if restarted and not renewed else None
            self._ring = ring
            self._restarts = ring.restarts if ring is not None else 0
            self._resampler = None if ring is None else StreamResampler(ring.rate, TARGET_RATE)
            self._history[:] = 0
            self._far = StreamClock(TARGET_RATE)
            self._far_in = 0.0  # far-end samples given to the resampler, at 24 kHz
            self._cursor = None
        if ring is None or self._resampler is None:
            return renewed
        got = ring.read()
        if got is None:
            return renewed
        samples = self._resampler.process(got.samples)
        if got.dropped:  # we fell behind the ring: those samples are a gap in time
            gap = np.zeros(got.dropped * TARGET_RATE // ring.rate, dtype=np.int16)
            self._append(gap)
            self._far_in += len(gap)
        self._append(samples)
        # The resampler holds back a few samples: the newest one it handed out was
        # played that much before the stamp.
        self._far_in += len(got.samples) * TARGET_RATE / ring.rate
        held_back = self._far_in - self._far.count
        self._far.advance(0, got.end_time - held_back / TARGET_RATE)
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

    def take(
        self, n: int, mic_end_time: float, wait: Callable[[float], bool] | None = None
    ) -> Samples:
        """The `n` far-end samples that go with the mic block ending at `mic_end_time`
        (zeros where the speaker played nothing or the reference is missing). `wait`
        (the reference ring's `wait`): once aligned, sleep until the speaker has
        written the far end needed, up to FAR_WAIT_S; what still lacks is `short`."""
        if not math.isfinite(mic_end_time):
            mic_end_time = time.perf_counter()
        self._mic.advance(n, mic_end_time)
        self.last_n = n
        out = np.zeros(n, dtype=np.int16)
        self.short = 0
        ring = self._ring
        if self._far.origin is None or (ring is not None and ring.paused):
            return out  # nothing played yet, or the speaker sleeps: silence
        first_mic = self._mic.time_of(self._mic.count - n)
        # The far end `lead` ahead of the mic: what was played a little *after* the
        # mic's moment reaches the canceller with it, as far as it has been written.
        aligned = round((first_mic - self._far.time_of(0)) * TARGET_RATE)
        target = min(aligned + self.lead, self._far.count - n)
        if self._cursor is None and self._kept_lead is not None:
            # The speaker woke: the lead it had before sleeping (what the canceller's
            # filter is adapted to), waited for rather than cut to its first blocks.
            self._cursor = aligned + self._kept_lead
            self._kept_lead = None
            self._settling = 0
        elif self._cursor is None:
            self._cursor = target
            self._settling = SETTLE_BLOCKS
        elif abs(self._cursor - target) > self._jump:
            log.info(
                "echo reference realigned by %+.1f ms", (target - self._cursor) / TARGET_RATE * 1000
            )
            self._cursor = target
            self._settling = SETTLE_BLOCKS
            self.resyncs += 1
        settling = self._settling > 0
        self._settling = max(0, self._settling - 1)
        if settling:
            missing = max(0, self._cursor + n - self._far.count)
            least = self._least_short
            self._least_short = missing if least is None else min(least, missing)
        stalled = self._stalled_at == self._far.count  # no use waiting again
        # Waited for while settling too: on a busy machine the speaker's callback runs
        # late now and then, and cutting the lead for that would move the echo path the
        # canceller is converging on.
        if wait is not None and not stalled and self._cursor + n > self._far.count:
            before, deadline = self._far.count, time.perf_counter() + FAR_WAIT_S
            while self._cursor + n > self._far.count:
                left = deadline - time.perf_counter()
                if left <= 0 or not wait(left):
                    break
                self.pull(self._ring)
            if self._far.count == before:
                self._stalled_at = before  # nothing is being written (a stopped speaker)
        if self._cursor + n > self._far.count:
            if settling or wait is None:
                # The speaker has not played that far yet (even after the wait): the
                # lead is more than its buffer gives. Cut it now rather than leave a
                # hole in the reference, with room for the speaker's blocks (and the
                # resampler's bursts) to jitter.
                self._cursor = self._far.count - n - CUT_MARGIN
                self.lead_cuts += 1
                self._least_short = 0
            else:
                self.short = self._cursor + n - self._far.count
                self.late += 1
        elif settling and self._settling == 0 and self._least_short:
            # Settled: what every block lacked before its wait is more lead than the
            # speaker's buffer gives; cut it once (what only some lacked were late
            # callbacks, and were waited for).
            self._cursor -= self._least_short + CUT_MARGIN
            self.lead_cuts += 1
        if self._settling == 0:
            self._least_short = None
        start, self._cursor = self._cursor, self._cursor + n
        self._lead_now = start - aligned
        oldest = self._far.count - len(self._history)
        lo, hi = max(start, oldest, 0), min(start + n, self._far.count)
        if hi > lo:
            size = len(self._history)
            idx = np.arange(lo, hi) % size
            out[lo - start : hi - start] = self._history[idx]
        self.missing += n - max(0, hi - lo)
        return out
