"""Persona switches, new sessions that keep the conversation, lost connections, and
server events the engine must survive."""

from __future__ import annotations

import json

import pytest

from tests.support.engine import EngineFactory, Recorder
from voice_tui.config.schema import Settings
from voice_tui.core.conversation import Role, Turn
from voice_tui.core.engine import EngineError
from voice_tui.core.events import (
    AssistantDelta,
    AudioChunk,
    ConnectionChanged,
    ConnectionState,
    ConversationEnded,
    ErrorRaised,
    PersonaApplied,
    RateLimit,
    RateLimitsChanged,
    ResponseFinished,
    SessionReady,
    TurnCompleted,
)
from voice_tui.server.app import LocalServer


def _session(server: LocalServer):  # type: ignore[no-untyped-def]
    (session,) = server.sessions
    return session


async def _answer(engine_rec: tuple[object, Recorder], text: str) -> None:
    engine, rec = engine_rec
    mark = len(rec.events)
    await engine.send_text(text)  # type: ignore[attr-defined]
    await rec.wait_for(TurnCompleted, lambda e: e.turn.role is Role.ASSISTANT, after=mark)


async def test_persona_switch_before_any_audio_changes_the_voice_too(
    make_engine: EngineFactory, server: LocalServer
) -> None:
    engine, rec = await make_engine()
    applied = await engine.set_persona("pirate")
    assert applied == PersonaApplied("Pirate", voice_pending=False, tools=())
    assert rec.of(PersonaApplied) == [applied]
    config = _session(server).config
    assert config.instructions == "Talk like a pirate."
    assert config.audio.output.voice == "ash" and config.tools == []


async def test_persona_switch_after_audio_leaves_the_voice_pending_until_a_new_session(
    make_engine: EngineFactory, server: LocalServer
) -> None:
    engine, rec = await make_engine()
    await _answer((engine, rec), "hello there")
    applied = await engine.set_persona("Pirate")
    assert applied.voice_pending
    config = _session(server).config
    assert config.instructions == "Talk like a pirate." and config.audio.output.voice == "marin"

    first_session = _session(server)
    await engine.new_session()
    second = _session(server)
    assert second is not first_session
    ready = rec.of(SessionReady)[-1]
    assert (ready.voice, ready.persona) == ("ash", "Pirate")
    assert second.config.audio.output.voice == "ash"
    # The conversation went along: the server's new session holds it as text items.
    texts = [(item.role, item.text()) for item in second.conversation.items]
    assert texts == [("user", "hello there"), ("assistant", "You said: hello there.")]
    await _answer((engine, rec), "and now")
    assert engine.conversation[-1].text == "You said: and now."


async def test_unknown_persona_is_refused_and_nothing_changes(
    make_engine: EngineFactory, server: LocalServer
) -> None:
    engine, _ = await make_engine()
    with pytest.raises(ValueError, match="No persona named 'Nobody'; the personas are: Tester"):
        await engine.set_persona("Nobody")
    assert engine.persona.name == "Tester"
    assert _session(server).config.instructions == "You are a test assistant."


async def test_resumed_history_is_replayed_into_the_session(
    settings: Settings, server: LocalServer, make_engine: EngineFactory
) -> None:
    from tests.support.engine import make_registry
    from voice_tui.backends.openai import OpenAIBackend
    from voice_tui.core.engine import ConversationEngine

    history = [
        Turn(Role.USER, "old1", text="my name is Ada"),
        Turn(Role.ASSISTANT, "old2", text="Nice to meet you, Ada.", interrupted=True,
             heard_text="Nice to"),
        Turn(Role.USER, "old3", text=""),  # nothing understood: not replayed
    ]  # fmt: skip
    backend = OpenAIBackend(settings)
    engine = ConversationEngine(settings, backend, make_registry(settings), history=history)
    try:
        await engine.start()
        items = [(i.role, i.text()) for i in _session(server).conversation.items]
        assert items == [("user", "my name is Ada"), ("assistant", "Nice to")]
        assert engine.conversation[:3] == history
    finally:
        await engine.close()
        await backend.aclose()


async def test_greet_first_persona_speaks_first(
    settings: Settings, make_engine: EngineFactory
) -> None:
    data = settings.model_dump(mode="python")
    data["openai"]["api_key"] = settings.openai.api_key
    data["personas"].append({"name": "Caller", "instructions": "Call.", "greet_first": True})
    data["session"]["persona"] = "Caller"
    greeter = Settings.model_validate(data)
    engine, rec = await make_engine(greeter)
    done = await rec.wait_for(ResponseFinished)
    assert done.status == "completed"
    (greeting,) = engine.conversation
    assert greeting.role is Role.ASSISTANT
    assert greeting.text == "Hello, this is the test assistant calling."


async def test_malformed_unknown_and_out_of_order_events_are_skipped(
    make_engine: EngineFactory,
) -> None:
    engine, rec = await make_engine()
    before = len(rec.events)
    for raw in (
        b"not json at all",
        b"[1, 2, 3]",
        b'{"no": "type"}',
        b'{"type": "response.some_future_event", "x": 1}',
        b'{"type": "response.output_audio.delta", "response_id": "r1", "item_id": "i1",'
        b' "delta": "***not base64***"}',
        b'{"type": "response.output_audio_transcript.delta", "item_id": 5, "delta": null}',
        b'{"type": "response.done"}',
        b'{"type": "conversation.item.input_audio_transcription.completed"}',
        b'{"type": "error", "error": "just a string"}',
        b'{"type": "session.updated", "session": []}',
    ):
        engine.dispatch(raw)
    assert not [e for e in rec.events[before:] if isinstance(e, AudioChunk)]
    # Still a working conversation afterwards.
    await _answer((engine, rec), "hello there")
    assert engine.conversation[-1].text == "You said: hello there."


async def test_rate_limits_and_deltas_map_to_app_events(make_engine: EngineFactory) -> None:
    engine, rec = await make_engine(start=False)
    engine.dispatch(
        json.dumps(
            {
                "type": "rate_limits.updated",
                "event_id": "e1",
                "rate_limits": [
                    {"name": "requests", "limit": 100, "remaining": 99, "reset_seconds": 1.5},
                    {"name": "tokens", "limit": 5000, "remaining": 4000, "reset_seconds": 60},
                ],
            }
        )
    )
    assert rec.of(RateLimitsChanged)[0].limits == (
        RateLimit("requests", 100, 99, 1.5),
        RateLimit("tokens", 5000, 4000, 60.0),
    )
    engine.dispatch(
        json.dumps(
            {
                "type": "response.output_text.delta",
                "response_id": "r9",
                "item_id": "i9",
                "output_index": 0,
                "content_index": 0,
                "delta": "Hi",
            }
        )
    )
    assert rec.of(AssistantDelta) == [AssistantDelta("i9", "Hi")]


async def test_a_late_transcript_keeps_its_place_before_the_answer(
    make_engine: EngineFactory,
) -> None:
    engine, rec = await make_engine(start=False)
    events = [
        {"type": "input_audio_buffer.committed", "item_id": "u1", "previous_item_id": None},
        {"type": "response.created", "response": {"id": "r1"}},
        {
            "type": "response.output_item.added",
            "response_id": "r1",
            "item": {"id": "a1", "type": "message", "role": "assistant"},
        },
        {"type": "response.output_text.delta", "response_id": "r1", "item_id": "a1",
         "delta": "Sure."},
        {"type": "response.done", "response": {"id": "r1", "status": "completed"}},
    ]  # fmt: skip
    for event in events:
        engine.dispatch(json.dumps(event))
    assert not rec.of(TurnCompleted)  # the answer waits for the question's words
    engine.dispatch(
        json.dumps(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": "u1",
                "content_index": 0,
                "transcript": "can you help",
            }
        )
    )
    done = [e.turn for e in rec.of(TurnCompleted)]
    assert [(t.role, t.text) for t in done] == [
        (Role.USER, "can you help"),
        (Role.ASSISTANT, "Sure."),
    ]
    assert [t.item_id for t in engine.conversation] == ["u1", "a1"]


async def test_typing_over_the_assistant_cuts_it_and_gets_a_new_answer(
    make_engine: EngineFactory,
) -> None:
    from tests.support.engine import ScriptedPlayback
    from voice_tui.core.events import AssistantInterrupted

    playback = ScriptedPlayback()
    playback.heard_ms = 100
    engine, rec = await make_engine(playback=playback)
    await _answer((engine, rec), "hello there")
    await _answer((engine, rec), "second thought")
    assert rec.of(AssistantInterrupted)[0].heard_ms == 100
    assert [t.text for t in engine.conversation][-1] == "You said: second thought."
    assert engine.conversation[1].interrupted
    assert not rec.of(ErrorRaised)


async def test_a_fatal_server_error_mid_session_stops_the_engine(
    make_engine: EngineFactory,
) -> None:
    engine, rec = await make_engine()
    engine.dispatch(
        json.dumps(
            {
                "type": "error",
                "event_id": "e1",
                "error": {
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                    "message": "Incorrect API key provided.",
                },
            }
        )
    )
    error = rec.of(ErrorRaised)[0]
    assert error.fatal and "rejected the API key sk-te…" in error.message
    await rec.wait_for(ConnectionChanged, lambda e: e.state is ConnectionState.FAILED)
    ended = await rec.wait_for(ConversationEnded)
    assert ended.reason == f"error: {error.message}"
    with pytest.raises(EngineError, match="Not connected"):
        await engine.send_text("still there?")
