"""One response: from `response.created` to `response.done`.

The responder's text is spoken sentence by sentence: each sentence is synthesised in a
worker thread and its audio streamed as it is produced, with the sentence's transcript
delta alongside, so the first audio leaves before the whole reply is synthesised.
Function calls become `function_call` items. Cancelling the task ends the response with
status `cancelled` (what was produced so far stays, marked incomplete).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import time
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
from voice_tui.server.wire import Event, audio_ms, new_id

log = logging.getLogger(__name__)

Emit = Callable[[Event], Awaitable[None]]
CancelReason = Literal["turn_detected", "client_cancelled"]

MAX_DELTA_BYTES = 4800 * 2  # 200 ms of audio per output_audio.delta at most
MIN_DELTA_BYTES = 4800  # and 100 ms at least (but the first and the last)
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
            items = self.plan.input_items
            self.input_tokens = self.conversation.input_tokens(self.plan.instructions, items)
            history = await self.conversation.chat_history(items)
            request = ResponderRequest(
                instructions=self.plan.instructions,
                history=history,
                tools=self.plan.tools,
                max_output_tokens=(
                    None if self.plan.max_output_tokens == "inf" else self.plan.max_output_tokens
                ),
                metadata=dict(self.plan.metadata),
            )
            pieces = self.components.responder.respond(request)
            try:
                async for piece in pieces:
                    if isinstance(piece, TextPiece):
                        await self._add_text(piece.text)
                    elif isinstance(piece, FunctionCallPiece):
                        await self._function_call(piece)
                    if self._over_budget():
                        status = "incomplete"
                        details = {"type": "incomplete", "reason": "max_output_tokens"}
                        break
            except ResponderError as exc:
                so_far = self._pending or self._said()
                separator = " " if so_far and not so_far[-1].isspace() else ""
                await self._add_text(f"{separator}The chat model failed: {exc}")
            finally:  # stop the responder now (e.g. its HTTP stream), not when collected
                aclose = getattr(pieces, "aclose", None)
                if aclose is not None:
                    await aclose()
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
        self._pending += text
        while True:
            sentence = self._take_sentence()
            if sentence is None:
                return
            await self._speak(sentence)

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

    async def _speak(self, sentence: str) -> None:
        item = await self._ensure_message()
        part = item.content[0]
        part["transcript"] += sentence
        await self._emit(
            self._part_event("response.output_audio_transcript.delta", item, delta=sentence)
        )
        spoken = sentence.strip()
        if not spoken:
            return
        assert self.components.synthesizer is not None
        chunks: Iterator[bytes] = self.components.synthesizer.synthesize(
            spoken, self.plan.voice, self.plan.speed
        )
        pending: asyncio.Future[bytes | None] | None = None
        unsent = bytearray()
        try:
            while True:
                pending = asyncio.ensure_future(asyncio.to_thread(next, chunks, None))
                chunk = await asyncio.shield(pending)  # the thread runs on regardless
                if chunk is not None:
                    unsent += chunk
                # The reply's first audio leaves at once; later small chunks are merged.
                if chunk is None or len(unsent) >= MIN_DELTA_BYTES or self.first_output_ms is None:
                    for start in range(0, len(unsent), MAX_DELTA_BYTES):
                        await self._send_audio(item, bytes(unsent[start : start + MAX_DELTA_BYTES]))
                    unsent.clear()
                if chunk is None:
                    return
        finally:
            _close_when_idle(chunks, pending)

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
        if speak_rest and self.plan.modality == "audio":
            while (sentence := self._take_sentence(final=True)) is not None:
                await self._speak(sentence)
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


def _close_when_idle(chunks: Iterator[bytes], pending: asyncio.Future[bytes | None] | None) -> None:
    """Close the synthesiser's generator (it stops synthesising) once no thread runs it.

    A cancelled response may leave a worker thread inside next(); closing must wait for
    it, and happens in a thread because closing may join the synthesiser's own thread.
    """
    close = getattr(chunks, "close", None)
    if close is None:
        return
    loop = asyncio.get_running_loop()

    def close_in_thread(_: object = None) -> None:
        loop.run_in_executor(None, close)

    if pending is None or pending.done():
        close_in_thread()
    else:
        pending.add_done_callback(close_in_thread)
