"""The built-in responder: honest replies and real function calls for the built-in tools."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from voice_tui.config.schema import Settings
from voice_tui.core.tools import build_registry
from voice_tui.core.tools.registry import ToolContext, ToolRegistry
from voice_tui.offline.responder_builtin import SHORT_HELP, BuiltinResponder, help_text
from voice_tui.offline.spoken_results import ordinal
from voice_tui.server.components import (
    ChatMessage,
    FunctionCallPiece,
    ResponderPiece,
    ResponderRequest,
    TextPiece,
)

INSTRUCTIONS = "You are Mia, the host of The Wild Brunch. Be warm and brief."
# A fixed clock for the real tool: Saturday 21 November 2026, 15:42 in Paris.
NOW = datetime(2026, 11, 21, 15, 42, 7, tzinfo=ZoneInfo("Europe/Paris"))


@pytest.fixture
def registry(tmp_path: Path) -> ToolRegistry:
    settings = Settings()
    return build_registry(settings, ToolContext(settings.tools, tmp_path, now=lambda: NOW))


@pytest.fixture
def tools(registry: ToolRegistry) -> tuple[dict[str, Any], ...]:
    return tuple(registry.definitions(["get_current_time", "end_conversation"]))


async def reply(*history: ChatMessage, tools: tuple[dict[str, Any], ...]) -> list[ResponderPiece]:
    request = ResponderRequest(instructions=INSTRUCTIONS, history=history, tools=tools)
    return [piece async for piece in BuiltinResponder().respond(request)]


def text_of(pieces: list[ResponderPiece]) -> str:
    return "".join(p.text for p in pieces if isinstance(p, TextPiece))


def calls_of(pieces: list[ResponderPiece]) -> list[FunctionCallPiece]:
    return [p for p in pieces if isinstance(p, FunctionCallPiece)]


async def test_a_time_question_is_answered_through_the_real_time_tool(
    registry: ToolRegistry, tools: tuple[dict[str, Any], ...]
) -> None:
    question = ChatMessage("user", "what time is it")
    pieces = await reply(question, tools=tools)
    [call] = calls_of(pieces)
    assert call.name == "get_current_time"
    assert call.call_id.startswith("call_")
    assert text_of(pieces) == ""
    result = await registry.call(call.name, call.arguments, timeout_s=5, max_output_chars=4000)
    assert result.ok, result.error
    chat_call = {
        "id": call.call_id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }
    answer = await reply(
        question,
        ChatMessage("assistant", "", tool_calls=(chat_call,)),
        ChatMessage("tool", result.output, tool_call_id=call.call_id),
        tools=tools,
    )
    assert calls_of(answer) == []
    assert text_of(answer) == "It's 3:42 PM on Saturday, November 21st."


async def test_a_plain_clock_in_the_output_is_spoken_too(
    tools: tuple[dict[str, Any], ...],
) -> None:
    call = {"call_id": "call_2", "name": "get_current_time", "arguments": "{}"}
    pieces = await reply(
        ChatMessage("user", "what's the time"),
        ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", '{"time": "09:05", "date": "2026-11-21"}', tool_call_id="call_2"),
        tools=tools,
    )
    assert "9:05" in text_of(pieces)


async def test_a_tool_error_is_said_honestly(
    registry: ToolRegistry, tools: tuple[dict[str, Any], ...]
) -> None:
    result = await registry.call(
        "get_current_time", '{"timezone": "Mars/Olympus"}', timeout_s=5, max_output_chars=4000
    )
    assert not result.ok
    call = {"call_id": "c", "name": "get_current_time", "arguments": "{}"}
    pieces = await reply(
        ChatMessage("user", "what time is it"),
        ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", result.output, tool_call_id="c"),
        tools=tools,
    )
    assert "did not give me the time" in text_of(pieces)


async def test_without_the_tool_offered_there_is_no_call() -> None:
    pieces = await reply(ChatMessage("user", "what time is it"), tools=())
    assert calls_of(pieces) == []
    assert 'I heard: "what time is it".' in text_of(pieces)


async def test_goodbye_calls_end_conversation_then_says_goodbye(
    registry: ToolRegistry, tools: tuple[dict[str, Any], ...]
) -> None:
    bye = ChatMessage("user", "okay goodbye")
    [call] = await reply(bye, tools=tools)
    assert isinstance(call, FunctionCallPiece) and call.name == "end_conversation"
    result = await registry.call(call.name, call.arguments, timeout_s=5, max_output_chars=4000)
    assert result.ok and result.ends_conversation
    after = await reply(
        bye,
        ChatMessage("assistant", "", tool_calls=({"call_id": call.call_id, "name": call.name},)),
        ChatMessage("tool", result.output, tool_call_id=call.call_id),
        tools=tools,
    )
    assert text_of(after) == "Goodbye!" and calls_of(after) == []
    without = await reply(ChatMessage("user", "bye"), tools=tools[:1])
    assert calls_of(without) == [] and text_of(without) == "Goodbye!"


async def test_anything_else_is_repeated_with_how_to_connect_a_model(
    tools: tuple[dict[str, Any], ...],
) -> None:
    first = text_of(await reply(ChatMessage("user", "book a table for two"), tools=tools))
    assert first.startswith('I heard: "book a table for two".')
    assert "[local]" in first and "chat_url" in first and "OPENAI_API_KEY" in first
    later = text_of(
        await reply(
            ChatMessage("user", "book a table for two"),
            ChatMessage("assistant", first),
            ChatMessage("user", "tell me a joke"),
            tools=tools,
        )
    )
    assert later == f'I heard: "tell me a joke". {SHORT_HELP}'


async def test_silence_asks_to_repeat(tools: tuple[dict[str, Any], ...]) -> None:
    assert "didn't catch that" in text_of(await reply(ChatMessage("user", "  "), tools=tools))


async def test_greets_first_from_the_persona_instructions(
    tools: tuple[dict[str, Any], ...],
) -> None:
    text = text_of(await reply(tools=tools))
    assert text.startswith("Hello, I am Mia, the host of The Wild Brunch.")
    assert "I can only tell the time and end the conversation." in text
    # The instructions are only used for the greeting, never echoed otherwise.
    hello = text_of(await reply(ChatMessage("user", "hello"), tools=tools))
    assert hello.startswith("Hello!") and "warm and brief" not in hello


async def test_time_in_other_sentences_is_not_a_time_question(
    tools: tuple[dict[str, Any], ...],
) -> None:
    for said in ("I had a great time", "you interrupt me all the time"):
        pieces = await reply(ChatMessage("user", said), tools=tools)
        assert calls_of(pieces) == []
        assert text_of(pieces).startswith(f'I heard: "{said}".')
    for asked in ("what's the date", "which day is it", "tell me the time please"):
        [call] = calls_of(await reply(ChatMessage("user", asked), tools=tools))
        assert call.name == "get_current_time"


async def test_the_help_names_only_what_this_session_offers(
    tools: tuple[dict[str, Any], ...],
) -> None:
    without_tools = text_of(await reply(ChatMessage("user", "hi"), tools=()))
    assert "so I can't answer questions." in without_tools and "tell the time" not in without_tools
    assert "I can only end the conversation." in help_text({"end_conversation": {}})


COWBOY = (
    "You are a virtual assistant for a cowboy-themed restaurant called The Wild Brunch. "
    "Use check_table_availability before offering a table."
)


async def ask_and_answer(
    registry: ToolRegistry, instructions: str, said: str, names: list[str]
) -> tuple[FunctionCallPiece, str, str]:
    """The user's words -> the responder's real call -> the real tool -> the spoken reply."""
    tools = tuple(registry.definitions(names))
    question = ChatMessage("user", said)
    request = ResponderRequest(instructions=instructions, history=(question,), tools=tools)
    [call] = [p async for p in BuiltinResponder().respond(request)]
    assert isinstance(call, FunctionCallPiece)
    result = await registry.call(call.name, call.arguments, timeout_s=5, max_output_chars=4000)
    chat_call = {"id": call.call_id, "function": {"name": call.name, "arguments": call.arguments}}
    after = ResponderRequest(
        instructions=instructions,
        history=(
            question,
            ChatMessage("assistant", "", tool_calls=(chat_call,)),
            ChatMessage("tool", result.output, tool_call_id=call.call_id),
        ),
        tools=tools,
    )
    answer = text_of([p async for p in BuiltinResponder().respond(after)])
    return call, result.output, answer


async def test_a_table_request_is_checked_and_the_result_said_in_words(
    registry: ToolRegistry,
) -> None:
    call, output, answer = await ask_and_answer(
        registry, COWBOY, "Do you have a table for four on Saturday?", ["check_table_availability"]
    )
    arguments = json.loads(call.arguments)
    assert call.name == "check_table_availability" and arguments["party_size"] == 4
    assert date.fromisoformat(arguments["date"]).strftime("%A") == "Saturday"
    assert json.loads(output)["available"] is True  # the tool log keeps the JSON
    assert "{" not in answer and '"' not in answer and "available" not in answer
    day = date.fromisoformat(arguments["date"])
    assert answer == (
        f"Well partner, saturday the {ordinal(day.day)} has room for four: eight tables free."
    )


async def test_missing_booking_details_are_asked_for(registry: ToolRegistry) -> None:
    tools = tuple(registry.definitions(["check_table_availability"]))
    first = ChatMessage("user", "I'd like to book a table")
    asked = await reply(first, tools=tools)
    assert calls_of(asked) == [] and "how many people" in text_of(asked)
    # the day said earlier is remembered when the size comes
    pieces = await reply(
        ChatMessage("user", "a table on Sunday please"),
        ChatMessage("assistant", "Sure. For how many people?"),
        ChatMessage("user", "for two people"),
        tools=tools,
    )
    [call] = calls_of(pieces)
    assert json.loads(call.arguments)["party_size"] == 2


async def test_any_json_result_is_summarised_never_read_out() -> None:
    output = json.dumps({"status": "shipped", "count": 3, "items": [1, 2], "raw": {"x": 1}})
    call = {"call_id": "c9", "name": "track_parcel", "arguments": "{}"}
    pieces = await reply(
        ChatMessage("user", "where is my parcel"),
        ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", output, tool_call_id="c9"),
        tools=(),
    )
    spoken = text_of(pieces)
    assert (
        spoken
        == "From track parcel: the status is shipped, the count is 3, and the items is 2 items."
    )
    assert not set(spoken) & set('{}[]"')


async def test_a_failed_tool_is_an_apology_not_its_error_json(registry: ToolRegistry) -> None:
    call, _, answer = await ask_and_answer(
        registry, INSTRUCTIONS, "a table for 60 people today", ["check_table_availability"]
    )
    assert json.loads(call.arguments)["party_size"] == 60
    assert "{" not in answer and answer.startswith("Sorry")
