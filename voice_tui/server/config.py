"""The GA session configuration the server keeps per connection, and its validation.

Strict pydantic models mirror the parts of `session.update` / `response.create` the
server honours. Validation errors become OpenAI-shaped messages ("Unknown parameter:
'session.foo'.", "Invalid value: ...") so a client sees what the cloud would say.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from voice_tui.server.wire import ClientError, json_type_name, shown_value

VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")
Voice = Literal[
    "alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"
]
Modality = Literal["audio", "text"]

DEFAULT_INSTRUCTIONS = (
    "You are a helpful, witty and friendly voice assistant running on the user's own "
    "machine. Answer briefly."
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class AudioFormat(_Strict):
    type: Literal["audio/pcm"] = "audio/pcm"
    rate: Literal[24000] = 24000


class ServerVad(_Strict):
    type: Literal["server_vad"]
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    prefix_padding_ms: int = Field(default=300, ge=0, le=10_000)
    silence_duration_ms: int = Field(default=500, ge=0, le=10_000)
    create_response: bool = True
    interrupt_response: bool = True
    idle_timeout_ms: int | None = Field(default=None, ge=5_000, le=30_000)


class SemanticVad(_Strict):
    type: Literal["semantic_vad"]
    eagerness: Literal["low", "medium", "high", "auto"] = "auto"
    create_response: bool = True
    interrupt_response: bool = True


TurnDetection = Annotated[ServerVad | SemanticVad, Field(discriminator="type")]


class Transcription(_Strict):
    model: str = "gpt-transcribe"
    language: str | None = None
    prompt: str | None = None
    # Hints the offline recogniser has no use for, accepted as the service accepts them.
    languages: list[str] | None = None
    keywords: list[str] | None = None
    delay: Literal["minimal", "low", "medium", "high", "xhigh"] | None = None


class NoiseReduction(_Strict):
    type: Literal["near_field", "far_field"]


class AudioInput(_Strict):
    format: AudioFormat = Field(default_factory=AudioFormat)
    noise_reduction: NoiseReduction | None = None
    transcription: Transcription | None = None
    turn_detection: TurnDetection | None = Field(
        default_factory=lambda: ServerVad(type="server_vad")
    )


class AudioOutput(_Strict):
    format: AudioFormat = Field(default_factory=AudioFormat)
    voice: Voice = "alloy"
    speed: float = Field(default=1.0, ge=0.25, le=1.5)


class AudioConfig(_Strict):
    input: AudioInput = Field(default_factory=AudioInput)
    output: AudioOutput = Field(default_factory=AudioOutput)


class FunctionTool(_Strict):
    type: Literal["function"] = "function"
    name: str = Field(min_length=1, max_length=64)
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)


class McpToolFilter(_Strict):
    tool_names: list[str] | None = None
    read_only: bool | None = None


class McpApprovalFilter(_Strict):
    always: McpToolFilter | None = None
    never: McpToolFilter | None = None


class McpTool(_Strict):
    """A remote MCP server the service calls itself (`type: "mcp"`)."""

    type: Literal["mcp"] = "mcp"
    server_label: str = Field(min_length=1, max_length=64)
    server_url: str | None = None
    connector_id: str | None = None
    tunnel_id: str | None = None
    authorization: str | None = None
    headers: dict[str, str] | None = None
    allowed_tools: list[str] | McpToolFilter | None = None
    require_approval: Literal["always", "never"] | McpApprovalFilter | None = None
    server_description: str | None = None
    allowed_callers: list[str] | None = None
    defer_loading: bool | None = None

    def allows(self, tool: str) -> bool:
        allowed = self.allowed_tools
        if allowed is None:
            return True
        names = allowed if isinstance(allowed, list) else allowed.tool_names
        return names is None or tool in names

    def needs_approval(self, tool: str) -> bool:
        """The service's default is to ask; a filter names the tools either way."""
        policy = self.require_approval
        if policy is None or policy == "always":
            return True
        if policy == "never":
            return False
        if policy.never is not None and tool in (policy.never.tool_names or []):
            return False
        if policy.always is not None:
            return tool in (policy.always.tool_names or [])
        return True


Tool = Annotated[FunctionTool | McpTool, Field(discriminator="type")]

ToolChoice = Literal["auto", "none", "required"] | dict[str, Any]
ReasoningEffort = Literal["minimal", "low", "medium", "high", "xhigh"]


class Reasoning(_Strict):
    """Reasoning models (the gpt-realtime-2 family); the offline engine does not reason,
    but keeps what the client asked for, as the service does."""

    effort: ReasoningEffort = "low"


MaxTokens = Annotated[int, Field(ge=1, le=4096)] | Literal["inf"]


class SessionConfig(_Strict):
    type: Literal["realtime"] = "realtime"
    object: Literal["realtime.session"] = "realtime.session"
    id: str = ""
    model: str = "gpt-realtime-2.1"
    instructions: str = DEFAULT_INSTRUCTIONS
    output_modalities: list[Modality] = Field(default_factory=lambda: list[Modality](["audio"]))
    audio: AudioConfig = Field(default_factory=AudioConfig)
    tools: list[Tool] = Field(default_factory=list)
    tool_choice: ToolChoice = "auto"
    max_output_tokens: MaxTokens = "inf"
    reasoning: Reasoning | None = None
    parallel_tool_calls: bool | None = None
    # Accepted for compatibility; the local engine has nothing to do with them.
    tracing: Any = None
    truncation: Any = "auto"
    include: list[str] | None = None
    prompt: Any = None
    expires_at: int = 0


class ResponseAudioOutput(_Strict):
    format: AudioFormat = Field(default_factory=AudioFormat)
    voice: Voice | None = None


class ResponseAudio(_Strict):
    output: ResponseAudioOutput = Field(default_factory=ResponseAudioOutput)


class ResponseParams(_Strict):
    """`response.create`'s optional `response` object: per-response overrides."""

    conversation: str = "auto"
    instructions: str | None = None
    output_modalities: list[Modality] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    max_output_tokens: MaxTokens | None = None
    metadata: dict[str, str] | None = None
    input: list[dict[str, Any]] | None = None
    audio: ResponseAudio | None = None
    prompt: Any = None
    reasoning: Reasoning | None = None
    parallel_tool_calls: bool | None = None


# Keys whose objects are merged by session.update; every other key replaces.
_MERGED_KEYS = frozenset({"audio", "input", "output", "reasoning"})


def merge_update(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    for key, value in update.items():
        old = merged.get(key)
        if key in _MERGED_KEYS and isinstance(value, dict) and isinstance(old, dict):
            merged[key] = merge_update(old, value)
        else:
            merged[key] = value
    return merged


def apply_session_update(current: SessionConfig, update: Any) -> SessionConfig:
    """The session after `update`, or a ClientError naming the offending field."""
    if not isinstance(update, dict):
        raise ClientError(
            f"Invalid type for 'session': expected an object, but got {json_type_name(update)} "
            "instead.",
            code="invalid_type",
            param="session",
        )
    if update.get("type", "realtime") != "realtime":
        raise ClientError(
            f"Invalid value: {update.get('type')!r}. This server supports only "
            "'realtime' sessions.",
            code="invalid_value",
            param="session.type",
        )
    for immutable in ("id", "object", "expires_at"):
        if immutable in update:
            raise ClientError(
                f"Unknown parameter: 'session.{immutable}'.",
                code="unknown_parameter",
                param=f"session.{immutable}",
            )
    merged = merge_update(current.model_dump(mode="json"), update)
    try:
        config = SessionConfig.model_validate(merged)
    except ValidationError as exc:
        raise client_error_from(exc, "session") from None
    if len(config.output_modalities) != 1:
        raise ClientError(
            "Invalid 'session.output_modalities': exactly one of 'audio' or 'text' is supported.",
            code="invalid_value",
            param="session.output_modalities",
        )
    return config


def parse_response_params(raw: Any) -> ResponseParams:
    if raw is None:
        return ResponseParams()
    try:
        params = ResponseParams.model_validate(raw)
    except ValidationError as exc:
        raise client_error_from(exc, "response") from None
    if params.conversation not in ("auto", "none"):
        raise ClientError(
            f"Invalid value: {params.conversation!r}. Supported values are: 'auto' and 'none'.",
            code="invalid_value",
            param="response.conversation",
        )
    if params.output_modalities is not None and len(params.output_modalities) != 1:
        raise ClientError(
            "Invalid 'response.output_modalities': exactly one of 'audio' or 'text' is supported.",
            code="invalid_value",
            param="response.output_modalities",
        )
    return params


_FIELD = re.compile(r"[a-z_][a-z0-9_]*")
# pydantic's labels for union members and discriminator tags: not part of the JSON path
_NOT_FIELDS = frozenset({"str", "int", "float", "bool", "dict", "list", "none"}) | {
    "server_vad",
    "semantic_vad",
    "function",  # the tool union's tags
    "mcp",
}
_EXPECTED = {
    "string": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "dict": "an object",
    "model": "an object",
    "list": "an array",
}
_BOUNDS = {
    "less_than_equal": ("above maximum value", "<=", "le"),
    "less_than": ("above maximum value", "<", "lt"),
    "greater_than_equal": ("below minimum value", ">=", "ge"),
    "greater_than": ("below minimum value", ">", "gt"),
}


def _param(root: str, loc: tuple[int | str, ...]) -> str:
    parts = [root]
    for piece in loc:
        if isinstance(piece, int):
            parts[-1] += f"[{piece}]"
        elif _FIELD.fullmatch(piece) and piece not in _NOT_FIELDS:
            parts.append(piece)
    return ".".join(parts)


def client_error_from(exc: ValidationError, root: str) -> ClientError:
    """The first pydantic error, phrased the way the Realtime API phrases it."""
    err = exc.errors(include_url=False)[0]
    param = _param(root, err["loc"])
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        return ClientError(f"Unknown parameter: '{param}'.", code="unknown_parameter", param=param)
    if kind in ("missing", "union_tag_not_found"):
        param += ".type" if kind == "union_tag_not_found" else ""
        return ClientError(
            f"Missing required parameter: '{param}'.",
            code="missing_required_parameter",
            param=param,
        )
    if kind == "union_tag_invalid":
        return ClientError(
            f"Invalid value: {shown_value(ctx.get('tag'))}. Supported values are: "
            f"{ctx.get('expected_tags', '')}.",
            code="invalid_value",
            param=f"{param}.type",
        )
    if kind in ("literal_error", "enum"):
        return ClientError(
            f"Invalid value: {shown_value(value)}. "
            f"Supported values are: {ctx.get('expected', '')}.",
            code="invalid_value",
            param=param,
        )
    if kind in _BOUNDS:
        words, op, key = _BOUNDS[kind]
        number = "integer" if isinstance(value, int) else "decimal"
        return ClientError(
            f"Invalid '{param}': {number} {words}. Expected a value {op} {ctx.get(key)}, but "
            f"got {value} instead.",
            code=f"{number}_{words.replace(' ', '_')}",
            param=param,
        )
    if kind.endswith(("_type", "_parsing")):
        wanted = _EXPECTED.get(kind.split("_")[0], "another type")
        return ClientError(
            f"Invalid type for '{param}': expected {wanted}, "
            f"but got {json_type_name(value)} instead.",
            code="invalid_type",
            param=param,
        )
    return ClientError(
        f"Invalid '{param}': {err['msg']} (got {shown_value(value)}).",
        code="invalid_value",
        param=param,
    )
