"""Spoken, typed and push-to-talk turns through the real SDK and the local server."""

from __future__ import annotations

import pytest
from engine_support import EngineFactory, phrase_tone, silence, speak, tone

from voice_tui.backends.local import LocalBackend
from voice_tui.config.schema import Settings
from voice_tui.core.conversation import Role
from voice_tui.core.engine import ConversationEngine
from voice_tui.core.events import (
    AudioChunk,
    ConnectionChanged,
    ConnectionState,
    LatencyMeasured,
    Notice,
    Phase,
    PhaseChanged,
    ResponseFinished,
    SessionReady,
    SpeechStarted,
    SpeechStopped,
    TurnCompleted,
    TurnMode,
    UserTextSent,
    UserTranscriptFinal,
    UserTurnStarted,
)
from voice_tui.core.protocol import BYTES_PER_MS
from voice_tui.core.tools import build_registry
from voice_tui.core.usage import Prices


async def test_start_configures_the_session(make_engine: EngineFactory) -> None:
    engine, rec = await make_engine()
    ready = rec.of(SessionReady)[0]
    assert ready.session_id.startswith("sess_")
    assert (ready.backend, ready.model, ready.persona) == ("openai", "gpt-realtime-2.1", "Tester")
    assert ready.voice == "marin" and ready.turn_mode is TurnMode.SERVER_VAD
    states = [e.state for e in rec.of(ConnectionChanged)]
    assert states == [ConnectionState.CONNECTING, ConnectionState.CONNECTED]
    assert engine.phase is Phase.LISTENING


async def test_spoken_turn(make_engine: EngineFactory) -> None:
    engine, rec = await make_engine()
    await speak(engine, silence(200) + tone(phrase_tone("hello there"), 800) + silence(600))

    final = await rec.wait_for(UserTranscriptFinal)
    assert final.transcript == "hello there"
    done = await rec.wait_for(ResponseFinished)
    assert done.status == "completed"
    await rec.wait_for(TurnCompleted, lambda e: e.turn.role is Role.ASSISTANT)

    started = rec.of(SpeechStarted)[0]
    stopped = rec.of(SpeechStopped)[0]
    # The tone starts after 200 ms of silence and lasts 800 ms (VAD padding aside).
    assert 0 <= started.audio_start_ms <= 200
    assert 900 <= stopped.audio_end_ms <= 1400
    assert rec.of(UserTurnStarted)[0].item_id == final.item_id

    user, assistant = engine.conversation
    assert (user.role, user.text, user.typed) == (Role.USER, "hello there", False)
    assert assistant.text == "You said: hello there."
    audio = b"".join(c.pcm for c in rec.of(AudioChunk))
    assert len(audio) // BYTES_PER_MS == 25 * len(assistant.text)  # the synthesiser's length
    assert assistant.usage is not None and assistant.usage.output_audio_tokens > 0
    assert engine.totals.turns == 1 and engine.totals.cost_usd > 0
    assert len(rec.of(LatencyMeasured)) == 1
    phases = [e.phase for e in rec.of(PhaseChanged)]
    assert phases[:4] == [
        Phase.LISTENING,
        Phase.USER_SPEAKING,
        Phase.THINKING,
        Phase.ASSISTANT_SPEAKING,
    ]
    assert phases[-1] is Phase.LISTENING
    completed = [e.turn for e in rec.of(TurnCompleted)]
    assert [t.role for t in completed] == [Role.USER, Role.ASSISTANT]


async def test_typed_turn(make_engine: EngineFactory) -> None:
    engine, rec = await make_engine()
    await engine.send_text("  nice weather  ")
    sent = rec.of(UserTextSent)[0]
    assert sent.text == "nice weather"
    await rec.wait_for(TurnCompleted, lambda e: e.turn.role is Role.ASSISTANT)
    user, assistant = engine.conversation
    assert user.typed and user.item_id == sent.item_id
    assert assistant.text == "You said: nice weather."


async def test_empty_text_is_refused_and_nothing_is_sent(make_engine: EngineFactory) -> None:
    engine, rec = await make_engine()
    with pytest.raises(ValueError, match="empty"):
        await engine.send_text("   ")
    assert engine.conversation == [] and not rec.of(UserTextSent)


async def test_text_modality(make_engine: EngineFactory, settings: Settings) -> None:
    text_settings = settings.model_copy(deep=True)
    text_settings.session.output_modality = "text"
    engine, rec = await make_engine(text_settings)
    await engine.send_text("just text please")
    await rec.wait_for(TurnCompleted, lambda e: e.turn.role is Role.ASSISTANT)
    assert engine.conversation[-1].text == "You said: just text please."
    assert not rec.of(AudioChunk)
    assert rec.of(SessionReady)[0].output_modality == "text"


async def test_push_to_talk_commits_and_asks_for_the_answer(
    make_engine: EngineFactory, settings: Settings
) -> None:
    ptt = settings.model_copy(deep=True)
    ptt.session.turn_detection = "push_to_talk"
    engine, rec = await make_engine(ptt)
    assert engine.phase is Phase.IDLE
    await speak(engine, tone(phrase_tone("hello there"), 300))  # not talking: dropped
    await engine.start_talking()
    await speak(engine, tone(phrase_tone("hello there"), 600))
    await engine.stop_talking()

    final = await rec.wait_for(UserTranscriptFinal)
    assert final.transcript == "hello there"
    await rec.wait_for(TurnCompleted, lambda e: e.turn.role is Role.ASSISTANT)
    assert not rec.of(SpeechStarted)  # no server VAD in push-to-talk
    assert [t.text for t in engine.conversation] == ["hello there", "You said: hello there."]
    assert rec.of(LatencyMeasured)
    assert engine.phase is Phase.IDLE


async def test_push_to_talk_without_audio_commits_nothing(
    make_engine: EngineFactory, settings: Settings
) -> None:
    ptt = settings.model_copy(deep=True)
    ptt.session.turn_detection = "push_to_talk"
    engine, rec = await make_engine(ptt)
    await engine.start_talking()
    await engine.stop_talking()
    notice = await rec.wait_for(Notice)
    assert "hold the talk key" in notice.message
    assert engine.phase is Phase.IDLE and engine.conversation == []


async def test_turn_detection_switch_mid_session(make_engine: EngineFactory) -> None:
    engine, rec = await make_engine()
    await engine.set_turn_mode(TurnMode.PUSH_TO_TALK)
    assert engine.turn_mode is TurnMode.PUSH_TO_TALK and engine.phase is Phase.IDLE

    # With turn detection off, the server does not end the turn by itself...
    await engine.start_talking()
    await speak(engine, tone(phrase_tone("hello there"), 600) + silence(800))
    assert not rec.of(SpeechStarted)
    await engine.stop_talking()
    await rec.wait_for(TurnCompleted, lambda e: e.turn.role is Role.ASSISTANT)

    # ...and back on server VAD, it does.
    mark = len(rec.events)
    await engine.set_turn_mode(TurnMode.SERVER_VAD)
    assert engine.phase is Phase.LISTENING
    await speak(engine, tone(phrase_tone("what time is it"), 600) + silence(600))
    await rec.wait_for(SpeechStopped, after=mark)
    final = await rec.wait_for(UserTranscriptFinal, after=mark)
    assert final.transcript == "what time is it"


def test_the_offline_engine_is_priced_as_free() -> None:
    settings = Settings()  # its model, gpt-realtime, has a price in the default table
    engine = ConversationEngine(settings, LocalBackend(settings), build_registry(settings))
    assert engine.prices == Prices()
