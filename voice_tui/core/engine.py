"""The conversation engine: one Realtime conversation seen as typed application events.

It configures the session, sends microphone audio and typed text, maps every server
event to an `AppEvent`, runs tools, truncates what the user did not hear on barge-in,
and keeps the conversation (a list of `Turn`) that outlives any one connection.

Connections come and go (`Link`): a dropped, failed or silent connection is replaced
with backoff, a session near the server's time limit is renewed at a turn boundary,
and every new session gets the conversation replayed (`recovery`, `restore`). Server
events are mapped by `user_speech` and `responses`; the shared state is declared in
`engine_base`. This module holds the lifecycle, the user's commands, tools, barge-in.

Everything runs on one asyncio loop; nothing here blocks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from voice_tui.backends.base import Backend, BackendError
from voice_tui.backends.errors import session_error
from voice_tui.config.schema import Persona, Settings
from voice_tui.core import protocol as p
from voice_tui.core.conversation import Role, Turn
from voice_tui.core.engine_base import (
    EngineError,
    Listener,
    OpenFailed,
    ResponseState,
    rest_phase,
)
from voice_tui.core.events import (
    AppEvent,
    AssistantInterrupted,
    ConnectionChanged,
    ConnectionState,
    ConversationEnded,
    ErrorRaised,
    Notice,
    PersonaApplied,
    Phase,
    PhaseChanged,
    SessionReady,
    ToolCallFinished,
    ToolCallStarted,
    TurnCompleted,
    TurnMode,
    UserTextSent,
)
from voice_tui.core.link import Link
from voice_tui.core.ports import HeardAudio, NullPlayback, PlaybackSink
from voice_tui.core.recovery import RecoveryMixin
from voice_tui.core.reliability import (
    ReconnectPolicy,
)
from voice_tui.core.responses import ResponseMixin
from voice_tui.core.restore import PendingCall, restore_items
from voice_tui.core.spoken_text import SpokenText
from voice_tui.core.tool_runner import run_tool_call
from voice_tui.core.tools import ToolRegistry
from voice_tui.core.turnbook import TurnBook
from voice_tui.core.usage import Prices, UsageTotals
from voice_tui.core.user_speech import UserSpeechMixin

log = logging.getLogger(__name__)

CONFIGURE_TIMEOUT_S = 20.0
MIN_COMMIT_MS = 100  # the server rejects a commit of less audio than this
END_DRAIN_MARGIN_S = 5.0  # waiting for the goodbye to play: received audio + this
# Client events the server answers at once: silence after them means trouble.
ANSWERED_KINDS = frozenset({"response.create", "session.update", "response.cancel"})
SPEAK_REMINDER = "Answer by speaking, out loud, as in the rest of this conversation."

__all__ = ["ConversationEngine", "EngineError", "Listener"]


class ConversationEngine(RecoveryMixin, UserSpeechMixin, ResponseMixin):
    def __init__(
        self,
        settings: Settings,
        backend: Backend,
        tools: ToolRegistry,
        playback: PlaybackSink | None = None,
        *,
        history: Sequence[Turn] = (),
        policy: ReconnectPolicy | None = None,
        voice_override: str | None = None,
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.tools = tools
        self.playback: PlaybackSink = playback or NullPlayback()
        self.policy = policy or ReconnectPolicy()
        self.voice_override = voice_override  # an explicit --voice beats the persona's
        self.persona: Persona = settings.active_persona
        self.turn_mode = TurnMode(settings.session.turn_detection)
        self.phase = Phase.IDLE
        self.totals = UsageTotals()
        self.session_id = ""
        # The offline engine costs nothing, whatever model name the session carries.
        self.prices = Prices() if backend.name == "local" else p.prices_for(settings, backend.model)
        self.notices: list[str] = []  # shown as Notice events when the engine starts
        self.reconnects = 0  # sessions opened to replace a lost one
        self.renewals = 0  # sessions opened before the time limit

        self._book = TurnBook(history, lambda turn: self._emit(TurnCompleted(turn)))
        self._listeners: list[Listener] = []
        self._link: Link | None = None
        self._preparing: Link | None = None  # being configured, not yet live
        self._renew_not_before = 0.0  # loop time: a failed renewal waits a little
        self._tasks: set[asyncio.Task[Any]] = set()
        self._recovery: asyncio.Task[None] | None = None  # a reconnect or renewal
        self._watchdog: asyncio.Task[None] | None = None
        self._configured = False
        self._closing = False
        self._ended = asyncio.Event()
        self._end_reason = ""
        self._end_after_goodbye = False
        self._drained = asyncio.Event()
        self._rng = random.Random()

        # Requests awaiting `session.updated`, oldest first: (event_id, future).
        self._pending_updates: deque[tuple[str, asyncio.Future[None]]] = deque()
        self._sent_kinds: dict[str, str] = {}  # client event_id -> what it was

        self._responses: dict[str, ResponseState] = {}
        self._active: ResponseState | None = None
        self._response_requested = False  # response.create sent, response.created not seen
        self._response_queued = False  # wanted once the active response is done
        self._followup_needed = False  # tool outputs sent, the model should answer them
        self._running_calls: dict[str, PendingCall] = {}
        self._held_texts: list[str] = []  # typed while reconnecting: sent after it
        self._speak_guard = False  # after a restore: a text-only reply is asked again
        self._ask_to_speak = False  # the next response.create insists on audio
        self._rate_retries = 0
        self._rate_wait = False  # a rate-limited response is asked again after a pause

        self._spoken: dict[str, SpokenText] = {}  # each audio item's words, on its audio
        self._item_received_ms: dict[str, float] = {}
        self._item_response: dict[str, ResponseState] = {}
        self._last_audio_item: str | None = None

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
            "response.output_audio.done": self._on_audio_done,
            "response.output_audio_transcript.delta": self._on_text_delta,
            "response.output_text.delta": self._on_text_delta,
            "response.output_audio_transcript.done": self._on_text_done,
            "response.output_text.done": self._on_text_done,
            "response.function_call_arguments.done": self._on_function_call,
            "response.done": self._on_response_done,
            "rate_limits.updated": self._on_rate_limits,
        }

    @property
    def conversation(self) -> list[Turn]:
        return self._book.turns

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
        self._emit(ConnectionChanged(ConnectionState.CONNECTING, self.backend.description))
        try:
            await self._open_session()
        except OpenFailed as exc:
            self._fail(exc.message, source="connection", code=exc.setting)
            raise EngineError(exc.message) from exc
        self._watchdog = asyncio.create_task(self._watch(), name="engine-watchdog")
        if self.persona.greet_first and not self.conversation:
            self._request_response()

    async def new_session(self) -> None:
        """A fresh server session keeping the conversation (e.g. for a new voice)."""
        await self.interrupt()  # the old session's items are about to disappear
        await self._close_connection()
        self._emit(ConnectionChanged(ConnectionState.CONNECTING, self.backend.description))
        try:
            await self._open_session()
        except OpenFailed as exc:
            if exc.fatal:
                self._fail(exc.message, source="connection", code=exc.setting)
                raise EngineError(exc.message) from exc
            self._begin_recovery(exc.message)

    async def wait_ended(self) -> str:
        await self._ended.wait()
        return self._end_reason

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    @property
    def connected(self) -> bool:
        """A configured session is open (False while reconnecting)."""
        return self._configured

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        for task in [*self._tasks, self._recovery, self._watchdog]:
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        await self._close_connection()
        for task in [*self._tasks, self._recovery, self._watchdog]:
            if task is not None and task is not asyncio.current_task():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._book.finish_all()
        self._emit(ConnectionChanged(ConnectionState.DISCONNECTED, "closed"))
        self._end("closed")

    async def _open_session(self, *, quiet: bool = False) -> None:
        """Connect, configure, replay the conversation, go live; raises OpenFailed."""
        link, replayed = await self._prepare_link()
        self._go_live(link, replayed, quiet=quiet)

    async def _prepare_link(self) -> tuple[Link, bool]:
        """A new connection, configured and holding the conversation, not yet in use
        (the current one, if any, carries on meanwhile); raises OpenFailed.
        Returns the link and whether anything was replayed into it."""
        try:
            conn = await self.backend.connect()
        except BackendError as exc:
            raise OpenFailed(exc.message, fatal=exc.fatal, setting=exc.setting) from exc
        if self._closing:
            with contextlib.suppress(Exception):
                await conn.close()
            raise OpenFailed("the engine is closing", fatal=True)
        link = Link(conn, self.dispatch, self._connection_lost)
        self._preparing = link
        session = p.session_config(
            self.settings,
            self.persona,
            self._tool_definitions(self.persona),
            self.turn_mode,
            voice_override=self.voice_override,
        )
        ack = self._send_update(session, link)
        replayed = restore_items(self.conversation, self._running_calls.values())
        for item in replayed:
            link.send(item)
        try:
            await asyncio.wait_for(ack, CONFIGURE_TIMEOUT_S)
        except BackendError as exc:  # the server refused the configuration
            await link.close(flush=False)
            raise OpenFailed(exc.message, fatal=exc.fatal, setting=exc.setting) from exc
        except (EngineError, TimeoutError, ConnectionError) as exc:
            await link.close(flush=False)
            message = getattr(exc, "message", "") or (
                f"The {self.backend.name} server did not confirm the session within "
                f"{CONFIGURE_TIMEOUT_S:.0f} s."
            )
            raise OpenFailed(message, fatal=False) from exc
        finally:
            if self._preparing is link:
                self._preparing = None
            # An unanswered update must not catch the next session's answer.
            self._pending_updates = deque(u for u in self._pending_updates if u[1] is not ack)
        return link, bool(replayed)

    def _go_live(self, link: Link, replayed: bool, *, quiet: bool) -> None:
        """Make a prepared link the one everything goes through."""
        self._link = link
        self._configured = True
        voice = p.persona_voice(self.settings, self.persona, self.voice_override)
        self._session_voice = voice
        self._audio_produced = False
        # The known failure: given replayed text, a model may answer in text only.
        self._speak_guard = replayed and self.settings.session.output_modality == "audio"
        if not quiet:
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
        if self.phase not in (Phase.TOOL_RUNNING, Phase.ASSISTANT_SPEAKING):
            self._set_phase(rest_phase(self.turn_mode))

    async def _close_connection(self, *, flush: bool = True) -> None:
        link, self._link = self._link, None
        self._configured = False
        if link is not None:
            await link.close(flush=flush)
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

    def _send_tracked(self, kind: str, build: Callable[[str], str]) -> str:
        event_id = p.new_event_id()
        if len(self._sent_kinds) > 512:
            for old in list(self._sent_kinds)[:256]:
                del self._sent_kinds[old]
        self._sent_kinds[event_id] = kind
        link = self._link
        if link is not None:
            if kind in ANSWERED_KINDS:
                link.send_request(build(event_id))
            else:
                link.send(build(event_id))
        return event_id

    def _send_update(
        self, session: dict[str, Any], link: Link | None = None
    ) -> asyncio.Future[None]:
        """session.update (on `link`, else the live one); the future resolves on the ack."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        event_id = p.new_event_id()
        self._sent_kinds[event_id] = "session.update"
        self._pending_updates.append((event_id, future))
        target = link or self._link
        if target is not None:
            target.send_request(p.session_update(session, event_id))
        return future

    def _fail_pending_updates(self, exc: Exception) -> None:
        while self._pending_updates:
            _, future = self._pending_updates.popleft()
            if not future.done():
                future.set_exception(exc)
                future.exception()  # mark retrieved: nobody may be awaiting it

    def send_audio(self, pcm: bytes, captured_at: float | None = None) -> bool:
        """Microphone audio, 24 kHz mono pcm16; called on the loop, never blocks.
        True when the audio was sent (False: not connected, or push-to-talk idle)."""
        link = self._link
        if not self._configured or not pcm or link is None:
            return False
        if self.turn_mode is TurnMode.PUSH_TO_TALK:
            if not self._talking:
                return False
            self._talk_bytes += len(pcm)
        link.send(p.audio_append(pcm))
        return True

    def _request_response(self) -> None:
        """response.create, but never while a response is active: queue it instead."""
        if self._active is not None or self._response_requested:
            self._response_queued = True
            return
        self._response_queued = False
        self._response_requested = True
        if self._ask_to_speak:
            self._ask_to_speak = False
            overrides = {
                "output_modalities": ["audio"],
                "instructions": f"{self.persona.instructions}\n\n{SPEAK_REMINDER}",
            }
            self._send_tracked(
                "response.create", lambda eid: p.response_create_with(overrides, eid)
            )
        else:
            self._send_tracked("response.create", p.response_create)

    # ------------------------------------------------------------ user commands

    async def send_text(self, text: str) -> None:
        """A typed user turn and its answer. While reconnecting it is held and sent as
        soon as the conversation is restored; without a connection it is refused."""
        text = text.strip()
        if not text:
            raise ValueError("Nothing to send: the message is empty.")
        if not self._configured:
            if self._recovery is not None and not self.ended:
                self._held_texts.append(text)
                self._emit(Notice("Reconnecting: the message will be sent once connected."))
                return
            raise EngineError("Not connected: the message was not sent.")
        if self.playback.is_playing() or self._active is not None:
            await self.interrupt()
        self._send_user_text(text)
        self._request_response()
        self._set_phase(Phase.THINKING)

    def _send_user_text(self, text: str) -> None:
        item_id = "item_vt" + uuid.uuid4().hex[:20]
        self._book.release_user_turns()  # the user moved on: no transcript holds them
        self._send_tracked(
            "conversation.item.create", lambda eid: p.user_text_item(item_id, text, eid)
        )
        now = time.time()
        turn = Turn(Role.USER, item_id, text=text, typed=True, started_at=now, finished_at=now)
        self._book.add(turn)
        self._emit(UserTextSent(item_id, text))
        self._book.finish(turn)
        self._latency_t0 = time.perf_counter()

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
            self._set_phase(rest_phase(self.turn_mode))
            return
        await self.commit_input()

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
            or self._rate_wait
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
        self._rate_wait = False
        # The sink reports no end for audio it dropped: the assistant has stopped now.
        if self.phase is Phase.ASSISTANT_SPEAKING:
            self._set_phase(rest_phase(self.turn_mode))

    async def set_turn_mode(self, mode: TurnMode) -> None:
        if not self._configured:
            self.turn_mode = mode
            return
        await self._await_update(p.turn_detection_session(self.settings, mode))
        self.turn_mode = mode
        self._talking = False
        if self.phase in (Phase.IDLE, Phase.LISTENING, Phase.USER_SPEAKING):
            self._set_phase(rest_phase(mode))

    async def set_persona(self, name: str) -> PersonaApplied:
        persona = self.settings.find_persona(name)
        if persona is None:
            names = ", ".join(x.name for x in self.settings.personas)
            raise ValueError(f"No persona named {name!r}; the personas are: {names}.")
        voice = p.persona_voice(self.settings, persona, self.voice_override)
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
            self._set_phase(rest_phase(self.turn_mode))

    def _tool_definitions(self, persona: Persona) -> list[dict[str, Any]]:
        known = set(self.tools.names())
        wanted = [name for name in persona.tools if name in known]
        missing = [name for name in persona.tools if name not in known]
        if missing:
            log.warning("persona %s names unknown tools: %s", persona.name, ", ".join(missing))
        return self.tools.definitions(wanted)

    # ------------------------------------------------------------ receiving

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
        if kind in ("response.cancel", "conversation.item.delete"):  # already gone
            log.info("%s refused: %s", kind, message)
            return
        if kind == "conversation.item.truncate":
            message = f"The server refused to cut the interrupted answer: {message}"
        if event_id.startswith("evt_restore"):
            message = f"The server refused part of the restored conversation: {message}"
        self._emit(ErrorRaised(message, code=code, fatal=False, source="server"))

    def _reject_update(self, event_id: str, exc: Exception) -> None:
        for i, (eid, future) in enumerate(self._pending_updates):
            if eid == event_id or not event_id:
                del self._pending_updates[i]
                if not future.done():
                    future.set_exception(exc)
                    future.exception()
                return

    def _on_session_created(self, event: dict[str, Any]) -> None:
        self.session_id = p.str_field(p.obj(event, "session"), "id", self.session_id)

    def _on_session_updated(self, event: dict[str, Any]) -> None:
        self.session_id = p.str_field(p.obj(event, "session"), "id", self.session_id)
        if self._pending_updates:
            _, future = self._pending_updates.popleft()
            if not future.done():
                future.set_result(None)

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
        self, resp: ResponseState, item_id: str, call_id: str, name: str, args: str
    ) -> None:
        if not call_id or call_id in resp.tool_calls or resp.discarded:
            return
        resp.tool_calls.add(call_id)
        resp.tools_running += 1
        self._running_calls[call_id] = PendingCall(call_id, name, args)
        self._response_turn(resp, item_id or call_id)
        self._emit(ToolCallStarted(call_id, name, args))
        self._set_phase(Phase.TOOL_RUNNING)
        self._spawn(self._run_tool(resp, call_id, name, args))

    async def _run_tool(self, resp: ResponseState, call_id: str, name: str, args: str) -> None:
        try:
            outcome = await run_tool_call(self.tools, self.settings.session, call_id, name, args)
        finally:
            self._running_calls.pop(call_id, None)
            resp.tools_running -= 1
        record = outcome.record
        if resp.turn is not None:
            resp.turn.tool_calls.append(record)
        self._emit(
            ToolCallFinished(
                call_id, name, args, record.output, record.ok, record.error, record.duration_s
            )
        )
        if outcome.ends_conversation:
            self._end_after_goodbye = True
            # Said goodbye already alongside the call? Then end without a new answer.
            wants_answer = not resp.spoke
        else:
            wants_answer = True
        self._followup_needed = self._followup_needed or wants_answer
        if resp.done and resp.tools_running == 0 and resp.turn is not None:
            self._book.finish(resp.turn)
        if not self._configured:
            # Disconnected: the record is replayed with the conversation on restore,
            # and the follow-up is asked for then.
            return
        self._send_tracked(
            "conversation.item.create",
            lambda eid: p.function_output_item(call_id, record.output, eid),
        )
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
        spoken = self._spoken.get(item_id, SpokenText())
        if heard.finished:
            heard_text, unheard_text = spoken.text, ""
        else:
            heard_text, unheard_text = spoken.split(end_ms, received)
            # The server's item is this long now; a later cut must not ask for more.
            self._item_received_ms[item_id] = end_ms
            self._send_tracked(
                "conversation.item.truncate",
                lambda eid: p.truncate(item_id, heard.content_index, end_ms, eid),
            )
            turn = self._book.by_item.get(item_id)
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
