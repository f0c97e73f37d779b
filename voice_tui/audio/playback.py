"""The speaker: a queue of assistant audio, played by the output stream's callback.

The callback is the only place that knows what reached the device, so it keeps the
books: which samples of which item it handed over, on a timeline of device samples
anchored to PortAudio's DAC time. From that follow the heard position of each item
(`heard`), what an interruption leaves heard (`interrupt`), when an item has finished
playing, and the far-end reference for an echo canceller (`reference`, every sample
handed to the device, silence included).

An item is finished once its last sample has reached the DAC *and* the engine has said
no more of it will come (`end_item`): until then a queue that runs dry mid-item is a gap,
and an interruption in that gap still cuts the item at what was heard.

A jitter buffer keeps `jitter_ms` of audio in hand against deltas that come late. A
response's first sample waits until that much is queued (or `jitter_ms` has passed),
and when the pieces come in no faster than they play (a voice streamed in real time,
each piece due as it arrives) the first ones are lengthened by a few pitch periods
(`stretch.lengthen`, at most STRETCH_AT_MOST of a piece) until the margin is built: the
first chunk plays at once and the stream still has `jitter_ms` in hand. A stream that
comes faster than real time (the cloud services send ahead) builds it by itself and is
played as sent. The inserted periods are filler: played, but not the item's own audio,
so what was heard of an answer stays exact. When a response runs dry mid-way (a block
left short, then more of it arrives: an underrun the listener heard), it prebuffers
again with a target JITTER_STEP_MS larger, for the rest of that response only.

Observers (`add_render_observer`) see every block the callback handed over: the public
way for benchmarks and tools to follow playback on the device timeline.

The output stream sleeps while nothing plays (`Output.tend`, on the audio worker): an
idle 5 ms stream costs a few percent of a core in callbacks alone. It is stopped once
the last audible sample has reached the DAC `SLEEP_AFTER_S` ago and nothing is queued,
and started again as soon as audio is queued: a start takes about a millisecond, and
the primed device buffer it begins with is the one a running stream has, so the first
chunk is no later. While it sleeps the reference says so (`SampleRing.paused`), and a
stream started again counts as restarted (`SampleRing.restarts`): the echo canceller's
far end is silence meanwhile and is aligned afresh, keeping what the canceller learned.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from voice_tui.audio.device_stream import DeviceStream
from voice_tui.audio.devices import TARGET_RATE, AudioDevice, pick_rate
from voice_tui.audio.render_observer import ItemRun, RenderedBlock, RenderObserver
from voice_tui.audio.resample import StreamResampler
from voice_tui.audio.ring import SampleRing, Samples
from voice_tui.audio.stretch import Lengthened, lengthen
from voice_tui.config.schema import AudioSettings
from voice_tui.core.events import AudioChunk
from voice_tui.core.ports import HeardAudio

log = logging.getLogger(__name__)

# An interruption fades out over this long: no click, and short enough that barge-in
# reaches silence within one block (a raised-cosine ramp of >= 60 samples at 24 kHz).
FADE_MS = 2.5
REFERENCE_SECONDS = 2.0
MAX_ITEMS = 64  # accounts of past items kept for heard()
MAX_DROPPED_RESPONSES = 64
JITTER_STEP_MS = 20  # the prebuffer grows this much after each underrun in a response
MAX_JITTER_GROWTH_MS = 120  # and at most this much
STRETCH_AT_MOST = 0.5  # a piece is lengthened by at most this share while building
FLUSH_IDLE_S = 0.08  # chunks stopped this long: push out the resampler's tail
# The output stream sleeps once its last audible sample reached the DAC this long ago:
# longer than the pauses inside an answer, short against the listening in between.
SLEEP_AFTER_S = 0.5
# A block that reaches the DAC more than this (or two blocks, if longer: PortAudio's DAC
# times on PulseAudio jitter by ~5 ms) after the samples before it: the device ran out
# in between (an underflow's flag is not raised for every one). A gap filled from a wrong
# stamp (PulseAudio's latency estimate jumped ~10 ms, seen now and then under load) is at
# most that error too much: the next gap is measured from the counted end.
REFERENCE_GAP_S = 0.01


def fade_samples(rate: int) -> int:
    """Length of the interrupt fade at `rate` (60 samples at 24 kHz)."""
    return round(rate * FADE_MS / 1000)


def fade_ramp(n: int) -> npt.NDArray[np.float32]:
    """Gains 1 -> 0 over `n` samples (the next sample is silence) on a raised cosine:
    no corner at either end, so no click even at full scale."""
    k = np.arange(n, dtype=np.float64)
    return (0.5 * (1.0 + np.cos(np.pi * k / n))).astype(np.float32)


@dataclass(slots=True)
class _Segment:
    item_id: str
    response_id: str
    samples: Samples  # at the device rate
    pos: int = 0
    filler: bool = False  # periods inserted to build the margin: not the item's audio

    @property
    def remaining(self) -> int:
        return len(self.samples) - self.pos


@dataclass(slots=True)
class _Item:
    content_index: int
    response_id: str
    received: int = 0  # 24 kHz samples received from the server
    queued: int = 0  # device samples waiting in the queue (filler included)
    handed: int = 0  # device samples of its own audio handed to the device
    ended: bool = False  # no more of it will come (end_item)
    # [timeline start, count] runs of the item's own samples on the device timeline
    runs: list[list[int]] = field(default_factory=list)


class Player:
    """Queue + callback bookkeeping, independent of PortAudio (`render` is the callback)."""

    def __init__(
        self,
        rate: int,
        block_frames: int,
        jitter_ms: int,
        clock: Callable[[], float] = time.perf_counter,  # a fake one in tests
        stretch: bool = True,  # build the margin by lengthening pieces (off: waits only)
    ) -> None:
        self.rate = rate
        self._now = clock
        self.block_frames = block_frames
        self.jitter_samples = rate * jitter_ms // 1000  # the prebuffer a response starts with
        self._target = self.jitter_samples  # the current response's (grown after underruns)
        self._target_response: str | None = None
        self._built = 0  # filler samples inserted into the current response
        # What a stream started from sleep takes from the queue at once to fill the
        # device's buffer (set by the stream): a response that wakes it needs that much
        # more margin, or its second piece is due that much sooner.
        self.prime_samples = 0
        self._stretch = stretch
        self._lock = threading.Lock()  # held for copies only, never across I/O
        self._segments: deque[_Segment] = deque()
        self._items: OrderedDict[str, _Item] = OrderedDict()
        self._queued = 0
        self._prebuffering_since: float | None = None  # waiting for the jitter buffer
        self._playing = False
        self._current: str | None = None  # item being played, or run dry and not ended
        self._last_item: str | None = None  # item whose samples were handed last
        self._starved_response: str | None = None  # left a block short while playing it
        self._dropped: OrderedDict[str, None] = OrderedDict()  # interrupted responses
        fade_len = fade_samples(rate)
        self._ramp = fade_ramp(fade_len)
        self._fade: Samples = np.zeros(fade_len, dtype=np.int16)
        self._fade_len = 0
        self._fade_item: str | None = None
        self._fade_filler = False  # the fade is of inserted periods
        # Device timeline: index of the next sample the callback will hand over, and
        # (index, perf_counter time) of the last block's first sample at the DAC.
        self._timeline = 0
        self._anchor: tuple[int, float] = (0, clock())
        self._audible_until = 0  # timeline index just past the last non-silent sample
        self._finished: deque[tuple[str, int]] = deque()  # (item, timeline end)
        self._resampler = StreamResampler(TARGET_RATE, rate)
        self._resampler_lock = threading.Lock()
        self._last_play = 0.0
        self._last_chunk: tuple[str, int, str] | None = None  # item, content index, response
        self.reference = SampleRing(int(rate * REFERENCE_SECONDS), rate)
        # Where the reference's samples end at the DAC if the device played them back
        # to back (None: the stream (re)started, nothing to measure a gap from).
        self._reference_end: float | None = None
        self._audible_at = clock()  # DAC time just past the last audible sample
        self.underruns = 0
        self.chunks_dropped = 0
        self.enabled = True
        self._observers: list[RenderObserver] = []
        self._runs: list[ItemRun] = []  # this block's item runs, for observers only

    # -- the loop thread ------------------------------------------------------------
    def play(self, chunk: AudioChunk) -> None:
        if not self.enabled or chunk.response_id in self._dropped:
            self.chunks_dropped += 1
            return
        usable = len(chunk.pcm) - len(chunk.pcm) % 2
        if usable != len(chunk.pcm):
            log.warning("assistant audio chunk of odd length %d: last byte ignored", len(chunk.pcm))
        pcm = np.frombuffer(chunk.pcm[:usable], dtype="<i2").astype(np.int16, copy=False)
        with self._resampler_lock:
            samples = self._resampler.process(pcm)
            self._last_play = self._now()
            self._last_chunk = (chunk.item_id, chunk.content_index, chunk.response_id)
        short = self._margin_short(chunk.response_id) if self._stretch else 0
        longer = None
        if short > 0:  # outside the lock: the callback must not wait for the search
            longer = lengthen(samples, min(short, int(len(samples) * STRETCH_AT_MOST)), self.rate)
        self._enqueue(
            chunk.item_id, chunk.content_index, chunk.response_id, len(pcm), samples, longer
        )

    def _margin_short(self, response_id: str) -> int:
        """Samples the margin of `response_id`'s stream is short of its target when a
        piece of it arrives: what is queued ahead of the piece is all the time the next
        one has to arrive in. Bounded by what is left to build for the response."""
        with self._lock:
            if response_id != self._target_response:
                return self._first_target() - self._queued
            return min(self._target - self._queued, self._target - self._built)

    def _first_target(self) -> int:
        """The margin a response starts with: more if its audio will wake the stream."""
        return self.jitter_samples + (self.prime_samples if self.reference.paused else 0)

    def _enqueue(
        self,
        item_id: str,
        content_index: int,
        response_id: str,
        received: int,
        samples: Samples,
        longer: Lengthened | None = None,
        only_if_flowing: bool = False,
    ) -> None:
        with self._lock:
            if response_id in self._dropped:
                return
            if only_if_flowing and not (self._playing or self._segments):
                # The stream already ran out: the filter's last millisecond after a
                # silence would only be a click and a gap.
                return
            item = self._items.get(item_id)
            if item is None:
                item = self._items[item_id] = _Item(content_index, response_id)
                while len(self._items) > MAX_ITEMS:
                    self._items.popitem(last=False)
            item.received += received
            if response_id != self._target_response:  # a new response starts afresh
                self._target = self._first_target()
                self._target_response = response_id
                self._built = 0
            if longer is not None:
                self._queue(item, _Segment(item_id, response_id, samples[: longer.cut]))
                self._queue(item, _Segment(item_id, response_id, longer.filler, filler=True))
                self._queue(item, _Segment(item_id, response_id, samples[longer.cut :]))
                self._built += len(longer.filler)
            elif len(samples):
                self._queue(item, _Segment(item_id, response_id, samples))
            if not self._playing and self._prebuffering_since is None and self._segments:
                if self._starved_response == response_id:
                    # It was left short and continues: a gap the listener heard. Ride out
                    # the rest of this response with a little more in hand.
                    self.underruns += 1
                    limit = self.jitter_samples + self.rate * MAX_JITTER_GROWTH_MS // 1000
                    step = self.rate * JITTER_STEP_MS // 1000
                    self._target = min(self._target + step, limit)
                self._starved_response = None
                self._prebuffering_since = self._now()

    def _queue(self, item: _Item, segment: _Segment) -> None:
        item.queued += len(segment.samples)
        self._segments.append(segment)
        self._queued += len(segment.samples)

    def flush_idle(self, now: float) -> None:
        """Push out what the resampler still holds once chunks stop arriving (a
        pass-through when the device runs at 24 kHz)."""
        self._flush_resampler(lambda _: self._last_play and now - self._last_play >= FLUSH_IDLE_S)

    def end_item(self, item_id: str) -> None:
        # Its end is known: push out what the resampler holds of it now.
        self._flush_resampler(lambda last: last is not None and last[0] == item_id)
        with self._lock:
            item = self._items.get(item_id)
            if item is None or item.ended:
                return
            item.ended = True
            if self._current == item_id and not self._playing and not item.queued:
                self._finish(item_id)  # it had run dry: that was its end

    def _flush_resampler(self, due: Callable[[tuple[str, int, str] | None], object]) -> None:
        """When `due(last chunk)`, queue the resampler's tail after that chunk and start
        a fresh resampler (nothing to do when the device runs at 24 kHz)."""
        if self._resampler.passthrough:
            return
        with self._resampler_lock:
            last = self._last_chunk
            if not due(last):
                return
            self._last_play = 0.0
            tail = self._resampler.flush()
            self._resampler = StreamResampler(TARGET_RATE, self.rate)
        if last is not None and len(tail):
            self._enqueue(last[0], last[1], last[2], 0, tail, None, only_if_flowing=True)

    def interrupt(self) -> HeardAudio | None:
        with self._lock:
            now = self._now()
            head = self._segments[0] if self._segments else None
            item_id = head.item_id if head else None
            if item_id is None and self._timeline_at(now) < self._audible_until:
                item_id = self._last_item  # its tail is still in the device's buffer
            if item_id is None:
                item_id = self._current  # it ran dry, and more of it was due
            if item_id is None or item_id not in self._items:
                self._drop_queue()
                return None
            item = self._items[item_id]
            fade_len = 0
            if head is not None and self._playing and head.item_id == item_id:
                fade_len = min(len(self._fade), head.remaining)
                chunk = head.samples[head.pos : head.pos + fade_len]
                self._fade[:fade_len] = (chunk * self._ramp[:fade_len]).astype(np.int16)
            self._fade_len = fade_len
            self._fade_item = item_id
            self._fade_filler = head is not None and head.filler
            heard = item.handed + (0 if self._fade_filler else fade_len)
            finished = item.ended and item.queued == 0
            self._dropped[item.response_id] = None
            for seg in self._segments:
                self._dropped[seg.response_id] = None
            while len(self._dropped) > MAX_DROPPED_RESPONSES:
                self._dropped.popitem(last=False)
            self._drop_queue()
            self._current = self._last_item = None  # an interrupted item never "finishes"
            self._finished = deque(f for f in self._finished if f[0] != item_id)
            received_ms = item.received * 1000 // TARGET_RATE
        with self._resampler_lock:
            self._resampler = StreamResampler(TARGET_RATE, self.rate)
            self._last_play = 0.0
        heard_ms = min(round(heard * 1000 / self.rate), received_ms)
        return HeardAudio(item_id, item.content_index, heard_ms, received_ms, finished)

    def _drop_queue(self) -> None:
        for seg in self._segments:
            item = self._items.get(seg.item_id)
            if item is not None:
                item.queued -= seg.remaining
        self._segments.clear()
        self._queued = 0
        self._playing = False
        self._prebuffering_since = None
        self._starved_response = None

    @property
    def jitter_target_ms(self) -> float:
        """The prebuffer the current response waits for (jitter_ms, or more after an
        underrun in it)."""
        return self._target * 1000 / self.rate

    def add_render_observer(self, observer: RenderObserver) -> None:
        """Call `observer` with every block handed to the device, on the audio thread:
        it must be quick and must not block (append to a list, say)."""
        self._observers.append(observer)

    def remove_render_observer(self, observer: RenderObserver) -> None:
        if observer in self._observers:
            self._observers.remove(observer)

    def heard(self, item_id: str) -> int:
        """Milliseconds of `item_id` that have reached the DAC by now."""
        with self._lock:
            item = self._items.get(item_id)
            if item is None:
                return 0
            position = self._timeline_at(self._now())
            samples = sum(max(0, min(position - start, count)) for start, count in item.runs)
        return round(samples * 1000 / self.rate)

    def is_playing(self) -> bool:
        with self._lock:
            return (
                bool(self._segments)
                or self._fade_len > 0
                or self._timeline_at(self._now()) < self._audible_until
            )

    def take_finished(self, now: float) -> list[str]:
        """Items whose last sample has reached the DAC since the last call."""
        done: list[str] = []
        with self._lock:
            position = self._timeline_at(now)
            while self._finished and self._finished[0][1] <= position:
                done.append(self._finished.popleft()[0])
        return done

    # -- sleeping (the audio worker's thread) -----------------------------------------
    def has_work(self) -> bool:
        """Audio is queued, or a fade is due: the device must run."""
        return bool(self._segments) or self._fade_len > 0

    def idle(self, now: float) -> bool:
        """Nothing to play, nothing played for SLEEP_AFTER_S (its last audible sample
        reached the DAC that long ago), no item waiting for more of itself (a gap in
        an answer stays on the device timeline) and none waiting to be reported
        finished: the stream may sleep."""
        with self._lock:
            return (
                not self._segments
                and not self._fade_len
                and self._prebuffering_since is None
                and self._current is None
                and not self._finished
                and now - self._audible_at >= SLEEP_AFTER_S
            )

    def sleeping(self) -> None:
        """The stream is stopped: the reference pauses (its reader hears silence)."""
        self.reference.paused = True

    def waking(self) -> None:
        """The stream starts again: the reference restarts, not contiguous in time."""
        self._reference_end = None
        self.reference.restarts += 1
        self.reference.paused = False

    def _timeline_at(self, now: float) -> int:
        index, dac_time = self._anchor
        return min(self._timeline, index + int((now - dac_time) * self.rate))

    # -- the audio callback ---------------------------------------------------------
    def render(self, out: Samples, dac_time: float, now: float) -> None:
        """Fill `out` (one block) and keep the books; `dac_time` is when its first
        sample reaches the DAC, on the perf_counter clock."""
        frames = len(out)
        filled = 0
        observed = bool(self._observers)
        with self._lock:
            start = self._timeline
            if self._fade_len:
                n = min(self._fade_len, frames)
                out[:n] = self._fade[:n]
                if self._fade_item is not None:
                    self._account(self._fade_item, start, n, observed, self._fade_filler)
                self._fade_len = 0
                filled = n
            elif self._prebuffering_since is not None and (
                self._queued >= self._target
                or now - self._prebuffering_since >= self._target / self.rate
            ):
                self._prebuffering_since = None
                self._playing = True
            while self._playing and filled < frames and self._segments:
                seg = self._segments[0]
                n = min(frames - filled, seg.remaining)
                out[filled : filled + n] = seg.samples[seg.pos : seg.pos + n]
                seg.pos += n
                self._queued -= n
                item = self._items.get(seg.item_id)
                if item is not None:
                    item.queued -= n
                if self._current is not None and self._current != seg.item_id:
                    self._finish(self._current)  # the next item started: this one is over
                self._current = self._last_item = seg.item_id
                self._account(seg.item_id, start + filled, n, observed, seg.filler)
                filled += n
                if seg.remaining == 0:
                    self._segments.popleft()
            if filled:
                self._audible_until = start + filled
                self._audible_at = dac_time + filled / self.rate
            # A block left short while playing: the response ended, or it ran dry (an
            # underrun if more of it comes). A queue that empties exactly at the block's
            # end is neither: the next chunk may still come in time for the next block.
            if self._playing and filled < frames:
                self._playing = False
                if self._current is not None:
                    item = self._items.get(self._current)
                    self._starved_response = item.response_id if item else None
                    if item is None or item.ended:
                        self._finish(self._current)
                    # else it ran dry mid-item: it finishes when end_item says so
            if filled < frames:
                out[filled:] = 0
            self._anchor = (start, dac_time)
            self._timeline = start + frames
            audible_until = self._audible_until
        end = dac_time + frames / self.rate
        # Counted, not stamped: each block's DAC time jitters by a few ms.
        counted_end = self._reference_end
        if counted_end is not None and dac_time - counted_end > max(
            REFERENCE_GAP_S, 2 * frames / self.rate
        ):
            # The device ran out while the callback was late and played silence: the
            # reference holds it too, so the far end's sample count keeps pace with time.
            gap = round((dac_time - counted_end) * self.rate)
            self.reference.write_silence(gap, dac_time)
            self.reference.gaps += 1
            counted_end += gap / self.rate
        self.reference.write(out, end)
        self._reference_end = (
            dac_time if counted_end is None else counted_end
        ) + frames / self.rate
        if observed:
            runs, self._runs = tuple(self._runs), []
            block = RenderedBlock(start, frames, dac_time, now, runs, audible_until)
            for observer in self._observers:
                observer(block)

    def _finish(self, item_id: str) -> None:
        """`item_id` is over: finished once its last handed sample reaches the DAC."""
        item = self._items.get(item_id)
        end = item.runs[-1][0] + item.runs[-1][1] if item and item.runs else self._timeline
        self._finished.append((item_id, end))
        if self._current == item_id:
            self._current = None

    def _account(self, item_id: str, start: int, count: int, observed: bool, filler: bool) -> None:
        item = self._items.get(item_id)
        if item is None:
            return
        if observed:
            self._runs.append(ItemRun(item_id, item.handed, start, count, filler))
        if filler:  # played, but none of the item's own audio: heard stays where it is
            return
        item.handed += count
        if item.runs and item.runs[-1][0] + item.runs[-1][1] == start:
            item.runs[-1][1] += count
        else:
            item.runs.append([start, count])


def output_buffering(settings: AudioSettings, rate: int) -> tuple[int, float | str]:
    """(blocksize in frames, PortAudio latency) for the speaker.

    A number of milliseconds is the device buffer to aim for. PortAudio on ALSA (and so
    on PulseAudio's ALSA plugin) keeps two periods buffered and fills a third, and a
    sample handed over reaches the DAC about three periods later: so a third of it per
    period, and two thirds as the latency asked for. "low"/"high" keep PortAudio's named
    latencies with `block_ms` blocks.
    """
    if isinstance(settings.latency, int):
        period = max(1, rate * settings.latency // 3000)
        return period, 2 * period / rate
    return rate * settings.block_ms // 1000, settings.latency


class Output(DeviceStream):
    """The output stream that drives a `Player`, asleep while nothing plays."""

    def __init__(
        self, sd: ModuleType, device: AudioDevice, settings: AudioSettings, rate: int | None = None
    ) -> None:
        super().__init__()
        self.device = device
        self.rate = rate or pick_rate(sd.check_output_settings, device.id, device.default_rate)
        block, latency = output_buffering(settings, self.rate)
        self.player = Player(self.rate, block, settings.jitter_ms)
        self.device_underflows = 0
        self.asleep = False
        self.sleeps = 0  # times it was put to sleep (tests, benchmarks)
        self.stream: Any = sd.OutputStream(
            device=device.id,
            samplerate=self.rate,
            channels=1,
            dtype="int16",
            blocksize=block,
            latency=latency,
            callback=self._callback,
        )
        # A stream started from sleep fills the device's buffer at once from the queue.
        self.player.prime_samples = round(float(self.stream.latency) * self.rate) + block

    def _callback(self, outdata: Any, frames: int, stamp: Any, status: Any) -> None:
        now = time.perf_counter()
        dac_time = self.stream_time.to_perf(stamp.outputBufferDacTime, stamp.currentTime, now)
        self.player.render(outdata[:, 0], dac_time, now)
        if status.output_underflow:
            self.device_underflows += 1
        self._beat(now)

    def tend(self, now: float) -> None:
        """On the audio worker, after every wake-up: wake the stream when audio is
        queued, put it to sleep when the player is idle.
        A start that fails leaves the stream inactive: the worker's health check
        reports the speaker as failed."""
        player = self.player
        if self.asleep:
            if player.has_work():
                self.asleep = False
                player.waking()
                try:
                    self.start()
                except Exception as exc:  # PortAudioError: the device went away
                    log.warning("speaker did not start again: %s", exc)
        elif player.idle(now):
            # Stopped, not aborted: a stream dropped mid-buffer sometimes starts again
            # with a glitch on PulseAudio; the buffer holds only silence by now.
            self.stream.stop()
            player.sleeping()
            self.asleep = True
            self.sleeps += 1

    def close(self) -> None:
        self.player.enabled = False
        super().close()
