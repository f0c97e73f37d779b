"""Tools of `type: "mcp"`: the built-in server calls remote MCP servers itself, as the
Realtime service does, with the official `mcp` SDK over streamable HTTP.

When a session names a server, its tools are listed into an `mcp_list_tools` item
(`mcp_list_tools.in_progress` → `.completed` or `.failed`). The responder sees each
allowed tool as a function; when it calls one, the response emits an `mcp_call` item
(or, when the server requires approval, an `mcp_approval_request` item and ends; the
client's `mcp_approval_response` decides, and the next response makes the call).
Connectors (`connector_id`) are the service's own: here they fail to list, saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types

from voice_tui.mcp_client.connection import describe_failure, http_session, list_tools_at
from voice_tui.mcp_client.content import content_block
from voice_tui.mcp_client.names import public_name
from voice_tui.server.config import McpTool
from voice_tui.server.items import Conversation, Item
from voice_tui.server.wire import new_id

log = logging.getLogger(__name__)

Emit = Callable[[dict[str, Any]], Awaitable[None]]

LIST_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 60.0


def function_name(label: str, tool: str) -> str:
    """The name a responder calls a remote tool by (items.py names it so in the history)."""
    return public_name(label, tool, ())


@dataclass
class _Server:
    config: McpTool
    item: Item
    tools: list[types.Tool] = field(default_factory=list)
    ready: bool = False


@dataclass(frozen=True, slots=True)
class McpCallResult:
    output: str | None
    error: dict[str, Any] | None


class RemoteMcp:
    """The remote MCP servers of one session."""

    def __init__(self, conversation: Conversation, emit: Emit) -> None:
        self._conversation = conversation
        self._emit = emit
        self._servers: dict[str, _Server] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def sync(self, tools: list[McpTool]) -> None:
        """Follow the session's mcp tools: list the tools of servers new or changed."""
        wanted = {t.server_label: t for t in tools}
        for label in [k for k in self._servers if k not in wanted]:
            del self._servers[label]
        for label, config in wanted.items():
            known = self._servers.get(label)
            if known is not None and known.config == config:
                continue
            item = Item(new_id("item"), "mcp_list_tools", server_label=label)
            self._servers[label] = _Server(config, item)
            previous = self._conversation.add(item)
            await self._emit(
                {
                    "type": "conversation.item.added",
                    "previous_item_id": previous,
                    "item": item.to_wire(),
                }
            )
            await self._emit({"type": "mcp_list_tools.in_progress", "item_id": item.id})
            task = asyncio.create_task(self._list(self._servers[label]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _list(self, server: _Server) -> None:
        config = server.config
        try:
            if config.server_url is None:
                raise LookupError(
                    f"the built-in server cannot reach {config.connector_id or config.tunnel_id}: "
                    "connectors are the OpenAI service's own"
                )
            async with asyncio.timeout(LIST_TIMEOUT_S):
                tools = await list_tools_at(config.server_url, _headers(config))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = str(exc) if isinstance(exc, LookupError) else describe_failure(exc)
            log.info("mcp_list_tools for %s failed: %s", config.server_label, reason)
            await self._emit({"type": "conversation.item.done", "item": server.item.to_wire()})
            await self._emit({"type": "mcp_list_tools.failed", "item_id": server.item.id})
            return
        server.tools = [t for t in tools if config.allows(t.name)]
        server.ready = True
        server.item.mcp_tools = [
            {
                "name": t.name,
                "description": t.description,
                "input_schema": t.input_schema,
                "annotations": t.annotations.model_dump(exclude_none=True)
                if t.annotations
                else None,
            }
            for t in server.tools
        ]
        await self._emit({"type": "conversation.item.done", "item": server.item.to_wire()})
        await self._emit({"type": "mcp_list_tools.completed", "item_id": server.item.id})

    # ---- what the responder sees and calls ---------------------------------------------

    def function_tools(self) -> tuple[dict[str, Any], ...]:
        """Each listed tool as a function the responder may call."""
        return tuple(
            {
                "type": "function",
                "name": function_name(label, tool.name),
                "description": f"[{label}] {tool.description or tool.name}",
                "parameters": tool.input_schema or {"type": "object", "properties": {}},
            }
            for label, server in self._servers.items()
            if server.ready
            for tool in server.tools
        )

    def find(self, name: str) -> tuple[str, str] | None:
        """(server label, tool) for a function name from `function_tools`."""
        for label, server in self._servers.items():
            for tool in server.tools:
                if function_name(label, tool.name) == name:
                    return label, tool.name
        return None

    def needs_approval(self, label: str, tool: str) -> bool:
        server = self._servers.get(label)
        return server is None or server.config.needs_approval(tool)

    async def call(self, label: str, tool: str, arguments: str) -> McpCallResult:
        server = self._servers.get(label)
        if server is None or server.config.server_url is None:
            return McpCallResult(None, _error("mcp_protocol_error", f"no MCP server {label!r}"))
        try:
            parsed = json.loads(arguments or "{}")
            if not isinstance(parsed, dict):
                raise ValueError("the arguments must be a JSON object")
        except ValueError as exc:
            return McpCallResult(None, _error("mcp_tool_execution_error", f"bad arguments: {exc}"))
        try:
            async with (
                asyncio.timeout(CALL_TIMEOUT_S),
                http_session(server.config.server_url, _headers(server.config)) as session,
            ):
                result = await session.call_tool(tool, parsed)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return McpCallResult(None, _error("http_error", describe_failure(exc)))
        texts = [
            b if isinstance(b, str) else json.dumps(b) for b in map(content_block, result.content)
        ]
        text = "\n".join(texts)
        if result.is_error:
            return McpCallResult(
                None, _error("mcp_tool_execution_error", text or "the tool failed")
            )
        if result.structured_content is not None and not text:
            text = json.dumps(result.structured_content)
        return McpCallResult(text, None)


def _headers(config: McpTool) -> dict[str, str]:
    headers = dict(config.headers or {})
    if config.authorization:
        headers["Authorization"] = f"Bearer {config.authorization}"
    return headers


def _error(kind: str, message: str) -> dict[str, Any]:
    if kind == "http_error":
        return {"type": "http_error", "code": 502, "message": message}
    if kind == "mcp_protocol_error":
        return {"type": "protocol_error", "code": -32600, "message": message}
    return {"type": "tool_execution_error", "message": message}
