"""Fixtures: a local server with the deterministic test components, SDK connections."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from openai import AsyncOpenAI

from tests.support.server import API_KEY, Client, make_components
from voice_tui.server.app import LocalServer, start_server


@pytest.fixture
async def server() -> AsyncIterator[LocalServer]:
    srv = await start_server(components=make_components())
    try:
        yield srv
    finally:
        await srv.close()


@pytest.fixture
async def secured_server() -> AsyncIterator[LocalServer]:
    srv = await start_server(
        components=make_components(), api_key=API_KEY, models={"gpt-realtime", "my-deployment"}
    )
    try:
        yield srv
    finally:
        await srv.close()


@pytest.fixture
async def connect(server: LocalServer) -> AsyncIterator[Any]:
    """connect(**session) -> Client with session.created consumed and the session set."""
    opened: list[Any] = []

    async def _connect(**session: Any) -> Client:
        client = AsyncOpenAI(api_key="unused", base_url=server.base_url)
        manager = client.realtime.connect(model="gpt-realtime")
        conn = await manager.enter()
        opened.append(conn)
        c = Client(conn)
        created = await c.recv()
        assert created["type"] == "session.created"
        if session:
            await c.send({"type": "session.update", "session": {"type": "realtime", **session}})
            await c.until("session.updated")
        return c

    yield _connect
    for conn in opened:
        await conn.close()
