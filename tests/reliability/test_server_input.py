"""Oversized and malformed client input to the local server gets OpenAI-shaped errors,
and the server keeps serving its other sessions (a real engine conversation runs in a
second session meanwhile)."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest
from core.engine_support import API_KEY, MODEL, engine_factory, tone_components
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai import AsyncOpenAI
from openai.types.realtime import RealtimeErrorEvent, RealtimeServerEvent
from pydantic import TypeAdapter
from websockets.exceptions import ConnectionClosed

from voice_tui.core.conversation import Role
from voice_tui.core.events import TurnCompleted
from voice_tui.server.app import LocalServer, start_server

from .event_streams import JSON
from .support import FAST
from .test_bad_input import engine_settings

SERVER_EVENT: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)
CLIENT_TYPES = [
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.truncate",
    "conversation.item.delete",
    "conversation.item.retrieve",
    "response.create",
    "response.cancel",
]


class RawClient:
    """A real SDK connection that sends raw text and validates every server event."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.errors: list[dict[str, Any]] = []

    async def send(self, raw: str) -> None:
        await self.conn.send_raw(raw)

    async def until(self, kind: str) -> dict[str, Any]:
        while True:
            raw = await asyncio.wait_for(self.conn.recv_bytes(), 20)
            SERVER_EVENT.validate_json(raw)  # shaped like OpenAI's, or this raises
            event: dict[str, Any] = json.loads(raw)
            if event["type"] == "error":
                RealtimeErrorEvent.model_validate(event)
                self.errors.append(event)
            if event["type"] == kind:
                return event

    async def sync(self) -> None:
        """Everything sent so far has been handled: a clear is answered in order."""
        await self.send('{"type":"input_audio_buffer.clear"}')
        await self.until("input_audio_buffer.cleared")


async def open_raw(server: LocalServer) -> RawClient:
    sdk = AsyncOpenAI(api_key=API_KEY, base_url=server.base_url)
    conn = await sdk.realtime.connect(
        model=MODEL, websocket_connection_options={"max_size": None}
    ).enter()
    client = RawClient(conn)
    await client.until("session.created")
    return client


async def engine_conversation(settings_: Any, text: str) -> str:
    async with engine_factory(settings_, default_policy=FAST) as make_engine:
        engine, rec = await make_engine()
        await engine.send_text(text)
        done = await rec.wait_for(
            TurnCompleted, lambda e: e.turn.role is Role.ASSISTANT, within_s=20
        )
        return done.turn.text


BAD_INPUTS: list[tuple[str, str]] = [
    ("not json", "invalid_json"),
    ('{"type": 5}', "missing_required_parameter"),
    ('{"type": "input_audio_buffer.append", "audio": "%%% not base64"}', ""),
    ('{"type": "input_audio_buffer.append", "audio": 123}', "invalid_type"),
    ('{"type": "input_audio_buffer.append"}', "invalid_type"),
    ('{"type": "conversation.item.create", "item": "nope"}', ""),
    ('{"type": "conversation.item.create", "item": {"type": "message"}}', ""),
    ('{"type": "response.create", "response": {"output_modalities": "audio"}}', ""),
    ('{"type": "session.update", "session": {"instructions": 7}}', ""),
    ('{"type": "conversation.item.truncate", "item_id": "nope", "audio_end_ms": -1}', ""),
    ('{"type": "no.such.event"}', "invalid_value"),
]


@pytest.fixture
async def server() -> Any:
    srv = await start_server(components=tone_components(), api_key=API_KEY, models=[MODEL])
    try:
        yield srv
    finally:
        await srv.close()


@pytest.mark.invalid_client_events  # bad input on purpose
async def test_bad_input_gets_errors_and_the_other_session_goes_on(
    server: LocalServer, tmp_path: Path
) -> None:
    bad = await open_raw(server)

    async def misbehave() -> None:
        for raw, _ in BAD_INPUTS:
            await bad.send(raw)
        huge = base64.b64encode(bytes(16 << 20)).decode()  # over the 15 MiB append limit
        await bad.send('{"type":"input_audio_buffer.append","event_id":"big","audio":"' + huge)
        await bad.send('"}')  # (the first frame was not even JSON; now a whole one:)
        await bad.send(
            '{"type":"input_audio_buffer.append","event_id":"big","audio":"' + huge + '"}'
        )
        await bad.sync()

    answer, _ = await asyncio.gather(
        engine_conversation(engine_settings(server.base_url, tmp_path), "hello there"),
        misbehave(),
    )
    assert answer == "You said: hello there."
    assert len(bad.errors) == len(BAD_INPUTS) + 3
    for error, (_, code) in zip(bad.errors, BAD_INPUTS, strict=False):
        assert error["error"]["message"]
        if code:
            assert error["error"]["code"] == code
    assert bad.errors[-1]["error"]["event_id"] == "big"
    # The misbehaving session itself still serves.
    await bad.send(
        '{"type":"conversation.item.create","item":{"type":"message","role":"user",'
        '"content":[{"type":"input_text","text":"hello there"}]}}'
    )
    await bad.send('{"type":"response.create"}')
    done = await bad.until("response.done")
    assert done["response"]["status"] == "completed"
    await bad.conn.close()


async def test_a_frame_over_the_size_limit_closes_only_that_session(
    server: LocalServer, tmp_path: Path
) -> None:
    bad = await open_raw(server)
    await bad.send('{"type":"input_audio_buffer.append","audio":"' + "A" * (33 << 20) + '"}')
    with pytest.raises(ConnectionClosed) as closed:
        await bad.until("never")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # message too big
    answer = await engine_conversation(engine_settings(server.base_url, tmp_path), "hello there")
    assert answer == "You said: hello there."


CLIENT_EVENTS = st.fixed_dictionaries(
    {"type": st.sampled_from(CLIENT_TYPES) | st.text(max_size=8)},
    optional={
        "event_id": JSON,
        "audio": JSON,
        "item": JSON,
        "item_id": JSON,
        "session": JSON,
        "response": JSON,
        "content_index": JSON,
        "audio_end_ms": JSON,
        "previous_item_id": JSON,
    },
).map(lambda e: json.dumps(e, allow_nan=True))


@pytest.mark.invalid_client_events  # generated junk on purpose
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(events=st.lists(CLIENT_EVENTS | st.text(max_size=30), min_size=1, max_size=25))
def test_generated_client_events_never_stop_the_server(events: list[str], tmp_path: Path) -> None:
    async def scenario() -> None:
        srv = await start_server(components=tone_components(), api_key=API_KEY, models=[MODEL])
        try:
            bad = await open_raw(srv)

            async def misbehave() -> None:
                for raw in events:
                    await bad.send(raw)
                await bad.sync()  # ...and it still answers, every event validated

            answer, _ = await asyncio.gather(
                engine_conversation(engine_settings(srv.base_url, tmp_path), "hello there"),
                misbehave(),
            )
            assert answer == "You said: hello there."
            await bad.conn.close()
        finally:
            await srv.close()

    asyncio.run(scenario())
