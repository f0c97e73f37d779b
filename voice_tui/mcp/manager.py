"""The local MCP servers of a session: their connections, and their tools in the registry.

Each server's tools form one registry group named after the server: offered (with
API-safe names) while it is connected, withdrawn while it is down, so the session's
tool list follows the servers. A call checks the user's approval where the server
requires it, runs with the server's timeout, and turns whatever happens (a result, an
error result, a crash, a timeout) into something the model can read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import mcp_types as types

from voice_tui.config.schema import McpServerSettings
from voice_tui.core.approval import ApprovalGate, ApprovalRequest, needs_approval
from voice_tui.core.tools import (
    JsonObject,
    Tool,
    ToolContext,
    ToolError,
    ToolRegistry,
    ToolReply,
)
from voice_tui.core.tools.registry import schema_validator
from voice_tui.mcp.results import tool_reply
from voice_tui.mcp_client.connection import (
    Backoff,
    ConnectionBroken,
    McpConnection,
    ServerState,
    ServerStatus,
    ServerUnavailable,
)
from voice_tui.mcp_client.names import public_name

log = logging.getLogger(__name__)

StatusListener = Callable[[ServerStatus], None]

# The schema of a tool that declares none (the API wants an object schema).
_EMPTY_SCHEMA: JsonObject = {"type": "object", "properties": {}}


class McpManager:
    def __init__(
        self,
        servers: Iterable[McpServerSettings],
        registry: ToolRegistry,
        gate: ApprovalGate,
        env: Mapping[str, str],
        *,
        backoff: Backoff | None = None,
    ) -> None:
        self.registry = registry
        self.gate = gate
        self._listeners: list[StatusListener] = []
        self.connections: dict[str, McpConnection] = {
            s.name: McpConnection(s, env, self._on_status, backoff=backoff)
            for s in servers
            if not s.remote
        }

    def subscribe(self, listener: StatusListener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def start(self) -> None:
        """Connect every server in the background; the app is usable meanwhile."""
        for connection in self.connections.values():
            connection.start()

    async def aclose(self) -> None:
        for connection in self.connections.values():
            await connection.close()

    def statuses(self) -> list[ServerStatus]:
        return [c.status for c in self.connections.values()]

    def _on_status(self, connection: McpConnection) -> None:
        status = connection.status
        if status.state is ServerState.READY:
            self._offer(connection)
        else:
            reason = (
                f"the MCP server {connection.name!r} is down ({status.detail}); it is restarting"
                if status.state is ServerState.FAILED
                else f"the MCP server {connection.name!r} is {status.state.value}"
            )
            self.registry.set_group(connection.name, [], gone_reason=reason)
        for listener in tuple(self._listeners):
            try:
                listener(status)
            except Exception:
                log.exception("MCP status listener failed")

    def _offer(self, connection: McpConnection) -> None:
        taken = {n for n in self.registry.names() if n not in self._group_names(connection)}
        tools: list[Tool] = []
        for mcp_tool in connection.tools:
            name = public_name(connection.name, mcp_tool.name, taken)
            tool = self._tool(connection, mcp_tool, name)
            try:  # a schema the validator cannot use: leave that one tool out
                schema_validator(tool)
            except Exception as exc:
                log.warning("MCP tool %s/%s left out: %s", connection.name, mcp_tool.name, exc)
                continue
            taken.add(name)
            tools.append(tool)
        self.registry.set_group(connection.name, tools)

    def _group_names(self, connection: McpConnection) -> set[str]:
        return {t.name for t in self.registry.group_tools(connection.name)}

    def _tool(self, connection: McpConnection, mcp_tool: types.Tool, name: str) -> Tool:
        settings = connection.settings
        schema = dict(mcp_tool.input_schema or _EMPTY_SCHEMA)
        schema.setdefault("type", "object")
        description = mcp_tool.description or mcp_tool.title or mcp_tool.name
        server_tool = mcp_tool.name

        async def handler(arguments: JsonObject, _: ToolContext) -> JsonObject | ToolReply:
            return await self._call(connection, server_tool, arguments)

        gate = None
        if needs_approval(settings.require_approval, server_tool):

            async def gate(_: JsonObject, arguments_json: str) -> None:
                request = ApprovalRequest(settings.name, server_tool, arguments_json or "{}")
                if not await self.gate.approve(request):
                    raise ToolError(
                        f"The user declined this call of {server_tool} "
                        f"(MCP server {settings.name!r}); do not retry unless they ask."
                    )

        return Tool(
            name=name,
            description=f"[{settings.name}] {description}",
            parameters=schema,
            handler=handler,
            # The server's own limit; a little more so its timeout error wins the race.
            timeout_s=settings.timeout_s + 1.0,
            gate=gate,
            group=settings.name,
        )

    async def _call(
        self, connection: McpConnection, tool: str, arguments: dict[str, Any]
    ) -> JsonObject | ToolReply:
        timeout_s = connection.settings.timeout_s
        try:
            result = await connection.call(tool, arguments, timeout_s)
        except (ServerUnavailable, ConnectionBroken) as exc:
            raise ToolError(str(exc)) from None
        except TimeoutError:
            raise ToolError(
                f"{tool} (MCP server {connection.name!r}) did not answer within {timeout_s:g} s"
            ) from None
        except Exception as exc:  # an MCP protocol error (e.g. invalid params)
            message = getattr(getattr(exc, "error", None), "message", None) or str(exc)
            raise ToolError(f"{tool} (MCP server {connection.name!r}) failed: {message}") from None
        return tool_reply(result)
