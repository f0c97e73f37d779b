"""Server errors are routed by their stable `code`, never by their wording."""

from __future__ import annotations

import json

from engine_support import EngineFactory

from voice_tui.core.events import ErrorRaised, ResponseFinished
from voice_tui.server.app import LocalServer


def error_for(event_id: str, code: str, message: str) -> str:
    return json.dumps(
        {
            "type": "error",
            "event_id": "event_test",
            "error": {
                "type": "invalid_request_error",
                "code": code,
                "message": message,
                "param": None,
                "event_id": event_id,
            },
        }
    )


async def test_an_active_response_refusal_is_known_by_its_code(
    make_engine: EngineFactory, server: LocalServer
) -> None:
    engine, rec = await make_engine()
    await engine.send_text("hello there")
    await rec.wait_for(ResponseFinished)
    (session,) = server.sessions
    sent = session.last_event_ids["response.create"]
    # Reworded by the service one day: still the active-response refusal, by its code.
    engine.dispatch(error_for(sent, "conversation_already_has_active_response", "Busy."))
    assert not rec.of(ErrorRaised)


async def test_the_same_words_with_another_code_are_an_error(
    make_engine: EngineFactory, server: LocalServer
) -> None:
    engine, rec = await make_engine()
    await engine.send_text("hello there")
    await rec.wait_for(ResponseFinished)
    (session,) = server.sessions
    sent = session.last_event_ids["response.create"]
    engine.dispatch(error_for(sent, "invalid_value", "Conversation already has an active response"))
    (shown,) = rec.of(ErrorRaised)
    assert shown.code == "invalid_value"
