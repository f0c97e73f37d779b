"""`voice-tui mcp`: connect to each configured MCP server and print its tools or its
error, the way to check a config before talking."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from typing import TextIO

from voice_tui.config.loader import LoadedSettings
from voice_tui.config.schema import McpServerSettings, Settings
from voice_tui.core.approval import needs_approval
from voice_tui.mcp_client.connection import Backoff, McpConnection, ServerState

CHECK_TIMEOUT_S = 40.0
DESCRIPTION_CHARS = 70


def mcp_command(loaded: LoadedSettings, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    servers = loaded.settings.mcp_servers
    if not servers:
        print(
            f"No MCP servers are configured in {loaded.path}.\n"
            "Add an [[mcp_servers]] table (the README shows how).",
            file=out,
        )
        return 0
    reports = asyncio.run(check_all(servers, os.environ))
    for server, lines in zip(servers, reports, strict=True):
        print(f"{server.name}  ({_where(server)})", file=out)
        print(f"  used by: {_users(loaded.settings, server.name)}", file=out)
        for line in lines[1]:
            print(f"  {line}", file=out)
        print(file=out)
    return 0 if all(ok for ok, _ in reports) else 1


async def check_all(
    servers: list[McpServerSettings], env: Mapping[str, str]
) -> list[tuple[bool, list[str]]]:
    return list(await asyncio.gather(*(check_server(s, env) for s in servers)))


async def check_server(server: McpServerSettings, env: Mapping[str, str]) -> tuple[bool, list[str]]:
    """Connect once (no retry) and describe the tools, or say why it failed."""
    if server.remote and server.url is None:
        return True, [
            f"connector {server.connector_id}: the Realtime service connects to it; "
            "it cannot be checked from here"
        ]
    probe = server
    if server.remote:  # check the same URL and credentials the service will use
        headers = dict(server.headers)
        if server.authorization:
            headers["Authorization"] = f"Bearer {server.authorization}"
        probe = server.model_copy(
            update={"remote": False, "authorization": None, "headers": headers}
        )
    connection = McpConnection(probe, env, backoff=Backoff(first_s=3600))
    connection.start()
    try:
        status = await asyncio.wait_for(connection.wait_settled(), CHECK_TIMEOUT_S)
    except TimeoutError:
        return False, [f"error: no answer within {CHECK_TIMEOUT_S:.0f} s"]
    finally:
        tools = list(connection.tools)
        await connection.close()
    if status.state is not ServerState.READY:
        return False, [f"error: {status.detail}"]
    lines = [f"ready: {len(tools)} tool(s)" + (" offered" if server.allowed_tools else "")]
    for tool in tools:
        approval = " [asks first]" if needs_approval(server.require_approval, tool.name) else ""
        description = " ".join((tool.description or "").split())
        if len(description) > DESCRIPTION_CHARS:
            description = description[: DESCRIPTION_CHARS - 1] + "…"
        lines.append(f"  {tool.name}{approval}  {description}".rstrip())
    missing = [t for t in server.allowed_tools or [] if t not in {x.name for x in tools}]
    if missing:
        lines.append(f"warning: allowed_tools names tools the server lacks: {', '.join(missing)}")
    return True, lines


def _where(server: McpServerSettings) -> str:
    if server.remote:
        target = server.url or f"connector {server.connector_id}"
        return f"remote, called by the Realtime service: {target}"
    if server.command is not None:
        return "stdio: " + " ".join([server.command, *server.args])
    return f"streamable HTTP: {server.url}"


def _users(settings: Settings, name: str) -> str:
    users = [p.name for p in settings.personas if name in p.mcp]
    return ", ".join(users) if users else "no persona (add it to a persona's mcp list)"
