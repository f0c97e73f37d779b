"""Asking the user before a tool runs: MCP tools that require approval, local or remote.

The gate owns what the user allowed for the rest of the session; whoever can ask (the
TUI's dialog, the headless run's policy flag) plugs in as `ask`. Nothing is allowed
unless someone said yes: the default asker denies.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass


class Decision(enum.Enum):
    ALLOW_ONCE = "allow_once"
    ALLOW_SESSION = "allow_session"  # this tool of this server, until the app exits
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    server: str  # the MCP server's name (its label for remote servers)
    tool: str  # the tool's own name on that server
    arguments: str  # JSON text, shown in full
    remote: bool = False  # the Realtime service calls it, not voice-tui


Asker = Callable[[ApprovalRequest], Awaitable[Decision]]


async def deny_all(_: ApprovalRequest) -> Decision:
    return Decision.DENY


async def allow_all(_: ApprovalRequest) -> Decision:
    return Decision.ALLOW_ONCE


def needs_approval(policy: str | Sequence[str], tool: str) -> bool:
    """`require_approval` of a server: "always", "never", or the tools that need it."""
    if isinstance(policy, str):
        return policy != "never"
    return tool in policy


class ApprovalGate:
    def __init__(self, ask: Asker = deny_all) -> None:
        self.ask = ask
        self._allowed: set[tuple[str, str]] = set()

    def allowed_for_session(self, server: str, tool: str) -> bool:
        return (server, tool) in self._allowed

    async def approve(self, request: ApprovalRequest) -> bool:
        """True when the call may run; asks unless allowed for the session already."""
        if self.allowed_for_session(request.server, request.tool):
            return True
        decision = await self.ask(request)
        if decision is Decision.ALLOW_SESSION:
            self._allowed.add((request.server, request.tool))
        return decision is not Decision.DENY


def describe_arguments(arguments_json: str) -> str:
    """Arguments as indented JSON for the approval dialog (the text itself if not JSON)."""
    try:
        return json.dumps(json.loads(arguments_json or "{}"), indent=2, ensure_ascii=False)
    except ValueError:
        return arguments_json
