"""Conversations that use MCP tools, end to end: the real SDK, the built-in Realtime
server, a real engine, and real MCP servers (the demo server over stdio and over
streamable HTTP, called by voice-tui or by the Realtime server itself)."""

from __future__ import annotations

import asyncio
import json

from tests.support.conversation import HELLO_TONE, conversation, realtime_server, settings_for
from tests.support.mcp_support import http_demo_server, stdio_settings
from tests.support.tones import tone
from voice_tui.config.schema import McpServerSettings
from voice_tui.core.approval import ApprovalGate, ApprovalRequest, Decision
from voice_tui.core.conversation import Role
from voice_tui.core.events import (
    AssistantFinal,
    ToolCallFinished,
    ToolCallStarted,
    TurnCompleted,
    UserTranscriptFinal,
)
from voice_tui.mcp import ServerState


class Asker:
    def __init__(self, *answers: Decision) -> None:
        self.answers = list(answers)
        self.asked: list[ApprovalRequest] = []

    async def __call__(self, request: ApprovalRequest) -> Decision:
        self.asked.append(request)
        return self.answers.pop(0)


def said(text: str):  # type: ignore[no-untyped-def]
    return lambda e: text in e.text


async def test_a_typed_turn_calls_a_local_mcp_tool_and_the_answer_reads_it() -> None:
    async with realtime_server() as server:
        settings = settings_for(server, [stdio_settings()], mcp=["demo"])
        async with conversation(server, settings) as c:
            await c.engine.send_text("shout hello mcp")
            finished = await c.events.wait_for(ToolCallFinished)
            assert (finished.name, finished.ok) == ("demo__shout", True)
            assert json.loads(finished.output) == {"result": {"result": "HELLO MCP!"}}
            answer = await c.events.wait_for(AssistantFinal, said("The tool says"))
            assert "HELLO MCP!" in answer.text
            turn = await c.events.wait_for(
                TurnCompleted, lambda e: e.turn.role is Role.ASSISTANT and bool(e.turn.tool_calls)
            )
            assert turn.turn.tool_calls[0].name == "demo__shout"


async def test_approval_asked_in_full_denied_then_allowed() -> None:
    asker = Asker(Decision.DENY, Decision.ALLOW_ONCE)
    async with realtime_server() as server:
        settings = settings_for(server, [stdio_settings(require_approval="always")], ["demo"])
        async with conversation(server, settings, ApprovalGate(asker)) as c:
            await c.engine.send_text("shout no")
            denied = await c.events.wait_for(ToolCallFinished)
            assert not denied.ok and "declined" in (denied.error or "")
            await c.events.wait_for(AssistantFinal, said("declined"))
            await c.engine.send_text("shout yes")
            allowed = await c.events.wait_for(ToolCallFinished, lambda e: e.ok)
            assert "YES!" in allowed.output
        assert [(r.server, r.tool, json.loads(r.arguments)) for r in asker.asked] == [
            ("demo", "shout", {"text": "no"}),
            ("demo", "shout", {"text": "yes"}),
        ]


async def test_a_crash_mid_call_is_told_and_the_tools_come_back() -> None:
    async with realtime_server() as server:
        settings = settings_for(server, [stdio_settings()], mcp=["demo"])
        async with conversation(server, settings) as c:
            await c.engine.send_text("crash")
            crashed = await c.events.wait_for(ToolCallFinished)
            assert not crashed.ok
            assert crashed.error == "the MCP server 'demo' stopped during the call"
            await c.events.wait_for(AssistantFinal, said("stopped during the call"))
            connection = c.manager.connections["demo"]
            while connection.connects < 2 or connection.status.state is not ServerState.READY:
                await asyncio.wait_for(connection.wait_settled(), 30)
                await asyncio.sleep(0.05)
            # The session's tool list was updated: the model can use the server again.
            for _ in range(100):
                await c.engine.send_text("shout back again")
                answer = await c.events.wait_for(
                    AssistantFinal, lambda e: "BACK AGAIN" in e.text or "no tool" in e.text
                )
                if "BACK AGAIN" in answer.text:
                    break
                c.events.events.clear()
                await asyncio.sleep(0.05)  # the session.update is still on its way
            assert "BACK AGAIN!" in answer.text


async def test_a_slow_tool_runs_on_while_the_user_barges_in_until_cancelled() -> None:
    async with realtime_server() as server:
        settings = settings_for(server, [stdio_settings()], mcp=["demo"])
        async with conversation(server, settings) as c:
            await c.engine.send_text("slow 60")
            await c.events.wait_for(ToolCallStarted)
            # The user speaks meanwhile: heard and answered, the tool keeps running.
            c.engine.send_audio(tone(HELLO_TONE, 600) + bytes(2 * 24 * 900))
            for _ in range(0, 2 * 24 * 1500, 960):
                c.engine.send_audio(bytes(960))
                await asyncio.sleep(0.005)
            await c.events.wait_for(UserTranscriptFinal, lambda e: e.transcript == "hello there")
            await c.events.wait_for(AssistantFinal, said("You said: hello there"))
            assert c.events.of(ToolCallFinished) == []
            assert c.engine.busy
            # Typing works too, and so does cancelling the call.
            await c.engine.send_text("still there?")
            await c.events.wait_for(AssistantFinal, said("You said: still there?"))
            assert await c.engine.cancel_tools() == 1
            cancelled = await c.events.wait_for(ToolCallFinished)
            assert not cancelled.ok and cancelled.error == "cancelled by the user"
            await c.events.wait_for(AssistantFinal, said("cancelled this call"))
            assert await c.engine.cancel_tools() == 0


async def test_remote_mcp_through_the_built_in_server_with_approval() -> None:
    asker = Asker(Decision.ALLOW_SESSION)
    async with http_demo_server() as url, realtime_server() as server:
        remote = McpServerSettings(name="web", remote=True, url=url, require_approval=["shout"])
        settings = settings_for(server, [remote], mcp=["web"])
        async with conversation(server, settings, ApprovalGate(asker)) as c:
            # The server lists the tools first (mcp_list_tools.completed).
            for _ in range(200):
                if any(
                    "web: its tools are ready" in getattr(e, "message", "") for e in c.events.events
                ):
                    break
                await asyncio.sleep(0.05)
            await c.engine.send_text("shout from afar")
            finished = await c.events.wait_for(ToolCallFinished)
            assert (finished.server, finished.name, finished.ok) == ("web", "shout", True)
            assert "FROM AFAR!" in finished.output
            started = c.events.of(ToolCallStarted)[0]
            assert started.server == "web" and json.loads(started.arguments) == {
                "text": "from afar"
            }
            await c.events.wait_for(AssistantFinal, said("FROM AFAR!"))
            # Allowed for the session: the next call is not asked about.
            await c.engine.send_text("shout again")
            await c.events.wait_for(ToolCallFinished, lambda e: "AGAIN!" in e.output)
            assert len(asker.asked) == 1 and asker.asked[0].remote
            turn = next(e.turn for e in c.events.of(TurnCompleted) if e.turn.tool_calls)
            assert turn.tool_calls[0].server == "web"


async def test_an_image_result_is_shown_to_the_model_after_the_output() -> None:
    async with realtime_server() as server:
        settings = settings_for(server, [stdio_settings()], mcp=["demo"])
        async with conversation(server, settings) as c:
            await c.engine.send_text("picture")
            finished = await c.events.wait_for(ToolCallFinished)
            payload = json.loads(finished.output)
            assert payload["content"][0]["type"] == "image"
            assert payload["images_shown"] == "1 image(s) follow this output for you to see"
            await c.events.wait_for(AssistantFinal, said("I see 1 image(s)."))
            [session] = [s for s in server.sessions if not s.closed]
            kinds = [
                (i.type, i.content[0]["type"] if i.content else "")
                for i in session.conversation.items
            ]
            at = kinds.index(("function_call_output", ""))
            assert kinds[at + 1] == ("message", "input_image")
            image = session.conversation.items[at + 1].content[0]
            assert image["image_url"].startswith("data:image/png;base64,")
