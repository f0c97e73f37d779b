"""The tool registry: async Python functions the model can call, with JSON-schema arguments.

`ToolRegistry.call` is the one door the engine uses. It never raises for anything the
model or a tool can get wrong (bad JSON, unknown name, schema violation, exception,
timeout, huge output): each becomes an error `ToolResult` whose `output` is a JSON text
the model can read and correct itself from. Only cancellation from outside propagates.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from voice_tui.config.schema import Persona, ToolsSettings

log = logging.getLogger(__name__)

JsonObject = dict[str, Any]

# Below this the error envelopes themselves would not fit; the config's minimum is 256 too.
MIN_OUTPUT_CHARS = 256
# How much of unparseable arguments is echoed back to the model.
ARGUMENTS_ECHO_CHARS = 200


class ToolError(Exception):
    """An expected failure a tool reports to the model (bad date, place not found...).

    The message is sent to the model as `{"error": message, **details}`, so it must say
    plainly what was wrong and, where it can, what to do instead.
    """

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


def _local_now() -> datetime:
    return datetime.now().astimezone()


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What a tool may use besides its arguments: its settings, files and the clock."""

    settings: ToolsSettings
    data_dir: Path  # created on first write, not before (an unwritable dir is a tool error)
    now: Callable[[], datetime] = _local_now  # timezone-aware; a seam for date logic


ToolHandler = Callable[[JsonObject, ToolContext], Awaitable["JsonObject | ToolReply"]]
# Runs before the handler and outside its timeout (asking the user may take a while);
# raises ToolError to refuse the call.
ToolGate = Callable[[JsonObject, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    parameters: JsonObject  # a JSON schema of an object
    handler: ToolHandler
    ends_conversation: bool = False  # a successful call ends the session after the goodbye
    timeout_s: float | None = None  # None: the session's tool_timeout_s
    gate: ToolGate | None = None  # e.g. the user's approval
    group: str | None = None  # tools that come and go together (one MCP server's)

    def definition(self) -> JsonObject:
        """The Realtime API's function tool shape (session.update `tools`)."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }


@dataclass(frozen=True, slots=True)
class ToolImage:
    """An image a tool returned: the model sees it after the call's output."""

    mime_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class ToolReply:
    """What a handler returns when its result has images besides the JSON."""

    payload: JsonObject
    images: tuple[ToolImage, ...] = ()


@dataclass(frozen=True, slots=True)
class ToolResult:
    output: str  # JSON text sent as function_call_output (error results too)
    ok: bool
    error: str | None
    duration_s: float
    ends_conversation: bool = False
    images: tuple[ToolImage, ...] = ()  # shown to the model after the output


@dataclass(slots=True)
class _Entry:
    tool: Tool
    validator: Validator = field(repr=False)


class ToolRegistry:
    def __init__(self, context: ToolContext, tools: Iterable[Tool] = ()) -> None:
        self.context = context
        self._entries: dict[str, _Entry] = {}
        self._gone: dict[str, str] = {}  # tools of a group that went away -> why
        self._listeners: list[Callable[[], None]] = []
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool) -> None:
        """Add a tool; a duplicate name or an invalid schema is a programming error."""
        self._entries[tool.name] = self._entry(tool)
        self._gone.pop(tool.name, None)

    def _entry(self, tool: Tool) -> _Entry:
        if tool.name in self._entries:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        return _Entry(tool, schema_validator(tool))

    def set_group(self, group: str, tools: Iterable[Tool], gone_reason: str = "") -> None:
        """Replace the tools of `group` (e.g. an MCP server's, after it connected or
        died). A call of a tool that went away is answered with `gone_reason`; a tool
        that cannot be registered raises ValueError and changes nothing."""
        old = [name for name, e in self._entries.items() if e.tool.group == group]
        kept = {name: e for name, e in self._entries.items() if e.tool.group != group}
        new: dict[str, _Entry] = {}
        for tool in tools:
            if tool.group != group:
                raise ValueError(f"tool {tool.name!r} is not in group {group!r}")
            if tool.name in kept or tool.name in new:
                raise ValueError(f"a tool named {tool.name!r} is already registered")
            saved, self._entries = self._entries, {}
            try:
                new[tool.name] = self._entry(tool)
            finally:
                self._entries = saved
        self._entries = kept | new
        for name in old:
            if name not in new:
                self._gone[name] = gone_reason or f"the tool {name!r} is no longer available"
        for name in new:
            self._gone.pop(name, None)
        if old or new:
            self._changed()

    def group_tools(self, group: str) -> list[Tool]:
        return [e.tool for e in self._entries.values() if e.tool.group == group]

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """`listener()` runs after the set of tools changed (a group was replaced)."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def _changed(self) -> None:
        for listener in tuple(self._listeners):
            try:
                listener()
            except Exception:  # a broken listener must not break the registry
                log.exception("tool registry listener failed")

    def persona_tool_names(self, persona: Persona) -> list[str]:
        """The tools a persona offers the model now: its built-in tools, then the tools
        of its MCP servers that are connected."""
        names = [n for n in persona.tools if n in self._entries]
        for server in persona.mcp:
            names.extend(t.name for t in self.group_tools(server))
        return list(dict.fromkeys(names))

    def definitions_for(self, persona: Persona) -> list[JsonObject]:
        return self.definitions(self.persona_tool_names(persona))

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> Tool | None:
        entry = self._entries.get(name)
        return entry.tool if entry else None

    def definitions(self, names: Iterable[str]) -> list[JsonObject]:
        """Realtime function definitions for `names`, in order, without duplicates.

        Raises ValueError for a name that is not registered: persona tool lists are
        validated when the config loads, so this is a programming error.
        """
        unique = list(dict.fromkeys(names))
        unknown = [n for n in unique if n not in self._entries]
        if unknown:
            raise ValueError(
                f"unknown tool(s) {', '.join(map(repr, unknown))}; "
                f"the tools are: {', '.join(self.names())}"
            )
        return [self._entries[n].tool.definition() for n in unique]

    async def call(
        self, name: str, arguments_json: str, timeout_s: float, max_output_chars: int
    ) -> ToolResult:
        """Validate `arguments_json`, run the tool within `timeout_s`, cap its output."""
        started = time.monotonic()
        limit = max(max_output_chars, MIN_OUTPUT_CHARS)
        ends = False
        waited = [0.0]  # time spent asking the user, not running the tool
        images: list[ToolImage] = []
        try:
            entry = self._entries.get(name)
            if entry is None and name in self._gone:
                payload: JsonObject = {"error": self._gone[name]}
            elif entry is None:
                payload = {
                    "error": f"unknown tool {name!r}",
                    "available_tools": self.names(),
                }
            else:
                payload = await self._run(entry, arguments_json, timeout_s, waited, images)
                ends = entry.tool.ends_conversation and "error" not in payload
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in the registry itself must not break the session
            log.exception("tool registry failed on %s", name)
            payload = {"error": f"tool {name!r} failed: {type(exc).__name__}: {exc}"}
        output, error = _encode(payload, limit)
        return ToolResult(
            output=output,
            ok=error is None,
            error=error,
            duration_s=time.monotonic() - started - waited[0],
            ends_conversation=ends and error is None,
            images=tuple(images) if error is None else (),
        )

    async def _run(
        self,
        entry: _Entry,
        arguments_json: str,
        timeout_s: float,
        waited: list[float],
        images: list[ToolImage],
    ) -> JsonObject:
        name = entry.tool.name
        try:
            # Some models send "" for a function without parameters.
            arguments = (
                json.loads(arguments_json, parse_constant=_reject_constant)
                if arguments_json.strip()
                else {}
            )
        except ValueError as exc:  # JSONDecodeError, or NaN/Infinity
            return {
                "error": f"the arguments are not valid JSON ({exc})",
                "arguments": arguments_json[:ARGUMENTS_ECHO_CHARS],
            }
        if not isinstance(arguments, dict):
            return {"error": "the arguments must be a JSON object"}
        problems = _schema_problems(entry.validator, arguments)
        if problems:
            return {"error": f"invalid arguments for {name}", "problems": problems}
        if entry.tool.timeout_s is not None:
            timeout_s = entry.tool.timeout_s
        if entry.tool.gate is not None:
            asked = time.monotonic()
            try:
                await entry.tool.gate(arguments, arguments_json)
            except ToolError as exc:
                return {"error": exc.message, **exc.details}
            finally:
                waited[0] = time.monotonic() - asked
        try:
            async with asyncio.timeout(max(timeout_s, 0.0)) as deadline:
                result = await entry.tool.handler(arguments, self.context)
        except ToolError as exc:
            return {"error": exc.message, **exc.details}
        except TimeoutError:
            if deadline.expired():
                return {"error": f"{name} did not finish within {timeout_s:g} seconds"}
            log.warning("tool %s raised TimeoutError", name, exc_info=True)
            return {"error": f"{name} failed: it timed out while waiting for something"}
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("tool %s raised", name, exc_info=True)
            return {"error": f"{name} failed: {type(exc).__name__}: {exc}"}
        if isinstance(result, ToolReply):
            images.extend(result.images)
            result = result.payload
        if not isinstance(result, dict):
            return {"error": f"{name} returned {type(result).__name__}, not a JSON object"}
        return result


def schema_validator(tool: Tool) -> Validator:
    """The validator of a tool's arguments; raises (jsonschema's SchemaError or
    ValueError) when its schema is unusable."""
    # A schema names its own draft (MCP servers often use draft 7); 2020-12 otherwise.
    cls = validator_for(tool.parameters, default=Draft202012Validator)
    cls.check_schema(tool.parameters)
    if tool.parameters.get("type") != "object":
        raise ValueError(f"tool {tool.name!r}: parameters must be a schema of type object")
    return cls(tool.parameters, format_checker=FormatChecker())


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _schema_problems(validator: Validator, arguments: JsonObject) -> list[str]:
    def describe(err: ValidationError) -> str:
        where = ".".join(str(p) for p in err.absolute_path)
        return f"{where}: {err.message}" if where else err.message

    errors = sorted(validator.iter_errors(arguments), key=lambda e: list(map(str, e.path)))
    return [describe(e) for e in errors]


def _dumps(payload: JsonObject) -> str:
    # allow_nan=False: NaN/Infinity are not JSON and the server would reject them.
    return json.dumps(payload, ensure_ascii=False, allow_nan=False)


def _encode(payload: JsonObject, limit: int) -> tuple[str, str | None]:
    """The JSON text for `payload` in at most `limit` characters, and the error if any."""
    try:
        text = _dumps(payload)
    except (TypeError, ValueError) as exc:
        payload = {"error": f"the tool returned output that is not JSON: {exc}"}
        text = _dumps(payload)
    error = payload.get("error")
    error_text = str(error) if error is not None else None
    if len(text) <= limit:
        return text, error_text
    # Too big: keep valid JSON by wrapping a prefix of the text in an error envelope.
    note = f"the output was {len(text)} characters, over the limit of {limit}; it is truncated"
    envelope: JsonObject = {"error": note, "truncated": True, "partial_output": ""}
    if error_text is not None:  # the tool's own error stays the one reported
        note = f"{error_text[:ARGUMENTS_ECHO_CHARS]} (output truncated)"
    budget = limit - len(_dumps(envelope))
    prefix = text[: max(budget, 0)]
    while True:
        envelope["partial_output"] = prefix
        capped = _dumps(envelope)
        if len(capped) <= limit or not prefix:
            return capped, note
        # Escaping made it longer than its length: cut by the overflow and retry.
        prefix = prefix[: max(len(prefix) - (len(capped) - limit), 0)]
