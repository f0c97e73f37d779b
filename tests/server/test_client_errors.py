"""Malformed, unknown and out-of-order client events: OpenAI-shaped errors, no harm done."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from voice_tui.server.app import LocalServer

from .support import Client, b64, hold_replies, silence, voiced

# These tests send what the SDK's types refuse, to see the server refuse it.
pytestmark = pytest.mark.invalid_client_events


async def error_for(client: Client, event: dict[str, Any] | str) -> dict[str, Any]:
    if isinstance(event, str):
        await client.connection.send_raw(event)
    else:
        await client.send(event)
    err = await client.until("error")
    error: dict[str, Any] = err["error"]
    assert error["type"] == "invalid_request_error"
    return error


async def still_serving(client: Client) -> None:
    """The session answers a typed turn after the error."""
    await client.ask("ok")
    done = await client.until("response.done")
    assert done["response"]["status"] == "completed"


@pytest.mark.parametrize(
    ("raw", "code", "words"),
    [
        ("{not json", "invalid_json", "could not parse"),
        ("[1, 2]", "invalid_json", "JSON object"),
        ('{"event_id": "e1"}', "missing_required_parameter", "'type'"),
        ('{"type": "input_audio_buffer.explode"}', "invalid_value", "input_audio_buffer.explode"),
    ],
)
async def test_malformed_events(connect: Any, raw: str, code: str, words: str) -> None:
    client: Client = await connect()
    err = await error_for(client, raw)
    assert err["code"] == code
    assert words in err["message"]
    await still_serving(client)


async def test_error_carries_offending_event_id(connect: Any) -> None:
    client: Client = await connect()
    err = await error_for(client, {"type": "no.such.event", "event_id": "evt_42"})
    assert err["event_id"] == "evt_42"
    assert err["param"] == "type"


@pytest.mark.parametrize(
    ("audio", "code"),
    [
        ("this is not base64!!", "invalid_value"),
        (12345, "invalid_type"),
        (None, "invalid_type"),
    ],
)
async def test_bad_append(connect: Any, audio: Any, code: str) -> None:
    client: Client = await connect(audio={"input": {"turn_detection": None}})
    await client.send({"type": "input_audio_buffer.append", "audio": b64(voiced(300))})
    err = await error_for(
        client, {"type": "input_audio_buffer.append", "audio": audio, "event_id": "a1"}
    )
    assert (err["code"], err["event_id"], err["param"]) == (code, "a1", "audio")
    # the audio appended before the bad event is still there
    await client.send({"type": "input_audio_buffer.commit"})
    committed = await client.until("input_audio_buffer.committed")
    await client.send({"type": "conversation.item.retrieve", "item_id": committed["item_id"]})
    item = (await client.until("conversation.item.retrieved"))["item"]
    assert len(base64.b64decode(item["content"][0]["audio"])) == 300 * 48


async def test_oversized_append_is_refused(connect: Any) -> None:
    client: Client = await connect(audio={"input": {"turn_detection": None}})
    huge = b64(bytes(16 * 1024 * 1024))
    err = await error_for(client, {"type": "input_audio_buffer.append", "audio": huge})
    assert "too large" in err["message"]
    await still_serving(client)


async def test_commit_of_empty_buffer(connect: Any) -> None:
    client: Client = await connect(audio={"input": {"turn_detection": None}})
    await client.send({"type": "input_audio_buffer.append", "audio": b64(silence(40))})
    err = await error_for(client, {"type": "input_audio_buffer.commit"})
    assert err["code"] == "input_audio_buffer_commit_empty"
    assert "Expected at least 100ms" in err["message"]


async def test_clear_empties_the_buffer(connect: Any) -> None:
    client: Client = await connect(audio={"input": {"turn_detection": None}})
    await client.send({"type": "input_audio_buffer.append", "audio": b64(voiced(500))})
    await client.send({"type": "input_audio_buffer.clear"})
    await client.until("input_audio_buffer.cleared")
    err = await error_for(client, {"type": "input_audio_buffer.commit"})
    assert err["code"] == "input_audio_buffer_commit_empty"


@pytest.mark.parametrize(
    ("session", "code", "param"),
    [
        ({"colour": "blue"}, "unknown_parameter", "session.colour"),
        ({"instructions": 7}, "invalid_type", "session.instructions"),
        ({"output_modalities": ["video"]}, "invalid_value", "session.output_modalities[0]"),
        ({"audio": {"output": {"voice": "robot"}}}, "invalid_value", "session.audio.output.voice"),
        (
            {"audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 2.5}}}},
            "decimal_above_maximum_value",
            "session.audio.input.turn_detection.threshold",
        ),
        (
            {"audio": {"input": {"turn_detection": {"type": "magic"}}}},
            "invalid_value",
            "session.audio.input.turn_detection.type",
        ),
        (
            {"audio": {"input": {"turn_detection": {"threshold": 0.2}}}},
            "missing_required_parameter",
            "session.audio.input.turn_detection.type",
        ),
        ({"max_output_tokens": 0}, "integer_below_minimum_value", "session.max_output_tokens"),
        (
            {"audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}},
            "invalid_value",
            "session.audio.input.format.rate",
        ),
        ({"tools": [{"type": "function"}]}, "missing_required_parameter", "session.tools[0].name"),
    ],
)
async def test_bad_session_update(
    connect: Any, session: dict[str, Any], code: str, param: str
) -> None:
    client: Client = await connect()
    err = await error_for(
        client, {"type": "session.update", "session": {"type": "realtime", **session}}
    )
    assert (err["code"], err["param"]) == (code, param), err
    # the session is unchanged
    await client.send({"type": "session.update", "session": {"type": "realtime"}})
    updated = (await client.until("session.updated"))["session"]
    assert updated == client.events[0]["session"]


async def test_voice_cannot_change_after_audio(connect: Any) -> None:
    client: Client = await connect(audio={"output": {"voice": "marin"}})
    await client.send({"type": "response.create"})
    await client.until("response.done")
    err = await error_for(
        client,
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"output": {"voice": "ash"}}},
        },
    )
    assert err["code"] == "cannot_update_voice"
    # other fields may still change, keeping the voice
    await client.send(
        {"type": "session.update", "session": {"type": "realtime", "instructions": "Shorter."}}
    )
    updated = (await client.until("session.updated"))["session"]
    assert updated["audio"]["output"]["voice"] == "marin"


async def test_second_response_while_one_is_active(connect: Any, server: LocalServer) -> None:
    gate = hold_replies(server)
    client: Client = await connect()
    await client.ask("tell me something long")
    created = await client.until("response.created")
    err = await error_for(client, {"type": "response.create", "event_id": "r2"})
    assert err["code"] == "conversation_already_has_active_response"
    assert created["response"]["id"] in err["message"]
    assert err["event_id"] == "r2"
    gate.grant(8)
    done = await client.until("response.done")
    assert done["response"]["status"] == "completed"


async def test_cancel_without_active_response(connect: Any) -> None:
    client: Client = await connect()
    err = await error_for(client, {"type": "response.cancel"})
    assert err["code"] == "response_cancel_not_active"


@pytest.mark.parametrize(
    ("item", "param"),
    [
        ({"type": "message", "role": "user"}, "item.content"),
        ({"type": "message", "role": "robot", "content": []}, "item.role"),
        (
            {"type": "message", "role": "user", "content": [{"type": "output_text", "text": "x"}]},
            "item.content[0].type",
        ),
        ({"type": "function_call_output", "output": "{}"}, "item.call_id"),
        ({"type": "telepathy"}, "item.type"),
        ("not an object", "item"),
    ],
)
async def test_bad_item_create(connect: Any, item: Any, param: str) -> None:
    client: Client = await connect()
    err = await error_for(client, {"type": "conversation.item.create", "item": item})
    assert err["param"] == param, err


async def test_unknown_items(connect: Any) -> None:
    client: Client = await connect()
    for kind in ("conversation.item.delete", "conversation.item.retrieve"):
        err = await error_for(client, {"type": kind, "item_id": "item_nope"})
        assert err["code"] == "item_not_found"
    err = await error_for(
        client,
        {
            "type": "conversation.item.truncate",
            "item_id": "item_nope",
            "content_index": 0,
            "audio_end_ms": 10,
        },
    )
    assert err["code"] == "item_not_found"
    err = await error_for(
        client,
        {
            "type": "conversation.item.create",
            "previous_item_id": "item_nope",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "x"}],
            },
        },
    )
    assert err["param"] == "previous_item_id"


async def test_function_output_for_an_unknown_call(connect: Any) -> None:
    client: Client = await connect()
    err = await error_for(
        client,
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": "call_ghost", "output": "{}"},
        },
    )
    assert err["code"] == "invalid_tool_call_id"
    assert "call_ghost" in err["message"]
