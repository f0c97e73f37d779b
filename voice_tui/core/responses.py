"""The model's responses as the server reports them: items, audio, transcript or text,
usage, failures. Events may arrive malformed or out of order; a response that was never
created or never finished does not hold the others. After a restore, a reply in text
where speech is wanted is dropped and asked for again."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

from voice_tui.backends.base import Backend
from voice_tui.core import protocol as p
from voice_tui.core.announcer import Announcer
from voice_tui.core.assistant_audio import AssistantAudio
from voice_tui.core.connection import Connection, Handler
from voice_tui.core.conversation import Role, Turn
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
from voice_tui.core.lifetime import Lifetime
from voice_tui.core.reliability import FailureKind, failure_kind, fatal_response_message
from voice_tui.core.response_state import ResponseState
from voice_tui.core.scheduler import ResponseScheduler
from voice_tui.core.turnbook import TurnBook
from voice_tui.core.usage import Prices, TurnUsage, UsageTotals
from voice_tui.core.user_speech import UserSpeech

log = logging.getLogger(__name__)

TRANSCRIPT_WAIT_S = 5.0  # after an answer, how long its question's transcript may lag


class Responses:
    def __init__(
        self,
        backend: Backend,
        prices: Prices,
        announcer: Announcer,
        connection: Connection,
        lifetime: Lifetime,
        book: TurnBook,
        audio: AssistantAudio,
        scheduler: ResponseScheduler,
        user: UserSpeech,
        *,
        close_connection: Callable[[], Coroutine[Any, Any, None]],
        next_step: Callable[[], None],
    ) -> None:
        self._backend = backend
        self._prices = prices
        self._announcer = announcer
        self._connection = connection
        self._lifetime = lifetime
        self._book = book
        self._audio = audio
        self._scheduler = scheduler
        self._user = user
        self._close_connection = close_connection
        self._next_step = next_step  # what comes next once a response is over
        self._by_id: dict[str, ResponseState] = {}
        self._speak_guard = False  # after a restore: a text-only reply is asked again
        self._totals = UsageTotals()

    @property
    def totals(self) -> UsageTotals:
        return self._totals

    @property
    def prices(self) -> Prices:
        return self._prices

    @property
    def entries(self) -> int:
        """Responses remembered (bounded: pruned once over)."""
        return len(self._by_id)

    def handlers(self) -> dict[str, Handler]:
        return {
            "response.created": self._on_created,
            "response.output_item.added": self._on_item_added,
            "response.output_audio.delta": self._on_audio_delta,
            "response.output_audio.done": self._on_audio_done,
            "response.output_audio_transcript.delta": self._on_text_delta,
            "response.output_text.delta": self._on_text_delta,
            "response.output_audio_transcript.done": self._on_text_done,
            "response.output_text.done": self._on_text_done,
            "response.done": self._on_done,
            "rate_limits.updated": self._on_rate_limits,
        }

    def guard_speech(self, on: bool) -> None:
        """After a restore a model may answer in text only: if so, ask again."""
        self._speak_guard = on

    def get(self, response_id: str) -> ResponseState:
        resp = self._by_id.get(response_id)
        if resp is None:  # out of order: an event before response.created
            resp = ResponseState(response_id)
            self._by_id[response_id] = resp
        return resp

    def turn_for(self, resp: ResponseState, item_id: str) -> Turn:
        """The assistant turn of `resp`, begun with its first item."""
        turn = resp.turn
        if turn is None:
            turn = Turn(Role.ASSISTANT, item_id, started_at=time.time())
            resp.take_turn(turn)
            self._book.add(turn)
        self._book.link_item(item_id, turn)
        self._audio.claim(item_id, resp)
        return turn

    def end(self, resp: ResponseState) -> None:
        """`resp` is over (done, salvaged, or stale): its audio ends, and its turn is
        announced unless a tool of it still runs."""
        resp.finish()
        self._audio.end_response(resp)
        if resp.turn is not None and resp.tools_running == 0:
            self._book.finish(resp.turn)

    def prune(self) -> None:
        """Forget responses that are over; the per-item records go with the last."""
        for rid in [rid for rid, r in self._by_id.items() if r.settled]:
            del self._by_id[rid]
        if not self._by_id:  # the per-item records only matter for live responses
            self._audio.forget_items()

    # ------------------------------------------------------------ lifecycle events

    def _on_created(self, event: dict[str, Any]) -> None:
        response_id = p.str_field(p.obj(event, "response"), "id")
        resp = self.get(response_id)
        if resp.done:
            return  # a late duplicate
        self._scheduler.created(resp)
        self._retire_stale(resp)
        self._announcer.emit(ResponseStarted(response_id))
        if self._announcer.phase is not Phase.USER_SPEAKING:
            self._announcer.set_phase(Phase.THINKING)

    def _retire_stale(self, current: ResponseState) -> None:
        """One response at a time: another one never created or never finished (a
        lost or out-of-order event) is over, and its turn must not hold the others."""
        for resp in list(self._by_id.values()):
            if resp is current or resp.done or resp is self._scheduler.active:
                continue
            self.end(resp)

    def _on_done(self, event: dict[str, Any]) -> None:
        data = p.obj(event, "response")
        resp = self.get(p.str_field(data, "id"))
        if resp.done and resp is not self._scheduler.active:
            return  # already finished (e.g. salvaged when its connection dropped)
        resp.finish()
        self._audio.end_response(resp)
        self._scheduler.finished(resp)
        self._retire_stale(resp)
        status = p.str_field(data, "status", "completed")
        details = p.obj(data, "status_details")
        error = p.obj(details, "error")
        detail = p.str_field(details, "reason") or p.str_field(error, "message")
        usage_data = p.usage(data)
        usage = (
            TurnUsage.from_response_usage(usage_data, self._prices)
            if usage_data is not None
            else None
        )
        if usage is not None:
            self._totals = self._totals.add(usage)
        if resp.turn is not None:
            # The usage of this response belongs to this response's turn, and only it.
            resp.turn.finish(time.time(), usage)
            if resp.tools_running == 0:
                self._book.finish(resp.turn)
        self._announcer.emit(
            ResponseFinished(resp.response_id, status, usage, self._totals, detail)
        )
        if self._book.waiting:
            self._lifetime.spawn(self._release_transcripts_after(TRANSCRIPT_WAIT_S))
        if status == "failed":
            self._failed(error)
        elif status == "completed":
            self._scheduler.completed()
        self._next_step()

    def _failed(self, error: dict[str, Any]) -> None:
        code = p.str_field(error, "code")
        message = p.str_field(error, "message", "the response failed")
        kind = failure_kind(code, p.str_field(error, "type"))
        if kind is FailureKind.FATAL:
            self._lifetime.fail(
                fatal_response_message(
                    code, message, self._backend.name, self._backend.context.key_setting
                ),
                source="server",
                code=code,
            )
            self._lifetime.spawn(self._close_connection())
            return
        wait = self._scheduler.rate_limited(message) if kind is FailureKind.RATE_LIMITED else None
        if wait is not None:
            self._announcer.emit(
                ErrorRaised(
                    f"The {self._backend.name} server is rate limiting this conversation; "
                    f"asking again in {wait:.1f} s.",
                    code=code,
                    source="server",
                )
            )
            self._lifetime.spawn(self._scheduler.ask_again_after(wait))
            return
        self._announcer.emit(ErrorRaised(f"The model could not answer: {message}", code=code))

    async def _release_transcripts_after(self, delay: float) -> None:
        """A transcript that never comes must not hold the turns after it forever."""
        await asyncio.sleep(delay)
        self._book.release_user_turns()

    def _on_rate_limits(self, event: dict[str, Any]) -> None:
        self._announcer.emit(RateLimitsChanged(p.rate_limits(event)))

    # ------------------------------------------------------------ items and content

    def _on_item_added(self, event: dict[str, Any]) -> None:
        item = p.obj(event, "item")
        item_id = p.str_field(item, "id")
        resp = self.get(p.str_field(event, "response_id"))
        if not item_id or resp.discarded:
            return
        if p.str_field(item, "type") == "message":
            turns = self._book.turns
            previous = turns[-1].item_id if turns else None
            self.turn_for(resp, item_id)
            self._announcer.emit(AssistantTurnStarted(item_id, resp.response_id, previous))
        elif p.str_field(item, "type") == "function_call":
            self.turn_for(resp, item_id)

    def _first_output(self) -> None:
        latency = self._user.take_latency()
        if latency is not None:
            self._announcer.emit(LatencyMeasured(latency))
        if not self._user.speaking:
            self._announcer.set_phase(Phase.ASSISTANT_SPEAKING)

    def _output_starts(self) -> bool:
        return self._user.latency_running or self._announcer.phase is not Phase.ASSISTANT_SPEAKING

    def _on_audio_delta(self, event: dict[str, Any]) -> None:
        item_id = p.str_field(event, "item_id")
        resp = self.get(p.str_field(event, "response_id"))
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
        self.turn_for(resp, item_id)
        if self._output_starts():
            self._first_output()
        chunk = AudioChunk(
            item_id=item_id,
            content_index=p.int_field(event, "content_index"),
            response_id=resp.response_id,
            pcm=pcm,
            received_at=time.perf_counter(),
        )
        self._audio.play(chunk)
        self._announcer.emit(chunk)

    def _on_audio_done(self, event: dict[str, Any]) -> None:
        item_id = p.str_field(event, "item_id")
        if item_id:
            self._audio.end_item(item_id)

    def _on_text_delta(self, event: dict[str, Any]) -> None:
        item_id = p.str_field(event, "item_id")
        delta = p.str_field(event, "delta")
        resp = self.get(p.str_field(event, "response_id"))
        if resp.discarded or not item_id:
            return
        text_only = event.get("type") == "response.output_text.delta"
        if text_only and self._speak_guard:
            self._ask_again_to_speak(resp)
            return
        turn = self.turn_for(resp, item_id)
        resp.said_something()
        self._audio.words(item_id).add(delta, self._audio.received_ms(item_id))
        turn.add_text(delta)
        if text_only and self._output_starts():
            self._first_output()
        self._announcer.emit(AssistantDelta(item_id, delta))

    def _on_text_done(self, event: dict[str, Any]) -> None:
        item_id = p.str_field(event, "item_id")
        resp = self.get(p.str_field(event, "response_id"))
        if resp.discarded or not item_id:
            return
        if event.get("type") == "response.output_text.done" and self._speak_guard:
            self._ask_again_to_speak(resp)  # text only, and not even streamed
            return
        turn = self.turn_for(resp, item_id)
        key = (
            "transcript" if event.get("type") == "response.output_audio_transcript.done" else "text"
        )
        spoken = self._audio.words(item_id)
        final = p.str_field(event, key, spoken.text)
        if final:
            resp.said_something()
            previous = spoken.text
            spoken.replace(final)
            turn.replace_ending(previous, final)  # this item's part of the turn text
        self._announcer.emit(AssistantFinal(item_id, final))

    def _ask_again_to_speak(self, resp: ResponseState) -> None:
        """After a restore the model answered in text where speech is wanted: drop
        that reply and ask once more, insisting on audio."""
        self._speak_guard = False
        resp.discard()
        turn = resp.drop_turn()
        if turn is not None:
            self._book.discard(turn)
        if not resp.done:
            self._connection.send("response.cancel", lambda eid: p.simple("response.cancel", eid))
        # Out of the server's conversation too, or the model would read its own reply.
        for item_id in self._audio.items_of(resp):
            self._connection.send("conversation.item.delete", partial(p.item_delete, item_id))
        self._scheduler.ask_for_speech()
        log.info("reply in text after a restore: cancelled, asking again for speech")
        if resp.done:
            self._next_step()
