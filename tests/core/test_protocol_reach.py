"""The client events of MCP, images, idle timeout and truncation, checked against the
official SDK's types (nothing we send is dropped by them)."""

from __future__ import annotations

import json
from typing import Any

from openai.types.realtime import RealtimeClientEvent
from pydantic import TypeAdapter

from voice_tui.config.schema import McpServerSettings, Persona, Settings
from voice_tui.core import protocol as p
from voice_tui.core.conversation import ImageRef, Role, ToolCallRecord, Turn
from voice_tui.core.events import TurnMode
from voice_tui.core.restore import restore_items

CLIENT_EVENT: TypeAdapter[Any] = TypeAdapter(RealtimeClientEvent)


def valid(text: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(text)
    assert CLIENT_EVENT.validate_python(data).to_dict(exclude_unset=True) == data
    return data


def settings(**session: Any) -> Settings:
    servers = [
        McpServerSettings(
            name="docs",
            remote=True,
            url="https://docs.example.com/${DOCS_PATH}",
            headers={"X-Team": "${TEAM}"},
            allowed_tools=["search", "fetch", "delete"],
            require_approval=["delete"],
            description="Team docs",
        ),
        McpServerSettings(
            name="mail",
            remote=True,
            connector_id="connector_gmail",
            authorization="${GMAIL_TOKEN}",
            require_approval="never",
        ),
        McpServerSettings(name="missing", remote=True, url="https://x", authorization="${NOPE}"),
        McpServerSettings(name="local", command="local-mcp"),
    ]
    persona = Persona(name="P", instructions="i", mcp=["docs", "mail", "missing", "local"])
    return Settings(
        session={"persona": "P", **session},  # type: ignore[arg-type]
        personas=[persona],
        mcp_servers=servers,
    )


def test_idle_timeout_and_a_retention_ratio_reach_the_session() -> None:
    s = settings(idle_timeout_ms=8000, truncation=0.75, truncation_token_limit=12000)
    session = p.session_config(s, s.active_persona, [], TurnMode.SERVER_VAD)
    sent = valid(p.session_update(session, "e"))["session"]
    assert sent["audio"]["input"]["turn_detection"]["idle_timeout_ms"] == 8000
    assert sent["truncation"] == {
        "type": "retention_ratio",
        "retention_ratio": 0.75,
        "token_limits": {"post_instructions": 12000},
    }
    plain = p.session_config(Settings(), Settings().active_persona, [], TurnMode.SERVER_VAD)
    assert plain["truncation"] == "auto"
    assert "idle_timeout_ms" not in plain["audio"]["input"]["turn_detection"]


def test_remote_mcp_servers_become_mcp_tools_with_secrets_from_the_environment() -> None:
    s = settings()
    env = {"DOCS_PATH": "mcp", "TEAM": "blue", "GMAIL_TOKEN": "tok-123"}
    tools = p.remote_mcp_tools(s, s.active_persona, env)
    assert tools == [
        {
            "type": "mcp",
            "server_label": "docs",
            "server_url": "https://docs.example.com/mcp",
            "headers": {"X-Team": "blue"},
            "server_description": "Team docs",
            "allowed_tools": ["search", "fetch", "delete"],
            "require_approval": {
                "always": {"tool_names": ["delete"]},
                "never": {"tool_names": ["search", "fetch"]},
            },
        },
        {
            "type": "mcp",
            "server_label": "mail",
            "connector_id": "connector_gmail",
            "authorization": "tok-123",
            "require_approval": "never",
        },
    ]  # "missing" lacks its variable, "local" is voice-tui's own
    session = p.session_config(s, s.active_persona, tools, TurnMode.SERVER_VAD)
    valid(p.session_update(session, "e"))


def test_image_and_approval_items_match_the_sdk() -> None:
    item = valid(p.user_image_item("item_1", "data:image/png;base64,iVBORw0=", "low", "e"))
    assert item["item"]["content"] == [
        {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0=", "detail": "low"}
    ]
    valid(p.mcp_approval_item("mcpr_1", True, "e"))


def test_restore_names_an_image_and_leaves_out_remote_calls() -> None:
    image = ImageRef("a.png", "/tmp/a.png", "image/png", 10, 10, 99, "a.png, 10×10, 99 B")
    remote = ToolCallRecord("mcp_1", "search", "{}", "found", True, server="docs")
    local = ToolCallRecord("call_1", "get_current_time", "{}", '{"t": 1}', True)
    turns = [
        Turn(Role.USER, "u1", typed=True, image=image),
        Turn(Role.ASSISTANT, "a1", text="Found it.", tool_calls=[remote, local]),
    ]
    events = [valid(e) for e in restore_items(turns)]
    assert events[0]["item"]["content"][0]["text"] == (
        "(Earlier I showed you an image: a.png, 10×10, 99 B.)"
    )
    assert [e["item"].get("call_id") for e in events[2:]] == ["call_1", "call_1"]
    assert Turn.from_json(json.loads(json.dumps(turns[0].to_json()))).image == image
