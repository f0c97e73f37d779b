"""The playback bookkeeping, driven through its real callback (`Player.render`) the way
PortAudio drives it, block by block, with explicit DAC times."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voice_tui.audio.playback import (
    MAX_JITTER_GROWTH_MS,
    SLEEP_AFTER_S,
    Player,
    fade_samples,
    output_buffering,
)
from voice_tui.audio.render_observer import ItemRun, RenderedBlock
from voice_tui.config.schema import AudioSettings
from voice_tui.core.events import AudioChunk
from voice_tui.core.ports import HeardAudio

RATE = 24_000
BLOCK = 480  # 20 ms


def chunk(item: str, response: str, samples: np.ndarray) -> AudioChunk:
    return AudioChunk(item, 0, response, samples.astype("<i2").tobytes(), time.perf_counter())


def constant(ms: int, value: int = 1000) -> np.ndarray:
    return np.full(RATE * ms // 1000, value, np.int16)


def render(player: Player, *, dac_ago: float = 10.0, now: float | None = None) -> np.ndarray:
    """One callback; by default its audio reached the DAC long ago (all of it heard)."""
    out = np.full(BLOCK, 12345, np.int16)  # garbage the callback must overwrite
    t = time.perf_counter()
    player.render(out, t - dac_ago, t if now is None else now)
    return out


def test_the_first_sample_waits_for_the_jitter_buffer() -> None:
    player = Player(RATE, BLOCK, jitter_ms=40)
    player.play(chunk("a", "r", constant(20)))
    assert not render(player).any()  # 20 ms queued < 40 ms: silence
    player.play(chunk("a", "r", constant(20)))
    assert (render(player) == 1000).all()  # 40 ms queued: playing


def test_a_short_response_starts_after_jitter_ms_even_if_no_more_comes() -> None:
    player = Player(RATE, BLOCK, jitter_ms=40, stretch=False)
    player.play(chunk("a", "r", constant(10)))
    out = render(player, now=time.perf_counter() + 0.041)
    assert (out[:240] == 1000).all() and not out[240:].any()


def test_steady_state_adds_no_delay_and_underruns_are_counted() -> None:
    player = Player(RATE, BLOCK, jitter_ms=40, stretch=False)
    player.play(chunk("a", "r", constant(40)))
    render(player)
    player.play(chunk("a", "r", constant(20, 2000)))  # arrives while playing
    assert (render(player) == 1000).all()
    assert (render(player) == 2000).all()  # played at once, no new prebuffer
    assert not render(player).any()  # ran dry
    assert player.underruns == 0
    player.play(chunk("a", "r", constant(40)))  # the same response resumes: an underrun
    assert player.underruns == 1
    render(player), render(player), render(player)
    player.play(chunk("b", "r2", constant(40)))  # a new response is not an underrun
    assert player.underruns == 1


def test_heard_counts_only_what_reached_the_dac() -> None:
    player = Player(RATE, BLOCK, jitter_ms=0)
    player.play(chunk("a", "r", constant(100)))
    t0 = time.perf_counter() - 0.030  # the first block reached the DAC 30 ms ago
    for k in range(3):  # 60 ms handed, blocks 20 ms apart on the DAC clock
        player.render(np.zeros(BLOCK, np.int16), t0 + 0.020 * k, t0)
    assert 30 <= player.heard("a") <= 60  # time only moves on; never beyond what was handed
    assert player.heard("unknown") == 0
    later = Player(RATE, BLOCK, jitter_ms=0)
    later.play(chunk("a", "r", constant(100)))
    later.render(np.zeros(BLOCK, np.int16), time.perf_counter() + 5, time.perf_counter())
    assert later.heard("a") == 0  # handed, but not at the DAC yet


def test_interrupt_fades_within_one_block_and_drops_the_rest_of_the_response() -> None:
    loud = 30_000  # near full scale: where a click would be worst
    player = Player(RATE, BLOCK, jitter_ms=0)
    player.play(chunk("a", "r", constant(1000, loud)))
    for _ in range(10):
        render(player)  # 200 ms handed to the device
    heard = player.interrupt()
    assert heard is not None
    assert heard.item_id == "a"
    fade = fade_samples(RATE)
    assert 60 <= fade < BLOCK // 4  # a real fade, and silence well within one block
    assert heard.heard_ms == round((RATE // 5 + fade) * 1000 / RATE)  # handed, plus the fade
    assert heard.received_ms == 1000
    assert not heard.finished
    out = render(player)
    assert out[0] == loud
    steps = np.diff(out[: fade + 1].astype(int))  # through the first silent sample
    assert (steps <= 0).all()
    # No click: a hard stop would step by `loud` at once; the raised cosine's steepest
    # step is pi/2 of a linear ramp's.
    assert np.abs(steps).max() <= loud * np.pi / (2 * fade) + 1
    assert abs(int(out[fade - 1])) < loud // 100  # all but silent at the fade's end
    assert not out[fade:].any()
    player.play(chunk("a", "r", constant(100)))  # late audio of the interrupted response
    assert player.chunks_dropped == 1
    assert not render(player).any()
    assert not player.is_playing()
    assert player.take_finished(time.perf_counter()) == []  # interrupted is not finished
    player.play(chunk("b", "r2", constant(40)))  # the next response plays
    assert (render(player) == 1000).all()


def test_interrupt_after_the_whole_item_played_says_finished() -> None:
    player = Player(RATE, BLOCK, jitter_ms=0)
    player.play(chunk("a", "r", constant(40)))
    player.end_item("a")  # all of it came
    render(player, dac_ago=-5.0), render(player, dac_ago=-5.0)  # handed, not yet heard
    heard = player.interrupt()
    assert heard is not None and heard.finished and heard.heard_ms == 40
    assert player.interrupt() is None  # nothing left


def test_a_dry_queue_mid_item_is_a_gap_that_an_interrupt_still_cuts() -> None:
    player = Player(RATE, BLOCK, jitter_ms=0)
    player.play(chunk("a", "r", constant(50)))
    for _ in range(5):  # 50 ms played, then the queue is dry: more of "a" is late
        render(player)
    assert not player.is_playing()
    assert player.take_finished(time.perf_counter() + 10) == []  # a gap, not its end
    heard = player.interrupt()
    assert heard == HeardAudio("a", 0, 50, 50, finished=False)  # so it is truncated
    player.play(chunk("a", "r", constant(100)))  # the late audio, now unwanted
    assert player.chunks_dropped == 1 and not render(player).any()
    assert player.take_finished(time.perf_counter() + 10) == []  # interrupted, not finished


def test_an_item_run_dry_finishes_when_its_end_is_announced() -> None:
    player = Player(RATE, BLOCK, jitter_ms=0)
    player.play(chunk("a", "r", constant(30)))
    render(player, dac_ago=-5.0), render(player, dac_ago=-5.0)  # dry in the second block
    player.end_item("a")
    assert player.take_finished(time.perf_counter()) == []  # its end is not at the DAC yet
    assert player.take_finished(time.perf_counter() + 10) == ["a"]
    heard = player.interrupt()  # its tail is still in the device's buffer
    assert heard is not None and heard.finished  # all of it came: nothing to truncate


def test_interrupt_with_nothing_playing_returns_none() -> None:
    assert Player(RATE, BLOCK, jitter_ms=0).interrupt() is None


def test_items_finish_when_their_last_sample_reaches_the_dac() -> None:
    player = Player(RATE, BLOCK, jitter_ms=0)
    player.play(chunk("a", "r", constant(20)))
    player.play(chunk("b", "r", constant(20)))
    player.end_item("b")  # "a" is over when "b" starts; "b" when the engine says so
    render(player, dac_ago=-5.0), render(player, dac_ago=-5.0), render(player, dac_ago=-5.0)
    assert player.take_finished(time.perf_counter()) == []  # not at the DAC yet
    assert player.take_finished(time.perf_counter() + 10) == ["a", "b"]


def test_the_reference_is_exactly_what_was_handed_to_the_device() -> None:
    player = Player(RATE, BLOCK, jitter_ms=0)
    player.play(chunk("a", "r", np.arange(700, dtype=np.int16)))
    handed = np.concatenate([render(player), render(player)])
    got = player.reference.read()
    assert got is not None
    assert np.array_equal(got.samples, handed)
    assert np.array_equal(handed[:700], np.arange(700))


def test_a_48k_device_plays_the_same_milliseconds() -> None:
    player = Player(48_000, 960, jitter_ms=0)
    player.play(chunk("a", "r", constant(100)))
    for _ in range(3):
        out = np.zeros(960, np.int16)
        t = time.perf_counter()
        player.render(out, t - 10, t)
    player.flush_idle(time.perf_counter() + 1)  # chunks stopped: the filter's tail
    for _ in range(3):
        player.render(np.zeros(960, np.int16), t - 10, t)
    assert abs(player.heard("a") - 100) <= 1


def test_a_chunk_of_odd_length_plays_its_whole_samples() -> None:
    player = Player(RATE, BLOCK, jitter_ms=0)
    pcm = constant(20).astype("<i2").tobytes() + b"\x01"
    player.play(AudioChunk("a", 0, "r", pcm, time.perf_counter()))
    assert (render(player) == 1000).all()


# -- underruns, the adaptive prebuffer and render observers, on a fake clock ------------


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Listener:
    """A render observer: every block, and the silences heard inside each item."""

    def __init__(self, player: Player) -> None:
        self.blocks: list[RenderedBlock] = []
        player.add_render_observer(self.blocks.append)

    def gaps(self, item_id: str) -> int:
        runs = [r for b in self.blocks for r in b.runs if r.item_id == item_id]
        return sum(b.start != a.start + a.count for a, b in itertools.pairwise(runs))

    def played(self, item_id: str) -> int:
        return sum(r.count for b in self.blocks for r in b.runs if r.item_id == item_id)


def clocked(jitter_ms: int = 40, stretch: bool = False) -> tuple[Player, FakeClock, Listener]:
    """A player on a fake clock; its prebuffer alone unless `stretch`."""
    clock = FakeClock()
    player = Player(RATE, BLOCK, jitter_ms, clock=clock, stretch=stretch)
    return player, clock, Listener(player)


def tick(player: Player, clock: FakeClock) -> np.ndarray:
    """One output callback, 20 ms after the last one."""
    out = np.full(BLOCK, 12345, np.int16)
    player.render(out, clock.t + 0.015, clock.t)
    clock.t += BLOCK / RATE
    return out


def test_a_queue_that_empties_at_a_block_boundary_is_no_underrun_and_no_new_wait() -> None:
    player, clock, heard = clocked()
    player.play(chunk("a", "r", constant(40)))
    assert (tick(player, clock) == 1000).all() and (tick(player, clock) == 1000).all()
    player.play(chunk("a", "r", constant(20, 2000)))  # in time for the next block
    assert (tick(player, clock) == 2000).all()  # played at once: no prebuffer again
    assert player.underruns == 0 and heard.gaps("a") == 0


def test_the_end_of_a_response_is_no_underrun() -> None:
    player, clock, heard = clocked()
    player.play(chunk("a", "r", constant(50)))
    for _ in range(5):  # 2.5 blocks of audio, then silence: the response ended
        tick(player, clock)
    player.play(chunk("b", "r2", constant(40)))  # the next response
    tick(player, clock)
    assert player.underruns == 0
    assert heard.played("a") == RATE * 50 // 1000 and heard.played("b") == BLOCK


def test_a_block_left_short_mid_response_is_one_underrun_and_grows_its_prebuffer() -> None:
    player, clock, heard = clocked(jitter_ms=40)
    player.play(chunk("a", "r", constant(50)))
    out = [tick(player, clock) for _ in range(3)]
    assert (out[2][:240] == 1000).all() and not out[2][240:].any()  # left short
    assert player.underruns == 0  # not yet: the response may have ended
    player.play(chunk("a", "r", constant(40)))  # it had not: a gap was heard
    assert player.underruns == 1
    assert player.jitter_target_ms == 60  # 20 ms more, for the rest of "a"'s response
    assert not tick(player, clock).any()  # 40 ms queued < 60 ms: waits
    player.play(chunk("a", "r", constant(20)))
    assert (tick(player, clock) == 1000).all()
    assert heard.gaps("a") == 1
    player.play(chunk("b", "r2", constant(40)))
    for _ in range(4):
        tick(player, clock)
    player.play(chunk("c", "r3", constant(40)))  # a new response starts afresh
    assert player.jitter_target_ms == 40
    assert (tick(player, clock) == 1000).all()


def test_the_prebuffer_stops_growing() -> None:
    player, clock, _ = clocked(jitter_ms=40)
    for _ in range(20):  # a response that starves every time
        player.play(chunk("a", "r", constant(10)))
        for _ in range(20):  # longer than the largest prebuffer: it plays, then starves
            tick(player, clock)
    assert player.underruns == 19
    assert player.jitter_target_ms == 40 + MAX_JITTER_GROWTH_MS


@settings(max_examples=60, deadline=None)
@given(
    arrivals=st.lists(
        st.tuples(st.integers(1, 5), st.integers(0, 4)),  # (chunk in 10 ms, blocks before it)
        min_size=1,
        max_size=40,
    ),
    jitter_ms=st.sampled_from([0, 20, 40]),
    stretch=st.booleans(),
)
def test_the_underrun_counter_equals_the_gaps_heard(
    arrivals: list[tuple[int, int]], jitter_ms: int, stretch: bool
) -> None:
    player, clock, heard = clocked(jitter_ms, stretch)
    sent: list[np.ndarray] = []
    outputs: list[np.ndarray] = []
    for k, (tens, blocks_before) in enumerate(arrivals):
        outputs += [tick(player, clock) for _ in range(blocks_before)]
        samples = (np.arange(RATE * tens // 100) % 1000 + 1 + k).astype(np.int16)
        sent.append(samples)
        player.play(chunk("a", "r", samples))
    outputs += [tick(player, clock) for _ in range(40)]  # plays everything out
    assert player.underruns == heard.gaps("a")
    # every sample played once, in order, whatever the gaps (and the filler between)
    played = [
        out[run.start - block.start : run.start - block.start + run.count]
        for block, out in zip(heard.blocks, outputs, strict=True)
        for run in block.runs
        if not run.filler
    ]
    assert np.array_equal(np.concatenate(played), np.concatenate(sent))
    runs = [r for b in heard.blocks for r in b.runs]
    own = [0 if r.filler else r.count for r in runs]
    assert [r.item_offset for r in runs] == list(itertools.accumulate([0, *own[:-1]]))
    if not stretch or player.jitter_target_ms == 0:  # no margin to build: played as sent
        assert not any(r.filler for r in runs)


def tone(ms: int, hz: float = 200.0) -> np.ndarray:
    t = np.arange(RATE * ms // 1000) / RATE
    return np.round(6000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def paced_stream(stretch: bool, late_piece: int) -> tuple[Player, Listener, list[np.ndarray]]:
    """A voice streamed in real time: a 40 ms piece every two 20 ms blocks, each due the
    moment it arrives, and piece `late_piece` one block late."""
    player, clock, heard = clocked(jitter_ms=20, stretch=stretch)
    outputs: list[np.ndarray] = []
    for k in range(10):
        if k == late_piece:
            outputs.append(tick(player, clock))
        player.play(chunk("a", "r", tone(40)))
        outputs += [tick(player, clock) for _ in range(2 if k != late_piece else 1)]
    outputs += [tick(player, clock) for _ in range(4)]
    return player, heard, outputs


def test_a_real_time_stream_starts_at_once_and_builds_its_margin_by_lengthening() -> None:
    player, heard, outputs = paced_stream(stretch=True, late_piece=4)
    # The first piece plays at once, the whole first block: no wait for the margin.
    assert sum(r.count for r in heard.blocks[0].runs) == BLOCK and outputs[0].any()
    fillers = [r for b in heard.blocks for r in b.runs if r.filler]
    assert 0 < sum(r.count for r in fillers) <= RATE * 20 // 1000  # the margin, no more
    assert max(r.item_offset for r in fillers) < RATE * 80 // 1000  # built early
    # The piece that came a block late found the margin: no gap, nothing lost.
    assert player.underruns == 0 and heard.gaps("a") == 0
    own = sum(r.count for b in heard.blocks for r in b.runs if not r.filler)
    assert own == 10 * RATE * 40 // 1000
    # Without lengthening, the same stream has no margin and the late piece is a gap.
    player, heard, _ = paced_stream(stretch=False, late_piece=4)
    assert player.underruns == 1 and heard.gaps("a") == 1


def test_a_response_that_wakes_the_stream_builds_the_priming_into_its_margin() -> None:
    """A stream started from sleep fills the device's buffer from the queue at once:
    that much more margin is built, or the second piece is due that much sooner."""
    inserted = {}
    for asleep in (False, True):
        player, clock, heard = clocked(jitter_ms=10, stretch=True)
        player.prime_samples = RATE * 15 // 1000
        if asleep:
            player.sleeping()
        player.play(chunk("a", "r", tone(40)))
        player.waking()
        for _ in range(3):
            tick(player, clock)
        inserted[asleep] = sum(r.count for b in heard.blocks for r in b.runs if r.filler)
    assert inserted[False] == RATE * 10 // 1000
    assert inserted[True] == RATE * 20 // 1000  # 10 ms + 15 ms, half the 40 ms piece at most


def test_a_stream_that_comes_ahead_of_time_is_played_as_sent() -> None:
    player, clock, heard = clocked(jitter_ms=20, stretch=True)
    player.play(chunk("a", "r", tone(200)))  # ahead: far more than the margin queued
    for _ in range(3):
        tick(player, clock)
        player.play(chunk("a", "r", tone(40)))
    runs = [r for b in heard.blocks for r in b.runs]
    # Only the first piece found the queue empty (one insertion, inside it); the rest
    # came with the margin in hand and are played as sent.
    inserted_at = {r.item_offset for r in runs if r.filler}
    assert len(inserted_at) == 1 and inserted_at.pop() < RATE * 200 // 1000
    assert sum(r.count for r in runs if r.filler) <= RATE * 20 // 1000


@pytest.mark.parametrize(
    ("jitter_ms", "fade_is_filler"),
    [(10, False), (20, True)],  # 200 Hz: periods of 5 ms after the first one
)
def test_what_was_heard_counts_none_of_the_inserted_periods(
    jitter_ms: int, fade_is_filler: bool
) -> None:
    player, clock, heard = clocked(jitter_ms=jitter_ms, stretch=True)
    player.play(chunk("a", "r", tone(40)))
    tick(player, clock)
    runs = heard.blocks[0].runs
    inserted = sum(r.count for r in runs if r.filler)  # in this first block
    assert 0 < inserted <= RATE * jitter_ms // 1000
    # 10 ms of margin: the block ends in the piece's own audio again; 20 ms: still in
    # the filler, and the interruption's fade-out is of filler too.
    assert runs[-1].filler == fade_is_filler
    interrupted = player.interrupt()
    assert interrupted is not None
    fade = 0 if fade_is_filler else fade_samples(RATE)
    assert interrupted.heard_ms == round((BLOCK - inserted + fade) * 1000 / RATE)


def test_render_observers_see_what_was_handed_and_when() -> None:
    player, clock, heard = clocked(jitter_ms=0)
    player.play(chunk("a", "r", constant(30)))
    for _ in range(3):
        tick(player, clock)
    b1, b2, b3 = heard.blocks
    assert b1.runs == (ItemRun("a", 0, 0, BLOCK),) and not b1.silent
    assert b2.runs == (ItemRun("a", BLOCK, BLOCK, 240),) and b2.audible_until == BLOCK + 240
    assert b3.silent and b3.start == 2 * BLOCK and b3.audible_until == BLOCK + 240
    assert b2.dac_time - b1.dac_time == pytest.approx(BLOCK / RATE)
    assert b1.callback_time < b1.dac_time
    player.remove_render_observer(heard.blocks.append)
    tick(player, clock)
    assert len(heard.blocks) == 3


def test_the_latency_setting_in_ms_sets_the_speakers_period_and_buffer() -> None:
    assert output_buffering(AudioSettings(latency=15), 24_000) == (120, 0.01)  # 3 periods
    assert output_buffering(AudioSettings(latency=30), 48_000) == (480, 0.02)
    assert output_buffering(AudioSettings(latency="high", block_ms=20), 24_000) == (480, "high")


def test_a_resampled_response_that_ran_out_is_not_resumed_by_the_filters_tail() -> None:
    clock = FakeClock()
    player = Player(48_000, 960, jitter_ms=0, clock=clock)
    blocks: list[RenderedBlock] = []
    player.add_render_observer(blocks.append)
    player.play(chunk("a", "r", constant(30)))
    for _ in range(4):  # plays, then runs out
        player.render(np.zeros(960, np.int16), clock.t, clock.t)
        clock.t += 0.02
    player.flush_idle(clock.t + 1)  # chunks stopped long ago: the filter's tail
    for _ in range(2):
        player.render(np.zeros(960, np.int16), clock.t, clock.t)
        clock.t += 0.02
    assert player.underruns == 0
    runs = [run for block in blocks for run in block.runs]
    assert all(b.start == a.start + a.count for a, b in itertools.pairwise(runs))  # no gap


# -- the stream asleep while nothing plays ----------------------------------------------


def test_the_player_is_idle_once_its_last_sound_has_long_reached_the_dac() -> None:
    player, clock, _ = clocked(jitter_ms=0)
    player.play(chunk("a", "r", constant(40)))
    assert player.has_work()
    assert not player.idle(clock.t + 10)  # queued audio keeps the stream awake
    tick(player, clock), tick(player, clock)
    last_sound = clock.t + 0.015  # where the second block's samples end at the DAC
    tick(player, clock)
    assert not player.has_work()
    assert not player.idle(clock.t + 10)  # "a" ran dry but was not ended: more may come
    player.end_item("a")
    assert not player.idle(clock.t + 10)  # until its end is reported finished
    assert player.take_finished(clock.t + 1) == ["a"]
    assert not player.idle(last_sound + SLEEP_AFTER_S - 0.01)
    assert player.idle(last_sound + SLEEP_AFTER_S)


def test_a_sleeping_stream_pauses_the_reference_and_restarts_it_on_waking() -> None:
    player, clock, _ = clocked(jitter_ms=0)
    player.play(chunk("a", "r", constant(20)))
    tick(player, clock)
    assert player.reference.read() is not None
    player.sleeping()
    assert player.reference.paused
    clock.t += 5.0  # asleep: nothing is written, however long
    assert player.reference.read() is None
    player.waking()
    assert not player.reference.paused
    assert player.reference.restarts == 1
    player.play(chunk("b", "r", constant(20, 2000)))
    tick(player, clock)  # no gap is measured across the sleep: the reader aligns afresh
    got = player.reference.read()
    assert got is not None
    assert len(got.samples) == BLOCK and (got.samples == 2000).all()


def test_silence_the_device_played_when_it_ran_out_is_in_the_reference() -> None:
    player, clock, _ = clocked(jitter_ms=0)
    player.play(chunk("a", "r", constant(60)))
    tick(player, clock)
    assert player.reference.read() is not None
    clock.t += 0.060  # the callback came 60 ms late: the device ran out meanwhile
    player.render(np.zeros(BLOCK, np.int16), clock.t + 0.015, clock.t)
    got = player.reference.read()
    assert got is not None
    gap = round(0.060 * RATE)
    assert len(got.samples) == gap + BLOCK
    assert not got.samples[:gap].any()
    assert (got.samples[gap:] == 1000).all()
    # A DAC time a millisecond off is the device's timing jitter: nothing is added.
    clock.t += BLOCK / RATE
    player.render(np.zeros(BLOCK, np.int16), clock.t + 0.016, clock.t)
    got = player.reference.read()
    assert got is not None and len(got.samples) == BLOCK
