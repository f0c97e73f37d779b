"""The one typed schema of voice-tui's configuration.

Every key a user can write in `config.toml` is declared here, once, with its default;
`config.example.toml` documents each of them. Unknown keys are rejected by name.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

BackendKind = Literal["auto", "openai", "azure", "local"]
TurnDetection = Literal["server_vad", "semantic_vad", "push_to_talk"]
NoiseReduction = Literal["off", "near_field", "far_field"]
EchoMode = Literal["aec", "half-duplex", "off"]
Latency = Literal["low", "high"]
# The speaker's device buffer in milliseconds (PortAudio's named latencies, or a number).
LatencyMs = Annotated[int, Field(ge=6, le=500)]

# The voices of gpt-realtime; the local engine maps each to an espeak-ng voice.
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class BackendSettings(_Section):
    kind: BackendKind = "auto"
    model: str = "gpt-realtime"


class OpenAISettings(_Section):
    api_key: SecretStr | None = None
    base_url: str | None = None  # e.g. http://127.0.0.1:8765/v1 for any compatible server
    organization: str | None = None
    project: str | None = None


class AzureSettings(_Section):
    endpoint: str | None = None  # https://<resource>.openai.azure.com
    deployment: str | None = None
    api_version: str = "2025-08-28"
    api_key: SecretStr | None = None
    # Without a key, an Entra ID token from azure-identity (pip install voice-tui[azure]).
    use_entra_id: bool = True


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
    transcription_model: str = "gpt-4o-mini-transcribe"
    transcription_language: str | None = None
    noise_reduction: NoiseReduction = "near_field"
    max_output_tokens: int | Literal["inf"] = "inf"
    tool_timeout_s: float = Field(10.0, gt=0, le=600)
    tool_output_max_chars: int = Field(16_000, ge=256)


class AudioSettings(_Section):
    enabled: bool = True
    input_device: str | int | None = None  # name (survives re-plugging) or id; None = default
    output_device: str | int | None = None
    block_ms: int = Field(20, ge=5, le=100)
    latency: LatencyMs | Latency = 15
    echo: EchoMode = "aec"
    jitter_ms: int = Field(40, ge=0, le=500)  # playback prebuffer before the first sample


class UISettings(_Section):
    theme: str = "dark"
    # action id -> key, e.g. {push_to_talk = "space", mute = "m"}; see the README for ids.
    keys: dict[str, str] = Field(default_factory=dict)
    show_timestamps: bool = True


class LocalSettings(_Section):
    """The built-in offline engine (the `local` backend and `voice-tui serve`)."""

    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535)  # 0 = a free port
    # An OpenAI-compatible chat-completions endpoint (Ollama, llama.cpp, vLLM...).
    chat_url: str | None = None  # e.g. http://127.0.0.1:11434/v1
    chat_model: str | None = None
    chat_api_key: SecretStr | None = None
    chat_timeout_s: float = Field(30.0, gt=0)
    # A CTranslate2 Whisper model folder for speech recognition (default: the bundled,
    # hash-pinned tiny.en); e.g. a converted base.en or small.en for better machines.
    asr_model: str | None = None


class ToolsSettings(_Section):
    """Settings of the built-in tools."""

    # Where bookings and collected quotes are kept; default: the user data dir.
    data_dir: str | None = None
    # Open-Meteo compatible endpoints for get_weather (no key needed).
    weather_geocoding_url: str = "https://geocoding-api.open-meteo.com/v1/search"
    weather_forecast_url: str = "https://api.open-meteo.com/v1/forecast"
    restaurant_tables: int = Field(8, ge=1)  # tables The Wild Brunch can book per day
    restaurant_seats_per_table: int = Field(6, ge=1)


class JournalSettings(_Section):
    enabled: bool = True
    dir: str | None = None  # default: the platform's user data dir


class ModelPrices(_Section):
    """US dollars per million tokens."""

    text_input: float = 0.0
    text_cached_input: float = 0.0
    text_output: float = 0.0
    audio_input: float = 0.0
    audio_cached_input: float = 0.0
    audio_output: float = 0.0


def _default_prices() -> dict[str, ModelPrices]:
    return {
        "gpt-realtime": ModelPrices(
            text_input=4.0,
            text_cached_input=0.4,
            text_output=16.0,
            audio_input=32.0,
            audio_cached_input=0.4,
            audio_output=64.0,
        ),
        "gpt-realtime-mini": ModelPrices(
            text_input=0.6,
            text_cached_input=0.06,
            text_output=2.4,
            audio_input=10.0,
            audio_cached_input=0.3,
            audio_output=20.0,
        ),
    }


class Persona(_Section):
    name: str = Field(min_length=1)
    description: str = ""
    instructions: str
    voice: str | None = None
    tools: list[str] = Field(default_factory=list)  # names of built-in tools
    greet_first: bool = False  # the assistant speaks first, as in an outbound call


DEFAULT_PERSONA = Persona(
    name="Assistant",
    description="A helpful, concise voice assistant",
    instructions=(
        "You are a helpful voice assistant in a terminal. Answer briefly and naturally, "
        "as in a spoken conversation."
    ),
    tools=["get_current_time", "end_conversation"],
)


def _builtin_personas() -> list[Persona]:
    from voice_tui.config.personas import BUILTIN_PERSONAS  # it builds on this module

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

    @field_validator("personas")
    @classmethod
    def _unique_persona_names(cls, personas: list[Persona]) -> list[Persona]:
        seen: set[str] = set()
        for p in personas:
            if p.name.casefold() in seen:
                raise ValueError(f"two personas are named {p.name!r}")
            seen.add(p.name.casefold())
        return personas

    @model_validator(mode="after")
    def _persona_exists(self) -> Settings:
        if self.personas and self.find_persona(self.session.persona) is None:
            names = ", ".join(p.name for p in self.personas)
            raise ValueError(
                f"session.persona is {self.session.persona!r}, but the personas are: {names}"
            )
        return self

    def find_persona(self, name: str) -> Persona | None:
        for p in self.personas:
            if p.name.casefold() == name.casefold():
                return p
        return None

    @property
    def active_persona(self) -> Persona:
        return self.find_persona(self.session.persona) or DEFAULT_PERSONA
