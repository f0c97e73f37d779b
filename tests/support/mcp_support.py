"""Running the demo MCP server for tests: over stdio (a subprocess) or over streamable
HTTP (uvicorn on 127.0.0.1, in the test's loop), and settings that point at it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn

from voice_tui.config.schema import McpServerSettings

DEMO_SERVER = Path(__file__).with_name("mcp_demo_server.py")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def stdio_settings(name: str = "demo", **changes: Any) -> McpServerSettings:
    values: dict[str, Any] = {
        "name": name,
        "command": sys.executable,
        "args": [str(DEMO_SERVER)],
        "require_approval": "never",
        **changes,
    }
    return McpServerSettings(**values)


def time_server_settings(name: str = "time", **changes: Any) -> McpServerSettings:
    """The published reference "time" server (mcp-server-time from the package index)."""
    values: dict[str, Any] = {
        "name": name,
        "command": sys.executable,
        "args": ["-m", "mcp_server_time", "--local-timezone", "Europe/Paris"],
        "require_approval": "never",
        **changes,
    }
    return McpServerSettings(**values)


def _require_token(app: Any, token: str | None) -> Any:
    """The app behind a bearer-token check, as a real deployment would put it."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and token is not None:
            headers = dict(scope.get("headers") or [])
            if headers.get(b"authorization") != f"Bearer {token}".encode():
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b"unauthorized"})
                return
        await app(scope, receive, send)

    return guarded


@asynccontextmanager
async def http_demo_server(token: str | None = None) -> AsyncIterator[str]:
    """The demo server over streamable HTTP; yields its URL."""
    from tests.support import mcp_demo_server  # run here rather than as a script

    config = uvicorn.Config(
        _require_token(mcp_demo_server.http_app(), token),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        await task
