"""What the service does with remote MCP servers, seen as application events.

The Realtime service lists a remote server's tools (`mcp_list_tools.*`), calls them
(`mcp_call` items with `response.mcp_call*` events) and, where the server requires
it, asks first (an `mcp_approval_request` item). This collaborator turns those into
tool-log events and notices, and answers approval requests through the same gate as
local tools; the engine routes the events here and sends what it is asked to send.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from voice_tui.core import protocol as p
from voice_tui.core.approval import ApprovalGate, ApprovalRequest
from voice_tui.core.conversation import ToolCallRecord
from voice_tui.core.events import AppEvent, ErrorRaised, Notice, ToolCallFinished, ToolCallStarted

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], None]


@dataclass(slots=True)
class _Call:
    item_id: str
    response_id: str
    server: str
    name: str
    arguments: str = ""
    started: float = 0.0
    announced: bool = False

    def took(self, arguments: str, response_id: str = "") -> None:
        self.arguments = arguments
        self.response_id = response_id or self.response_id

    def first_announcement(self) -> bool:
        """True the first time only: a call is announced once."""
        first, self.announced = not self.announced, True
        return first


class RemoteMcpEvents:
    def __init__(
        self,
        emit: Callable[[AppEvent], None],
        gate: ApprovalGate,
        answer: Callable[[str, bool], None],
        record: Callable[[str, ToolCallRecord], None],
    ) -> None:
        """`answer(approval_request_id, approve)` sends the user's decision and asks for
        the next response; `record(response_id, record)` keeps a finished call with the
        turn it belongs to."""
        self._emit = emit
        self._gate = gate
        self._answer = answer
        self._record = record
        self._listings: dict[str, str] = {}  # mcp_list_tools item id -> server label
        self._calls: dict[str, _Call] = {}
        self._asking: set[asyncio.Task[None]] = set()
        self.answered: set[str] = set()  # approval requests already answered

    def handlers(self) -> dict[str, Handler]:
        # MCP items are followed as conversation items: their output-item events belong
        # to the collaborators of messages and function calls.
        return {
            "conversation.item.added": lambda e: self.on_item(p.obj(e, "item"), done=False),
            "conversation.item.done": lambda e: self.on_item(p.obj(e, "item"), done=True),
            "mcp_list_tools.completed": self._on_listed,
            "mcp_list_tools.failed": self._on_list_failed,
            "response.mcp_call_arguments.done": self._on_arguments,
            "response.mcp_call.failed": self._on_call_failed,
        }

    def close(self) -> None:
        for task in self._asking:
            task.cancel()

    # ---- items

    def on_item(self, item: dict[str, Any], *, done: bool) -> None:
        kind = p.str_field(item, "type")
        item_id = p.str_field(item, "id")
        if kind == "mcp_list_tools":
            self._listings[item_id] = p.str_field(item, "server_label")
        elif kind == "mcp_call":
            call = self._calls.get(item_id)
            if call is None:
                call = _Call(
                    item_id,
                    "",
                    p.str_field(item, "server_label"),
                    p.str_field(item, "name"),
                    started=time.monotonic(),
                )
                self._calls[item_id] = call
            if done:
                call.took(p.str_field(item, "arguments", call.arguments))
                self._finish(call, item)
        elif kind == "mcp_approval_request" and done and item_id not in self.answered:
            self.answered.add(item_id)
            request = ApprovalRequest(
                p.str_field(item, "server_label"),
                p.str_field(item, "name"),
                p.str_field(item, "arguments", "{}"),
                remote=True,
            )
            task = asyncio.ensure_future(self._ask(item_id, request))
            self._asking.add(task)
            task.add_done_callback(self._asking.discard)

    # ---- events

    def _on_listed(self, event: dict[str, Any]) -> None:
        label = self._listings.get(p.str_field(event, "item_id"), "")
        self._emit(Notice(f"Remote MCP server {label or '(unnamed)'}: its tools are ready."))

    def _on_list_failed(self, event: dict[str, Any]) -> None:
        label = self._listings.get(p.str_field(event, "item_id"), "(unnamed)")
        self._emit(
            ErrorRaised(
                f"The service could not list the tools of the remote MCP server {label}: "
                "check its url and credentials with `voice-tui mcp`.",
                source="tool",
            )
        )

    def _on_arguments(self, event: dict[str, Any]) -> None:
        call = self._calls.get(p.str_field(event, "item_id"))
        if call is None:
            return
        call.took(p.str_field(event, "arguments", "{}"), p.str_field(event, "response_id"))
        self._announce(call)

    def _on_call_failed(self, event: dict[str, Any]) -> None:
        log.info("remote MCP call %s failed", p.str_field(event, "item_id"))

    def _announce(self, call: _Call) -> None:
        if call.first_announcement():
            self._emit(ToolCallStarted(call.item_id, call.name, call.arguments, call.server))

    def _finish(self, call: _Call, item: dict[str, Any]) -> None:
        self._announce(call)
        self._calls.pop(call.item_id, None)
        error = item.get("error")
        message = None
        if isinstance(error, dict):
            message = p.str_field(error, "message", "the call failed")
        output = p.opt_str(item, "output") or ""
        if message is not None:
            output = json.dumps({"error": message})
        record = ToolCallRecord(
            call.item_id,
            call.name,
            call.arguments,
            output,
            message is None,
            message,
            time.monotonic() - call.started,
            server=call.server,
        )
        self._record(call.response_id, record)
        self._emit(
            ToolCallFinished(
                call.item_id,
                call.name,
                call.arguments,
                output,
                message is None,
                message,
                record.duration_s,
                call.server,
            )
        )

    async def _ask(self, request_id: str, request: ApprovalRequest) -> None:
        try:
            approve = await self._gate.approve(request)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("asking for approval failed")
            approve = False
        self._answer(request_id, approve)
