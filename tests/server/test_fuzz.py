"""Generated client event streams: the server answers each with valid events, blames the
client (never itself) for what is wrong, and keeps serving."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voice_tui.server.app import start_server

from .support import b64, make_components, open_client, voiced

# These tests send what the SDK's types refuse, to see the server refuse it.
pytestmark = pytest.mark.invalid_client_events

EVENT_TYPES = [
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.delete",
    "conversation.item.retrieve",
    "conversation.item.truncate",
    "response.create",
    "response.cancel",
    "output_audio_buffer.clear",
    "session.explode",
]
FIELDS = [
    "session",
    "audio",
    "item",
    "item_id",
    "content_index",
    "audio_end_ms",
    "previous_item_id",
    "response",
    "response_id",
    "event_id",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**9)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["realtime", "message", "user", "input_text", "server_vad", b64(b"\0\1")]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "role",
                    "content",
                    "text",
                    "audio",
                    "voice",
                    "turn_detection",
                    "output_modalities",
                    "instructions",
                    "tools",
                    "input",
                    "output",
                    "call_id",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)

events = st.lists(
    st.builds(
        lambda kind, fields: {"type": kind, **fields},
        st.sampled_from(EVENT_TYPES),
        st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=3),
    ),
    max_size=8,
)


async def scenario(stream: list[dict[str, Any]]) -> None:
    async with (
        await start_server(components=make_components()) as server,
        open_client(server) as client,
    ):
        # some real audio first, so appends, commits and truncates have something to act on
        await client.send({"type": "input_audio_buffer.append", "audio": b64(voiced(200))})
        for event in stream:
            await client.send(event)
        marker = {"type": "conversation.item.retrieve", "item_id": "marker", "event_id": "m"}
        await client.send(marker)
        while True:  # everything before the marker has been handled (each event validated)
            event = await client.recv(wait_s=20)
            if event["type"] == "error" and event["error"]["event_id"] == "m":
                break
        blamed_self = [
            e for e in client.of("error") if e["error"]["type"] != "invalid_request_error"
        ]
        assert not blamed_self, json.dumps(blamed_self)[:500]
        await client.send(
            {"type": "session.update", "session": {"type": "realtime", "instructions": "Hi"}}
        )
        updated = await client.until("session.updated", wait_s=20)
        assert updated["session"]["instructions"] == "Hi"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events)
def test_generated_event_streams(stream: list[dict[str, Any]]) -> None:
    asyncio.run(scenario(stream))
