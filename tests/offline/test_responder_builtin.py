"""The built-in responder: honest replies and real function calls for the built-in tools."""

from __future__ import annotations

import json
from typing import Any

from voice_tui.offline.responder_builtin import HELP_TEXT, SHORT_HELP, BuiltinResponder
from voice_tui.server.components import (
    ChatMessage,
    FunctionCallPiece,
    ResponderPiece,
    ResponderRequest,
    TextPiece,
)

TIME_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_current_time",
    "description": "The current local date and time.",
    "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}},
}
END_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "end_conversation",
    "description": "End the conversation after saying goodbye.",
    "parameters": {"type": "object", "properties": {}},
}
INSTRUCTIONS = "You are Mia, the host of The Wild Brunch. Be warm and brief."


async def reply(
    *history: ChatMessage, tools: tuple[dict[str, Any], ...] = (TIME_TOOL, END_TOOL)
) -> list[ResponderPiece]:
    request = ResponderRequest(instructions=INSTRUCTIONS, history=history, tools=tools)
    return [piece async for piece in BuiltinResponder().respond(request)]


def text_of(pieces: list[ResponderPiece]) -> str:
    return "".join(p.text for p in pieces if isinstance(p, TextPiece))


def calls_of(pieces: list[ResponderPiece]) -> list[FunctionCallPiece]:
    return [p for p in pieces if isinstance(p, FunctionCallPiece)]


async def test_a_time_question_becomes_a_real_function_call() -> None:
    pieces = await reply(ChatMessage("user", "what time is it"))
    [call] = calls_of(pieces)
    assert call.name == "get_current_time"
    assert json.loads(call.arguments) == {}
    assert call.call_id.startswith("call_")
    assert text_of(pieces) == ""


async def test_the_answer_speaks_the_time_from_the_tool_output() -> None:
    call = {"id": "call_1", "type": "function",
            "function": {"name": "get_current_time", "arguments": "{}"}}
    output = json.dumps({"local_time": "2026-11-21T15:42:07+01:00", "timezone": "Europe/Paris"})
    pieces = await reply(
        ChatMessage("user", "what time is it"),
        ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", output, tool_call_id="call_1"),
    )
    assert calls_of(pieces) == []
    assert text_of(pieces) == "It's 3:42 PM on Saturday, November 21."


async def test_a_plain_clock_in_the_output_is_spoken_too() -> None:
    call = {"call_id": "call_2", "name": "get_current_time", "arguments": "{}"}
    pieces = await reply(
        ChatMessage("user", "what's the time"),
        ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", '{"time": "09:05", "date": "2026-11-21"}', tool_call_id="call_2"),
    )
    assert "9:05" in text_of(pieces)


async def test_a_tool_error_is_said_honestly() -> None:
    call = {"call_id": "c", "name": "get_current_time", "arguments": "{}"}
    pieces = await reply(
        ChatMessage("user", "what time is it"),
        ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", '{"error": "unknown timezone"}', tool_call_id="c"),
    )
    assert "did not give me the time" in text_of(pieces)


async def test_without_the_tool_offered_there_is_no_call() -> None:
    pieces = await reply(ChatMessage("user", "what time is it"), tools=())
    assert calls_of(pieces) == []
    assert 'I heard: "what time is it".' in text_of(pieces)


async def test_goodbye_ends_the_conversation_when_offered() -> None:
    pieces = await reply(ChatMessage("user", "okay goodbye"))
    assert text_of(pieces) == "Goodbye!"
    assert [c.name for c in calls_of(pieces)] == ["end_conversation"]
    without = await reply(ChatMessage("user", "bye"), tools=(TIME_TOOL,))
    assert calls_of(without) == [] and text_of(without) == "Goodbye!"


async def test_anything_else_is_repeated_with_how_to_connect_a_model() -> None:
    first = text_of(await reply(ChatMessage("user", "book a table for two")))
    assert first.startswith('I heard: "book a table for two".')
    assert "[local]" in first and "chat_url" in first and "OPENAI_API_KEY" in first
    later = text_of(
        await reply(
            ChatMessage("user", "book a table for two"),
            ChatMessage("assistant", first),
            ChatMessage("user", "tell me a joke"),
        )
    )
    assert later == f'I heard: "tell me a joke". {SHORT_HELP}'


async def test_silence_asks_to_repeat() -> None:
    assert "didn't catch that" in text_of(await reply(ChatMessage("user", "  ")))


async def test_greets_first_from_the_persona_instructions() -> None:
    text = text_of(await reply())
    assert text.startswith("Hello, I am Mia, the host of The Wild Brunch.")
    assert HELP_TEXT in text
    # The instructions are only used for the greeting, never echoed otherwise.
    assert "warm and brief" not in text_of(await reply(ChatMessage("user", "hello")))
