"""The one typed schema of voice-tui's configuration.

Every key a user can write in `config.toml` is declared here, once, with its default;
`config.example.toml` documents each of them. Unknown keys are rejected by name.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from voice_tui.config.models import (
    DEFAULT_MODEL,
    DEFAULT_TRANSCRIPTION_MODEL,
    PRICE_TABLE,
    ReasoningEffort,
)
from voice_tui.config.personas import BUILTIN_PERSONAS
from voice_tui.config.personas import DEFAULT_PERSONA as DEFAULT_PERSONA
from voice_tui.config.personas import Persona as Persona  # where everyone looks for it
from voice_tui.config.section import Section as _Section

BackendKind = Literal["auto", "openai", "azure", "local"]
TurnDetection = Literal["server_vad", "semantic_vad", "push_to_talk"]
NoiseReduction = Literal["off", "near_field", "far_field"]
EchoMode = Literal["aec", "half-duplex", "off"]
Latency = Literal["low", "high"]
# The speaker's device buffer in milliseconds (PortAudio's named latencies, or a number).
LatencyMs = Annotated[int, Field(ge=6, le=500)]
ImageDetail = Literal["auto", "low", "high"]
ApprovalPolicy = Literal["always", "never"]
# MCP server names prefix their tools' names, which the API limits to this charset.
MCP_SERVER_NAME = r"^[A-Za-z0-9_-]{1,32}$"

# The voices of gpt-realtime; the local engine maps each to an espeak-ng voice.
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")


def http_url(value: str | None, example: str) -> str | None:
    """An http(s) URL with a host, or a ValueError that shows what one looks like."""
    if value is None:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http:// or https:// URL such as {example}, not {value!r}")
    return value.strip()


class BackendSettings(_Section):
    kind: BackendKind = "auto"
    model: str = DEFAULT_MODEL


class OpenAISettings(_Section):
    api_key: SecretStr | None = None
    base_url: str | None = None  # e.g. http://127.0.0.1:8765/v1 for any compatible server
    organization: str | None = None
    project: str | None = None

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        return http_url(value, "http://127.0.0.1:8765/v1")


class AzureSettings(_Section):
    endpoint: str | None = None  # https://<resource>.openai.azure.com (/openai/v1 optional)
    deployment: str | None = None  # the realtime deployment's name
    # The model behind the deployment (e.g. gpt-realtime-2.1): prices it, and says
    # whether it takes a reasoning effort. None: the deployment's name, if it is a model id.
    model: str | None = None
    # Azure wants input transcription to name a transcription *deployment*; None: a
    # deployment named like session.transcription_model.
    transcription_deployment: str | None = None
    api_key: SecretStr | None = None
    # Without a key, an Entra ID token from azure-identity (pip install voice-tui[azure]).
    use_entra_id: bool = True
    entra_scope: str = "https://ai.azure.com/.default"  # Microsoft's current samples
    # Retired: the GA endpoint (/openai/v1) takes no api-version. Accepted and ignored,
    # with a notice, so old configs keep working.
    api_version: str | None = None

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return http_url(value, "https://my-resource.openai.azure.com")


class SessionSettings(_Section):
    persona: str = "Assistant"
    turn_detection: TurnDetection = "server_vad"
    vad_threshold: float = Field(0.5, ge=0.0, le=1.0)
    prefix_padding_ms: int = Field(300, ge=0, le=5000)
    silence_duration_ms: int = Field(500, ge=50, le=10000)
    semantic_eagerness: Literal["auto", "low", "medium", "high"] = "auto"
    output_modality: Literal["audio", "text"] = "audio"
    voice: str = "marin"  # used when the persona names none
    speed: float = Field(1.0, ge=0.25, le=1.5)
    transcription_model: str = DEFAULT_TRANSCRIPTION_MODEL
    transcription_language: str | None = None
    # Reasoning models (gpt-realtime-2 family) only; "low" is the models' own default.
    # (None, set by voice-tui for a model that does not reason: nothing is sent.)
    reasoning_effort: ReasoningEffort | None = "low"
    parallel_tool_calls: bool = True  # reasoning models may call several tools at once
    noise_reduction: NoiseReduction = "near_field"
    max_output_tokens: Annotated[int, Field(ge=1, le=4096)] | Literal["inf"] = "inf"
    # server_vad: after this much silence from the user (ms, 5000-30000), the model is
    # prompted to speak. None: wait as long as it takes.
    idle_timeout_ms: int | None = Field(None, ge=5000, le=30000)
    # When the conversation outgrows the context: "auto" drops the oldest turns,
    # "disabled" fails instead, a number (0-1) keeps that share of the conversation at
    # each cut (fewer cuts: more of the input is read from the cache, at a lower price).
    truncation: Literal["auto", "disabled"] | Annotated[float, Field(gt=0, lt=1)] = "auto"
    # With a retention ratio: the conversation tokens (after the instructions) to allow.
    truncation_token_limit: int | None = Field(None, ge=1)
    tool_timeout_s: float = Field(10.0, gt=0, le=600)
    tool_output_max_chars: int = Field(16_000, ge=256)
    # Images sent to the model: "low" is cheapest, "high" reads fine print.
    image_detail: ImageDetail = "auto"
    image_max_side: int = Field(2048, ge=64, le=8192)  # larger images are scaled down


class AudioSettings(_Section):
    enabled: bool = True
    input_device: str | int | None = None  # name (survives re-plugging) or id; None = default
    output_device: str | int | None = None
    block_ms: int = Field(20, ge=5, le=100)
    latency: LatencyMs | Latency = 15
    echo: EchoMode = "aec"
    jitter_ms: int = Field(15, ge=0, le=500)  # playback margin against late deltas


class UISettings(_Section):
    theme: str = "dark"
    # action id -> key, e.g. {push_to_talk = "space", mute = "m"}; see the README for ids.
    keys: dict[str, str] = Field(default_factory=dict)
    show_timestamps: bool = True


class LocalSettings(_Section):
    """The built-in offline engine (the `local` backend and `voice-tui serve`)."""

    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535)  # 0 = a free port
    # The key clients must present (Bearer, or Azure's api-key header); None: no key.
    # Binding beyond loopback without one is refused unless explicitly allowed.
    api_key: SecretStr | None = None
    # An OpenAI-compatible chat-completions endpoint (Ollama, llama.cpp, vLLM...).
    chat_url: str | None = None  # e.g. http://127.0.0.1:11434/v1
    chat_model: str | None = None
    chat_api_key: SecretStr | None = None
    chat_timeout_s: float = Field(30.0, gt=0)
    # A CTranslate2 Whisper model folder for speech recognition (default: the bundled,
    # hash-pinned tiny.en); e.g. a converted base.en or small.en for better machines.
    asr_model: str | None = None

    @field_validator("chat_url")
    @classmethod
    def _chat_url(cls, value: str | None) -> str | None:
        return http_url(value, "http://127.0.0.1:11434/v1")


class ToolsSettings(_Section):
    """Settings of the built-in tools."""

    # Where bookings and collected quotes are kept; default: the user data dir.
    data_dir: str | None = None
    # Open-Meteo compatible endpoints for get_weather (no key needed).
    weather_geocoding_url: str = "https://geocoding-api.open-meteo.com/v1/search"
    weather_forecast_url: str = "https://api.open-meteo.com/v1/forecast"
    restaurant_tables: int = Field(8, ge=1)  # tables The Wild Brunch can book per day
    restaurant_seats_per_table: int = Field(6, ge=1)

    @field_validator("weather_geocoding_url", "weather_forecast_url")
    @classmethod
    def _weather_url(cls, value: str) -> str:
        return http_url(value, "https://api.open-meteo.com/v1/forecast") or value


class JournalSettings(_Section):
    enabled: bool = True
    dir: str | None = None  # default: the platform's user data dir


class ModelPrices(_Section):
    """US dollars per million tokens (reasoning tokens are billed as text output)."""

    text_input: float = 0.0
    text_cached_input: float = 0.0
    text_output: float = 0.0
    audio_input: float = 0.0
    audio_cached_input: float = 0.0
    audio_output: float = 0.0


def _default_prices() -> dict[str, ModelPrices]:
    """The price table of voice_tui/config/models.py (exact model ids)."""
    return {
        model: ModelPrices(
            text_input=row.text[0],
            text_cached_input=row.text[1],
            text_output=row.text[2],
            audio_input=row.audio[0],
            audio_cached_input=row.audio[1],
            audio_output=row.audio[2],
        )
        for model, row in PRICE_TABLE.items()
    }


class McpServerSettings(_Section):
    """An MCP server whose tools the assistant may use (`[[mcp_servers]]`).

    Local (voice-tui connects): `command` + `args` + `env` (stdio) or `url` + `headers`
    (streamable HTTP). Remote (`remote = true`): the Realtime service itself calls `url`
    or `connector_id`. Values may say `${VARIABLE}` to keep secrets in the environment.
    """

    name: str = Field(pattern=MCP_SERVER_NAME)
    description: str = ""
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    remote: bool = False  # true: the Realtime service connects, not voice-tui
    connector_id: str | None = None  # a service connector (remote only), e.g. connector_gmail
    authorization: str | None = None  # OAuth token for a remote server, e.g. "${TOKEN}"
    allowed_tools: list[str] | None = None  # None: every tool the server offers
    # "always", "never", or the names of the tools that need the user's approval.
    require_approval: ApprovalPolicy | list[str] = "always"
    timeout_s: float = Field(30.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerSettings:
        if self.remote:
            if (self.url is None) == (self.connector_id is None):
                raise ValueError(
                    f"MCP server {self.name!r} is remote: give it either url or connector_id"
                )
            if self.command is not None:
                raise ValueError(
                    f"MCP server {self.name!r} is remote: the service cannot run a command"
                )
            return self
        if self.connector_id is not None or self.authorization is not None:
            raise ValueError(
                f"MCP server {self.name!r}: connector_id and authorization need remote = true"
            )
        if (self.command is None) == (self.url is None):
            raise ValueError(
                f"MCP server {self.name!r}: give it either command (stdio) or url (HTTP)"
            )
        return self


def _builtin_personas() -> list[Persona]:
    return [p.model_copy(deep=True) for p in BUILTIN_PERSONAS]


class Settings(_Section):
    backend: BackendSettings = Field(default_factory=BackendSettings)
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    azure: AzureSettings = Field(default_factory=AzureSettings)
    session: SessionSettings = Field(default_factory=SessionSettings)
    audio: AudioSettings = Field(default_factory=AudioSettings)
    ui: UISettings = Field(default_factory=UISettings)
    local: LocalSettings = Field(default_factory=LocalSettings)
    journal: JournalSettings = Field(default_factory=JournalSettings)
    tools: ToolsSettings = Field(default_factory=ToolsSettings)
    pricing: dict[str, ModelPrices] = Field(default_factory=_default_prices)
    personas: list[Persona] = Field(default_factory=lambda: _builtin_personas())
    mcp_servers: list[McpServerSettings] = Field(default_factory=list)

    @field_validator("pricing")
    @classmethod
    def _pricing_extends_the_table(cls, pricing: dict[str, ModelPrices]) -> dict[str, ModelPrices]:
        """A `[pricing.<model>]` of the user's adds to (or overrides) the built-in table."""
        return {**_default_prices(), **pricing}

    @field_validator("personas")
    @classmethod
    def _unique_persona_names(cls, personas: list[Persona]) -> list[Persona]:
        seen: set[str] = set()
        for p in personas:
            if p.name.casefold() in seen:
                raise ValueError(f"two personas are named {p.name!r}")
            seen.add(p.name.casefold())
        return personas

    @field_validator("mcp_servers")
    @classmethod
    def _unique_server_names(cls, servers: list[McpServerSettings]) -> list[McpServerSettings]:
        seen: set[str] = set()
        for server in servers:
            if server.name in seen:
                raise ValueError(f"two MCP servers are named {server.name!r}")
            seen.add(server.name)
        return servers

    def find_mcp_server(self, name: str) -> McpServerSettings | None:
        return next((s for s in self.mcp_servers if s.name == name), None)

    @model_validator(mode="after")
    def _persona_exists(self) -> Settings:
        if not self.personas or self.find_persona(self.session.persona) is not None:
            return self
        if "persona" not in self.session.model_fields_set:
            # Personas of one's own and no choice among them: the first one.
            self.session.persona = self.personas[0].name
            return self
        names = [p.name for p in self.personas]
        close = difflib.get_close_matches(self.session.persona, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"session.persona is {self.session.persona!r}, but no persona has that name"
            f"{hint}; set session.persona to one of {', '.join(map(repr, names))}"
        )

    def find_persona(self, name: str) -> Persona | None:
        for p in self.personas:
            if p.name.casefold() == name.casefold():
                return p
        return None

    @property
    def active_persona(self) -> Persona:
        return self.find_persona(self.session.persona) or DEFAULT_PERSONA
