"""The chat-endpoint path through the whole stack: engine -> SDK -> built-in server ->
ChatCompletionsResponder -> a real local OpenAI-compatible endpoint (SSE)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tests.support.audio_checks import rms_dbfs
from tests.support.chat_endpoint import ChatEndpoint, Reply, chat_endpoint
from tests.support.engine_events import Events, local_engine
from voice_tui.config.schema import Settings
from voice_tui.core.conversation import Role
from voice_tui.core.engine import ConversationEngine
from voice_tui.core.events import AudioChunk, ToolCallFinished, TurnCompleted


@pytest.fixture
def endpoint() -> Iterator[ChatEndpoint]:
    with chat_endpoint() as ep:
        yield ep


@pytest.fixture
async def engine(
    endpoint: ChatEndpoint, tmp_path: Path
) -> AsyncIterator[tuple[ConversationEngine, Events]]:
    settings = Settings.model_validate(
        {
            "backend": {"kind": "local"},
            "local": {"chat_url": endpoint.base_url, "chat_model": "tiny-llm"},
            "tools": {"data_dir": str(tmp_path / "tools")},
        }
    )
    async with local_engine(settings) as running:
        yield running


def is_answer(text: str) -> Callable[[TurnCompleted], bool]:
    return lambda e: e.turn.role is Role.ASSISTANT and text in e.turn.text


async def test_a_streamed_reply_is_spoken(
    endpoint: ChatEndpoint, engine: tuple[ConversationEngine, Events]
) -> None:
    conversation, events = engine
    endpoint.text("Hello", " from the local", " model. Nice to meet you.")
    await conversation.send_text("hi there")
    done = await events.wait_for(TurnCompleted, is_answer("Hello"))
    assert done.turn.text == "Hello from the local model. Nice to meet you."
    audio = b"".join(
        e.pcm for e in events.all if isinstance(e, AudioChunk) and e.item_id == done.turn.item_id
    )
    assert rms_dbfs(audio) > -35
    sent = endpoint.received[0].body
    assert sent["model"] == "tiny-llm"
    assert sent["messages"][0]["role"] == "system"
    assert sent["messages"][-1] == {"role": "user", "content": "hi there"}
    assert {t["function"]["name"] for t in sent["tools"]} >= {"get_current_time"}


async def test_a_tool_call_makes_the_realtime_round_trip(
    endpoint: ChatEndpoint, engine: tuple[ConversationEngine, Events]
) -> None:
    conversation, events = engine
    call = {"index": 0, "id": "call_local1", "type": "function"}
    endpoint.replies.append(
        Reply(
            [
                {"tool_calls": [{**call, "function": {"name": "get_current_time"}}]},
                {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]},
            ]
        )
    )
    endpoint.text("It is tea time.")
    await conversation.send_text("what time is it")
    tool = await events.wait_for(ToolCallFinished)
    assert tool.name == "get_current_time" and tool.ok and tool.call_id == "call_local1"
    await events.wait_for(TurnCompleted, is_answer("tea time"))
    # The second request carries the call and the real tool output, in chat format.
    follow_up = endpoint.received[1].body["messages"]
    assert follow_up[-2]["tool_calls"][0]["id"] == "call_local1"
    assert follow_up[-1]["role"] == "tool" and follow_up[-1]["tool_call_id"] == "call_local1"
    assert "iso" in json.loads(follow_up[-1]["content"])


async def test_an_endpoint_error_is_a_short_turn_and_the_session_goes_on(
    endpoint: ChatEndpoint, engine: tuple[ConversationEngine, Events]
) -> None:
    conversation, events = engine
    endpoint.replies.append(Reply(status=500))
    endpoint.text("Back again.")
    await conversation.send_text("hello?")
    failed = await events.wait_for(TurnCompleted, is_answer("HTTP 500"))
    assert len(failed.turn.text) < 160
    await conversation.send_text("are you there?")
    await events.wait_for(TurnCompleted, is_answer("Back again."))
