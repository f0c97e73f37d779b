"""A response with several function calls (gpt-realtime-2's parallel_tool_calls): the
tools run at the same time, each output goes to the server as soon as its tool is done,
and exactly one response.create follows, once all are in, never while a response is
still active."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from engine_support import EMPTY_SCHEMA, Recorder, engine_settings, make_registry

from voice_tui.backends.openai import OpenAIBackend
from voice_tui.core.conversation import Role
from voice_tui.core.engine import ConversationEngine
from voice_tui.core.events import ErrorRaised, ToolCallFinished, ToolCallStarted, TurnCompleted
from voice_tui.core.tools.registry import Tool, ToolContext
from voice_tui.server.app import LocalServer


async def test_two_calls_run_together_and_one_response_create_follows(
    server: LocalServer, tmp_path: Path
) -> None:
    base = engine_settings(server.base_url, tmp_path)
    persona = base.personas[0].model_copy(update={"tools": [*base.personas[0].tools, "gated_tool"]})
    settings = base.model_copy(update={"personas": [persona, *base.personas[1:]]})
    gate = asyncio.Event()
    gated_started = asyncio.Event()

    async def gated(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        gated_started.set()
        await gate.wait()
        return {"gate": "opened"}

    registry = make_registry(settings)
    registry.register(Tool("gated_tool", "Waits for the test.", EMPTY_SCHEMA, gated))
    backend = OpenAIBackend(settings)
    engine = ConversationEngine(settings, backend, registry)
    rec = Recorder()
    engine.subscribe(rec)
    try:
        await engine.start()
        (session,) = server.sessions
        await engine.send_text("check both please")
        # Both started; the quick one finished and its output reached the server while
        # the other still runs; no new response was asked for yet.
        await rec.wait_for(ToolCallFinished, lambda e: e.name == "get_current_time")
        await asyncio.wait_for(gated_started.wait(), 10)
        assert {e.name for e in rec.of(ToolCallStarted)} == {"get_current_time", "gated_tool"}
        outputs = [i for i in session.conversation.items if i.type == "function_call_output"]
        for _ in range(100):  # the item's round trip on the real socket
            if outputs:
                break
            await asyncio.sleep(0.02)
            outputs = [i for i in session.conversation.items if i.type == "function_call_output"]
        assert len(outputs) == 1
        assert session.received["response.create"] == 1  # the user's turn only
        gate.set()
        answer = await rec.wait_for(
            TurnCompleted, lambda e: e.turn.role is Role.ASSISTANT and "tools" in e.turn.text
        )
        assert answer.turn.text == "All 2 tools answered."
        assert session.received["response.create"] == 2  # exactly one follow-up
        assert session.refused["conversation_already_has_active_response"] == 0
        assert not rec.of(ErrorRaised)
    finally:
        await engine.close()
        await backend.aclose()
