"""The chat-completions responder against a real local OpenAI-compatible endpoint."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.chat_endpoint import ChatEndpoint, Reply, chat_endpoint
from voice_tui.offline.responder_chat import ChatCompletionsResponder, ThinkingFilter
from voice_tui.server.components import (
    ChatMessage,
    FunctionCallPiece,
    ResponderError,
    ResponderPiece,
    ResponderRequest,
    TextPiece,
)

KEY = "sk-local-test-key-1234"
TIME_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_current_time",
    "description": "The current local date and time.",
    "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}},
}


@pytest.fixture
def endpoint() -> Iterator[ChatEndpoint]:
    with chat_endpoint() as ep:
        yield ep


def request(
    *history: ChatMessage, tools: tuple[dict[str, Any], ...] = (TIME_TOOL,)
) -> ResponderRequest:
    return ResponderRequest(
        instructions="You are a concise voice assistant.",
        history=history or (ChatMessage("user", "hello"),),
        tools=tools,
    )


async def collect(
    responder: ChatCompletionsResponder, req: ResponderRequest
) -> list[ResponderPiece]:
    try:
        return [piece async for piece in responder.respond(req)]
    finally:
        await responder.aclose()


def responder_for(endpoint: ChatEndpoint, timeout_s: float = 10.0) -> ChatCompletionsResponder:
    return ChatCompletionsResponder(endpoint.base_url, "tiny-llm", api_key=KEY, timeout_s=timeout_s)


async def test_a_streamed_reply_arrives_piece_by_piece(endpoint: ChatEndpoint) -> None:
    endpoint.text("Hello", " there,", " how can I help?")
    pieces = await collect(responder_for(endpoint), request())
    assert pieces == [TextPiece("Hello"), TextPiece(" there,"), TextPiece(" how can I help?")]
    [got] = endpoint.received
    assert got.path == "/v1/chat/completions"
    assert got.headers["authorization"] == f"Bearer {KEY}"
    assert got.body["model"] == "tiny-llm" and got.body["stream"] is True
    assert got.body["messages"] == [
        {"role": "system", "content": "You are a concise voice assistant."},
        {"role": "user", "content": "hello"},
    ]
    assert got.body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_current_time",
                "description": "The current local date and time.",
                "parameters": TIME_TOOL["parameters"],
            },
        }
    ]


async def test_tool_calls_are_accumulated_from_their_deltas(endpoint: ChatEndpoint) -> None:
    endpoint.replies.append(
        Reply(
            [
                {"content": "Let me check."},
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_abc",
                            "type": "function",
                            "function": {"name": "get_current_time", "arguments": ""},
                        }
                    ]
                },
                {"tool_calls": [{"index": 0, "function": {"arguments": '{"timezone": '}}]},
                {"tool_calls": [{"index": 0, "function": {"arguments": '"Europe/Paris"}'}}]},
                {
                    "tool_calls": [
                        {
                            "index": 1,
                            "id": "call_def",
                            "type": "function",
                            "function": {"name": "end_conversation", "arguments": "{}"},
                        }
                    ]
                },
            ]
        )
    )
    pieces = await collect(responder_for(endpoint), request(ChatMessage("user", "time in Paris?")))
    assert pieces[0] == TextPiece("Let me check.")
    calls = [p for p in pieces if isinstance(p, FunctionCallPiece)]
    assert calls == [
        FunctionCallPiece("get_current_time", '{"timezone": "Europe/Paris"}', "call_abc"),
        FunctionCallPiece("end_conversation", "{}", "call_def"),
    ]
    assert json.loads(calls[0].arguments) == {"timezone": "Europe/Paris"}


async def test_the_tool_round_trip_is_passed_back_in_chat_format(endpoint: ChatEndpoint) -> None:
    endpoint.text("It is three o'clock.")
    call = {
        "id": "call_abc",
        "type": "function",
        "function": {"name": "get_current_time", "arguments": "{}"},
    }
    history = (
        ChatMessage("user", "what time is it"),
        ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", '{"iso": "2026-11-21T15:00:00+00:00"}', tool_call_id="call_abc"),
    )
    pieces = await collect(responder_for(endpoint), request(*history, tools=()))
    assert pieces == [TextPiece("It is three o'clock.")]
    body = endpoint.received[0].body
    assert "tools" not in body
    assert body["messages"][1:] == [
        {"role": "user", "content": "what time is it"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {
            "role": "tool",
            "tool_call_id": "call_abc",
            "content": '{"iso": "2026-11-21T15:00:00+00:00"}',
        },
    ]


async def test_an_http_error_becomes_a_short_responder_error(endpoint: ChatEndpoint) -> None:
    endpoint.replies.append(Reply(status=500))
    with pytest.raises(ResponderError) as caught:
        await collect(responder_for(endpoint), request())
    assert str(caught.value) == "The local model's endpoint returned an error (HTTP 500)."
    assert len(endpoint.received) == 1  # no silent retries while the user waits


async def test_an_unknown_model_names_the_setting(endpoint: ChatEndpoint) -> None:
    endpoint.replies.append(Reply(status=404))
    with pytest.raises(ResponderError, match=r"local\.chat_model"):
        await collect(responder_for(endpoint), request())


async def test_a_slow_endpoint_times_out(endpoint: ChatEndpoint) -> None:
    endpoint.replies.append(Reply([{"content": "too late"}], stall_s=1.5))
    with pytest.raises(ResponderError, match="did not answer in time"):
        await collect(responder_for(endpoint, timeout_s=0.2), request())


async def test_a_broken_stream_is_reported(endpoint: ChatEndpoint) -> None:
    endpoint.replies.append(Reply(raw=b"data: {not json\n\n"))
    with pytest.raises(ResponderError, match="could not understand"):
        await collect(responder_for(endpoint), request())


async def test_an_endpoint_that_is_down_is_reported() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    responder = ChatCompletionsResponder(f"http://127.0.0.1:{port}/v1", "m", api_key=KEY)
    with pytest.raises(ResponderError) as caught:
        await collect(responder, request())
    assert "could not be reached" in str(caught.value)
    assert KEY not in str(caught.value)


async def test_reasoning_in_think_tags_is_not_spoken(endpoint: ChatEndpoint) -> None:
    endpoint.text("<thi", "nk>The user greets me. I should", " greet back.</th", "ink>\n\n", "Hi!")
    pieces = await collect(responder_for(endpoint), request())
    assert "".join(p.text for p in pieces if isinstance(p, TextPiece)) == "Hi!"


@pytest.mark.parametrize(
    ("chunks", "spoken"),
    [
        (["Hello <b>there</b>"], "Hello <b>there</b>"),  # other tags are text
        (["a < b", " and c"], "a < b and c"),
        (["<think>", "never closed"], ""),
        (["Sure.", " <think>aside</think> Done."], "Sure.  Done."),
        (["Price <", "5"], "Price <5"),
    ],
)
def test_thinking_filter(chunks: list[str], spoken: str) -> None:
    thoughts = ThinkingFilter()
    assert "".join(thoughts.feed(c) for c in chunks) + thoughts.flush() == spoken
