"""A conversation for the MCP tests: the built-in Realtime server (test tones for
speech, a responder that uses tools the way a model would) reached by the real SDK,
and a real engine whose registry holds real MCP servers' tools."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

from tests.support.engine import Recorder
from tests.support.tones import ToneRecognizer, ToneSynthesizer
from voice_tui.backends.openai import OpenAIBackend
from voice_tui.config.schema import McpServerSettings, Persona, Settings
from voice_tui.core.approval import ApprovalGate
from voice_tui.core.engine import ConversationEngine
from voice_tui.core.tools import build_registry
from voice_tui.mcp import Backoff, McpManager
from voice_tui.server.app import LocalServer, start_server
from voice_tui.server.components import (
    Components,
    FunctionCallPiece,
    Responder,
    ResponderPiece,
    ResponderRequest,
    TextPiece,
)

API_KEY = "sk-test-mcp-0123456789"
MODEL = "gpt-realtime"
HELLO_TONE = 660.0  # the test recogniser hears "hello there"
PHRASES = {HELLO_TONE: "hello there"}


@dataclass
class ToolUser:
    """Uses MCP tools by their suffix, as a model would: "shout X", "crash", "slow N",
    "picture"."""

    name: str = "tool-user"
    requests: list[ResponderRequest] = field(default_factory=list)

    async def respond(self, request: ResponderRequest) -> AsyncIterator[ResponderPiece]:
        self.requests.append(request)
        last = request.history[-1]
        if last.role == "tool":
            yield TextPiece(f"The tool says {last.content}")
            return
        if last.images and not last.content:
            yield TextPiece(f"I see {len(last.images)} image(s).")
            return
        said = last.content
        words = said.split(" ", 1)
        wanted = {
            "shout": "__shout",
            "crash": "__crash",
            "slow": "__slow",
            "picture": "__picture",
        }.get(words[0])
        if wanted is None:
            yield TextPiece(f"You said: {said}.")
            return
        names = [t["name"] for t in request.tools if t["name"].endswith(wanted)]
        if not names:
            yield TextPiece(f"I have no tool for {words[0]}.")
            return
        rest = words[1] if len(words) > 1 else ""
        arguments = (
            {"text": rest} if words[0] == "shout" else {"seconds": float(rest)} if rest else {}
        )
        yield FunctionCallPiece(names[0], json.dumps(arguments), f"call_{len(self.requests)}")


def components(responder: Responder | None = None) -> Components:
    return Components(
        ToneRecognizer("test-tones", PHRASES, min_ms=50, min_peak=500),
        ToneSynthesizer("test-tone-voice", 5),
        responder or ToolUser(),
    )


@contextlib.asynccontextmanager
async def realtime_server(responder: Responder | None = None) -> AsyncIterator[LocalServer]:
    server = await start_server(components=components(responder), api_key=API_KEY, models=[MODEL])
    try:
        yield server
    finally:
        await server.close()


def settings_for(
    server: LocalServer, servers: Iterable[McpServerSettings], mcp: list[str]
) -> Settings:
    persona = Persona(name="Tools", instructions="Use your tools.", mcp=mcp)
    return Settings.model_validate(
        {
            "backend": {"kind": "openai", "model": MODEL},
            "openai": {"api_key": API_KEY, "base_url": server.base_url},
            "session": {"persona": "Tools", "silence_duration_ms": 300},
            "personas": [persona.model_dump()],
            "mcp_servers": [s.model_dump() for s in servers],
        }
    )


@dataclass
class Conversation:
    engine: ConversationEngine
    events: Recorder
    manager: McpManager
    gate: ApprovalGate


@contextlib.asynccontextmanager
async def conversation(
    server: LocalServer, settings: Settings, gate: ApprovalGate | None = None
) -> AsyncIterator[Conversation]:
    """A started engine with the persona's local MCP servers connected."""
    gate = gate or ApprovalGate()
    registry = build_registry(settings)
    local = [s for s in settings.mcp_servers if not s.remote]
    manager = McpManager(local, registry, gate, {}, backoff=Backoff(first_s=0.05, max_s=0.2))
    backend = OpenAIBackend(settings)
    engine = ConversationEngine(settings, backend, registry, approvals=gate, env={})
    events = Recorder()
    engine.subscribe(events)
    manager.start()
    for connection in manager.connections.values():
        await asyncio.wait_for(connection.wait_settled(), 30)
    await engine.start()
    try:
        yield Conversation(engine, events, manager, gate)
    finally:
        await engine.close()
        await manager.aclose()
        await backend.aclose()
