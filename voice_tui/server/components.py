"""The three pluggable parts of the built-in Realtime server.

The protocol code in `voice_tui.server` only talks to these interfaces; the offline
implementations live in `voice_tui.offline` (pocketsphinx, espeak-ng, a built-in
responder, a chat-completions responder). A better local model is added by writing
one more implementation, without touching the protocol code.

All audio here is 24 kHz mono pcm16 little-endian, the Realtime wire format.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

# Makes server_vad's detector from (VadSettings, start_ms): see server/vad.py's
# VadFactory (not imported: vad.py builds on the wire helpers, which build on this module).
VadMaker = Callable[[Any, int], Any]

SAMPLE_RATE = 24_000


class RecognitionStream(Protocol):
    """One utterance being recognised. Not thread-safe; the server owns it."""

    def feed(self, pcm: bytes) -> str | None:
        """Add audio; return the new partial hypothesis when it changed, else None."""

    def finish(self) -> str:
        """End of the utterance: the final transcript ("" when nothing was understood)."""


@runtime_checkable
class Settling(Protocol):
    """A recognition stream that can use the silence at the end of a turn."""

    def settle(self) -> None:
        """The speaker paused: decode what was heard so far, so finish() can return it
        if nothing but silence follows."""

    def unsettle(self) -> None:
        """The speaker went on: what settle() decoded is out of date."""


class Recognizer(Protocol):
    @property
    def name(self) -> str: ...

    def start(self, language: str | None = None, prompt: str | None = None) -> RecognitionStream:
        """Begin a new utterance."""


class Synthesizer(Protocol):
    @property
    def name(self) -> str: ...

    def synthesize(self, text: str, voice: str, speed: float) -> Iterator[bytes]:
        """Speak `text`; yield pcm16 chunks at 24 kHz as they are produced.

        Blocking: the server runs it in a worker thread, one sentence at a time."""


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """History handed to a responder, in chat-completions terms."""

    role: str  # system | user | assistant | tool
    content: str = ""
    tool_calls: tuple[dict[str, Any], ...] = ()  # assistant function calls
    tool_call_id: str | None = None  # for role == "tool"
    images: tuple[str, ...] = ()  # user images as data URLs (PNG or JPEG)


@dataclass(frozen=True, slots=True)
class ResponderRequest:
    instructions: str
    history: tuple[ChatMessage, ...]
    tools: tuple[dict[str, Any], ...]  # Realtime tool definitions (type, name, parameters...)
    max_output_tokens: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TextPiece:
    text: str


@dataclass(frozen=True, slots=True)
class FunctionCallPiece:
    name: str
    arguments: str  # JSON text
    call_id: str


ResponderPiece = TextPiece | FunctionCallPiece


class Responder(Protocol):
    name: str

    def respond(self, request: ResponderRequest) -> AsyncIterator[ResponderPiece]:
        """Stream a reply. May raise ResponderError; the server turns it into a short
        spoken/written error turn and the session continues."""


class ResponderError(Exception):
    """The responder could not answer (endpoint down, slow, or returned an error)."""


class Loading(Protocol):
    """Parts still loading in the background (see voice_tui.offline.loading)."""

    @property
    def done(self) -> bool: ...

    def summary(self) -> str:
        """Progress while loading; the loaded parts' names when done."""

    def subscribe(self, listener: Callable[[Any], None]) -> None:
        """Call `listener(status)` after each step (from the loading thread)."""


@dataclass(frozen=True, slots=True)
class Components:
    """What one server instance uses; any part may be replaced (tests, better models)."""

    recognizer: Recognizer | None  # None: speech recognition unavailable (typed input only)
    synthesizer: Synthesizer | None  # None: replies are text-only
    responder: Responder
    notes: tuple[str, ...] = ()  # what was unavailable and why, for the user
    vad: VadMaker | None = None  # server_vad's detector (None: the energy VAD)
    loading: Loading | None = None  # parts still arriving; notes of fallbacks land there
