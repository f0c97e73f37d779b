"""Injected faults (for the reliability work) and isolation between sessions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from openai import AsyncOpenAI
from openai.types.websocket_reconnection import ReconnectingEvent
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support.server import Client, b64
from voice_tui.server.app import LocalServer
from voice_tui.server.faults import MAX_DURATION_REASON


async def open_client(server: LocalServer, **kw: Any) -> tuple[Client, Any]:
    sdk = AsyncOpenAI(api_key="x", base_url=server.base_url)
    manager = sdk.realtime.connect(model="gpt-realtime", **kw)
    conn = await manager.enter()
    client = Client(conn)
    await client.until("session.created")
    return client, conn


async def test_close_mid_response_then_accept_the_reconnect(server: LocalServer) -> None:
    server.faults.close_after_audio_deltas = 2
    client, _conn = await open_client(server)
    await client.ask()
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await client.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    assert len(client.of("response.output_audio.delta")) == 2
    assert not client.of("response.done")
    # the fault fired once: the next session answers in full
    client2, conn2 = await open_client(server)
    await client2.ask()
    assert (await client2.until("response.done"))["response"]["status"] == "completed"
    await conn2.close()


async def test_sdk_reconnects_after_an_abnormal_close(server: LocalServer) -> None:
    """The SDK's own retry (only via `async for` on the connection) reaches a new session."""
    attempts: list[ReconnectingEvent] = []
    server.faults.close_after_audio_deltas = 1
    client, conn = await open_client(
        server, on_reconnecting=lambda event: attempts.append(event), initial_delay=0.01
    )
    await client.ask()
    sessions = []
    async with asyncio.timeout(10):
        async for event in conn:
            if event.type == "session.created":
                sessions.append(event.session)
                break
    assert [a.close_code for a in attempts] == [1011]
    assert server.connections_accepted == 2
    await conn.close()


async def test_stall_goes_silent_but_cleans_up(server: LocalServer) -> None:
    server.faults.stall_after_audio_deltas = 1
    client, conn = await open_client(server)
    await client.ask()
    await client.until("response.output_audio.delta")
    with pytest.raises(TimeoutError):
        await client.recv(wait_s=0.5)
    assert len(server.sessions) == 1
    await conn.close()
    for _ in range(100):  # the server notices the close and ends the session
        if not server.sessions:
            break
        await asyncio.sleep(0.02)
    assert not server.sessions


async def test_refuse_connections_then_accept(server: LocalServer) -> None:
    server.faults.refuse_connections = 2
    for _ in range(2):
        with pytest.raises(InvalidStatus) as exc:
            await open_client(server)
        assert exc.value.response.status_code == 503
    _client, conn = await open_client(server)
    await conn.close()


async def test_refuse_for_a_while(server: LocalServer) -> None:
    server.faults.refuse_for(60)
    with pytest.raises(InvalidStatus):
        await open_client(server)
    server.faults.refuse_until = 0.0
    _client, conn = await open_client(server)
    await conn.close()


async def test_session_time_limit_closes_with_1001(server: LocalServer) -> None:
    server.faults.session_max_s = 0.2
    client, _conn = await open_client(server)
    with pytest.raises(ConnectionClosed) as closed:
        await client.recv(wait_s=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001
    assert closed.value.rcvd.reason == MAX_DURATION_REASON
    assert "maximum duration" in closed.value.rcvd.reason


async def test_a_bad_session_does_not_disturb_another(server: LocalServer) -> None:
    good, good_conn = await open_client(server)
    bad, bad_conn = await open_client(server)
    for junk in ("{", '{"type": 5}', '{"type": "input_audio_buffer.append", "audio": "%%%"}'):
        await bad.connection.send_raw(junk)
    await bad.connection.send_raw(
        '{"type": "input_audio_buffer.append", "audio": "' + b64(bytes(16 << 20)) + '"}'
    )
    await good.ask()
    assert (await good.until("response.done"))["response"]["status"] == "completed"
    errors = [await bad.until("error") for _ in range(4)]
    assert len(errors) == 4
    await bad.ask()
    assert (await bad.until("response.done"))["response"]["status"] == "completed"
    await good_conn.close()
    await bad_conn.close()


@pytest.mark.parametrize("failure", ["rate_limit_exceeded", "insufficient_quota"])
async def test_injected_response_failure(server: LocalServer, failure: Any) -> None:
    server.faults.fail_responses = 1
    server.faults.failure = failure
    client, conn = await open_client(server)
    await client.ask()
    done = (await client.until("response.done"))["response"]
    assert done["status"] == "failed"
    assert done["status_details"]["error"]["code"] == failure
    assert done["output"] == []
    await client.ask("again")
    assert (await client.until("response.done"))["response"]["status"] == "completed"
    await conn.close()
