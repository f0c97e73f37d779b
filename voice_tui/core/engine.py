"""The conversation engine: one Realtime conversation seen as typed application events.

It configures the session, sends microphone audio and typed text, maps every server
event to an `AppEvent`, runs tools, truncates what the user did not hear on barge-in,
and keeps the conversation (a list of `Turn`) that outlives any one connection.

`ConversationEngine` is a coordinator: it holds the user's commands, the session's
opening and closing, and what comes next after a response; each piece of state has one
owner among its collaborators, which also handle the server events about it:

- `Announcer`: listeners and the phase;      - `Connection`: the live link, requests;
- `Lifetime`: tasks, closing, the end;      - `TurnBook`: the turns and their order;
- `UserSpeech`: turn mode, push-to-talk, VAD, user turns and transcripts;
- `Responses`: responses, their items, text, usage, failures;
- `ResponseScheduler`: when a response is asked for (one at a time);
- `ToolCalls`: function calls, run side by side;
- `AssistantAudio`: the sink, audio per item, the barge-in cut;
- `Recovery`: reconnect, watchdog, renewal, resume after a restore.

Everything runs on one asyncio loop; nothing here blocks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from voice_tui.backends.base import Backend, BackendError
from voice_tui.backends.errors import session_error
from voice_tui.config.models import ReasoningEffort
from voice_tui.config.schema import Persona, Settings
from voice_tui.core import protocol as p
from voice_tui.core.announcer import Announcer, Listener
from voice_tui.core.approval import ApprovalGate
from voice_tui.core.assistant_audio import AssistantAudio
from voice_tui.core.connection import Connection, Handler
from voice_tui.core.conversation import ToolCallRecord, Turn
from voice_tui.core.events import (
    ConnectionChanged,
    ConnectionState,
    ErrorRaised,
    Notice,
    PersonaApplied,
    Phase,
    SessionReady,
    TurnAmended,
    TurnCompleted,
    TurnMode,
)
from voice_tui.core.failures import EngineError, OpenFailed
from voice_tui.core.images import PreparedImage
from voice_tui.core.lifetime import Lifetime
from voice_tui.core.link import Link
from voice_tui.core.ports import NullPlayback, PlaybackSink
from voice_tui.core.recovery import Recovery, SessionHooks
from voice_tui.core.reliability import ReconnectPolicy
from voice_tui.core.remote_mcp import RemoteMcpEvents
from voice_tui.core.responses import Responses
from voice_tui.core.restore import restore_items
from voice_tui.core.scheduler import ResponseScheduler
from voice_tui.core.tool_calls import ToolCalls
from voice_tui.core.tools import ToolRegistry
from voice_tui.core.turnbook import TurnBook
from voice_tui.core.usage import Prices, UsageTotals
from voice_tui.core.user_speech import UserSpeech

log = logging.getLogger(__name__)

CONFIGURE_TIMEOUT_S = 20.0
# The stable code of "Conversation already has an active response" (match codes, not text).
ACTIVE_RESPONSE_CODE = "conversation_already_has_active_response"
END_DRAIN_MARGIN_S = 5.0  # waiting for the goodbye to play: received audio + this

__all__ = ["ConversationEngine", "EngineError", "Listener"]


def merge_handlers(*tables: dict[str, Handler]) -> dict[str, Handler]:
    """One dispatch table from the collaborators' own: each event has one handler."""
    merged: dict[str, Handler] = {}
    for table in tables:
        for event_type, handler in table.items():
            if event_type in merged:
                raise ValueError(f"two handlers for server event {event_type!r}")
            merged[event_type] = handler
    return merged


class ConversationEngine:
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
        approvals: ApprovalGate | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.tools = tools
        self.policy = policy or ReconnectPolicy()
        self.voice_override = voice_override  # an explicit --voice beats the persona's
        self.persona: Persona = settings.active_persona
        self.notices: list[str] = []  # shown as Notice events when the engine starts
        self._session_voice: str | None = None  # the voice the live session speaks with
        # Who says yes to remote MCP calls that need it (the app's dialog, the run's flag).
        self.approvals = approvals or ApprovalGate()
        self._env = os.environ if env is None else env  # secrets of remote MCP servers

        announcer = self._announcer = Announcer()
        connection = self._connection = Connection()
        lifetime = self._lifetime = Lifetime(announcer, connection)
        book = self._book = TurnBook(
            history,
            announce=lambda turn: announcer.emit(TurnCompleted(turn)),
            amend=lambda turn: announcer.emit(TurnAmended(turn)),
        )
        audio = self._audio = AssistantAudio(
            playback or NullPlayback(), announcer, connection, book
        )
        scheduler = self._scheduler = ResponseScheduler(
            connection, announcer, self.policy, lambda: self.persona
        )
        user = self._user = UserSpeech(settings, announcer, connection, book, audio.cut)
        # The offline engine costs nothing, whatever model name the session carries.
        # Priced by the model that answers (Azure: azure.model, not the deployment name).
        prices = Prices() if backend.name == "local" else p.prices_for(settings, backend.model_id)
        responses = self._responses = Responses(
            backend,
            prices,
            announcer,
            connection,
            lifetime,
            book,
            audio,
            scheduler,
            user,
            close_connection=self._close_connection,
            next_step=self._next_step,
        )
        calls = self._calls = ToolCalls(
            tools,
            settings,
            announcer,
            connection,
            lifetime,
            book,
            responses,
            scheduler,
            next_step=self._next_step,
        )
        hooks = SessionHooks(
            open_session=self._open_session,
            prepare_link=self._prepare_link,
            go_live_quietly=lambda link, replayed: self._go_live(link, replayed, quiet=True),
            close_connection=self._close_connection,
            next_step=self._next_step,
            busy=lambda: self.busy,
        )
        self._recovery = Recovery(
            backend,
            self.policy,
            announcer,
            connection,
            lifetime,
            book,
            audio,
            scheduler,
            responses,
            user,
            hooks,
        )
        self._remote_mcp = RemoteMcpEvents(
            announcer.emit, self.approvals, self._answer_approval, self._record_remote_call
        )
        self._handlers = merge_handlers(
            {"error": self._on_error},
            connection.handlers(),
            user.handlers(),
            responses.handlers(),
            calls.handlers(),
            self._remote_mcp.handlers(),
        )
        # MCP servers come and go: the live session's tool list follows them.
        self._unsubscribe_tools = tools.subscribe(self._tools_changed)

    # ------------------------------------------------------------ what can be read

    @property
    def conversation(self) -> list[Turn]:
        return self._book.turns

    @property
    def phase(self) -> Phase:
        return self._announcer.phase

    @property
    def turn_mode(self) -> TurnMode:
        return self._user.turn_mode

    @property
    def talking(self) -> bool:
        """Push-to-talk: the talk key is held (between start_talking and stop_talking)."""
        return self._user.talking

    @property
    def totals(self) -> UsageTotals:
        return self._responses.totals

    @property
    def prices(self) -> Prices:
        return self._responses.prices

    @property
    def session_id(self) -> str:
        return self._connection.session_id

    @property
    def reconnects(self) -> int:
        return self._recovery.reconnects

    @property
    def renewals(self) -> int:
        return self._recovery.renewals

    @property
    def playback(self) -> PlaybackSink:
        return self._audio.sink

    @playback.setter
    def playback(self, sink: PlaybackSink) -> None:
        self._audio.attach(sink)

    @property
    def bookkeeping(self) -> int:
        """Records kept per response and per audio item; bounded however long the
        conversation runs (the soak test holds it to that)."""
        return self._responses.entries + self._audio.entries

    @property
    def busy(self) -> bool:
        """A response is under way, wanted, or waiting for a tool or a rate limit."""
        return self._scheduler.pending or self._calls.running

    @property
    def ended(self) -> bool:
        return self._lifetime.ended

    @property
    def connected(self) -> bool:
        """A configured session is open (False while reconnecting)."""
        return self._connection.live

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self._announcer.subscribe(listener)

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Connect and configure; raises EngineError (after emitting ErrorRaised)
        when the backend cannot be reached or rejects the session."""
        emit = self._announcer.emit
        for notice in ([self.backend.notice] if self.backend.notice else []) + self.notices:
            emit(Notice(notice))
        emit(ConnectionChanged(ConnectionState.CONNECTING, self.backend.description))
        try:
            await self._open_session()
        except OpenFailed as exc:
            self._lifetime.fail(exc.message, source="connection", code=exc.setting)
            raise EngineError(exc.message) from exc
        self._recovery.start_watching()
        if self.persona.greet_first and not self.conversation:
            self._scheduler.request()

    async def new_session(self) -> None:
        """A fresh server session keeping the conversation (e.g. for a new voice)."""
        await self.interrupt()  # the old session's items are about to disappear
        await self._close_connection()
        self._announcer.emit(
            ConnectionChanged(ConnectionState.CONNECTING, self.backend.description)
        )
        try:
            await self._open_session()
        except OpenFailed as exc:
            if exc.fatal:
                self._lifetime.fail(exc.message, source="connection", code=exc.setting)
                raise EngineError(exc.message) from exc
            self._recovery.begin(exc.message)

    async def wait_ended(self) -> str:
        return await self._lifetime.wait_ended()

    async def close(self) -> None:
        if self._lifetime.closing:
            return
        # Quitting while an answer plays: only what was heard of it is remembered.
        if self._audio.is_playing():
            self._audio.cut()
        cancelled = self._lifetime.begin_closing(self._recovery.tasks())
        self._unsubscribe_tools()
        self._remote_mcp.close()
        await self._close_connection()
        await self._lifetime.join(cancelled)
        self._book.finish_all()
        self._announcer.emit(ConnectionChanged(ConnectionState.DISCONNECTED, "closed"))
        self._lifetime.end("closed")

    async def _open_session(self) -> None:
        """Connect, configure, replay the conversation, go live; raises OpenFailed."""
        link, replayed = await self._prepare_link()
        self._go_live(link, replayed, quiet=False)

    async def _prepare_link(self) -> tuple[Link, bool]:
        """A new connection, configured and holding the conversation, not yet in use
        (the current one, if any, carries on meanwhile); raises OpenFailed.
        Returns the link and whether anything was replayed into it."""
        try:
            conn = await self.backend.connect()
        except BackendError as exc:
            raise OpenFailed(exc.message, fatal=exc.fatal, setting=exc.setting) from exc
        if self._lifetime.closing:
            with contextlib.suppress(Exception):
                await conn.close()
            raise OpenFailed("the engine is closing", fatal=True)
        link = self._connection.open(conn, self.dispatch, self._recovery.connection_lost)
        session = p.session_config(
            self.settings,
            self.persona,
            self._tool_definitions(self.persona),
            self._user.turn_mode,
            voice_override=self.voice_override,
        )
        ack = self._connection.send_update(session, link)
        replayed = restore_items(self.conversation, self._calls.pending())
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
            self._connection.prepared(link, ack)
        return link, bool(replayed)

    def _go_live(self, link: Link, replayed: bool, *, quiet: bool) -> None:
        """Make a prepared link the one everything goes through."""
        self._connection.go_live(link)
        voice = p.persona_voice(self.settings, self.persona, self.voice_override)
        self._session_voice = voice
        self._audio.new_session()
        # The known failure: given replayed text, a model may answer in text only.
        self._responses.guard_speech(replayed and self.settings.session.output_modality == "audio")
        if not quiet:
            self._announcer.emit(
                ConnectionChanged(ConnectionState.CONNECTED, self.backend.description)
            )
        self._announcer.emit(
            SessionReady(
                session_id=self._connection.session_id,
                backend=self.backend.name,
                model=self.backend.model,
                voice=voice,
                persona=self.persona.name,
                turn_mode=self._user.turn_mode,
                output_modality=self.settings.session.output_modality,
                reasoning_effort=self.settings.session.reasoning_effort,
            )
        )
        if self.phase not in (Phase.TOOL_RUNNING, Phase.ASSISTANT_SPEAKING):
            self._announcer.set_phase(self._user.rest_phase())

    async def _close_connection(self) -> None:
        await self._connection.close()
        self._scheduler.forget_in_flight()

    # ------------------------------------------------------------ what comes next

    def _next_step(self) -> None:
        """What comes next once no response is active: the follow-up of tool outputs
        (after the last tool), an answer wanted meanwhile, the goodbye, or rest."""
        if self._scheduler.in_flight or not self._connection.live:
            return
        if self._calls.running:
            self._announcer.set_phase(Phase.TOOL_RUNNING)
            return
        if self._scheduler.take_wanted():
            self._scheduler.request()
            self._announcer.set_phase(Phase.THINKING)
            return
        if self._calls.take_goodbye():
            self._lifetime.spawn(self._end_after_playback("the assistant ended the conversation"))
            return
        self._responses.prune()
        phase = self.phase
        if (
            phase is Phase.TOOL_RUNNING
            or phase is Phase.THINKING
            or (phase is Phase.ASSISTANT_SPEAKING and not self._audio.is_playing())
        ):
            self._announcer.set_phase(self._user.rest_phase())

    async def _end_after_playback(self, reason: str) -> None:
        await self._audio.drain(END_DRAIN_MARGIN_S)
        self._lifetime.end(reason)

    # ------------------------------------------------------------ user commands

    def send_audio(self, pcm: bytes, captured_at: float | None = None) -> bool:
        """Microphone audio, 24 kHz mono pcm16; called on the loop, never blocks.
        True when the audio was sent (False: not connected, or push-to-talk idle)."""
        return self._user.send_audio(pcm)

    async def send_text(self, text: str) -> None:
        """A typed user turn and its answer. While reconnecting it is held and sent as
        soon as the conversation is restored; without a connection it is refused."""
        text = text.strip()
        if not text:
            raise ValueError("Nothing to send: the message is empty.")
        if not self._connection.live:
            if self._recovery.recovering and not self.ended:
                self._recovery.hold(text)
                self._announcer.emit(
                    Notice("Reconnecting: the message will be sent once connected.")
                )
                return
            raise EngineError("Not connected: the message was not sent.")
        if self._audio.is_playing() or self._scheduler.active is not None:
            await self.interrupt()
        self._user.send_text(text)
        self._scheduler.request()
        self._announcer.set_phase(Phase.THINKING)

    async def start_talking(self) -> None:
        """Push-to-talk pressed: cut the assistant, start a fresh input buffer."""
        if self._audio.is_playing() or self._scheduler.active is not None:
            await self.interrupt()
        self._user.start_talking()

    async def stop_talking(self) -> None:
        """Push-to-talk released: commit what was said and ask for the answer."""
        if self._user.stop_talking():
            await self.commit_input()

    async def commit_input(self) -> None:
        """End the user's turn now, whatever the turn detection (e.g. a file ended
        without the silence server VAD waits for)."""
        self._user.commit()
        self._scheduler.request()
        self._announcer.set_phase(Phase.THINKING)

    async def interrupt(self) -> None:
        """Stop the assistant: playback, truncation by what was heard, cancel."""
        self._audio.cut()
        active = self._scheduler.active
        if active is not None and not active.done:
            active.cut_off()
            self._connection.send("response.cancel", lambda eid: p.simple("response.cancel", eid))
        self._scheduler.drop_wanted()
        # The sink reports no end for audio it dropped: the assistant has stopped now.
        if self.phase is Phase.ASSISTANT_SPEAKING:
            self._announcer.set_phase(self._user.rest_phase())

    async def set_turn_mode(self, mode: TurnMode) -> None:
        if not self._connection.live:
            self._user.set_turn_mode(mode)
            return
        await self._await_update(p.turn_detection_session(self.settings, mode))
        self._user.set_turn_mode(mode)
        if self.phase in (Phase.IDLE, Phase.LISTENING, Phase.USER_SPEAKING):
            self._announcer.set_phase(self._user.rest_phase())

    async def set_reasoning_effort(self, effort: ReasoningEffort) -> None:
        """How hard a reasoning model thinks, live (a session.update); kept for the
        sessions that follow (reconnects, renewals)."""
        if self.settings.session.reasoning_effort is None:
            raise EngineError(f"{self.backend.model_id} does not reason: it takes no effort.")
        if self._connection.live:
            await self._await_update(p.reasoning_session(effort))
        session = self.settings.session.model_copy(update={"reasoning_effort": effort})
        self.settings = self.settings.model_copy(update={"session": session})

    async def set_persona(self, name: str) -> PersonaApplied:
        persona = self.settings.find_persona(name)
        if persona is None:
            names = ", ".join(x.name for x in self.settings.personas)
            raise ValueError(f"No persona named {name!r}; the personas are: {names}.")
        voice = p.persona_voice(self.settings, persona, self.voice_override)
        voice_pending = self._audio.produced and voice != self._session_voice
        tools = self._tool_definitions(persona)
        if self._connection.live:
            await self._await_update(
                p.persona_session(persona, tools, None if voice_pending else voice)
            )
            if not voice_pending:
                self._session_voice = voice
        self.persona = persona
        applied = PersonaApplied(persona.name, voice_pending, tuple(t["name"] for t in tools))
        self._announcer.emit(applied)
        return applied

    async def _await_update(self, session: dict[str, Any]) -> None:
        try:
            await asyncio.wait_for(self._connection.send_update(session), CONFIGURE_TIMEOUT_S)
        except TimeoutError as exc:
            raise EngineError("The server did not confirm the session change.") from exc
        except BackendError as exc:
            raise EngineError(exc.message) from exc

    def playback_finished(self, item_id: str) -> None:
        """The sink reports an item fully played."""
        if not self._audio.played_out(item_id):
            return
        if not self._scheduler.in_flight and self.phase is Phase.ASSISTANT_SPEAKING:
            self._announcer.set_phase(self._user.rest_phase())

    def _tool_definitions(self, persona: Persona) -> list[dict[str, Any]]:
        """The persona's built-in tools, the tools of its local MCP servers that are
        connected, and its remote MCP servers (the service calls those itself)."""
        known = set(self.tools.names())
        missing = [name for name in persona.tools if name not in known]
        if missing:
            log.warning("persona %s names unknown tools: %s", persona.name, ", ".join(missing))
        return [
            *self.tools.definitions_for(persona),
            *p.remote_mcp_tools(self.settings, persona, self._env),
        ]

    def _tools_changed(self) -> None:
        """A local MCP server connected or went down: update the live session's tools."""
        if self._connection.live and not self._lifetime.closing:
            tools = self._tool_definitions(self.persona)
            self._lifetime.spawn(self._update_tools(tools))

    async def _update_tools(self, tools: list[dict[str, Any]]) -> None:
        try:
            await self._await_update({"type": "realtime", "tools": tools})
        except EngineError as exc:  # the next session gets the list anyway
            log.warning("the tool list was not updated: %s", exc)

    # ------------------------------------------------------------ remote MCP servers

    def _answer_approval(self, approval_request_id: str, approve: bool) -> None:
        """The user's answer to a remote server's approval request, then the answer."""
        if not self._connection.live:
            return  # the request belonged to a session that is gone
        self._connection.send(
            "conversation.item.create",
            lambda eid: p.mcp_approval_item(approval_request_id, approve, eid),
        )
        self._scheduler.request()
        self._announcer.set_phase(Phase.THINKING)

    def _record_remote_call(self, response_id: str, record: ToolCallRecord) -> None:
        resp = self._responses.get(response_id)
        turn = self._responses.turn_for(resp, record.call_id)
        turn.tool_calls.append(record)

    # ------------------------------------------------------------ images and tools

    async def send_image(self, image: PreparedImage) -> None:
        """Show the model an image (no answer is asked for: the user's next words
        are about it). Raises EngineError without a connection."""
        if not self._connection.live:
            raise EngineError("Not connected: the image was not sent.")
        self._user.send_image(image, self.settings.session.image_detail)

    async def cancel_tools(self) -> int:
        """Cancel the tool calls running now; the model is told. Returns how many."""
        return self._calls.cancel_all()

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
        """An `error` event, routed by what the client event it names was."""
        err = p.obj(event, "error")
        message = p.str_field(err, "message", "unknown error")
        code = p.str_field(err, "code")
        event_id = p.opt_str(err, "event_id") or ""
        kind = self._connection.kind_of(event_id)
        config_problem = session_error(err, self.backend.context)
        if kind == "session.update" or config_problem is not None:
            self._connection.reject_update(
                event_id,
                config_problem
                or BackendError(f"The server rejected the session settings: {message}"),
            )
            if config_problem is not None and self._connection.live:
                self._lifetime.fail(config_problem.message, source="config", code=code)
                self._lifetime.spawn(self._close_connection())  # fatal: this session is over
            return
        if kind == "response.create":
            while_active = code == ACTIVE_RESPONSE_CODE  # by code, never by wording
            self._scheduler.refused(while_active=while_active)
            if while_active:
                log.info("response.create refused while a response was active; queued")
                return
        if kind in ("response.cancel", "conversation.item.delete"):  # already gone
            log.info("%s refused: %s", kind, message)
            return
        if kind == "conversation.item.truncate":
            if p.str_field(err, "param") == "audio_end_ms":
                # The cut falls at or past the end of the audio: the model already holds
                # exactly what was heard. Nothing to show.
                log.info("truncate refused, the audio already ends there: %s", message)
                return
            message = f"The server refused to cut the interrupted answer: {message}"
        if event_id.startswith("evt_restore"):
            message = f"The server refused part of the restored conversation: {message}"
        self._announcer.emit(ErrorRaised(message, code=code, fatal=False, source="server"))
