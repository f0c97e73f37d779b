"""One response: from `response.created` to `response.done`.

The responder's text is spoken sentence by sentence: each sentence is synthesised in a
worker thread and its audio streamed as it is produced, with the sentence's transcript
delta alongside, so the first audio leaves before the whole reply is synthesised. The
next sentence is synthesised while the current one is sent (`_Speech`), and audio leaves
continuously: small chunks are merged into larger deltas only while the listener still
has enough audio to play, so merging never makes the listener wait.
Function calls become `function_call` items. Cancelling the task ends the response with
status `cancelled` (what was produced so far stays, marked incomplete).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from voice_tui.server.components import (
    Components,
    FunctionCallPiece,
    ResponderError,
    ResponderRequest,
    TextPiece,
)
from voice_tui.server.items import Conversation, Item, audio_tokens, text_tokens
from voice_tui.server.remote_mcp import RemoteMcp
from voice_tui.server.wire import Event, audio_ms, new_id

log = logging.getLogger(__name__)

Emit = Callable[[Event], Awaitable[None]]
CancelReason = Literal["turn_detected", "client_cancelled"]

MAX_DELTA_BYTES = 4800 * 2  # 200 ms of audio per output_audio.delta at most
# Later chunks are merged up to 100 ms, but a merge never waits longer than the audio
# already sent lasts: the gap between deltas never exceeds what the listener has in hand.
MIN_DELTA_BYTES = 4800
# A merge gives up this long before the listener would run short: timers and the network
# are late by a millisecond or so, and being late on every delta adds up.
SLACK_S = 0.005
BYTES_PER_S = 24_000 * 2  # pcm16 mono at 24 kHz
MAX_MCP_ROUNDS = 8  # remote tool calls one response may make before it must answer
_ARGUMENT_CHUNK = 24  # characters per function_call_arguments.delta
# A sentence ends at . ! ? (or …) followed by whitespace; the whitespace stays with it so
# the transcript deltas concatenate to exactly the reply.
_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*\s+")
_LONG_RUN = 240  # characters without a sentence end: speak up to the last comma/space


@dataclass(slots=True)
class ResponsePlan:
    """Everything a response is made from, fixed when it is created."""

    instructions: str
    modality: Literal["audio", "text"]
    voice: str
    speed: float
    tools: tuple[dict[str, Any], ...]
    max_output_tokens: int | Literal["inf"]
    in_conversation: bool  # False: out-of-band (`conversation: "none"`)
    conversation_id: str
    metadata: dict[str, str] = field(default_factory=dict)
    input_items: list[Item] | None = None  # None: the whole conversation
    started_at: float = field(default_factory=time.perf_counter)
    cached_tokens: int = 0
    fail_with: dict[str, Any] | None = None  # an injected failure (rate limit, quota)
    remote: RemoteMcp | None = None  # the session's remote MCP servers


class ResponseRun:
    def __init__(
        self,
        plan: ResponsePlan,
        conversation: Conversation,
        components: Components,
        emit: Emit,
        on_audio: Callable[[], None],
    ) -> None:
        self.id = new_id("resp")
        self.plan = plan
        self.conversation = conversation
        self.components = components
        self._emit_event = emit
        self._on_audio = on_audio
        self.output: list[Item] = []
        self.cancel_reason: CancelReason = "client_cancelled"
        self.first_output_ms: float | None = None
        self._message: Item | None = None
        self._pending = ""  # text not yet spoken (audio modality)
        self._speech: _Speech | None = None  # sentences being spoken (audio modality)
        self.budget_reached = False  # speech stopped at max_output_tokens
        self._output_audio_ms = 0
        self.status = "in_progress"  # the final status once response.done went out
        self.input_tokens = (0, 0)
        if plan.modality == "audio" and components.synthesizer is None:
            plan.modality = "text"  # no voice available: the reply is written

    # ---- the lifecycle ------------------------------------------------------------

    async def announce(self) -> None:
        """`response.created`; sent before the run task starts, so a cancel always follows it."""
        await self._emit({"type": "response.created", "response": self._wire("in_progress")})

    async def run(self) -> None:
        """Emit the rest of the response. Returns normally when cancelled via task.cancel()."""
        status: str = "completed"
        details: dict[str, Any] | None = None
        if self.plan.fail_with is not None:
            details = {"type": "failed", "error": self.plan.fail_with}
            self.status = "failed"
            await self._emit(
                {"type": "response.done", "response": self._wire("failed", details, final=True)}
            )
            return
        try:
            remote = self.plan.remote if self.plan.in_conversation else None
            if remote is not None:  # calls the user approved since the last response
                for request in self.conversation.approved_requests():
                    await self._mcp_call(
                        remote,
                        request.server_label,
                        request.name or "",
                        request.arguments,
                        approval_request_id=request.id,
                    )
            outcome = "done"
            for _ in range(MAX_MCP_ROUNDS):
                outcome = await self._respond_once(remote)
                if outcome != "mcp_called":
                    break
            if outcome == "incomplete":
                status = "incomplete"
                details = {"type": "incomplete", "reason": "max_output_tokens"}
            await self._finish_speech()
            if self.budget_reached and status == "completed":
                status = "incomplete"
                details = {"type": "incomplete", "reason": "max_output_tokens"}
            await self._close_message("completed" if status == "completed" else "incomplete")
        except asyncio.CancelledError:
            status = "cancelled"
            details = {"type": "cancelled", "reason": self.cancel_reason}
            await self._close_message("incomplete", speak_rest=False)
        except Exception as exc:  # a broken component must not take the session down
            log.exception("response %s failed", self.id)
            status = "failed"
            details = {
                "type": "failed",
                "error": {"type": "server_error", "code": "server_error", "message": str(exc)},
            }
            await self._close_message("incomplete", speak_rest=False)
        self.status = status
        await self._emit(
            {"type": "response.done", "response": self._wire(status, details, final=True)}
        )

    async def _respond_once(self, remote: RemoteMcp | None) -> str:
        """One pass of the responder over the conversation so far. Returns "done",
        "incomplete" (max_output_tokens), "mcp_called" (a remote tool answered: the
        responder reads the result in the next pass) or "approval" (the user decides)."""
        items = self.plan.input_items
        self.input_tokens = self.conversation.input_tokens(self.plan.instructions, items)
        history = await self.conversation.chat_history(items)
        request = ResponderRequest(
            instructions=self.plan.instructions,
            history=history,
            tools=self.plan.tools + (remote.function_tools() if remote else ()),
            max_output_tokens=(
                None if self.plan.max_output_tokens == "inf" else self.plan.max_output_tokens
            ),
            metadata=dict(self.plan.metadata),
        )
        pieces = self.components.responder.respond(request)
        outcome = "done"
        try:
            async for piece in pieces:
                if isinstance(piece, TextPiece):
                    await self._add_text(piece.text)
                elif isinstance(piece, FunctionCallPiece):
                    target = remote.find(piece.name) if remote is not None else None
                    if target is None:
                        await self._function_call(piece)
                    elif remote is not None and remote.needs_approval(*target):
                        await self._approval_request(*target, piece.arguments)
                        return "approval"
                    elif remote is not None:
                        await self._mcp_call(remote, *target, piece.arguments)
                        return "mcp_called"
                if self._over_budget() or self.budget_reached:
                    return "incomplete"
        except ResponderError as exc:
            so_far = self._pending or self._said()
            separator = " " if so_far and not so_far[-1].isspace() else ""
            await self._add_text(f"{separator}The chat model failed: {exc}")
        finally:  # stop the responder now (e.g. its HTTP stream), not when collected
            aclose = getattr(pieces, "aclose", None)
            if aclose is not None:
                await aclose()
        return outcome

    async def _approval_request(self, label: str, tool: str, arguments: str) -> None:
        await self._close_message("completed")
        item = Item(
            new_id("mcpr"),
            "mcp_approval_request",
            server_label=label,
            name=tool,
            arguments=arguments,
        )
        await self._open_item(item)
        self._mark_first_output()
        await self._close_item(item, "completed")

    async def _mcp_call(
        self,
        remote: RemoteMcp,
        label: str,
        tool: str,
        arguments: str,
        approval_request_id: str | None = None,
    ) -> None:
        await self._close_message("completed")
        item = Item(
            new_id("mcp"),
            "mcp_call",
            server_label=label,
            name=tool,
            approval_request_id=approval_request_id,
            status="in_progress",
        )
        await self._open_item(item)
        self._mark_first_output()
        common = {
            "response_id": self.id,
            "item_id": item.id,
            "output_index": self.output.index(item),
        }
        for start in range(0, len(arguments), _ARGUMENT_CHUNK):
            delta = arguments[start : start + _ARGUMENT_CHUNK]
            item.arguments += delta
            await self._emit(
                {"type": "response.mcp_call_arguments.delta", **common, "delta": delta}
            )
        item.arguments = arguments
        await self._emit(
            {"type": "response.mcp_call_arguments.done", **common, "arguments": arguments}
        )
        progress = {"item_id": item.id, "output_index": common["output_index"]}
        await self._emit({"type": "response.mcp_call.in_progress", **progress})
        result = await remote.call(label, tool, arguments)
        item.output, item.error = result.output or "", result.error
        await self._close_item(item, "completed" if result.error is None else "incomplete")
        kind = "completed" if result.error is None else "failed"
        await self._emit({"type": f"response.mcp_call.{kind}", **progress})

    @property
    def output_audio_ms(self) -> int:
        return self._output_audio_ms

    def _said(self) -> str:
        if self._message is None:
            return ""
        part = self._message.content[0]
        return str(part.get("transcript") or part.get("text") or "")

    def _over_budget(self) -> bool:
        limit = self.plan.max_output_tokens
        return limit != "inf" and self._output_tokens()[0] >= limit

    # ---- text and speech --------------------------------------------------------------

    async def _add_text(self, text: str) -> None:
        if not text:
            return
        if self.plan.modality == "text":
            item = await self._ensure_message()
            item.content[0]["text"] += text
            self._mark_first_output()
            await self._emit(self._part_event("response.output_text.delta", item, delta=text))
            return
        if self.budget_reached:
            return
        self._pending += text
        while (sentence := self._take_sentence()) is not None:
            self._say(sentence)
            assert self._speech is not None
            await self._speech.wait_for_room()  # the responder waits while speech lags

    def _say(self, sentence: str) -> None:
        if self._speech is None:
            self._speech = _Speech(self)
        self._speech.say(sentence)

    async def _finish_speech(self) -> None:
        """Speak what is left of the text, and wait until all of it has been sent."""
        if self.plan.modality != "audio":
            return
        while not self.budget_reached and (sentence := self._take_sentence(final=True)):
            self._say(sentence)
        speech, self._speech = self._speech, None
        if speech is not None:
            await speech.finish()

    async def _stop_speech(self) -> None:
        speech, self._speech = self._speech, None
        if speech is not None:
            await speech.cancel()

    def _take_sentence(self, final: bool = False) -> str | None:
        match = _SENTENCE_END.search(self._pending)
        if match is not None:
            cut = match.end()
        elif len(self._pending) > _LONG_RUN:
            cut = max(
                self._pending.rfind(",", 0, _LONG_RUN), self._pending.rfind(" ", 0, _LONG_RUN)
            )
            cut = cut + 1 if cut > 0 else _LONG_RUN
        elif final and self._pending:
            cut = len(self._pending)
        else:
            return None
        sentence, self._pending = self._pending[:cut], self._pending[cut:]
        return sentence

    async def _open_sentence(self, sentence: str) -> Item:
        """The sentence's transcript delta, sent just before its audio."""
        item = await self._ensure_message()
        item.content[0]["transcript"] += sentence
        await self._emit(
            self._part_event("response.output_audio_transcript.delta", item, delta=sentence)
        )
        return item

    async def _send_audio(self, item: Item, pcm: bytes) -> None:
        if not pcm or item.truncated:
            return  # a truncated item keeps only what the listener heard
        item.add_audio(0, pcm)
        self._output_audio_ms += audio_ms(len(pcm))
        self._mark_first_output()
        self._on_audio()
        delta = base64.b64encode(pcm).decode()
        await self._emit(self._part_event("response.output_audio.delta", item, delta=delta))

    def _mark_first_output(self) -> None:
        if self.first_output_ms is None:
            self.first_output_ms = (time.perf_counter() - self.plan.started_at) * 1000

    # ---- items --------------------------------------------------------------------

    async def _ensure_message(self) -> Item:
        if self._message is not None:
            return self._message
        audio = self.plan.modality == "audio"
        item = Item(new_id("item"), "message", role="assistant", status="in_progress")
        item.content.append(
            {"type": "output_audio", "transcript": ""}
            if audio
            else {"type": "output_text", "text": ""}
        )
        await self._open_item(item)
        self._message = item
        part = {"type": "audio", "transcript": ""} if audio else {"type": "text", "text": ""}
        await self._emit(self._part_event("response.content_part.added", item, part=part))
        return item

    async def _open_item(self, item: Item) -> None:
        self.output.append(item)
        wire = item.to_wire()
        wire["content" if item.type == "message" else "arguments"] = (
            [] if item.type == "message" else ""
        )
        await self._emit(
            {
                "type": "response.output_item.added",
                "response_id": self.id,
                "output_index": len(self.output) - 1,
                "item": wire,
            }
        )
        if self.plan.in_conversation:
            previous = self.conversation.add(item)
            await self._emit(
                {"type": "conversation.item.added", "previous_item_id": previous, "item": wire}
            )

    async def _close_item(self, item: Item, status: Literal["completed", "incomplete"]) -> None:
        item.status = status
        wire = item.to_wire()
        await self._emit(
            {
                "type": "response.output_item.done",
                "response_id": self.id,
                "output_index": self.output.index(item),
                "item": wire,
            }
        )
        if self.plan.in_conversation and item in self.conversation.items:
            await self._emit({"type": "conversation.item.done", "item": wire})

    async def _close_message(
        self, status: Literal["completed", "incomplete"], speak_rest: bool = True
    ) -> None:
        if speak_rest:
            await self._finish_speech()
        else:
            await self._stop_speech()
        self._pending = ""
        item, self._message = self._message, None
        if item is None:
            return
        part = item.content[0]
        if part["type"] == "output_audio":
            await self._emit(self._part_event("response.output_audio.done", item))
            await self._emit(
                self._part_event(
                    "response.output_audio_transcript.done", item, transcript=part["transcript"]
                )
            )
            done_part = {"type": "audio", "transcript": part["transcript"]}
        else:
            await self._emit(self._part_event("response.output_text.done", item, text=part["text"]))
            done_part = {"type": "text", "text": part["text"]}
        await self._emit(self._part_event("response.content_part.done", item, part=done_part))
        await self._close_item(item, status)

    async def _function_call(self, piece: FunctionCallPiece) -> None:
        await self._close_message("completed")
        item = Item(
            new_id("item"),
            "function_call",
            call_id=piece.call_id or new_id("call"),
            name=piece.name,
            status="in_progress",
        )
        await self._open_item(item)
        self._mark_first_output()
        index = self.output.index(item)
        common = {"response_id": self.id, "item_id": item.id, "output_index": index}
        for start in range(0, len(piece.arguments), _ARGUMENT_CHUNK):
            delta = piece.arguments[start : start + _ARGUMENT_CHUNK]
            item.arguments += delta
            await self._emit(
                {
                    "type": "response.function_call_arguments.delta",
                    **common,
                    "call_id": item.call_id,
                    "delta": delta,
                }
            )
        item.arguments = piece.arguments
        await self._emit(
            {
                "type": "response.function_call_arguments.done",
                **common,
                "call_id": item.call_id,
                "name": item.name,
                "arguments": item.arguments,
            }
        )
        await self._close_item(item, "completed")

    # ---- wire shapes --------------------------------------------------------------

    def _part_event(self, type_: str, item: Item, **fields: Any) -> Event:
        return {
            "type": type_,
            "response_id": self.id,
            "item_id": item.id,
            "output_index": self.output.index(item),
            "content_index": 0,
            **fields,
        }

    def _output_tokens(self) -> tuple[int, int, int]:
        audio = audio_tokens(self._output_audio_ms)
        # a function call costs its arguments plus a token for the call itself
        text = sum(
            text_tokens(item.text()) + (item.type == "function_call") for item in self.output
        )
        return text + audio, text, audio

    def _wire(
        self, status: str, details: dict[str, Any] | None = None, final: bool = False
    ) -> dict[str, Any]:
        plan = self.plan
        metadata = dict(plan.metadata)
        if final and self.first_output_ms is not None:
            metadata["server_processing_ms"] = f"{self.first_output_ms:.1f}"
        response: dict[str, Any] = {
            "object": "realtime.response",
            "id": self.id,
            "status": status,
            "status_details": details,
            "output": [item.to_wire() for item in self.output],
            "conversation_id": plan.conversation_id if plan.in_conversation else None,
            "output_modalities": [plan.modality],
            "max_output_tokens": plan.max_output_tokens,
            "audio": {
                "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": plan.voice}
            },
            "metadata": metadata or None,
            "usage": None,
        }
        if final:
            text_in, audio_in = self.input_tokens
            out_total, text_out, audio_out = self._output_tokens()
            cached = min(plan.cached_tokens, text_in + audio_in)
            response["usage"] = {
                "total_tokens": text_in + audio_in + out_total,
                "input_tokens": text_in + audio_in,
                "output_tokens": out_total,
                "input_token_details": {
                    "text_tokens": text_in,
                    "audio_tokens": audio_in,
                    "cached_tokens": cached,
                    "image_tokens": 0,
                    "cached_tokens_details": {
                        "text_tokens": min(cached, text_in),
                        "audio_tokens": max(0, cached - text_in),
                        "image_tokens": 0,
                    },
                },
                "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
            }
        return response

    async def _emit(self, event: Event) -> None:
        await self._emit_event(event)


class _Sentence:
    """One sentence to speak, and the audio its synthesis has produced so far."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.spoken = text.strip()
        self.chunks: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()


class _Speech:
    """Speaks a message's sentences in order: one synthesis task, one sender task.

    The synthesiser works one sentence at a time (its contract), but it moves on to the
    next sentence as soon as the current one is synthesised, while that one's audio is
    still being sent: a sentence boundary costs no synthesis start-up. Audio is sent as
    it comes, merged into deltas of up to MIN_DELTA_BYTES only while the audio already
    sent covers the wait: the listener's playback (real time from its first delta) is
    never left short by the merging.
    """

    def __init__(self, run: ResponseRun) -> None:
        self._run = run
        self._to_send: deque[_Sentence] = deque()
        self._to_synthesise: deque[_Sentence] = deque()
        self._more_to_send = asyncio.Event()
        self._more_to_synthesise = asyncio.Event()
        self._room = asyncio.Event()  # a sentence left the queue (or the sender ended)
        self._closing = False
        self._playout_end = 0.0  # perf_counter time the listener runs out of audio
        self._synthesis: asyncio.Task[None] = asyncio.create_task(self._synthesise_all())
        self._sender: asyncio.Task[None] = asyncio.create_task(self._send_all())
        self._sender.add_done_callback(lambda _: self._room.set())

    def say(self, sentence: str) -> None:
        item = _Sentence(sentence)
        self._to_send.append(item)
        self._more_to_send.set()
        if item.spoken:
            self._to_synthesise.append(item)
            self._more_to_synthesise.set()

    async def wait_for_room(self) -> None:
        """Until at most one sentence waits behind the one being sent: enough to
        synthesise ahead, while a cancel still finds the responder mid-stream."""
        while len(self._to_send) > 1 and not self._sender.done():
            self._room.clear()
            await self._room.wait()

    async def finish(self) -> None:
        """Wait until every sentence has been sent; re-raises a synthesis failure."""
        self._closing = True
        self._more_to_send.set()
        self._more_to_synthesise.set()
        try:
            await asyncio.shield(self._sender)
        except asyncio.CancelledError:
            await self.cancel()
            raise
        finally:
            self._synthesis.cancel()  # no-op unless the sender stopped early

    async def cancel(self) -> None:
        """Stop now: what was sent stays, nothing more is synthesised or sent."""
        self._sender.cancel()
        self._synthesis.cancel()
        await asyncio.wait([self._sender, self._synthesis])  # raises only if we are cancelled
        if not self._sender.cancelled() and self._sender.exception() is not None:
            log.debug("speech stopped after a failure", exc_info=self._sender.exception())

    async def _synthesise_all(self) -> None:
        while True:
            while not self._to_synthesise:
                if self._closing:
                    return
                self._more_to_synthesise.clear()
                await self._more_to_synthesise.wait()
            await self._synthesise(self._to_synthesise.popleft())

    async def _synthesise(self, sentence: _Sentence) -> None:
        synthesizer = self._run.components.synthesizer
        assert synthesizer is not None
        plan = self._run.plan
        chunks: PulledChunks | None = None
        try:
            chunks = PulledChunks(synthesizer.synthesize(sentence.spoken, plan.voice, plan.speed))
            while True:
                pending = asyncio.ensure_future(asyncio.to_thread(chunks.next))
                chunk = await asyncio.shield(pending)  # the thread runs on regardless
                sentence.chunks.put_nowait(chunk)
                if chunk is None:
                    return
        except Exception as exc:  # handed to the sender, which fails the response
            sentence.chunks.put_nowait(exc)
        finally:
            if chunks is not None:
                # In a thread: closing waits for a next() still running there, and may
                # join the synthesiser's own thread.
                asyncio.get_running_loop().run_in_executor(None, chunks.close)

    async def _send_all(self) -> None:
        run = self._run
        while True:
            while not self._to_send:
                if self._closing:
                    return
                self._more_to_send.clear()
                await self._more_to_send.wait()
            sentence = self._to_send.popleft()
            self._room.set()
            await self._send_sentence(sentence)
            if run._over_budget():
                run.budget_reached = True
                return

    async def _send_sentence(self, sentence: _Sentence) -> None:
        item = await self._run._open_sentence(sentence.text)
        if not sentence.spoken:
            return  # only whitespace: a transcript without audio
        unsent = bytearray()
        while True:
            patience = self._patience() if unsent else None
            try:
                async with asyncio.timeout(patience):
                    chunk = await sentence.chunks.get()
            except TimeoutError:  # the listener would run short: send what there is
                await self._send(item, unsent)
                continue
            if isinstance(chunk, BaseException):
                raise chunk
            if chunk is not None:
                unsent += chunk
            if chunk is None or len(unsent) >= MIN_DELTA_BYTES or self._patience() == 0:
                await self._send(item, unsent)
            if chunk is None:
                return

    def _patience(self) -> float:
        """How long a merge may still wait: until the audio sent so far has played out
        (in real time from the first delta), less SLACK_S."""
        return max(0.0, self._playout_end - time.perf_counter() - SLACK_S)

    async def _send(self, item: Item, unsent: bytearray) -> None:
        for start in range(0, len(unsent), MAX_DELTA_BYTES):
            pcm = bytes(unsent[start : start + MAX_DELTA_BYTES])
            await self._run._send_audio(item, pcm)
            seconds = len(pcm) / BYTES_PER_S
            self._playout_end = max(self._playout_end, time.perf_counter()) + seconds
        unsent.clear()


class PulledChunks:
    """A synthesiser's chunks, pulled in worker threads one next() at a time. A
    cancelled response (or the server shutting down) may leave a thread inside next():
    `close` waits for it rather than closing a running generator."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._lock = threading.Lock()

    def next(self) -> bytes | None:
        with self._lock:
            return next(self._chunks, None)

    def close(self) -> None:
        """Stop synthesising (a generator's close)."""
        with self._lock:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
