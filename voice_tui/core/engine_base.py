"""What the parts of the conversation engine share.

`ConversationEngine` is assembled from mixins, each one concern: staying connected
(`recovery`), the user's speech (`user_speech`), the model's responses (`responses`),
and the engine itself (lifecycle, commands, tools, barge-in). Their shared state is
declared once here, so each part is type-checked against the same fields.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from voice_tui.backends.base import Backend
from voice_tui.config.schema import Persona, Settings
from voice_tui.core.conversation import Turn
from voice_tui.core.events import AppEvent, Phase, TurnMode
from voice_tui.core.link import Link
from voice_tui.core.ports import PlaybackSink
from voice_tui.core.reliability import ReconnectPolicy
from voice_tui.core.restore import PendingCall
from voice_tui.core.spoken_text import SpokenText
from voice_tui.core.tools import ToolRegistry
from voice_tui.core.turnbook import TurnBook
from voice_tui.core.usage import Prices, UsageTotals

Listener = Callable[[AppEvent], None]


class EngineError(Exception):
    """The engine could not start or continue; `message` says what to fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class OpenFailed(Exception):
    """A session could not be opened; `fatal` when retrying cannot help."""

    def __init__(self, message: str, *, fatal: bool, setting: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fatal = fatal
        self.setting = setting


@dataclass(slots=True)
class ResponseState:
    """One model response: its turn, its tool calls, whether the user cut it."""

    response_id: str
    turn: Turn | None = None
    done: bool = False
    cut: bool = False  # barge-in/interrupt: drop the rest of its audio
    discarded: bool = False  # answered in text where speech was wanted: asked again
    spoke: bool = False  # produced assistant words (text or transcript)
    tools_running: int = 0
    tool_calls: set[str] = field(default_factory=set)


def rest_phase(mode: TurnMode) -> Phase:
    return Phase.IDLE if mode is TurnMode.PUSH_TO_TALK else Phase.LISTENING


class EngineBase:
    settings: Settings
    backend: Backend
    tools: ToolRegistry
    playback: PlaybackSink
    policy: ReconnectPolicy
    voice_override: str | None
    persona: Persona
    turn_mode: TurnMode
    phase: Phase
    totals: UsageTotals
    session_id: str
    prices: Prices
    notices: list[str]
    reconnects: int
    renewals: int

    _book: TurnBook
    _listeners: list[Listener]
    _link: Link | None
    _preparing: Link | None
    _renew_not_before: float
    _tasks: set[asyncio.Task[Any]]
    _recovery: asyncio.Task[None] | None
    _watchdog: asyncio.Task[None] | None
    _configured: bool
    _closing: bool
    _ended: asyncio.Event
    _end_reason: str
    _end_after_goodbye: bool
    _drained: asyncio.Event
    _rng: random.Random
    _pending_updates: deque[tuple[str, asyncio.Future[None]]]
    _sent_kinds: dict[str, str]

    _responses: dict[str, ResponseState]
    _active: ResponseState | None
    _response_requested: bool
    _response_queued: bool
    _followup_needed: bool
    _running_calls: dict[str, PendingCall]
    _held_texts: list[str]
    _speak_guard: bool
    _ask_to_speak: bool
    _rate_retries: int
    _rate_wait: bool

    _spoken: dict[str, SpokenText]
    _item_received_ms: dict[str, float]
    _item_response: dict[str, ResponseState]
    _last_audio_item: str | None

    _session_voice: str | None
    _audio_produced: bool
    _talking: bool
    _talk_bytes: int
    _user_speaking: bool
    _latency_t0: float | None

    if TYPE_CHECKING:  # implemented by ConversationEngine or another part

        @property
        def conversation(self) -> list[Turn]: ...
        @property
        def busy(self) -> bool: ...
        @property
        def ended(self) -> bool: ...
        def _emit(self, event: AppEvent) -> None: ...
        def _set_phase(self, phase: Phase) -> None: ...
        def _send_tracked(self, kind: str, build: Callable[[str], str]) -> str: ...
        def _fail_pending_updates(self, exc: Exception) -> None: ...
        def _request_response(self) -> None: ...
        def _send_user_text(self, text: str) -> None: ...
        async def _open_session(self, *, quiet: bool = False) -> None: ...
        async def _prepare_link(self) -> tuple[Link, bool]: ...
        def _go_live(self, link: Link, replayed: bool, *, quiet: bool) -> None: ...
        async def _close_connection(self, *, flush: bool = True) -> None: ...
        def _fail(self, message: str, *, source: str, code: str = "") -> None: ...
        def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None: ...
        def _start_tool(
            self, resp: ResponseState, item_id: str, call_id: str, name: str, args: str
        ) -> None: ...
        def _cut_playback(self) -> None: ...
        async def _end_after_playback(self, reason: str) -> None: ...
        def _after_response(self) -> None: ...
        def _end_response_audio(self, resp: ResponseState) -> None: ...
        def _begin_recovery(self, message: str) -> None: ...
        def _connection_lost(self, link: Link, exc: Exception) -> None: ...
