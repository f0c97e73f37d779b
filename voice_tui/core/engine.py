"""The conversation engine: one Realtime session seen as typed application events.

It configures the session, sends microphone audio and typed text, maps every server
event to an `AppEvent`, runs tools, truncates what the user did not hear on barge-in,
and keeps the conversation (a list of `Turn`) that outlives any one connection.

Everything runs on one asyncio loop. Sending goes through a per-connection outbox
drained by one task, so `send_audio` never awaits and events keep their order.
A connection is opened by `_open_session`, which can replay the conversation into a
fresh server session: `new_session` uses it today, reconnect-with-restore will too.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from openai.resources.realtime.realtime import AsyncRealtimeConnection

from voice_tui.backends.base import Backend, BackendError
from voice_tui.backends.errors import session_error
from voice_tui.config.schema import Persona, Settings
from voice_tui.core import protocol as p
from voice_tui.core.conversation import Role, ToolCallRecord, Turn
from voice_tui.core.events import (
    AppEvent,
    AssistantDelta,
    AssistantFinal,
    AssistantInterrupted,
    AssistantTurnStarted,
    AudioChunk,
    ConnectionChanged,
    ConnectionState,
    ConversationEnded,
    ErrorRaised,
    LatencyMeasured,
    Notice,
    PersonaApplied,
    Phase,
    PhaseChanged,
    RateLimitsChanged,
    ResponseFinished,
    ResponseStarted,
    SessionReady,
    SpeechStarted,
    SpeechStopped,
    ToolCallFinished,
    ToolCallStarted,
    TurnCompleted,
    TurnMode,
    UserTextSent,
    UserTranscriptDelta,
    UserTranscriptFailed,
    UserTranscriptFinal,
    UserTurnStarted,
)
from voice_tui.core.ports import HeardAudio, NullPlayback, PlaybackSink
from voice_tui.core.tools import ToolRegistry
from voice_tui.core.usage import TurnUsage, UsageTotals

log = logging.getLogger(__name__)

Listener = Callable[[AppEvent], None]

CONFIGURE_TIMEOUT_S = 20.0
MIN_COMMIT_MS = 100  # the server rejects a commit of less audio than this
END_DRAIN_MARGIN_S = 5.0  # waiting for the goodbye to play: received audio + this
FLUSH_TIMEOUT_S = 2.0  # sending what is queued before a connection is closed


class EngineError(Exception):
    """The engine could not start or continue; `message` says what to fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(slots=True)
class _Response:
    """One model response: its turn, its tool calls, whether the user cut it."""

    response_id: str
    turn: Turn | None = None
    done: bool = False
    cut: bool = False  # barge-in/interrupt: drop the rest of its audio
    spoke: bool = False  # produced assistant words (text or transcript)
    tools_running: int = 0
    tool_calls: set[str] = field(default_factory=set)


def _rest_phase(mode: TurnMode) -> Phase:
    return Phase.IDLE if mode is TurnMode.PUSH_TO_TALK else Phase.LISTENING


class ConversationEngine:
    def __init__(
        self,
        settings: Settings,
        backend: Backend,
        tools: ToolRegistry,
        playback: PlaybackSink | None = None,
        *,
        history: Sequence[Turn] = (),
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.tools = tools
        self.playback: PlaybackSink = playback or NullPlayback()
        self.persona: Persona = settings.active_persona
        self.turn_mode = TurnMode(settings.session.turn_detection)
        self.phase = Phase.IDLE
        self.conversation: list[Turn] = list(history)
        self.totals = UsageTotals()
        self.session_id = ""
        self.prices = p.prices_for(settings, backend.model)
        self.notices: list[str] = []  # shown as Notice events when the engine starts

        self._listeners: list[Listener] = []
        self._conn: AsyncRealtimeConnection | None = None
        self._outbox: asyncio.Queue[str | None] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._receiver: asyncio.Task[None] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._configured = False
        self._closing = False
        self._ended = asyncio.Event()
        self._end_reason = ""
        self._end_after_goodbye = False
        self._drained = asyncio.Event()

        # Requests awaiting `session.updated`, oldest first: (event_id, future).
        self._pending_updates: deque[tuple[str, asyncio.Future[None]]] = deque()
        self._sent_kinds: dict[str, str] = {}  # client event_id -> what it was

        self._responses: dict[str, _Response] = {}
        self._active: _Response | None = None
        self._response_requested = False  # response.create sent, response.created not seen
        self._response_queued = False  # wanted once the active response is done
        self._followup_needed = False  # tool outputs sent, the model should answer them

        self._item_turn: dict[str, Turn] = {}
        self._item_text: dict[str, str] = {}
        self._item_received_ms: dict[str, float] = {}
        self._item_response: dict[str, _Response] = {}
        self._last_audio_item: str | None = None
        self._unemitted: deque[Turn] = deque()  # turns awaiting TurnCompleted, in order
        self._finished_turns: set[int] = set()

        self._session_voice: str | None = None
        self._audio_produced = False
        self._talking = False
        self._talk_bytes = 0
        self._user_speaking = False
        self._latency_t0: float | None = None

        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "error": self._on_error,
            "session.created": self._on_session_created,
            "session.updated": self._on_session_updated,
            "input_audio_buffer.speech_started": self._on_speech_started,
            "input_audio_buffer.speech_stopped": self._on_speech_stopped,
            "input_audio_buffer.committed": self._on_committed,
            "conversation.item.input_audio_transcription.delta": self._on_user_delta,
            "conversation.item.input_audio_transcription.completed": self._on_user_final,
            "conversation.item.input_audio_transcription.failed": self._on_user_failed,
            "response.created": self._on_response_created,
            "response.output_item.added": self._on_output_item_added,
            "response.output_item.done": self._on_output_item_done,
            "response.output_audio.delta": self._on_audio_delta,
            "response.output_audio_transcript.delta": self._on_text_delta,
            "response.output_text.delta": self._on_text_delta,
            "response.output_audio_transcript.done": self._on_text_done,
            "response.output_text.done": self._on_text_done,
            "response.function_call_arguments.done": self._on_function_call,
            "response.done": self._on_response_done,
            "rate_limits.updated": self._on_rate_limits,
        }

    # ------------------------------------------------------------ subscribers

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    def _emit(self, event: AppEvent) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken consumer must not stop the conversation
                log.exception("event listener failed on %s", type(event).__name__)

    def _set_phase(self, phase: Phase) -> None:
        if phase is not self.phase:
            self.phase = phase
            self._emit(PhaseChanged(phase))

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Connect and configure; raises EngineError (after emitting ErrorRaised)
        when the backend cannot be reached or rejects the session."""
        for notice in ([self.backend.notice] if self.backend.notice else []) + self.notices:
            self._emit(Notice(notice))
        await self._open_session()
        if self.persona.greet_first and not self.conversation:
            self._request_response()

    async def new_session(self) -> None:
        """A fresh server session keeping the conversation (e.g. for a new voice)."""
        await self.interrupt()  # the old session's items are about to disappear
        await self._close_connection()
        await self._open_session()

    async def wait_ended(self) -> str:
        await self._ended.wait()
        return self._end_reason

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        await self._close_connection()
        for turn in list(self._unemitted):
            self._finished_turns.add(id(turn))
        self._flush_turns()
        self._emit(ConnectionChanged(ConnectionState.DISCONNECTED, "closed"))
        self._end("closed")

    async def _open_session(self) -> None:
        self._emit(ConnectionChanged(ConnectionState.CONNECTING, self.backend.description))
        try:
            conn = await self.backend.connect()
        except BackendError as exc:
            self._fail(exc.message, source="connection", code=exc.setting)
            raise EngineError(exc.message) from exc
        self._conn = conn
        self._configured = False
        self._outbox = asyncio.Queue()
        self._sender = asyncio.create_task(self._send_loop(conn, self._outbox))
        self._receiver = asyncio.create_task(self._receive_loop(conn))
        voice = p.persona_voice(self.settings, self.persona)
        session = p.session_config(
            self.settings, self.persona, self._tool_definitions(self.persona), self.turn_mode
        )
        ack = self._send_update(session)
        for item in p.history_items(self.conversation):
            self._send(item)
        try:
            await asyncio.wait_for(ack, CONFIGURE_TIMEOUT_S)
        except (BackendError, EngineError, TimeoutError, ConnectionError) as exc:
            message = getattr(exc, "message", "") or (
                f"The {self.backend.name} server did not confirm the session within "
                f"{CONFIGURE_TIMEOUT_S:.0f} s."
            )
            await self._close_connection()
            self._fail(message, source="connection")
            raise EngineError(message) from exc
        self._configured = True
        self._session_voice = voice
        self._audio_produced = False
        self._emit(ConnectionChanged(ConnectionState.CONNECTED, self.backend.description))
        self._emit(
            SessionReady(
                session_id=self.session_id,
                backend=self.backend.name,
                model=self.backend.model,
                voice=voice,
                persona=self.persona.name,
                turn_mode=self.turn_mode,
                output_modality=self.settings.session.output_modality,
            )
        )
        self._set_phase(_rest_phase(self.turn_mode))

    async def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        self._configured = False
        self._outbox.put_nowait(None)
        if self._sender is not None and conn is not None:  # what was queued goes out first
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._sender), FLUSH_TIMEOUT_S)
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()
        for task in (self._receiver, self._sender):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._receiver = self._sender = None
        self._fail_pending_updates(EngineError("the connection was closed"))
        self._active = None
        self._response_requested = False

    def _fail(self, message: str, *, source: str, code: str = "") -> None:
        self._configured = False  # nothing more is sent on this session
        self._emit(ErrorRaised(message, code=code, fatal=True, source=source))
        self._emit(ConnectionChanged(ConnectionState.FAILED, message))
        self._end(f"error: {message}")

    def _end(self, reason: str) -> None:
        if not self._ended.is_set():
            self._end_reason = reason
            self._ended.set()
            self._emit(ConversationEnded(reason))

    # ------------------------------------------------------------ sending

    async def _send_loop(
        self, conn: AsyncRealtimeConnection, outbox: asyncio.Queue[str | None]
    ) -> None:
        while True:
            data = await outbox.get()
            if data is None:
                return
            try:
                await conn.send_raw(data)
            except Exception as exc:  # the receive loop reports the closed connection
                log.debug("send failed: %s", type(exc).__name__)
                return

    def _send(self, data: str) -> None:
        self._outbox.put_nowait(data)

    def _send_tracked(self, kind: str, build: Callable[[str], str]) -> str:
        event_id = p.new_event_id()
        if len(self._sent_kinds) > 512:
            for old in list(self._sent_kinds)[:256]:
                del self._sent_kinds[old]
        self._sent_kinds[event_id] = kind
        self._send(build(event_id))
        return event_id

    def _send_update(self, session: dict[str, Any]) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        event_id = self._send_tracked("session.update", lambda eid: p.session_update(session, eid))
        self._pending_updates.append((event_id, future))
        return future

    def _fail_pending_updates(self, exc: Exception) -> None:
        while self._pending_updates:
            _, future = self._pending_updates.popleft()
            if not future.done():
                future.set_exception(exc)
                future.exception()  # mark retrieved: nobody may be awaiting it

    def send_audio(self, pcm: bytes, captured_at: float | None = None) -> None:
        """Microphone audio, 24 kHz mono pcm16; called on the loop, never blocks."""
        if not self._configured or not pcm:
            return
        if self.turn_mode is TurnMode.PUSH_TO_TALK:
            if not self._talking:
                return
            self._talk_bytes += len(pcm)
        self._outbox.put_nowait(p.audio_append(pcm))

    def _request_response(self) -> None:
        """response.create, but never while a response is active: queue it instead."""
        if self._active is not None or self._response_requested:
            self._response_queued = True
            return
        self._response_queued = False
        self._response_requested = True
        self._send_tracked("response.create", p.response_create)

    # ------------------------------------------------------------ user commands

    async def send_text(self, text: str) -> None:
        text = text.strip()
        if not text:
            raise ValueError("Nothing to send: the message is empty.")
        if not self._configured:
            raise EngineError("Not connected: the message was not sent.")
        if self.playback.is_playing() or self._active is not None:
            await self.interrupt()
        item_id = "item_vt" + uuid.uuid4().hex[:20]
        self._send_tracked(
            "conversation.item.create", lambda eid: p.user_text_item(item_id, text, eid)
        )
        now = time.time()
        turn = Turn(Role.USER, item_id, text=text, typed=True, started_at=now, finished_at=now)
        self._add_turn(turn)
        self._emit(UserTextSent(item_id, text))
        self._finish_turn(turn)
        self._latency_t0 = time.perf_counter()
        self._request_response()
        self._set_phase(Phase.THINKING)

    async def start_talking(self) -> None:
        """Push-to-talk pressed: cut the assistant, start a fresh input buffer."""
        if self.playback.is_playing() or self._active is not None:
            await self.interrupt()
        if self.turn_mode is not TurnMode.PUSH_TO_TALK:
            return
        self._talking = True
        self._talk_bytes = 0
        self._send_tracked(
            "input_audio_buffer.clear", lambda eid: p.simple("input_audio_buffer.clear", eid)
        )
        self._set_phase(Phase.USER_SPEAKING)

    async def stop_talking(self) -> None:
        """Push-to-talk released: commit what was said and ask for the answer."""
        if self.turn_mode is not TurnMode.PUSH_TO_TALK or not self._talking:
            return
        self._talking = False
        if self._talk_bytes < MIN_COMMIT_MS * p.BYTES_PER_MS:
            self._send_tracked(
                "input_audio_buffer.clear", lambda eid: p.simple("input_audio_buffer.clear", eid)
            )
            self._emit(Notice("Nothing was recorded: hold the talk key while you speak."))
            self._set_phase(_rest_phase(self.turn_mode))
            return
        self._send_tracked(
            "input_audio_buffer.commit", lambda eid: p.simple("input_audio_buffer.commit", eid)
        )
        self._latency_t0 = time.perf_counter()
        self._request_response()
        self._set_phase(Phase.THINKING)

    async def commit_input(self) -> None:
        """End the user's turn now, whatever the turn detection (e.g. a file ended
        without the silence server VAD waits for)."""
        self._send_tracked(
            "input_audio_buffer.commit", lambda eid: p.simple("input_audio_buffer.commit", eid)
        )
        self._latency_t0 = time.perf_counter()
        self._request_response()
        self._set_phase(Phase.THINKING)

    @property
    def busy(self) -> bool:
        """A response is under way, wanted, or waiting for a tool."""
        return (
            self._active is not None
            or self._response_requested
            or self._response_queued
            or self._followup_needed
            or any(r.tools_running for r in self._responses.values())
        )

    async def interrupt(self) -> None:
        """Stop the assistant: playback, truncation by what was heard, cancel."""
        self._cut_playback()
        active = self._active
        if active is not None and not active.done:
            active.cut = True
            self._send_tracked("response.cancel", lambda eid: p.simple("response.cancel", eid))
        self._response_queued = False
        self._followup_needed = False

    async def set_turn_mode(self, mode: TurnMode) -> None:
        if not self._configured:
            self.turn_mode = mode
            return
        await self._await_update(p.turn_detection_session(self.settings, mode))
        self.turn_mode = mode
        self._talking = False
        if self.phase in (Phase.IDLE, Phase.LISTENING, Phase.USER_SPEAKING):
            self._set_phase(_rest_phase(mode))

    async def set_persona(self, name: str) -> PersonaApplied:
        persona = self.settings.find_persona(name)
        if persona is None:
            names = ", ".join(x.name for x in self.settings.personas)
            raise ValueError(f"No persona named {name!r}; the personas are: {names}.")
        voice = p.persona_voice(self.settings, persona)
        voice_pending = self._audio_produced and voice != self._session_voice
        tools = self._tool_definitions(persona)
        if self._configured:
            await self._await_update(
                p.persona_session(persona, tools, None if voice_pending else voice)
            )
            if not voice_pending:
                self._session_voice = voice
        self.persona = persona
        applied = PersonaApplied(persona.name, voice_pending, tuple(t["name"] for t in tools))
        self._emit(applied)
        return applied

    async def _await_update(self, session: dict[str, Any]) -> None:
        try:
            await asyncio.wait_for(self._send_update(session), CONFIGURE_TIMEOUT_S)
        except TimeoutError as exc:
            raise EngineError("The server did not confirm the session change.") from exc
        except BackendError as exc:
            raise EngineError(exc.message) from exc

    def playback_finished(self, item_id: str) -> None:
        """The sink reports an item fully played."""
        self._drained.set()
        if item_id != self._last_audio_item:
            return
        if (
            self._active is None
            and not self._response_requested
            and self.phase is Phase.ASSISTANT_SPEAKING
        ):
            self._set_phase(_rest_phase(self.turn_mode))

    def _tool_definitions(self, persona: Persona) -> list[dict[str, Any]]:
        known = set(self.tools.names())
        wanted = [name for name in persona.tools if name in known]
        missing = [name for name in persona.tools if name not in known]
        if missing:
            log.warning("persona %s names unknown tools: %s", persona.name, ", ".join(missing))
        return self.tools.definitions(wanted)

    # ------------------------------------------------------------ receiving

    async def _receive_loop(self, conn: AsyncRealtimeConnection) -> None:
        while True:
            try:
                raw = await conn.recv_bytes()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._connection_lost(exc)
                return
            self.dispatch(raw)

    def dispatch(self, raw: bytes | str) -> None:
        """Handle one server event; malformed, unknown and out-of-order ones are
        logged and skipped."""
        try:
            event = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            log.warning("skipping a server message that is not JSON (%d bytes)", len(raw))
            return
        if not isinstance(event, dict):
            log.warning("skipping a server message that is not an object")
            return
        event_type = event.get("type")
        handler = self._handlers.get(event_type) if isinstance(event_type, str) else None
        if handler is None:
            log.debug("ignoring server event %r", event_type)
            return
        try:
            handler(event)
        except Exception:
            log.exception("skipping malformed server event %r", event_type)

    def _connection_lost(self, exc: Exception) -> None:
        if self._closing or self._conn is None:
            return
        code = getattr(getattr(exc, "rcvd", None), "code", None)
        reason = getattr(getattr(exc, "rcvd", None), "reason", "") or ""
        if code == 1001 and "duration" in reason:
            message = "The session reached the server's maximum duration and was closed."
        else:
            detail = f" (code {code}{': ' + reason if reason else ''})" if code else ""
            message = f"The connection to the {self.backend.name} server was lost{detail}."
        configured, self._conn, self._configured = self._configured, None, False
        self._fail_pending_updates(EngineError(message))
        if not configured:
            return  # _open_session reports it
        # Reconnect-with-restore (issue 6) hooks in here: `_open_session` replays
        # `self.conversation` into a fresh session.
        self._emit(ConnectionChanged(ConnectionState.DISCONNECTED, message))
        self._emit(ErrorRaised(message, fatal=True, source="connection"))
        self._end(f"error: {message}")

    def _on_error(self, event: dict[str, Any]) -> None:
        err = p.obj(event, "error")
        message = p.str_field(err, "message", "unknown error")
        code = p.str_field(err, "code")
        event_id = p.opt_str(err, "event_id") or ""
        kind = self._sent_kinds.pop(event_id, "")
        config_problem = session_error(err, self.backend.context)
        if kind == "session.update" or config_problem is not None:
            self._reject_update(
                event_id,
                config_problem
                or BackendError(f"The server rejected the session settings: {message}"),
            )
            if config_problem is not None and self._configured:
                self._fail(config_problem.message, source="config", code=code)
                self._spawn(self._close_connection())  # fatal: this session is over
            return
        if kind == "response.create":
            self._response_requested = False
            if "active response" in message.lower():
                log.info("response.create refused while a response was active; queued")
                self._response_queued = True
                return
        if kind == "response.cancel":  # the response had just finished: nothing to stop
            log.info("response.cancel refused: %s", message)
            return
        if kind == "conversation.item.truncate":
            message = f"The server refused to cut the interrupted answer: {message}"
        self._emit(ErrorRaised(message, code=code, fatal=False, source="server"))

    def _reject_update(self, event_id: str, exc: Exception) -> None:
        for i, (eid, future) in enumerate(self._pending_updates):
            if eid == event_id or not event_id:
                del self._pending_updates[i]
                if not future.done():
                    future.set_exception(exc)
                return

    def _on_session_created(self, event: dict[str, Any]) -> None:
        self.session_id = p.str_field(p.obj(event, "session"), "id", self.session_id)

    def _on_session_updated(self, event: dict[str, Any]) -> None:
        self.session_id = p.str_field(p.obj(event, "session"), "id", self.session_id)
        if self._pending_updates:
            _, future = self._pending_updates.popleft()
            if not future.done():
                future.set_result(None)

    # user speech

    def _on_speech_started(self, event: dict[str, Any]) -> None:
        self._user_speaking = True
        self._emit(
            SpeechStarted(p.str_field(event, "item_id"), p.int_field(event, "audio_start_ms"))
        )
        self._cut_playback()
        self._set_phase(Phase.USER_SPEAKING)

    def _on_speech_stopped(self, event: dict[str, Any]) -> None:
        self._user_speaking = False
        self._emit(SpeechStopped(p.str_field(event, "item_id"), p.int_field(event, "audio_end_ms")))
        self._latency_t0 = time.perf_counter()
        self._set_phase(Phase.THINKING)

    def _on_committed(self, event: dict[str, Any]) -> None:
        item_id = p.str_field(event, "item_id")
        if not item_id or item_id in self._item_turn:
            return
        # Earlier spoken turns whose transcript never came must not hold the journal.
        for turn in self._unemitted:
            if turn.role is Role.USER:
                self._finished_turns.add(id(turn))
        turn = Turn(Role.USER, item_id, started_at=time.time())
        self._add_turn(turn)
        self._emit(UserTurnStarted(item_id, p.opt_str(event, "previous_item_id")))
        if not self.settings.session.transcription_model:
            self._finish_turn(turn)
        if self.phase is Phase.USER_SPEAKING:
            self._set_phase(Phase.THINKING)

    def _user_turn(self, item_id: str) -> Turn:
        turn = self._item_turn.get(item_id)
        if turn is None:  # transcript for an item we never saw committed
            turn = Turn(Role.USER, item_id, started_at=time.time())
            self._add_turn(turn)
        return turn

    def _on_user_delta(self, event: dict[str, Any]) -> None:
        item_id = p.str_field(event, "item_id")
        delta = p.str_field(event, "delta")
        turn = self._user_turn(item_id)
        turn.text += delta
        self._emit(UserTranscriptDelta(item_id, delta))

    def _on_user_final(self, event: dict[str, Any]) -> None:
        item_id = p.str_field(event, "item_id")
        turn = self._user_turn(item_id)
        turn.text = p.str_field(event, "transcript", turn.text).strip()
        turn.finished_at = time.time()
        self._emit(UserTranscriptFinal(item_id, turn.text))
        self._finish_turn(turn)

    def _on_user_failed(self, event: dict[str, Any]) -> None:
        item_id = p.str_field(event, "item_id")
        message = p.str_field(p.obj(event, "error"), "message", "transcription failed")
        turn = self._user_turn(item_id)
        turn.finished_at = time.time()
        self._emit(UserTranscriptFailed(item_id, message))
        self._finish_turn(turn)

    # responses

    def _response(self, response_id: str) -> _Response:
        resp = self._responses.get(response_id)
        if resp is None:  # out of order: an event before response.created
            resp = _Response(response_id)
            self._responses[response_id] = resp
        return resp

    def _on_response_created(self, event: dict[str, Any]) -> None:
        response_id = p.str_field(p.obj(event, "response"), "id")
        resp = self._response(response_id)
        self._active = resp
        self._response_requested = False
        self._emit(ResponseStarted(response_id))
        if self.phase is not Phase.USER_SPEAKING:
            self._set_phase(Phase.THINKING)

    def _response_turn(self, resp: _Response, item_id: str) -> Turn:
        if resp.turn is None:
            resp.turn = Turn(Role.ASSISTANT, item_id, started_at=time.time())
            self._add_turn(resp.turn)
        self._item_turn.setdefault(item_id, resp.turn)
        self._item_response[item_id] = resp
        return resp.turn

    def _on_output_item_added(self, event: dict[str, Any]) -> None:
        item = p.obj(event, "item")
        item_id = p.str_field(item, "id")
        resp = self._response(p.str_field(event, "response_id"))
        if not item_id:
            return
        if p.str_field(item, "type") == "message":
            previous = self.conversation[-1].item_id if self.conversation else None
            self._response_turn(resp, item_id)
            self._emit(AssistantTurnStarted(item_id, resp.response_id, previous))
        elif p.str_field(item, "type") == "function_call":
            self._response_turn(resp, item_id)

    def _on_output_item_done(self, event: dict[str, Any]) -> None:
        item = p.obj(event, "item")
        # Servers that skip function_call_arguments.done still get their call run.
        if p.str_field(item, "type") == "function_call":
            self._start_tool(
                self._response(p.str_field(event, "response_id")),
                p.str_field(item, "id"),
                p.str_field(item, "call_id"),
                p.str_field(item, "name"),
                p.str_field(item, "arguments", "{}"),
            )

    def _first_output(self, resp: _Response) -> None:
        if self._latency_t0 is not None:
            self._emit(LatencyMeasured(time.perf_counter() - self._latency_t0))
            self._latency_t0 = None
        if not self._user_speaking:
            self._set_phase(Phase.ASSISTANT_SPEAKING)

    def _on_audio_delta(self, event: dict[str, Any]) -> None:
        item_id = p.str_field(event, "item_id")
        resp = self._response(p.str_field(event, "response_id"))
        if resp.cut:
            return
        try:
            pcm = base64.b64decode(p.str_field(event, "delta"), validate=True)
        except (binascii.Error, ValueError):
            log.warning("skipping an audio delta that is not base64")
            return
        if not pcm:
            return
        self._response_turn(resp, item_id)
        self._audio_produced = True
        self._last_audio_item = item_id
        self._item_received_ms[item_id] = (
            self._item_received_ms.get(item_id, 0.0) + len(pcm) / p.BYTES_PER_MS
        )
        if self._latency_t0 is not None or self.phase is not Phase.ASSISTANT_SPEAKING:
            self._first_output(resp)
        chunk = AudioChunk(
            item_id=item_id,
            content_index=p.int_field(event, "content_index"),
            response_id=resp.response_id,
            pcm=pcm,
            received_at=time.perf_counter(),
        )
        self.playback.play(chunk)
        self._emit(chunk)

    def _on_text_delta(self, event: dict[str, Any]) -> None:
        item_id = p.str_field(event, "item_id")
        delta = p.str_field(event, "delta")
        resp = self._response(p.str_field(event, "response_id"))
        turn = self._response_turn(resp, item_id)
        resp.spoke = True
        self._item_text[item_id] = self._item_text.get(item_id, "") + delta
        turn.text += delta
        if event.get("type") == "response.output_text.delta" and (
            self._latency_t0 is not None or self.phase is not Phase.ASSISTANT_SPEAKING
        ):
            self._first_output(resp)
        self._emit(AssistantDelta(item_id, delta))

    def _on_text_done(self, event: dict[str, Any]) -> None:
        item_id = p.str_field(event, "item_id")
        resp = self._response(p.str_field(event, "response_id"))
        turn = self._response_turn(resp, item_id)
        key = (
            "transcript" if event.get("type") == "response.output_audio_transcript.done" else "text"
        )
        final = p.str_field(event, key, self._item_text.get(item_id, ""))
        if final:
            resp.spoke = True
            previous = self._item_text.get(item_id, "")
            self._item_text[item_id] = final
            if turn.text.endswith(previous):  # replace this item's part of the turn text
                turn.text = turn.text[: len(turn.text) - len(previous)] + final
        self._emit(AssistantFinal(item_id, final))

    def _on_response_done(self, event: dict[str, Any]) -> None:
        data = p.obj(event, "response")
        resp = self._response(p.str_field(data, "id"))
        resp.done = True
        if self._active is resp:
            self._active = None
        status = p.str_field(data, "status", "completed")
        details = p.obj(data, "status_details")
        detail = p.str_field(details, "reason") or p.str_field(p.obj(details, "error"), "message")
        usage_data = data.get("usage")
        usage = (
            TurnUsage.from_response_usage(usage_data, self.prices)
            if isinstance(usage_data, dict)
            else None
        )
        if usage is not None:
            self.totals = self.totals.add(usage)
        if resp.turn is not None:
            resp.turn.usage = usage
            resp.turn.finished_at = time.time()
            if resp.tools_running == 0:
                self._finish_turn(resp.turn)
        if status == "failed":
            message = p.str_field(p.obj(details, "error"), "message", "the response failed")
            self._emit(
                ErrorRaised(f"The model could not answer: {message}", code=status, source="server")
            )
        self._emit(ResponseFinished(resp.response_id, status, usage, self.totals, detail))
        self._after_response()

    def _after_response(self) -> None:
        """What comes next once no response is active."""
        if self._active is not None or self._response_requested:
            return
        if any(r.tools_running for r in self._responses.values()):
            self._set_phase(Phase.TOOL_RUNNING)
            return
        if self._followup_needed or self._response_queued:
            self._followup_needed = False
            self._response_queued = False
            self._request_response()
            self._set_phase(Phase.THINKING)
            return
        if self._end_after_goodbye:
            self._end_after_goodbye = False
            self._spawn(self._end_after_playback("the assistant ended the conversation"))
            return
        self._prune_responses()
        if (
            self.phase is Phase.TOOL_RUNNING
            or self.phase is Phase.THINKING
            or (self.phase is Phase.ASSISTANT_SPEAKING and not self.playback.is_playing())
        ):
            self._set_phase(_rest_phase(self.turn_mode))

    def _prune_responses(self) -> None:
        for rid in [rid for rid, r in self._responses.items() if r.done and not r.tools_running]:
            del self._responses[rid]

    def _on_rate_limits(self, event: dict[str, Any]) -> None:
        self._emit(RateLimitsChanged(p.rate_limits(event)))

    # ------------------------------------------------------------ tools

    def _on_function_call(self, event: dict[str, Any]) -> None:
        self._start_tool(
            self._response(p.str_field(event, "response_id")),
            p.str_field(event, "item_id"),
            p.str_field(event, "call_id"),
            p.str_field(event, "name"),
            p.str_field(event, "arguments", "{}"),
        )

    def _start_tool(
        self, resp: _Response, item_id: str, call_id: str, name: str, args: str
    ) -> None:
        if not call_id or call_id in resp.tool_calls:
            return
        resp.tool_calls.add(call_id)
        resp.tools_running += 1
        if item_id:
            self._response_turn(resp, item_id)
        self._emit(ToolCallStarted(call_id, name, args))
        self._set_phase(Phase.TOOL_RUNNING)
        self._spawn(self._run_tool(resp, call_id, name, args))

    async def _run_tool(self, resp: _Response, call_id: str, name: str, args: str) -> None:
        s = self.settings.session
        try:
            result = await self.tools.call(name, args, s.tool_timeout_s, s.tool_output_max_chars)
            output, ok, error = result.output, result.ok, result.error
            duration, ends = result.duration_s, result.ends_conversation
        except Exception as exc:  # the registry should never raise; be safe anyway
            log.exception("tool %s raised", name)
            error = f"{type(exc).__name__}: {exc}"
            output, ok, duration, ends = json.dumps({"error": error}), False, 0.0, False
        record = ToolCallRecord(call_id, name, args, output, ok, error, duration)
        if resp.turn is not None:
            resp.turn.tool_calls.append(record)
        self._emit(ToolCallFinished(call_id, name, args, output, ok, error, duration))
        resp.tools_running -= 1
        if self._conn is None:
            return
        self._send_tracked(
            "conversation.item.create", lambda eid: p.function_output_item(call_id, output, eid)
        )
        if ends:
            self._end_after_goodbye = True
            # Said goodbye already alongside the call? Then end without a new answer.
            self._followup_needed = self._followup_needed or not resp.spoke
        else:
            self._followup_needed = True
        if resp.done and resp.tools_running == 0 and resp.turn is not None:
            self._finish_turn(resp.turn)
        self._after_response()

    async def _end_after_playback(self, reason: str) -> None:
        received_s = sum(self._item_received_ms.values()) / 1000
        deadline = asyncio.get_running_loop().time() + received_s + END_DRAIN_MARGIN_S
        while self.playback.is_playing() and asyncio.get_running_loop().time() < deadline:
            # playback_finished wakes us early; the timeout covers sinks that never say.
            self._drained.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), 0.1)
        self._end(reason)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------ barge-in

    def _cut_playback(self) -> None:
        """Stop what is playing and tell the server what the user actually heard."""
        heard = self.playback.interrupt()
        if heard is None:
            return
        self._truncate(heard)

    def _truncate(self, heard: HeardAudio) -> None:
        item_id = heard.item_id
        received = int(self._item_received_ms.get(item_id, heard.received_ms))
        end_ms = max(0, min(heard.heard_ms, received))
        resp = self._item_response.get(item_id)
        if resp is not None:
            resp.cut = True
        text = self._item_text.get(item_id, "")
        if heard.finished:
            heard_text, unheard_text = text, ""
        else:
            heard_text, unheard_text = p.split_heard(text, end_ms, received)
            # The server's item is this long now; a later cut must not ask for more.
            self._item_received_ms[item_id] = end_ms
            self._send_tracked(
                "conversation.item.truncate",
                lambda eid: p.truncate(item_id, heard.content_index, end_ms, eid),
            )
            turn = self._item_turn.get(item_id)
            if turn is not None:
                turn.interrupted = True
                turn.heard_text = heard_text
        self._emit(
            AssistantInterrupted(
                item_id=item_id,
                heard_ms=end_ms,
                received_ms=received,
                heard_text=heard_text,
                unheard_text=unheard_text,
                truncate_sent=not heard.finished,
            )
        )

    # ------------------------------------------------------------ turns

    def _add_turn(self, turn: Turn) -> None:
        self.conversation.append(turn)
        self._item_turn[turn.item_id] = turn
        self._unemitted.append(turn)

    def _finish_turn(self, turn: Turn) -> None:
        if not turn.finished_at:
            turn.finished_at = time.time()
        self._finished_turns.add(id(turn))
        self._flush_turns()

    def _flush_turns(self) -> None:
        """TurnCompleted in conversation order: a late transcript keeps its place."""
        while self._unemitted and id(self._unemitted[0]) in self._finished_turns:
            turn = self._unemitted.popleft()
            self._finished_turns.discard(id(turn))
            self._emit(TurnCompleted(turn))
