"""The engine with the real speaker queue (`Player`, driven block by block as its
callback would be): a queue that runs dry mid-answer is a gap, not the answer's end."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.support.engine import (
    API_KEY,
    MODEL,
    MS_PER_CHAR,
    PHRASES,
    EngineFactory,
    RuleResponder,
    engine_factory,
    engine_settings,
)
from tests.support.tones import ToneRecognizer, ToneSynthesizer
from voice_tui.audio.playback import Player
from voice_tui.core.events import (
    AssistantInterrupted,
    AudioChunk,
    Phase,
    ResponseFinished,
)
from voice_tui.server.app import LocalServer, start_server
from voice_tui.server.components import SAMPLE_RATE, Components

BLOCK = SAMPLE_RATE // 50  # 20 ms


class LateSynthesizer(ToneSynthesizer):
    """Every chunk after the first waits for the test: a synthesiser falling behind."""

    def __init__(self) -> None:
        super().__init__("late-tones", MS_PER_CHAR)
        self.permits = threading.Semaphore(0)

    def synthesize(self, text: str, voice: str, speed: float) -> Iterator[bytes]:
        for index, chunk in enumerate(super().synthesize(text, voice, speed)):
            if index:
                self.permits.acquire()
            yield chunk

    def catch_up(self) -> None:
        self.permits.release(10_000)


@dataclass
class Rig:
    server: LocalServer
    synth: LateSynthesizer
    make_engine: EngineFactory


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    synth = LateSynthesizer()
    components = Components(
        ToneRecognizer("test-tones", PHRASES, min_ms=50, min_peak=500), synth, RuleResponder()
    )
    server = await start_server(
        host="127.0.0.1", port=0, components=components, api_key=API_KEY, models=[MODEL]
    )
    try:
        async with engine_factory(engine_settings(server.base_url, tmp_path)) as factory:
            yield Rig(server, synth, factory)
    finally:
        synth.catch_up()  # no synthesis thread left waiting
        await server.close()


def play_out(player: Player) -> np.ndarray:
    """Run the callback until the queue is dry, every block at the DAC long ago."""
    blocks = []
    while True:
        out = np.zeros(BLOCK, np.int16)
        now = time.perf_counter()
        player.render(out, now - 10.0, now)
        blocks.append(out)
        if not player.is_playing():
            return np.concatenate(blocks)


async def test_a_cut_while_the_rest_of_the_answer_is_late_truncates_at_what_was_heard(
    rig: Rig,
) -> None:
    player = Player(SAMPLE_RATE, BLOCK, jitter_ms=0)
    engine, rec = await rig.make_engine(playback=player)
    await engine.send_text("hello there")
    first = await rec.wait_for(AudioChunk)
    heard_ms = len(first.pcm) * 1000 // (SAMPLE_RATE * 2)
    assert np.count_nonzero(play_out(player)) > 0  # all that came was played: dry now
    assert player.take_finished(time.perf_counter() + 10) == []  # a gap, not the end
    assert engine.phase is Phase.ASSISTANT_SPEAKING

    await engine.interrupt()  # in the gap: nothing queued, nothing sounding
    cut = await rec.wait_for(AssistantInterrupted)
    assert cut.item_id == first.item_id and cut.truncate_sent
    assert cut.heard_ms == heard_ms
    text = "You said: hello there."
    assert f"{cut.heard_text} {cut.unheard_text}" == text
    assert cut.heard_text == "You"  # 40 ms: the first word, not the whole sentence

    rig.synth.catch_up()  # the late audio comes, and is not played
    await rec.wait_for(ResponseFinished)
    assert not play_out(player).any()
    (session,) = rig.server.sessions
    assert session.conversation.find(first.item_id).audio_ms(0) == heard_ms


async def test_an_answer_finishes_once_all_of_it_came_and_played(rig: Rig) -> None:
    player = Player(SAMPLE_RATE, BLOCK, jitter_ms=0)
    engine, rec = await rig.make_engine(playback=player)
    await engine.send_text("hello there")
    first = await rec.wait_for(AudioChunk)
    rig.synth.catch_up()
    await rec.wait_for(ResponseFinished)
    played = play_out(player)
    assert np.count_nonzero(played) >= SAMPLE_RATE * MS_PER_CHAR * 20 // 1000
    assert player.take_finished(time.perf_counter() + 10) == [first.item_id]
    assert player.interrupt() is None  # nothing left to cut
