"""Typed application events: what the conversation engine tells its consumers.

The engine turns every Realtime server event into one (or none) of these. A UI, the
headless runner, the journal and the benchmarks consume them; none of them ever sees
raw protocol JSON. Events are plain frozen dataclasses so they are cheap to create on
the hot path and safe to hand across threads.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TypeAlias

from voice_tui.core.conversation import Turn
from voice_tui.core.usage import TurnUsage, UsageTotals


class ConnectionState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DISCONNECTED = "disconnected"
    FAILED = "failed"  # a fatal error: retrying would not help


class Phase(enum.Enum):
    """What the conversation is doing right now; drives the VAD status lights."""

    IDLE = "idle"  # connected, not listening (push-to-talk, not talking)
    LISTENING = "listening"  # microphone open, waiting for speech
    USER_SPEAKING = "user_speaking"
    THINKING = "thinking"  # user turn committed, waiting for the answer
    ASSISTANT_SPEAKING = "assistant_speaking"
    TOOL_RUNNING = "tool_running"


class TurnMode(enum.Enum):
    SERVER_VAD = "server_vad"
    SEMANTIC_VAD = "semantic_vad"
    PUSH_TO_TALK = "push_to_talk"


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    state: ConnectionState
    detail: str = ""  # human-readable, never contains secrets
    attempt: int = 0  # reconnect attempt number, 0 when not reconnecting


@dataclass(frozen=True, slots=True)
class SessionReady:
    """The session is configured (after `session.updated`) and ready for audio."""

    session_id: str
    backend: str
    model: str
    voice: str
    persona: str
    turn_mode: TurnMode
    output_modality: str  # "audio" or "text"
    reasoning_effort: str | None = None  # None: the model does not reason


@dataclass(frozen=True, slots=True)
class PhaseChanged:
    phase: Phase


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    item_id: str
    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class UserTurnStarted:
    """A user audio turn was committed: its place in the conversation is known now,
    its transcript may come later (even after the assistant has begun answering)."""

    item_id: str
    previous_item_id: str | None


@dataclass(frozen=True, slots=True)
class UserTranscriptDelta:
    item_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class UserTranscriptFinal:
    item_id: str
    transcript: str


@dataclass(frozen=True, slots=True)
class UserTranscriptFailed:
    item_id: str
    message: str


@dataclass(frozen=True, slots=True)
class UserTextSent:
    """A typed user message was added to the conversation."""

    item_id: str
    text: str


@dataclass(frozen=True, slots=True)
class ResponseStarted:
    response_id: str


@dataclass(frozen=True, slots=True)
class AssistantTurnStarted:
    item_id: str
    response_id: str
    previous_item_id: str | None


@dataclass(frozen=True, slots=True)
class AssistantDelta:
    """Streamed assistant words: the audio transcript, or the text in text modality."""

    item_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class AssistantFinal:
    item_id: str
    text: str


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """Assistant audio: 24 kHz mono pcm16 little-endian."""

    item_id: str
    content_index: int
    response_id: str
    pcm: bytes
    received_at: float  # time.perf_counter() when the delta was received


@dataclass(frozen=True, slots=True)
class AssistantInterrupted:
    """The user barged in: the turn is cut at what was actually heard."""

    item_id: str
    heard_ms: int
    received_ms: int
    heard_text: str
    unheard_text: str
    truncate_sent: bool  # False when the whole item had already been played


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    call_id: str
    name: str
    arguments: str  # raw JSON text as the model produced it
    server: str = ""  # the remote MCP server's label, for calls the service makes


@dataclass(frozen=True, slots=True)
class ToolCallFinished:
    call_id: str
    name: str
    arguments: str
    output: str  # what was sent back to the model (a JSON text)
    ok: bool
    error: str | None
    duration_s: float
    server: str = ""


@dataclass(frozen=True, slots=True)
class ImageSent:
    """The user showed the assistant an image (a reference: the bytes are not kept)."""

    item_id: str
    name: str
    description: str  # "photo.jpg, 1024×768, 181 KB (scaled from 4032×3024)"


@dataclass(frozen=True, slots=True)
class ResponseFinished:
    response_id: str
    status: str  # completed | cancelled | failed | incomplete
    usage: TurnUsage | None
    totals: UsageTotals
    status_detail: str = ""


@dataclass(frozen=True, slots=True)
class TurnCompleted:
    """A finished turn, ready to be journaled. Emitted once per turn."""

    turn: Turn


@dataclass(frozen=True, slots=True)
class TurnAmended:
    """A turn already announced by `TurnCompleted` changed: its answer was cut while
    it still played, so `turn` is now interrupted with the part the user heard."""

    turn: Turn


@dataclass(frozen=True, slots=True)
class LatencyMeasured:
    """From the end of user speech to the first assistant audio (or text) of the answer."""

    seconds: float


@dataclass(frozen=True, slots=True)
class RateLimitsChanged:
    limits: tuple[RateLimit, ...]


@dataclass(frozen=True, slots=True)
class RateLimit:
    name: str
    limit: int
    remaining: int
    reset_seconds: float


@dataclass(frozen=True, slots=True)
class ErrorRaised:
    message: str  # one clear sentence, naming the setting to fix where there is one
    code: str = ""
    fatal: bool = False
    source: str = "server"  # server | connection | tool | config | audio


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the user should know that is not an error."""

    message: str


@dataclass(frozen=True, slots=True)
class ConversationEnded:
    reason: str


@dataclass(frozen=True, slots=True)
class PersonaApplied:
    name: str
    voice_pending: bool  # the voice can only change in a new session
    tools: tuple[str, ...] = field(default_factory=tuple)


AppEvent: TypeAlias = (
    ConnectionChanged
    | SessionReady
    | PhaseChanged
    | SpeechStarted
    | SpeechStopped
    | UserTurnStarted
    | UserTranscriptDelta
    | UserTranscriptFinal
    | UserTranscriptFailed
    | UserTextSent
    | ResponseStarted
    | AssistantTurnStarted
    | AssistantDelta
    | AssistantFinal
    | AudioChunk
    | AssistantInterrupted
    | ToolCallStarted
    | ToolCallFinished
    | ImageSent
    | ResponseFinished
    | TurnCompleted
    | TurnAmended
    | LatencyMeasured
    | RateLimitsChanged
    | ErrorRaised
    | Notice
    | ConversationEnded
    | PersonaApplied
)
