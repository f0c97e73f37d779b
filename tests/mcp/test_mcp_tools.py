"""Local MCP servers as tools, against real servers: the demo server written with the
official SDK (over stdio and over streamable HTTP) and the published "time" server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from tests.support.mcp_support import http_demo_server, stdio_settings, time_server_settings
from voice_tui.config.schema import McpServerSettings, Persona, Settings
from voice_tui.core.approval import ApprovalGate, ApprovalRequest, Decision
from voice_tui.core.tools import ToolRegistry, build_registry
from voice_tui.mcp import Backoff, McpManager, ServerState, ServerStatus

FAST_RETRY = Backoff(first_s=0.05, max_s=0.2)


class Asker:
    """Answers approval requests like a user would, and remembers what it was asked."""

    def __init__(self, *answers: Decision) -> None:
        self.answers = list(answers)
        self.asked: list[ApprovalRequest] = []

    async def __call__(self, request: ApprovalRequest) -> Decision:
        self.asked.append(request)
        return self.answers.pop(0)


async def started(
    *servers: McpServerSettings, gate: ApprovalGate | None = None, env: dict[str, str] | None = None
) -> tuple[McpManager, ToolRegistry, list[ServerStatus]]:
    registry = build_registry(Settings())
    manager = McpManager(servers, registry, gate or ApprovalGate(), env or {}, backoff=FAST_RETRY)
    seen: list[ServerStatus] = []
    manager.subscribe(seen.append)
    manager.start()
    for connection in manager.connections.values():
        await asyncio.wait_for(connection.wait_settled(), 30)
    return manager, registry, seen


@pytest.fixture
async def demo() -> AsyncIterator[tuple[McpManager, ToolRegistry, list[ServerStatus]]]:
    manager, registry, seen = await started(stdio_settings())
    try:
        yield manager, registry, seen
    finally:
        await manager.aclose()


async def call(registry: ToolRegistry, name: str, arguments: object) -> tuple[bool, dict]:
    result = await registry.call(name, json.dumps(arguments), 10.0, 4000)
    return result.ok, json.loads(result.output)


async def test_tools_are_offered_with_server_prefixed_names_beside_the_builtins(demo) -> None:
    _, registry, seen = demo
    assert [s.state for s in seen] == [ServerState.CONNECTING, ServerState.READY]
    assert seen[-1].describe() == "demo: ready (7 tools)"
    persona = Persona(name="p", instructions="i", tools=["get_current_time"], mcp=["demo"])
    definitions = registry.definitions_for(persona)
    names = [d["name"] for d in definitions]
    assert names[0] == "get_current_time"
    assert set(names[1:]) == {
        "demo__add",
        "demo__shout",
        "demo__environment",
        "demo__refuse",
        "demo__slow",
        "demo__crash",
        "demo__picture",
    }
    add = next(d for d in definitions if d["name"] == "demo__add")
    assert add["type"] == "function"
    assert add["description"] == "[demo] Add two whole numbers."
    assert add["parameters"]["required"] == ["a", "b"]
    # A persona without the server does not see its tools.
    assert registry.definitions_for(Persona(name="q", instructions="i")) == []


async def test_structured_plain_and_image_results_reach_the_model_as_json(demo) -> None:
    _, registry, _ = demo
    added = await call(registry, "demo__add", {"a": 2, "b": 40})
    assert added == (True, {"result": {"result": 42}})
    assert await call(registry, "demo__environment", {"variable": "NOT_THERE_AT_ALL"}) == (
        True,
        {"text": "(not set)"},
    )
    ok, picture = await call(registry, "demo__picture", {})
    assert ok
    [image] = picture["content"]
    assert image["type"] == "image" and image["mime_type"] == "image/png" and image["bytes"] > 50


async def test_error_results_and_bad_arguments_are_told_to_the_model(demo) -> None:
    _, registry, _ = demo
    assert await call(registry, "demo__refuse", {"reason": "the disk is full"}) == (
        False,
        {"error": "Error executing tool refuse: the disk is full"},
    )
    ok, bad = await call(registry, "demo__add", {"a": "two"})
    assert not ok
    assert bad["error"] == "invalid arguments for demo__add"
    assert "'b' is a required property" in bad["problems"]


async def test_a_crash_mid_call_is_reported_and_the_server_restarts(demo) -> None:
    manager, registry, seen = demo
    changes: list[list[str]] = []
    registry.subscribe(lambda: changes.append(registry.persona_tool_names(persona)))
    persona = Persona(name="p", instructions="i", mcp=["demo"])
    ok, crashed = await call(registry, "demo__crash", {})
    assert not ok
    assert crashed == {"error": "the MCP server 'demo' stopped during the call"}
    connection = manager.connections["demo"]
    while connection.connects < 2:
        await asyncio.wait_for(connection.wait_settled(), 30)
        if connection.status.state is ServerState.FAILED:
            await asyncio.sleep(0.01)
    failed = [s for s in seen if s.state is ServerState.FAILED]
    assert failed and "crashing on purpose" in failed[0].detail
    # Withdrawn while down (the session's tool list follows), offered again once back.
    assert [] in changes
    assert changes[-1] == registry.persona_tool_names(persona)
    assert "demo__add" in changes[-1]
    assert await call(registry, "demo__add", {"a": 1, "b": 1}) == (True, {"result": {"result": 2}})


async def test_a_call_while_the_server_is_down_says_so() -> None:
    manager, registry, _ = await started(stdio_settings())
    try:
        await manager.connections["demo"].close()
        ok, down = await call(registry, "demo__add", {"a": 1, "b": 1})
        assert not ok
        assert down == {"error": "the MCP server 'demo' is stopped"}
    finally:
        await manager.aclose()


async def test_a_slow_call_times_out_with_the_servers_limit() -> None:
    manager, registry, _ = await started(stdio_settings(timeout_s=0.5))
    try:
        ok, slow = await call(registry, "demo__slow", {"seconds": 30})
        assert not ok
        assert slow == {"error": "slow (MCP server 'demo') did not answer within 0.5 s"}
        # The server is still there for the next call.
        assert (await call(registry, "demo__add", {"a": 1, "b": 2}))[0]
    finally:
        await manager.aclose()


async def test_environment_references_are_expanded_for_the_server() -> None:
    settings = stdio_settings(env={"DEMO_USER": "${REAL_USER}"})
    manager, registry, _ = await started(settings, env={"REAL_USER": "ann"})
    try:
        assert await call(registry, "demo__environment", {"variable": "DEMO_USER"}) == (
            True,
            {"text": "ann"},
        )
    finally:
        await manager.aclose()


async def test_a_missing_variable_or_command_fails_with_the_reason() -> None:
    unset = stdio_settings("unset", env={"TOKEN": "${NO_SUCH_VARIABLE}"})
    missing = McpServerSettings(name="missing", command="no-such-mcp-server-here")
    manager, registry, _ = await started(unset, missing)
    try:
        statuses = {s.name: s for s in manager.statuses()}
        assert statuses["unset"].state is ServerState.FAILED
        assert statuses["unset"].detail == (
            "mcp_servers 'unset' env.TOKEN uses ${NO_SUCH_VARIABLE}, "
            "but NO_SUCH_VARIABLE is not set"
        )
        assert statuses["missing"].detail == "command not found: no-such-mcp-server-here"
        assert registry.group_tools("unset") == []
    finally:
        await manager.aclose()


async def test_allowed_tools_limits_what_is_offered() -> None:
    manager, registry, _ = await started(stdio_settings(allowed_tools=["add", "shout"]))
    try:
        assert [t.name for t in registry.group_tools("demo")] == ["demo__add", "demo__shout"]
        ok, refused = await call(registry, "demo__crash", {})
        assert not ok and refused["error"] == "unknown tool 'demo__crash'"
    finally:
        await manager.aclose()


async def test_approval_denied_by_default_and_told_to_the_model() -> None:
    manager, registry, _ = await started(stdio_settings(require_approval="always"))
    try:
        ok, denied = await call(registry, "demo__add", {"a": 1, "b": 2})
        assert not ok
        assert denied["error"].startswith("The user declined this call of add (MCP server 'demo')")
    finally:
        await manager.aclose()


async def test_allow_once_asks_again_and_allow_for_the_session_does_not() -> None:
    asker = Asker(Decision.ALLOW_ONCE, Decision.ALLOW_SESSION, Decision.DENY)
    settings = stdio_settings(require_approval=["add"])
    manager, registry, _ = await started(settings, gate=ApprovalGate(asker))
    try:
        for _ in range(3):
            assert (await call(registry, "demo__add", {"a": 1, "b": 2}))[0]
        shouted = await call(registry, "demo__shout", {"text": "hi"})
        assert shouted == (True, {"result": {"result": "HI!"}})
        # Asked twice: once (allow once), again (allow for the session), then never.
        assert [(r.server, r.tool) for r in asker.asked] == [("demo", "add"), ("demo", "add")]
        assert json.loads(asker.asked[0].arguments) == {"a": 1, "b": 2}
    finally:
        await manager.aclose()


async def test_over_streamable_http_with_a_header_from_the_environment() -> None:
    async with http_demo_server(token="s3cret") as url:
        good = McpServerSettings(
            name="web",
            url=url,
            headers={"Authorization": "Bearer ${DEMO_TOKEN}"},
            require_approval="never",
        )
        wrong = McpServerSettings(name="wrong", url=url, headers={"Authorization": "Bearer no"})
        manager, registry, seen = await started(good, wrong, env={"DEMO_TOKEN": "s3cret"})
        try:
            statuses = {s.name: s for s in manager.statuses()}
            assert statuses["web"].state is ServerState.READY
            # Read from the history: with a 50 ms backoff the wrong one may already be
            # connecting again by now.
            failures = [s for s in seen if s.name == "wrong" and s.state is ServerState.FAILED]
            assert failures
            assert all("401" in s.detail and "s3cret" not in s.detail for s in failures)
            assert await call(registry, "web__shout", {"text": "over http"}) == (
                True,
                {"result": {"result": "OVER HTTP!"}},
            )
        finally:
            await manager.aclose()


async def test_the_published_time_server_from_the_package_index() -> None:
    manager, registry, _ = await started(time_server_settings())
    try:
        names = [t.name for t in registry.group_tools("time")]
        # Its get_current_time does not clash with the built-in one.
        assert names == ["time__get_current_time", "time__convert_time"]
        assert "get_current_time" in registry.names()
        ok, converted = await call(
            registry,
            "time__convert_time",
            {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"},
        )
        assert ok, converted
        assert converted["result"]["target"]["datetime"].endswith("T21:00:00+09:00")
    finally:
        await manager.aclose()
