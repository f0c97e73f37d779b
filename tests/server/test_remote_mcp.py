"""Tools of type "mcp": the built-in server lists and calls a real MCP server (the demo
server over streamable HTTP, with a bearer token), and asks for approval like the
service does. Every event is validated against the SDK's server event types."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.mcp_support import http_demo_server
from tests.support.server import Client, FixedRecognizer, ToneSynthesizer, open_client
from voice_tui.server.app import LocalServer, start_server
from voice_tui.server.components import (
    Components,
    FunctionCallPiece,
    ResponderPiece,
    ResponderRequest,
    TextPiece,
)

TOKEN = "mcp-s3cret"


@dataclass
class ToolUser:
    """Calls `<server>__shout` when asked to shout; reads a tool result back."""

    name: str = "tool-user"
    requests: list[ResponderRequest] = field(default_factory=list)

    async def respond(self, request: ResponderRequest) -> AsyncIterator[ResponderPiece]:
        self.requests.append(request)
        last = request.history[-1]
        if last.role == "tool":
            yield TextPiece(f"The tool says {last.content}.")
            return
        shout = [t["name"] for t in request.tools if t["name"].endswith("__shout")]
        if last.content.startswith("shout ") and shout:
            arguments = json.dumps({"text": last.content.removeprefix("shout ")})
            yield FunctionCallPiece(shout[0], arguments, "call_1")
            return
        yield TextPiece("Nothing to do.")


@pytest.fixture
async def mcp_url() -> AsyncIterator[str]:
    async with http_demo_server(token=TOKEN) as url:
        yield url


@pytest.fixture
async def server() -> AsyncIterator[LocalServer]:
    components = Components(FixedRecognizer(), ToneSynthesizer(), ToolUser())
    srv = await start_server(components=components)
    try:
        yield srv
    finally:
        await srv.close()


def mcp_tool(url: str, **changes: Any) -> dict[str, Any]:
    return {
        "type": "mcp",
        "server_label": "demo",
        "server_url": url,
        "authorization": TOKEN,
        "require_approval": "never",
        **changes,
    }


async def configure(client: Client, *tools: dict[str, Any]) -> dict[str, Any]:
    await client.send(
        {"type": "session.update", "session": {"type": "realtime", "tools": list(tools)}}
    )
    return await client.until("session.updated")


async def test_tools_are_listed_and_the_token_is_not_echoed(server: LocalServer, mcp_url: str):
    async with open_client(server) as client:
        updated = await configure(client, mcp_tool(mcp_url, headers={"X-Team": "blue"}))
        [tool] = updated["session"]["tools"]
        assert tool["server_label"] == "demo"
        assert "authorization" not in tool and "headers" not in tool
        assert TOKEN not in json.dumps(updated)
        completed = await client.until("mcp_list_tools.completed", 30)
        [progress] = client.of("mcp_list_tools.in_progress")
        assert progress["item_id"] == completed["item_id"]
        listing = client.of("conversation.item.done")[-1]["item"]
        assert listing["type"] == "mcp_list_tools" and listing["server_label"] == "demo"
        assert {t["name"] for t in listing["tools"]} >= {"add", "shout", "crash"}


async def test_a_call_without_approval_and_the_answer_that_reads_it(
    server: LocalServer, mcp_url: str
) -> None:
    async with open_client(server) as client:
        await configure(client, mcp_tool(mcp_url, allowed_tools=["shout"]))
        await client.until("mcp_list_tools.completed", 30)
        await client.say("shout over the wire")
        await client.send({"type": "response.create"})
        done = await client.until("response.done", 30)
        call = next(i for i in done["response"]["output"] if i["type"] == "mcp_call")
        assert call["server_label"] == "demo" and call["name"] == "shout"
        assert json.loads(call["arguments"]) == {"text": "over the wire"}
        assert (
            call["output"] == '{"result": "OVER THE WIRE!"}' or "OVER THE WIRE!" in call["output"]
        )
        assert call["error"] is None
        kinds = [e["type"] for e in client.events if "mcp_call" in e["type"]]
        assert kinds[0] == "response.mcp_call_arguments.delta"
        assert kinds[-3:] == [
            "response.mcp_call_arguments.done",
            "response.mcp_call.in_progress",
            "response.mcp_call.completed",
        ]
        message = done["response"]["output"][-1]
        assert message["type"] == "message"
        transcript = message["content"][0]["transcript"]
        assert transcript.startswith("The tool says") and "OVER THE WIRE!" in transcript


async def test_approval_is_asked_then_the_approved_call_is_made(
    server: LocalServer, mcp_url: str
) -> None:
    async with open_client(server) as client:
        await configure(client, mcp_tool(mcp_url, require_approval="always"))
        await client.until("mcp_list_tools.completed", 30)
        await client.say("shout please")
        await client.send({"type": "response.create"})
        done = await client.until("response.done", 30)
        [request] = done["response"]["output"]
        assert request["type"] == "mcp_approval_request" and request["name"] == "shout"
        assert not any(e["type"].startswith("response.mcp_call.") for e in client.events)
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "mcp_approval_response",
                    "approval_request_id": request["id"],
                    "approve": True,
                },
            }
        )
        await client.until("conversation.item.done")
        await client.send({"type": "response.create"})
        done = await client.until("response.done", 30)
        call = done["response"]["output"][0]
        assert call["type"] == "mcp_call" and call["approval_request_id"] == request["id"]
        assert "PLEASE!" in call["output"]


async def test_a_denied_call_is_not_made_and_the_model_hears_why(
    server: LocalServer, mcp_url: str
) -> None:
    async with open_client(server) as client:
        await configure(
            client, mcp_tool(mcp_url, require_approval={"always": {"tool_names": ["shout"]}})
        )
        await client.until("mcp_list_tools.completed", 30)
        await client.say("shout no")
        await client.send({"type": "response.create"})
        [request] = (await client.until("response.done", 30))["response"]["output"]
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "mcp_approval_response",
                    "approval_request_id": request["id"],
                    "approve": False,
                },
            }
        )
        await client.until("conversation.item.done")
        await client.send({"type": "response.create"})
        done = await client.until("response.done", 30)
        assert [i["type"] for i in done["response"]["output"]] == ["message"]
        assert "declined" in done["response"]["output"][0]["content"][0]["transcript"]


async def test_an_unreachable_server_or_a_connector_fails_to_list(server: LocalServer) -> None:
    async with open_client(server) as client:
        await configure(
            client,
            mcp_tool("http://127.0.0.1:9/mcp"),
            {"type": "mcp", "server_label": "mail", "connector_id": "connector_gmail"},
        )
        first = await client.until("mcp_list_tools.failed", 30)
        second = await client.until("mcp_list_tools.failed", 30)
        assert {first["item_id"], second["item_id"]} == {
            e["item_id"] for e in client.of("mcp_list_tools.in_progress")
        }


async def test_an_approval_for_an_unknown_request_is_refused(server: LocalServer) -> None:
    async with open_client(server) as client:
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "mcp_approval_response",
                    "approval_request_id": "x",
                    "approve": True,
                },
            }
        )
        error = await client.until("error")
        assert error["error"]["param"] == "item.approval_request_id"
