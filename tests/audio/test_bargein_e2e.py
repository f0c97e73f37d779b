"""Barge-in end to end: the local server streams a long spoken answer through the real
SDK into the engine and out of the virtual speaker; speech played into the virtual
microphone mid-answer stops the playback, and the truncate the engine sends matches
what the speaker's monitor recorded of that item."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tests.support.signals import RATE, active_spans, read_raw, record_speaker, speech_wav, tone
from tests.support.virtual_audio import VirtualAudio
from voice_tui.backends.openai import OpenAIBackend
from voice_tui.config.schema import Settings
from voice_tui.core.engine import ConversationEngine
from voice_tui.core.events import AppEvent, AssistantInterrupted, AudioChunk, ErrorRaised
from voice_tui.core.tools import build_registry
from voice_tui.runtime import audio_worker_for
from voice_tui.server.app import start_server
from voice_tui.server.components import (
    Components,
    ResponderPiece,
    ResponderRequest,
    TextPiece,
)

pytestmark = pytest.mark.audio

API_KEY = "sk-local-test-key"
ANSWER_S = 6.0
ANSWER_AMPLITUDE = 8000.0


class _Heard:
    def __init__(self) -> None:
        self.pcm = bytearray()

    def feed(self, pcm: bytes) -> str | None:
        self.pcm += pcm
        return None

    def finish(self) -> str:
        return "tell me a story" if self.pcm else ""


class AnyRecognizer:
    name = "test-any"

    def start(self, language: str | None = None, prompt: str | None = None) -> _Heard:
        return _Heard()


class LongToneVoice:
    """Every answer is a 300 Hz tone of ANSWER_S seconds, streamed in 40 ms pieces."""

    name = "test-long-tone"

    def synthesize(self, text: str, voice: str, speed: float) -> Iterator[bytes]:
        pcm = tone(ANSWER_S, 300.0, ANSWER_AMPLITUDE).astype("<i2").tobytes()
        step = RATE * 2 * 40 // 1000
        for i in range(0, len(pcm), step):
            yield pcm[i : i + step]


class Storyteller:
    name = "test-story"

    async def respond(self, request: ResponderRequest) -> AsyncIterator[ResponderPiece]:
        yield TextPiece("Once upon a time, " * 12 + "the end.")


class Events:
    """The engine's events, as they come."""

    def __init__(self) -> None:
        self.events: list[AppEvent] = []

    def __call__(self, event: AppEvent) -> None:
        self.events.append(event)

    def first(self, kind: type[AppEvent]) -> AppEvent | None:
        return next((e for e in self.events if isinstance(e, kind)), None)


async def until(condition: Callable[[], bool], what: str) -> None:
    """Poll until true; a guard against hangs, not a timing assertion."""
    try:
        async with asyncio.timeout(20):
            # The state lives on the audio thread: there is no event to await.
            while not condition():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_speech_mid_answer_truncates_at_what_the_speaker_played(
    virtual_audio: VirtualAudio, tmp_path: Path
) -> None:
    speech = speech_wav(tmp_path / "stop.wav", "Wait, stop, I have a question.")
    server = await start_server(
        components=Components(AnyRecognizer(), LongToneVoice(), Storyteller()),
        api_key=API_KEY,
    )
    settings = Settings.model_validate(
        {
            "backend": {"kind": "openai"},
            "openai": {"api_key": API_KEY, "base_url": server.base_url},
            "session": {"silence_duration_ms": 400},
            "tools": {"data_dir": str(tmp_path / "tools")},
        }
    )
    backend = OpenAIBackend(settings)
    engine = ConversationEngine(settings, backend, build_registry(settings))
    worker = audio_worker_for(engine, settings.audio)
    events = Events()
    try:
        assert worker.start().problem is None
        engine.playback = worker
        engine.subscribe(events)
        await engine.start()
        with record_speaker(virtual_audio, tmp_path / "speaker.raw") as recording:
            await engine.send_text("Tell me a long story.")
            await until(lambda: events.first(AudioChunk) is not None, what="the answer")
            first = events.first(AudioChunk)
            assert isinstance(first, AudioChunk)
            item_id = first.item_id
            await until(lambda: worker.heard(item_id) >= 1000, what="a second of the answer")
            player = await asyncio.create_subprocess_exec(
                "paplay", "--device=mic", str(speech), env={**virtual_audio.env_full()}
            )
            await until(lambda: events.first(AssistantInterrupted) is not None, what="the barge-in")
            await until(lambda: not worker.is_playing(), what="playback to stop")
            await player.wait()
        cut = events.first(AssistantInterrupted)
        assert isinstance(cut, AssistantInterrupted)
        assert cut.item_id == item_id
        assert cut.truncate_sent
        assert 1000 <= cut.heard_ms < cut.received_ms
        spans = active_spans(read_raw(recording), threshold=ANSWER_AMPLITUDE * 0.707 * 0.05)
        assert spans, "the speaker played nothing"
        played_ms = (spans[0][1] - spans[0][0]) * 1000 / RATE
        print(f"heard {cut.heard_ms} ms, speaker played {played_ms:.1f} ms")
        assert abs(played_ms - cut.heard_ms) <= settings.audio.block_ms
        (session,) = server.sessions
        assert session.conversation.find(item_id).audio_ms(0) == cut.heard_ms
        assert not [e for e in events.events if isinstance(e, ErrorRaised)]
    finally:
        worker.close()
        if engine is not None:
            await engine.close()
        await backend.aclose()
        await server.close()
