"""One connection's Realtime session: the GA protocol's state machine.

Client events are handled one at a time in arrival order; responses and transcriptions
run as tasks that emit as they go. Whatever a client sends wrong becomes an `error`
event carrying the offending event's id, and the session keeps serving.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from voice_tui.server.client_events import check_client_event
from voice_tui.server.components import Components
from voice_tui.server.config import (
    FunctionTool,
    McpTool,
    ResponseParams,
    ServerVad,
    SessionConfig,
    Tool,
    ToolChoice,
    apply_session_update,
    parse_response_params,
)
from voice_tui.server.faults import CLOSE_GOING_AWAY, MAX_DURATION_REASON, FaultPlan
from voice_tui.server.input_audio import Committed, IdleTimeout, InputAudio, SpeechStarted
from voice_tui.server.items import Conversation, Item, decode_audio, item_from_client
from voice_tui.server.remote_mcp import RemoteMcp
from voice_tui.server.response import CancelReason, ResponsePlan, ResponseRun
from voice_tui.server.transcription import Transcriber
from voice_tui.server.vad import EnergyVad
from voice_tui.server.wire import (
    ClientError,
    Event,
    error_event,
    new_id,
)

log = logging.getLogger(__name__)
# Client events that break the SDK's declared shapes: tests fail on any of these.
protocol_log = logging.getLogger("voice_tui.server.protocol")

MAX_APPEND_BYTES = 15 * 1024 * 1024  # the cloud's limit for one append event


@dataclass(frozen=True, slots=True)
class SessionOptions:
    model: str


class Session:
    def __init__(
        self,
        ws: ServerConnection,
        components: Components,
        options: SessionOptions,
        faults: FaultPlan,
    ) -> None:
        self.ws = ws
        self.components = components
        self.options = options
        self.faults = faults
        self.config = SessionConfig(id=new_id("sess"), model=options.model)
        self.config.expires_at = int(time.time()) + 3600
        self.conversation = Conversation()
        self.conversation_id = new_id("conv")
        self.transcriber = Transcriber(components.recognizer, self.emit)
        self.remote_mcp = RemoteMcp(self.conversation, self.emit)
        self.closed = False
        self.audio_produced = False
        # What clients sent and what was refused (by code): the wire, counted.
        self.received: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.last_event_ids: dict[str, str] = {}  # event type -> the client's last event_id
        self.input = InputAudio(
            lambda: self.transcriber.begin(self.config.audio.input.transcription),
            components.vad or EnergyVad,
        )
        self.input.configure(self.config.audio.input.turn_detection)
        # responses
        self.active: ResponseRun | None = None
        self._tasks: dict[ResponseRun, asyncio.Task[None]] = {}
        self._last_input_tokens = 0
        self._audio_deltas_sent = 0
        self._stalled = asyncio.Event()
        self._handlers: dict[str, Callable[[Event], Awaitable[None]]] = {
            "session.update": self._session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": self._commit,
            "input_audio_buffer.clear": self._clear,
            "conversation.item.create": self._item_create,
            "conversation.item.delete": self._item_delete,
            "conversation.item.retrieve": self._item_retrieve,
            "conversation.item.truncate": self._item_truncate,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
            "output_audio_buffer.clear": self._output_audio_clear,
        }

    # ---- the connection -------------------------------------------------------------

    async def serve(self) -> None:
        limit = self._start_time_limit()
        try:
            await self.emit({"type": "session.created", "session": self._session_wire()})
            async for message in self.ws:
                await self._dispatch(message)
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            if limit is not None:
                limit.cancel()
            await self._shutdown()

    async def _shutdown(self) -> None:
        self.input.close()
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        await self.remote_mcp.aclose()
        await self.transcriber.close()

    def _start_time_limit(self) -> asyncio.Task[None] | None:
        if self.faults.session_max_s is None:
            return None

        async def expire(after: float) -> None:
            await asyncio.sleep(after)
            await self.ws.close(CLOSE_GOING_AWAY, MAX_DURATION_REASON)

        return asyncio.create_task(expire(self.faults.session_max_s))

    async def emit(self, event: Event) -> None:
        """Send one server event (with a fresh event_id); a closed socket drops it."""
        if self.closed:
            return
        if event["type"] == "response.output_audio.delta":
            fault = self.faults.audio_delta_fault(self._audio_deltas_sent)
            if fault == "close":
                self.closed = True
                await self.ws.close(self.faults.close_code, "injected fault")
                return
            if fault == "stall":
                await self._stalled.wait()  # never set: the session goes silent
            self._audio_deltas_sent += 1
        wire = {"type": event["type"], "event_id": new_id("event")}
        wire.update((k, v) for k, v in event.items() if k != "type")
        try:
            await self.ws.send(json.dumps(wire))
        except ConnectionClosed:
            self.closed = True

    async def _dispatch(self, message: str | bytes) -> None:
        event_id: str | None = None
        try:
            event = _parse(message)
            raw_id = event.get("event_id")
            event_id = raw_id if isinstance(raw_id, str) else None
            kind = event.get("type")
            if not isinstance(kind, str):
                raise ClientError(
                    "Missing required parameter: 'type'.",
                    code="missing_required_parameter",
                    param="type",
                )
            handler = self._handlers.get(kind)
            if handler is None:
                supported = ", ".join(f"'{name}'" for name in self._handlers)
                raise ClientError(
                    f"Invalid value: '{kind[:80]}'. Supported values are: {supported}.",
                    code="invalid_value",
                    param="type",
                )
            problems = check_client_event(event)
            if problems:
                protocol_log.warning("refused %s: %s", kind, "; ".join(p.message for p in problems))
                first = problems[0]
                raise ClientError(first.message, code=first.code, param=first.param)
            self.received[kind] += 1
            if event_id is not None:
                self.last_event_ids[kind] = event_id
            await handler(event)
        except ClientError as exc:
            self.refused[exc.code or ""] += 1
            exc.event_id = event_id
            await self.emit(exc.to_event())
        except Exception:  # a bug here must not end the session
            log.exception("handling a client event failed")
            await self.emit(
                error_event(
                    "The server had an error while processing your request.",
                    code="server_error",
                    type_="server_error",
                    event_id=event_id,
                )
            )

    # ---- session ------------------------------------------------------------------

    def _session_wire(self) -> dict[str, Any]:
        wire = self.config.model_dump(mode="json")
        for tool in wire["tools"]:  # credentials go in, never out again
            if tool.get("type") == "mcp":
                tool.pop("authorization", None)
                tool.pop("headers", None)
        return wire

    async def _session_update(self, event: Event) -> None:
        update = event.get("session")
        config = apply_session_update(self.config, update)
        if self.audio_produced and config.audio.output.voice != self.config.audio.output.voice:
            raise ClientError(
                "Cannot update a conversation's voice if assistant audio is present.",
                code="cannot_update_voice",
                param="session.audio.output.voice",
            )
        turn_detection_changed = (
            config.audio.input.turn_detection != self.config.audio.input.turn_detection
        )
        self.config = config
        if turn_detection_changed:
            self.input.configure(config.audio.input.turn_detection)
        await self.emit({"type": "session.updated", "session": self._session_wire()})
        await self.remote_mcp.sync([t for t in config.tools if isinstance(t, McpTool)])

    # ---- input audio buffer -----------------------------------------------------------

    async def _append(self, event: Event) -> None:
        audio = event.get("audio")
        if not isinstance(audio, str):
            raise ClientError(
                "Invalid type for 'audio': expected a base64-encoded string.",
                code="invalid_type",
                param="audio",
            )
        pcm = decode_audio(audio, "audio", MAX_APPEND_BYTES)
        td = self.config.audio.input.turn_detection
        idle_ms = td.idle_timeout_ms if isinstance(td, ServerVad) else None
        for happening in self.input.append(pcm, idle_ms if self.active is None else None):
            if isinstance(happening, SpeechStarted):
                await self._speech_started(happening)
            elif isinstance(happening, Committed):
                await self._speech_stopped(happening)
            else:
                await self._idle_turn(happening)

    async def _speech_started(self, started: SpeechStarted) -> None:
        await self.emit(
            {
                "type": "input_audio_buffer.speech_started",
                "audio_start_ms": started.audio_start_ms,
                "item_id": started.item_id,
            }
        )
        td = self.config.audio.input.turn_detection
        if td is not None and td.interrupt_response and self.active is not None:
            await self._cancel(self.active, "turn_detected")

    async def _speech_stopped(self, turn: Committed) -> None:
        await self.emit(
            {
                "type": "input_audio_buffer.speech_stopped",
                "audio_end_ms": turn.audio_end_ms,
                "item_id": turn.item_id,
            }
        )
        started_at = time.perf_counter()
        await self._commit_audio(turn)
        td = self.config.audio.input.turn_detection
        if td is not None and td.create_response and self.active is None:
            await self._start_response(ResponseParams(), started_at)

    async def _idle_turn(self, idle: IdleTimeout) -> None:
        """server_vad idle_timeout_ms: silence since the last reply played out -> a turn."""
        await self.emit(
            {
                "type": "input_audio_buffer.timeout_triggered",
                "audio_start_ms": idle.audio_start_ms,
                "audio_end_ms": idle.turn.audio_end_ms,
                "item_id": idle.turn.item_id,
            }
        )
        started_at = time.perf_counter()
        await self._commit_audio(idle.turn)
        await self._start_response(ResponseParams(), started_at)

    async def _commit(self, event: Event) -> None:
        await self._commit_audio(self.input.commit())

    async def _commit_audio(self, turn: Committed) -> None:
        item = Item(turn.item_id, "message", role="user")
        item.content.append({"type": "input_audio", "transcript": None})
        item.add_audio(0, turn.pcm)
        previous = self.conversation.add(item)
        # Pending until the transcription task resolves it; responses wait on it.
        item.transcript = asyncio.get_running_loop().create_future()
        await self.emit(
            {
                "type": "input_audio_buffer.committed",
                "previous_item_id": previous,
                "item_id": item.id,
            }
        )
        await self.emit(
            {
                "type": "conversation.item.added",
                "previous_item_id": previous,
                "item": item.to_wire(),
            }
        )
        await self.emit({"type": "conversation.item.done", "item": item.to_wire()})
        # after the commit events: the transcription events must follow them
        self.transcriber.start(item, 0, self.config.audio.input.transcription, turn.live)

    async def _clear(self, event: Event) -> None:
        self.input.clear()
        await self.emit({"type": "input_audio_buffer.cleared"})

    async def _output_audio_clear(self, event: Event) -> None:
        raise ClientError(
            "output_audio_buffer.clear is only supported for WebRTC and SIP connections.",
            code="invalid_value",
            param="type",
        )

    # ---- conversation items ----------------------------------------------------------

    async def _item_create(self, event: Event) -> None:
        item = item_from_client(event.get("item"), MAX_APPEND_BYTES)
        previous_id = event.get("previous_item_id")
        if previous_id is not None and not isinstance(previous_id, str):
            raise ClientError(
                "Invalid type for 'previous_item_id': expected a string.",
                code="invalid_type",
                param="previous_item_id",
            )
        if item.type == "function_call_output" and not any(
            other.type == "function_call" and other.call_id == item.call_id
            for other in self.conversation.items
        ):
            raise ClientError(  # the cloud checks this too
                f"Tool call ID '{item.call_id}' not found in conversation.",
                code="invalid_tool_call_id",
            )
        if item.type == "mcp_approval_response" and not any(
            other.type == "mcp_approval_request" and other.id == item.approval_request_id
            for other in self.conversation.items
        ):
            raise ClientError(
                f"Approval request '{item.approval_request_id}' not found in conversation.",
                code="invalid_value",
                param="item.approval_request_id",
            )
        previous = self.conversation.add(item, previous_id)
        for index, part in enumerate(item.content):
            if part["type"] == "input_audio" and part.get("transcript") is None:
                self.transcriber.start(item, index, self.config.audio.input.transcription)
        await self.emit(
            {
                "type": "conversation.item.added",
                "previous_item_id": previous,
                "item": item.to_wire(),
            }
        )
        await self.emit({"type": "conversation.item.done", "item": item.to_wire()})

    async def _item_delete(self, event: Event) -> None:
        item = self.conversation.delete(event.get("item_id"))
        await self.emit({"type": "conversation.item.deleted", "item_id": item.id})

    async def _item_retrieve(self, event: Event) -> None:
        item = self.conversation.find(event.get("item_id"))
        await self.emit(
            {"type": "conversation.item.retrieved", "item": item.to_wire(include_audio=True)}
        )

    async def _item_truncate(self, event: Event) -> None:
        item = self.conversation.find(event.get("item_id"))
        index = event.get("content_index", 0)
        end_ms = event.get("audio_end_ms")
        if not isinstance(index, int) or isinstance(index, bool):
            raise ClientError(
                "Invalid type for 'content_index': expected an integer.",
                code="invalid_type",
                param="content_index",
            )
        if not isinstance(end_ms, int) or isinstance(end_ms, bool) or end_ms < 0:
            raise ClientError(
                "Invalid 'audio_end_ms': expected a non-negative integer.",
                code="invalid_value",
                param="audio_end_ms",
            )
        if item.role != "assistant" or not 0 <= index < len(item.content):
            raise ClientError(
                "Only assistant messages with audio content can be truncated.",
                code="invalid_value",
                param="item_id",
            )
        part = item.content[index]
        if part["type"] != "output_audio" or not item.has_audio(index):
            raise ClientError(
                f"Content part {index} of item {item.id!r} has no audio to truncate.",
                code="invalid_value",
                param="content_index",
            )
        length_ms = max(0, item.audio_ms(index) - self.faults.short_items_ms)
        if end_ms > length_ms:
            raise ClientError(
                f"Audio content of {length_ms}ms is already shorter than {end_ms}ms",
                code="invalid_value",
                param="audio_end_ms",
            )
        item.truncate_audio(index, end_ms)
        part["transcript"] = _cut_transcript(part.get("transcript") or "", end_ms, length_ms)
        item.truncated = True
        await self.emit(
            {
                "type": "conversation.item.truncated",
                "item_id": item.id,
                "content_index": index,
                "audio_end_ms": end_ms,
            }
        )

    # ---- responses ------------------------------------------------------------------

    async def _response_create(self, event: Event) -> None:
        params = parse_response_params(event.get("response"))
        if params.conversation == "auto" and self.active is not None:
            raise ClientError(
                "Conversation already has an active response in progress: "
                f"{self.active.id}. Wait until the response is finished before creating "
                "a new one.",
                code="conversation_already_has_active_response",
            )
        await self._start_response(params, time.perf_counter())

    async def _start_response(self, params: ResponseParams, started_at: float) -> None:
        config = self.config
        in_conversation = params.conversation == "auto"
        input_items = None
        if params.input is not None:
            input_items = [self._input_item(raw) for raw in params.input]
        tools = params.tools if params.tools is not None else config.tools
        tool_choice = params.tool_choice if params.tool_choice is not None else config.tool_choice
        voice = config.audio.output.voice
        if params.audio is not None and params.audio.output.voice is not None:
            voice = params.audio.output.voice
        plan = ResponsePlan(
            instructions=(
                params.instructions if params.instructions is not None else config.instructions
            ),
            modality=(params.output_modalities or config.output_modalities)[0],
            voice=voice,
            speed=config.audio.output.speed,
            tools=_offered_tools(tools, tool_choice),
            max_output_tokens=(
                params.max_output_tokens
                if params.max_output_tokens is not None
                else config.max_output_tokens
            ),
            in_conversation=in_conversation,
            conversation_id=self.conversation_id,
            metadata=dict(params.metadata or {}),
            input_items=input_items,
            started_at=started_at,
            cached_tokens=self._last_input_tokens if in_conversation else 0,
            fail_with=self.faults.response_failure(),
            remote=self.remote_mcp,
        )
        run = ResponseRun(plan, self.conversation, self.components, self.emit, self._on_audio)
        if in_conversation:
            self.active = run
            self.input.cancel_idle()
        await run.announce()
        task = asyncio.create_task(run.run())
        self._tasks[run] = task
        task.add_done_callback(lambda _task: self._response_finished(run))

    def _input_item(self, raw: Any) -> Item:
        if isinstance(raw, dict) and raw.get("type") == "item_reference":
            return self.conversation.find(raw.get("id"), "response.input.id")
        return item_from_client(raw, MAX_APPEND_BYTES)

    def _response_finished(self, run: ResponseRun) -> None:
        self._tasks.pop(run, None)
        if self.active is run:
            self.active = None
            text, audio = run.input_tokens
            self._last_input_tokens = text + audio
            if run.status == "completed":
                self.input.reply_played(run.output_audio_ms)

    def _on_audio(self) -> None:
        self.audio_produced = True

    async def _response_cancel(self, event: Event) -> None:
        wanted = event.get("response_id")
        run = self.active
        if wanted is not None:
            run = next((r for r in self._tasks if r.id == wanted), None)
        if run is None or run not in self._tasks:
            raise ClientError(
                "Cancellation failed: no active response found",
                code="response_cancel_not_active",
            )
        await self._cancel(run, "client_cancelled")

    async def _cancel(self, run: ResponseRun, reason: CancelReason) -> None:
        """Cancel and wait until its response.done went out, so events stay in order."""
        task = self._tasks.get(run)
        if task is None:
            return
        run.cancel_reason = reason
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _offered_tools(tools: Sequence[Tool], choice: ToolChoice) -> tuple[dict[str, Any], ...]:
    """The functions the responder may call: none, all, or the one named by choice
    (remote MCP tools are added by the response from the servers' listings)."""
    if choice == "none":
        return ()
    functions = [t for t in tools if isinstance(t, FunctionTool)]
    if isinstance(choice, dict) and choice.get("type") == "function":
        functions = [t for t in functions if t.name == choice.get("name")]
    return tuple(t.model_dump() for t in functions)


def _parse(message: str | bytes) -> Event:
    if isinstance(message, bytes):
        raise ClientError(
            "Binary frames are not supported: send events as JSON text.",
            code="invalid_json",
        )
    try:
        event = json.loads(message)
    except json.JSONDecodeError as exc:
        raise ClientError(
            f"The server could not parse the event as JSON: {exc.msg} at position {exc.pos}.",
            code="invalid_json",
        ) from None
    if not isinstance(event, dict):
        raise ClientError("An event must be a JSON object.", code="invalid_json")
    return event


def _cut_transcript(transcript: str, end_ms: int, length_ms: int) -> str:
    """Keep the words the listener heard: the transcript's share of the audio kept."""
    if length_ms <= 0 or end_ms >= length_ms:
        return transcript
    cut = round(len(transcript) * end_ms / length_ms)
    head = transcript[:cut]
    if cut < len(transcript) and not transcript[cut].isspace():
        head = head.rsplit(" ", 1)[0] if " " in head else ""
    return head.rstrip()
