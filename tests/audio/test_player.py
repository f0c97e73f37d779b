"""The playback bookkeeping, driven through its real callback (`Player.render`) the way
PortAudio drives it, block by block, with explicit DAC times."""

from __future__ import annotations

import time

import numpy as np

from voice_tui.audio.playback import FADE_MS, Player
from voice_tui.core.events import AudioChunk

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
    player = Player(RATE, BLOCK, jitter_ms=40)
    player.play(chunk("a", "r", constant(10)))
    out = render(player, now=time.perf_counter() + 0.041)
    assert (out[:240] == 1000).all() and not out[240:].any()


def test_steady_state_adds_no_delay_and_underruns_are_counted() -> None:
    player = Player(RATE, BLOCK, jitter_ms=40)
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
    player = Player(RATE, BLOCK, jitter_ms=0)
    player.play(chunk("a", "r", constant(1000)))
    for _ in range(10):
        render(player)  # 200 ms handed to the device
    heard = player.interrupt()
    assert heard is not None
    assert heard.item_id == "a"
    assert heard.heard_ms == 200 + FADE_MS  # what was handed, plus the fade
    assert heard.received_ms == 1000
    assert not heard.finished
    out = render(player)
    fade = RATE * FADE_MS // 1000
    assert out[0] == 1000 and (np.diff(out[:fade].astype(int)) <= 0).all() and out[fade - 1] < 100
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
    render(player, dac_ago=-5.0), render(player, dac_ago=-5.0)  # handed, not yet heard
    heard = player.interrupt()
    assert heard is not None and heard.finished and heard.heard_ms == 40
    assert player.interrupt() is None  # nothing left


def test_interrupt_with_nothing_playing_returns_none() -> None:
    assert Player(RATE, BLOCK, jitter_ms=0).interrupt() is None


def test_items_finish_when_their_last_sample_reaches_the_dac() -> None:
    player = Player(RATE, BLOCK, jitter_ms=0)
    player.play(chunk("a", "r", constant(20)))
    player.play(chunk("b", "r", constant(20)))
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
