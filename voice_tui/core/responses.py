"""The model's responses: items, audio, transcript or text, usage, failures, and what
comes next once a response is done. Events may arrive malformed or out of order; a
response that was never created or never finished does not hold the others. After a
restore, a reply in text where speech is wanted is dropped and asked for again."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from functools import partial
from typing import Any

from voice_tui.core import protocol as p
from voice_tui.core.conversation import Role, Turn
from voice_tui.core.engine_base import EngineBase, ResponseState, rest_phase
from voice_tui.core.events import (
    AssistantDelta,
    AssistantFinal,
    AssistantTurnStarted,
    AudioChunk,
    ErrorRaised,
    LatencyMeasured,
    Phase,
    RateLimitsChanged,
    ResponseFinished,
    ResponseStarted,
)
from voice_tui.core.reliability import (
    FailureKind,
    failure_kind,
    fatal_response_message,
    retry_after_s,
)
from voice_tui.core.spoken_text import SpokenText
from voice_tui.core.usage import TurnUsage

log = logging.getLogger(__name__)

TRANSCRIPT_WAIT_S = 5.0  # after an answer, how long its question's transcript may lag


class ResponseMixin(EngineBase):
    def _response(self, response_id: str) -> ResponseState:
        resp = self._responses.get(response_id)
        if resp is None:  # out of order: an event before response.created
            resp = ResponseState(response_id)
            self._responses[response_id] = resp
        return resp

    def _on_response_created(self, event: dict[str, Any]) -> None:
        response_id = p.str_field(p.obj(event, "response"), "id")
        resp = self._response(response_id)
        if resp.done:
            return  # a late duplicate
        self._active = resp
        self._response_requested = False
        self._retire_stale(resp)
        self._emit(ResponseStarted(response_id))
        if self.phase is not Phase.USER_SPEAKING:
            self._set_phase(Phase.THINKING)

    def _retire_stale(self, current: ResponseState) -> None:
        """One response at a time: another one never created or never finished (a
        lost or out-of-order event) is over, and its turn must not hold the others."""
        for resp in list(self._responses.values()):
            if resp is current or resp.done or resp is self._active:
                continue
            resp.done = True
            self._end_response_audio(resp)
            if resp.turn is not None and resp.tools_running == 0:
                self._book.finish(resp.turn)

    def _response_turn(self, resp: ResponseState, item_id: str) -> Turn:
        if resp.turn is None:
            resp.turn = Turn(Role.ASSISTANT, item_id, started_at=time.time())
            self._book.add(resp.turn)
        self._book.by_item.setdefault(item_id, resp.turn)
        self._item_response[item_id] = resp
        return resp.turn

    def _on_output_item_added(self, event: dict[str, Any]) -> None:
        item = p.obj(event, "item")
        item_id = p.str_field(item, "id")
        resp = self._response(p.str_field(event, "response_id"))
        if not item_id or resp.discarded:
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

    def _first_output(self) -> None:
        if self._latency_t0 is not None:
            self._emit(LatencyMeasured(time.perf_counter() - self._latency_t0))
            self._latency_t0 = None
        if not self._user_speaking:
            self._set_phase(Phase.ASSISTANT_SPEAKING)

    def _on_audio_delta(self, event: dict[str, Any]) -> None:
        item_id = p.str_field(event, "item_id")
        resp = self._response(p.str_field(event, "response_id"))
        if resp.cut or resp.discarded or resp.done:
            return
        try:
            pcm = base64.b64decode(p.str_field(event, "delta"), validate=True)
        except (binascii.Error, ValueError):
            log.warning("skipping an audio delta that is not base64")
            return
        if not pcm or not item_id:
            return
        self._speak_guard = False  # it speaks
        self._response_turn(resp, item_id)
        self._audio_produced = True
        self._last_audio_item = item_id
        self._item_received_ms[item_id] = (
            self._item_received_ms.get(item_id, 0.0) + len(pcm) / p.BYTES_PER_MS
        )
        if self._latency_t0 is not None or self.phase is not Phase.ASSISTANT_SPEAKING:
            self._first_output()
        chunk = AudioChunk(
            item_id=item_id,
            content_index=p.int_field(event, "content_index"),
            response_id=resp.response_id,
            pcm=pcm,
            received_at=time.perf_counter(),
        )
        self.playback.play(chunk)
        self._emit(chunk)

    def _on_audio_done(self, event: dict[str, Any]) -> None:
        item_id = p.str_field(event, "item_id")
        if item_id:
            self._end_audio(item_id)

    def _end_audio(self, item_id: str) -> None:
        """No more audio will come for `item_id`: the player may call it finished, and
        the words of a cut are placed on all of its audio."""
        self._spoken.setdefault(item_id, SpokenText()).audio_done = True
        self.playback.end_item(item_id)

    def _end_response_audio(self, resp: ResponseState) -> None:
        for item_id in [i for i, owner in self._item_response.items() if owner is resp]:
            self._end_audio(item_id)

    def _on_text_delta(self, event: dict[str, Any]) -> None:
        item_id = p.str_field(event, "item_id")
        delta = p.str_field(event, "delta")
        resp = self._response(p.str_field(event, "response_id"))
        if resp.discarded or not item_id:
            return
        text_only = event.get("type") == "response.output_text.delta"
        if text_only and self._speak_guard:
            self._ask_again_to_speak(resp)
            return
        turn = self._response_turn(resp, item_id)
        resp.spoke = True
        spoken = self._spoken.setdefault(item_id, SpokenText())
        spoken.add(delta, self._item_received_ms.get(item_id, 0.0))
        turn.text += delta
        if text_only and (
            self._latency_t0 is not None or self.phase is not Phase.ASSISTANT_SPEAKING
        ):
            self._first_output()
        self._emit(AssistantDelta(item_id, delta))

    def _ask_again_to_speak(self, resp: ResponseState) -> None:
        """After a restore the model answered in text where speech is wanted: drop
        that reply and ask once more, insisting on audio."""
        self._speak_guard = False
        resp.discarded = resp.cut = True
        if resp.turn is not None:
            self._book.discard(resp.turn)
            resp.turn = None
        if not resp.done:
            self._send_tracked("response.cancel", lambda eid: p.simple("response.cancel", eid))
        # Out of the server's conversation too, or the model would read its own reply.
        for item_id in [i for i, r in self._item_response.items() if r is resp]:
            self._send_tracked("conversation.item.delete", partial(p.item_delete, item_id))
        self._ask_to_speak = True
        self._response_queued = True
        log.info("reply in text after a restore: cancelled, asking again for speech")
        if resp.done:
            self._after_response()

    def _on_text_done(self, event: dict[str, Any]) -> None:
        item_id = p.str_field(event, "item_id")
        resp = self._response(p.str_field(event, "response_id"))
        if resp.discarded or not item_id:
            return
        if event.get("type") == "response.output_text.done" and self._speak_guard:
            self._ask_again_to_speak(resp)  # text only, and not even streamed
            return
        turn = self._response_turn(resp, item_id)
        key = (
            "transcript" if event.get("type") == "response.output_audio_transcript.done" else "text"
        )
        spoken = self._spoken.setdefault(item_id, SpokenText())
        final = p.str_field(event, key, spoken.text)
        if final:
            resp.spoke = True
            previous = spoken.text
            spoken.replace(final)
            if turn.text.endswith(previous):  # replace this item's part of the turn text
                turn.text = turn.text[: len(turn.text) - len(previous)] + final
        self._emit(AssistantFinal(item_id, final))

    def _on_response_done(self, event: dict[str, Any]) -> None:
        data = p.obj(event, "response")
        resp = self._response(p.str_field(data, "id"))
        if resp.done and resp is not self._active:
            return  # already finished (e.g. salvaged when its connection dropped)
        resp.done = True
        self._end_response_audio(resp)
        if self._active is resp:
            self._active = None
        self._retire_stale(resp)
        status = p.str_field(data, "status", "completed")
        details = p.obj(data, "status_details")
        error = p.obj(details, "error")
        detail = p.str_field(details, "reason") or p.str_field(error, "message")
        usage_data = p.usage(data)
        usage = (
            TurnUsage.from_response_usage(usage_data, self.prices)
            if usage_data is not None
            else None
        )
        if usage is not None:
            self.totals = self.totals.add(usage)
        if resp.turn is not None:
            # The usage of this response belongs to this response's turn, and only it.
            resp.turn.usage = usage
            resp.turn.finished_at = time.time()
            if resp.tools_running == 0:
                self._book.finish(resp.turn)
        self._emit(ResponseFinished(resp.response_id, status, usage, self.totals, detail))
        if self._book.waiting:
            self._spawn(self._release_transcripts_after(TRANSCRIPT_WAIT_S))
        if status == "failed":
            self._response_failed(error)
        elif status == "completed":
            self._rate_retries = 0
        self._after_response()

    def _response_failed(self, error: dict[str, Any]) -> None:
        code = p.str_field(error, "code")
        message = p.str_field(error, "message", "the response failed")
        kind = failure_kind(code, p.str_field(error, "type"))
        if kind is FailureKind.FATAL:
            self._fail(
                fatal_response_message(
                    code, message, self.backend.name, self.backend.context.key_setting
                ),
                source="server",
                code=code,
            )
            self._spawn(self._close_connection())
            return
        if kind is FailureKind.RATE_LIMITED and self._rate_retries < self.policy.rate_limit_retries:
            self._rate_retries += 1
            wait = retry_after_s(message) or self.policy.first_delay_s * 2**self._rate_retries
            self._emit(
                ErrorRaised(
                    f"The {self.backend.name} server is rate limiting this conversation; "
                    f"asking again in {wait:.1f} s.",
                    code=code,
                    source="server",
                )
            )
            self._rate_wait = True  # busy until then: no renewal in between
            self._spawn(self._ask_again_after(wait))
            return
        self._emit(ErrorRaised(f"The model could not answer: {message}", code=code))

    async def _release_transcripts_after(self, delay: float) -> None:
        """A transcript that never comes must not hold the turns after it forever."""
        await asyncio.sleep(delay)
        self._book.release_user_turns()

    async def _ask_again_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if self._rate_wait:
            self._rate_wait = False
            if self._configured:
                self._request_response()
                self._set_phase(Phase.THINKING)
            else:
                self._response_queued = True  # asked for after the restore

    def _after_response(self) -> None:
        """What comes next once no response is active."""
        if self._active is not None or self._response_requested or not self._configured:
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
            self._set_phase(rest_phase(self.turn_mode))

    def _prune_responses(self) -> None:
        for rid in [rid for rid, r in self._responses.items() if r.done and not r.tools_running]:
            del self._responses[rid]
        if not self._responses:  # the per-item maps only matter for live responses
            live = {self._last_audio_item} if self.playback.is_playing() else set()
            for mapping in (self._spoken, self._item_received_ms, self._item_response):
                for key in [k for k in mapping if k not in live]:
                    del mapping[key]

    def _on_rate_limits(self, event: dict[str, Any]) -> None:
        self._emit(RateLimitsChanged(p.rate_limits(event)))
