"""The registry's contract: every failure becomes an error result the model can read."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.types.realtime import RealtimeFunctionTool

from tests.support.tools import FIXED_NOW
from voice_tui.config.schema import ToolsSettings
from voice_tui.core.tools import (
    JsonObject,
    Tool,
    ToolContext,
    ToolError,
    ToolRegistry,
    build_registry,
    builtin_tool_names,
)
from voice_tui.core.tools.registry import MIN_OUTPUT_CHARS

ADD_SCHEMA: JsonObject = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "integer", "minimum": 0}},
    "required": ["a", "b"],
    "additionalProperties": False,
}
NO_ARGS: JsonObject = {"type": "object", "properties": {}, "additionalProperties": False}


async def add(args: JsonObject, ctx: ToolContext) -> JsonObject:
    return {"sum": args["a"] + args["b"]}


async def boom(args: JsonObject, ctx: ToolContext) -> JsonObject:
    raise RuntimeError("the flux capacitor melted")


async def refuse(args: JsonObject, ctx: ToolContext) -> JsonObject:
    raise ToolError("no tables on Mondays", suggestion="try Tuesday")


async def hang(args: JsonObject, ctx: ToolContext) -> JsonObject:
    await asyncio.Event().wait()  # never set: only the registry's timeout ends this
    return {}


async def inner_timeout(args: JsonObject, ctx: ToolContext) -> JsonObject:
    raise TimeoutError("upstream read timed out")


async def huge(args: JsonObject, ctx: ToolContext) -> JsonObject:
    # Quotes and newlines double in size when JSON-escaped: the cap must still hold.
    return {"text": '"\n' * 60_000, "tail": "THE-END"}


async def not_json(args: JsonObject, ctx: ToolContext) -> JsonObject:
    return {"value": object()}


async def not_object(args: JsonObject, ctx: ToolContext) -> Any:
    return ["a", "list"]


async def echo(args: JsonObject, ctx: ToolContext) -> JsonObject:
    return {"echo": args}


@pytest.fixture
def reg(tmp_path: Path) -> ToolRegistry:
    ctx = ToolContext(settings=ToolsSettings(), data_dir=tmp_path, now=lambda: FIXED_NOW)
    tools = [
        Tool("add", "Adds two integers.", ADD_SCHEMA, add),
        Tool("boom", "Always fails.", NO_ARGS, boom),
        Tool("refuse", "Refuses politely.", NO_ARGS, refuse),
        Tool("hang", "Never returns.", NO_ARGS, hang),
        Tool("inner_timeout", "Times out inside.", NO_ARGS, inner_timeout),
        Tool("huge", "Returns too much.", NO_ARGS, huge),
        Tool("not_json", "Returns an object JSON cannot hold.", NO_ARGS, not_json),
        Tool("not_object", "Returns a list.", NO_ARGS, not_object),
        Tool("echo", "Echoes.", {"type": "object"}, echo),
        Tool("bye", "Ends.", NO_ARGS, echo, ends_conversation=True),
    ]
    return ToolRegistry(ctx, tools)


async def run(reg: ToolRegistry, name: str, arguments: str, **kw: Any) -> tuple[Any, JsonObject]:
    result = await reg.call(
        name, arguments, kw.get("timeout_s", 5.0), kw.get("max_output_chars", 16_000)
    )
    decoded = json.loads(result.output)
    assert isinstance(decoded, dict)
    return result, decoded


async def test_success_returns_the_handlers_json(reg: ToolRegistry) -> None:
    result, out = await run(reg, "add", '{"a": 2, "b": 40}')
    assert result.ok and result.error is None
    assert out == {"sum": 42}
    assert result.duration_s >= 0
    assert not result.ends_conversation


async def test_bad_json_is_an_error_result(reg: ToolRegistry) -> None:
    result, out = await run(reg, "add", '{"a": 2, "b": ')
    assert not result.ok
    assert "not valid JSON" in out["error"]
    assert out["arguments"] == '{"a": 2, "b": '
    assert result.error == out["error"]


async def test_arguments_that_are_not_an_object(reg: ToolRegistry) -> None:
    result, out = await run(reg, "add", "[1, 2]")
    assert not result.ok
    assert out["error"] == "the arguments must be a JSON object"


async def test_empty_arguments_mean_no_arguments(reg: ToolRegistry) -> None:
    result, out = await run(reg, "echo", "")
    assert result.ok
    assert out == {"echo": {}}


async def test_unknown_tool_lists_the_available_ones(reg: ToolRegistry) -> None:
    result, out = await run(reg, "launch_rockets", "{}")
    assert not result.ok
    assert out["error"] == "unknown tool 'launch_rockets'"
    assert "add" in out["available_tools"]


async def test_schema_violations_are_all_reported(reg: ToolRegistry) -> None:
    result, out = await run(reg, "add", '{"a": "two", "b": -1, "c": 3}')
    assert not result.ok
    assert out["error"] == "invalid arguments for add"
    problems = " | ".join(out["problems"])
    assert "a: 'two' is not of type 'integer'" in problems
    assert "b: -1 is less than the minimum of 0" in problems
    assert "'c' was unexpected" in problems


async def test_missing_required_argument(reg: ToolRegistry) -> None:
    result, out = await run(reg, "add", '{"a": 1}')
    assert not result.ok
    assert out["problems"] == ["'b' is a required property"]


async def test_handler_exception_becomes_error(reg: ToolRegistry) -> None:
    result, out = await run(reg, "boom", "{}")
    assert not result.ok
    assert out["error"] == "boom failed: RuntimeError: the flux capacitor melted"


async def test_tool_error_keeps_its_details(reg: ToolRegistry) -> None:
    result, out = await run(reg, "refuse", "{}")
    assert not result.ok
    assert out == {"error": "no tables on Mondays", "suggestion": "try Tuesday"}
    assert result.error == "no tables on Mondays"


async def test_timeout_becomes_error(reg: ToolRegistry) -> None:
    result, out = await run(reg, "hang", "{}", timeout_s=0.05)
    assert not result.ok
    assert out["error"] == "hang did not finish within 0.05 seconds"


async def test_a_timeout_inside_the_tool_is_not_the_registry_timeout(reg: ToolRegistry) -> None:
    result, out = await run(reg, "inner_timeout", "{}")
    assert not result.ok
    assert "timed out while waiting" in out["error"]


async def test_huge_output_is_capped_with_a_marker(reg: ToolRegistry) -> None:
    limit = 1_000
    result, out = await run(reg, "huge", "{}", max_output_chars=limit)
    assert len(result.output) <= limit
    assert not result.ok
    assert out["truncated"] is True
    assert "over the limit of 1000" in out["error"]
    assert out["partial_output"].startswith('{"text": "\\"\\n')
    assert "THE-END" not in result.output


async def test_the_cap_never_goes_below_the_minimum(reg: ToolRegistry) -> None:
    result, out = await run(reg, "huge", "{}", max_output_chars=10)
    assert len(result.output) <= MIN_OUTPUT_CHARS
    assert out["truncated"] is True


async def test_output_that_is_not_json(reg: ToolRegistry) -> None:
    result, out = await run(reg, "not_json", "{}")
    assert not result.ok
    assert "not JSON" in out["error"]


async def nan_out(args: JsonObject, ctx: ToolContext) -> JsonObject:
    return {"ratio": float("nan")}


async def test_nan_is_neither_read_nor_sent(reg: ToolRegistry) -> None:
    # Python's json accepts NaN; the server, and our JSON files, would not.
    result, out = await run(reg, "echo", '{"x": NaN}')
    assert not result.ok
    assert out["error"] == "the arguments are not valid JSON (NaN is not a JSON value)"
    reg.register(Tool("nan_out", "Returns NaN.", NO_ARGS, nan_out))
    result, out = await run(reg, "nan_out", "{}")
    assert not result.ok
    assert "not JSON" in out["error"]
    assert "NaN" not in result.output


async def test_output_that_is_not_an_object(reg: ToolRegistry) -> None:
    result, out = await run(reg, "not_object", "{}")
    assert not result.ok
    assert out["error"] == "not_object returned list, not a JSON object"


async def test_ends_conversation_only_on_success(reg: ToolRegistry) -> None:
    ok, _ = await run(reg, "bye", "{}")
    assert ok.ok and ok.ends_conversation
    bad, _ = await run(reg, "bye", '{"unexpected": 1}')
    assert not bad.ok and not bad.ends_conversation


async def test_cancellation_from_outside_propagates(reg: ToolRegistry) -> None:
    task = asyncio.create_task(reg.call("hang", "{}", 60.0, 16_000))
    await asyncio.sleep(0)  # let the tool start waiting
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_definitions_are_realtime_function_tools(reg: ToolRegistry) -> None:
    defs = reg.definitions(["add", "boom", "add"])
    assert [d["name"] for d in defs] == ["add", "boom"]
    assert defs[0] == {
        "type": "function",
        "name": "add",
        "description": "Adds two integers.",
        "parameters": ADD_SCHEMA,
    }


def test_definitions_reject_unknown_names(reg: ToolRegistry) -> None:
    with pytest.raises(ValueError, match="unknown tool\\(s\\) 'nope'"):
        reg.definitions(["add", "nope"])


def test_register_rejects_duplicates_and_bad_schemas(reg: ToolRegistry) -> None:
    with pytest.raises(ValueError, match="already registered"):
        reg.register(Tool("add", "again", ADD_SCHEMA, add))
    with pytest.raises(jsonschema.SchemaError):
        reg.register(Tool("bad", "bad schema", {"type": "object", "required": 3}, add))
    with pytest.raises(ValueError, match="type object"):
        reg.register(Tool("arr", "array schema", {"type": "array"}, add))


def test_builtin_names_match_the_built_registry(tmp_path: Path) -> None:
    from voice_tui.config.schema import Settings

    registry = build_registry(Settings(tools=ToolsSettings(data_dir=str(tmp_path))))
    assert registry.names() == builtin_tool_names()
    for definition in registry.definitions(builtin_tool_names()):
        # The SDK's own type for session.update tools accepts it field for field.
        as_sdk = RealtimeFunctionTool.model_validate(definition)
        assert as_sdk.type == "function" and as_sdk.description
        assert as_sdk.model_dump(exclude_none=True) == definition
        jsonschema.Draft202012Validator.check_schema(definition["parameters"])


def test_data_dir_defaults_to_the_user_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voice_tui.config.schema import Settings

    monkeypatch.setenv("VOICE_TUI_DATA_DIR", str(tmp_path / "from-env"))
    assert build_registry(Settings()).context.data_dir == tmp_path / "from-env"
    configured = Settings(tools=ToolsSettings(data_dir=str(tmp_path / "configured")))
    assert build_registry(configured).context.data_dir == tmp_path / "configured"


def reject_constant(name: str) -> None:
    raise AssertionError(f"{name} is not JSON")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(["add", "echo", "missing", "boom"]),
    arguments=st.one_of(
        st.text(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=8), inner, max_size=4)
            ),
            max_leaves=20,
        ).map(json.dumps),
    ),
    limit=st.integers(min_value=0, max_value=2_000),
)
def test_any_input_gives_bounded_json_and_never_raises(
    name: str, arguments: str, limit: int
) -> None:
    ctx = ToolContext(
        settings=ToolsSettings(), data_dir=Path("/nonexistent"), now=lambda: FIXED_NOW
    )
    reg = ToolRegistry(
        ctx,
        [
            Tool("add", "", ADD_SCHEMA, add),
            Tool("echo", "", {"type": "object"}, echo),
            Tool("boom", "", NO_ARGS, boom),
        ],
    )
    result = asyncio.run(reg.call(name, arguments, 5.0, limit))
    assert len(result.output) <= max(limit, MIN_OUTPUT_CHARS)
    assert isinstance(json.loads(result.output, parse_constant=reject_constant), dict)
    assert result.ok == (result.error is None)
