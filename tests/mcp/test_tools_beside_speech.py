"""Tools beside the conversation: a response that speaks and calls a tool (as reasoning
models do), and the idle timeout that prompts the assistant to speak up."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

from tests.support.conversation import conversation, realtime_server, settings_for
from tests.support.mcp_support import stdio_settings
from voice_tui.core.conversation import Role
from voice_tui.core.events import (
    AssistantFinal,
    Phase,
    PhaseChanged,
    ToolCallFinished,
    ToolCallStarted,
    TurnCompleted,
)
from voice_tui.server.components import (
    FunctionCallPiece,
    ResponderPiece,
    ResponderRequest,
    TextPiece,
)


@dataclass
class TalksWhileCalling:
    """Says something, calls a tool in the same response, then reads its result."""

    name: str = "talks-while-calling"

    async def respond(self, request: ResponderRequest) -> AsyncIterator[ResponderPiece]:
        last = request.history[-1]
        if last.role == "tool":
            yield TextPiece(f"Done: {last.content}")
            return
        if last.role == "user" and not last.content:
            yield TextPiece("Are you still there?")  # the idle timeout's turn
            return
        if "slowly" in last.content:
            yield TextPiece("One moment while I check.")
            yield FunctionCallPiece("demo__slow", json.dumps({"seconds": 0.3}), "call_slow")
            yield TextPiece(" Still with you.")
            return
        yield TextPiece(f"You said: {last.content}.")


async def test_a_response_may_speak_and_call_a_tool() -> None:
    async with realtime_server(TalksWhileCalling()) as server:
        settings = settings_for(server, [stdio_settings()], mcp=["demo"])
        async with conversation(server, settings) as c:
            await c.engine.send_text("do it slowly")
            finished = await c.events.wait_for(ToolCallFinished)
            assert finished.ok and json.loads(finished.output) == {
                "result": {"result": "waited 0.3 s"}
            }
            done = await c.events.wait_for(AssistantFinal, lambda e: e.text.startswith("Done:"))
            assert "waited 0.3 s" in done.text
            spoken = [e.text for e in c.events.of(AssistantFinal)]
            assert spoken[0] == "One moment while I check."
            assert spoken[1] == " Still with you."  # speech after the call, same response
            turns = [e.turn for e in c.events.of(TurnCompleted) if e.turn.role is Role.ASSISTANT]
            with_call = next(t for t in turns if t.tool_calls)
            assert with_call.tool_calls[0].name == "demo__slow"
            assert c.events.of(ToolCallStarted)[0].name == "demo__slow"


async def test_the_idle_timeout_prompts_the_assistant_to_speak() -> None:
    async with realtime_server(TalksWhileCalling()) as server:
        base = settings_for(server, [], mcp=[])
        session = base.session.model_copy(update={"idle_timeout_ms": 5000})
        settings = base.model_copy(update={"session": session})
        async with conversation(server, settings) as c:
            await c.engine.send_text("hello")
            await c.events.wait_for(AssistantFinal, lambda e: e.text == "You said: hello.")
            seen = len(c.events.events)
            silence = bytes(960)  # 20 ms
            for _ in range(6000 // 20):  # six seconds of audio, sent at once
                c.engine.send_audio(silence)
            prompted = await c.events.wait_for(
                AssistantFinal, lambda e: e.text == "Are you still there?"
            )
            assert prompted
            phases = [e.phase for e in c.events.events[seen:] if isinstance(e, PhaseChanged)]
            assert Phase.THINKING in phases
