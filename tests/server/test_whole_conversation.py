"""A whole recorded conversation: every event the server emits is a valid SDK event."""

from __future__ import annotations

import json
from typing import Any

from openai.types.realtime import ResponseDoneEvent

from voice_tui.server.app import LocalServer

from .support import SERVER_EVENT, TOOLS, Client, hold_replies, silence, stream_audio, voiced


async def test_every_event_of_a_conversation_validates(connect: Any, server: LocalServer) -> None:
    client: Client = await connect(
        tools=TOOLS,
        instructions="Help with the time.",
        audio={"input": {"transcription": {"model": "gpt-transcribe"}}},
    )
    # 1. a spoken turn, answered with a tool call, then the tool's result spoken
    await stream_audio(client, silence(300) + voiced(900) + silence(800))
    done = await client.until("response.done")
    call = done["response"]["output"][0]
    assert call["type"] == "function_call"
    await client.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "function_call_output",
                "call_id": call["call_id"],
                "output": '"9:00"',
            },
        }
    )
    await client.send({"type": "response.create"})
    spoken = (await client.until("response.done"))["response"]
    assert spoken["output"][0]["content"][0]["transcript"].startswith("The tool says")
    # 2. a typed turn, cancelled mid-answer
    gate = hold_replies(server)
    await client.ask("a long one please")
    gate.grant(1)
    delta = await client.until("response.output_audio.delta")
    await client.send({"type": "response.cancel"})
    cancelled = (await client.until("response.done"))["response"]
    assert cancelled["status"] == "cancelled"
    # 3. truncate what was heard of it
    await client.send(
        {
            "type": "conversation.item.truncate",
            "item_id": delta["item_id"],
            "content_index": 0,
            "audio_end_ms": 100,
        }
    )
    await client.until("conversation.item.truncated")
    # 4. an error, for completeness
    await client.send({"type": "response.cancel"})
    await client.until("error")

    types = {e["type"] for e in client.events}
    expected = {
        "session.created",
        "session.updated",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.completed",
        "response.created",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.content_part.added",
        "response.output_audio_transcript.delta",
        "response.output_audio.delta",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.done",
        "conversation.item.truncated",
        "error",
    }
    assert expected <= types, expected - types
    for event in client.events:
        SERVER_EVENT.validate_json(json.dumps(event))
    ids = [e["event_id"] for e in client.events]
    assert len(ids) == len(set(ids))
    for event in client.of("response.done"):
        parsed = ResponseDoneEvent.model_validate(event)
        assert parsed.response.usage is not None
        assert parsed.response.usage.total_tokens == (
            (parsed.response.usage.input_tokens or 0) + (parsed.response.usage.output_tokens or 0)
        )
