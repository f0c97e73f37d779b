"""Staying connected: a lost, failed or silent connection is replaced with backoff and
jitter, a session near the server's time limit is renewed at a turn boundary, and the
new session gets the conversation replayed. What was under way when the connection
went (a cut-off answer, a requested response, a running tool) is resumed after it."""

from __future__ import annotations

import asyncio
import logging

from voice_tui.core.engine_base import EngineBase, EngineError, OpenFailed
from voice_tui.core.events import ConnectionChanged, ConnectionState, Notice, Phase
from voice_tui.core.link import Link
from voice_tui.core.reliability import backoff_delays
from voice_tui.core.spoken_text import SpokenText

log = logging.getLogger(__name__)

RENEW_RETRY_S = 30.0  # a renewal that failed is tried again after this, at a boundary


class RecoveryMixin(EngineBase):
    def _connection_lost(self, link: Link, exc: Exception) -> None:
        if self._closing or (link is not self._link and link is not self._preparing):
            return
        # The server's close frame, else ours (e.g. we gave up on keepalive pings).
        frame = getattr(exc, "rcvd", None) or getattr(exc, "sent", None)
        code = getattr(frame, "code", None)
        reason = getattr(frame, "reason", "") or ""
        if code == 1001 and "duration" in reason:
            message = "The session reached the server's maximum duration."
        elif isinstance(exc, TimeoutError):
            message = str(exc)
        else:
            detail = f" (code {code}{': ' + reason if reason else ''})" if code else ""
            message = f"The connection to the {self.backend.name} server was lost{detail}."
        if link is self._preparing:  # lost while being configured: its opener reports it
            self._fail_pending_updates(EngineError(message))
            return
        configured = self._configured
        self._link, self._configured = None, False
        self._spawn(link.close(flush=False))
        self._fail_pending_updates(EngineError(message))
        if configured:  # else _open_session is waiting and reports it
            self._begin_recovery(message)

    def _begin_recovery(self, message: str) -> None:
        if self._closing or self.ended or self._recovery is not None:
            return
        self._salvage_in_flight()
        self._recovery = asyncio.create_task(self._reconnect(message), name="engine-reconnect")

    def _salvage_in_flight(self) -> None:
        """The connection went away mid-exchange: keep what the user got, and
        remember to ask again for an answer that was cut off."""
        active = self._active
        wanted = active is not None or self._response_requested or self._response_queued
        if active is not None and active.turn is not None and active.turn.text:
            # Cut off mid-answer: keep what was heard (all that arrived, if nothing plays).
            turn = active.turn
            turn.interrupted, turn.heard_text = True, turn.text
            heard = self.playback.interrupt()
            if heard is not None and not heard.finished:
                received = int(self._item_received_ms.get(heard.item_id, heard.received_ms))
                spoken = self._spoken.get(heard.item_id, SpokenText(turn.text))
                turn.heard_text, _ = spoken.split(min(heard.heard_ms, received), received)
        if active is not None:
            active.done = active.cut = True
            self._end_response_audio(active)
            if active.turn is not None and active.tools_running == 0:
                self._book.finish(active.turn)
        self._active = None
        self._response_requested = False
        self._response_queued = wanted
        self._user_speaking = False
        self._book.release_user_turns()  # their transcripts went with the old session

    async def _reconnect(self, reason: str) -> None:
        try:
            self._emit(Notice(f"{reason} Reconnecting…"))
            for attempt, delay in enumerate(backoff_delays(self.policy, self._rng), 1):
                self._emit(
                    ConnectionChanged(
                        ConnectionState.RECONNECTING,
                        f"{reason} Attempt {attempt} in {delay:.1f} s.",
                        attempt=attempt,
                    )
                )
                await asyncio.sleep(delay)
                try:
                    await self._open_session()
                except OpenFailed as exc:
                    if exc.fatal:
                        self._fail(exc.message, source="connection", code=exc.setting)
                        return
                    reason = exc.message
                    continue
                self.reconnects += 1
                self._emit(Notice(self._restored_notice("Reconnected")))
                self._recovery = None
                self._resume_after_restore()
                return
            self._fail(
                f"Gave up reconnecting after {self.policy.max_attempts} attempts: {reason}",
                source="connection",
            )
        finally:
            if self._recovery is asyncio.current_task():
                self._recovery = None

    async def _renew(self) -> None:
        """Replace the session before the server's time limit, between turns: the new
        connection is configured and restored while the old one still carries the
        microphone, and swapped in only if it is still a turn boundary."""
        old = self._link
        try:
            try:
                link, replayed = await self._prepare_link()
            except OpenFailed as exc:
                if exc.fatal:
                    self._fail(exc.message, source="connection", code=exc.setting)
                    await self._close_connection()
                    return
                log.info("session renewal failed (%s); trying again later", exc.message)
                self._renew_not_before = asyncio.get_running_loop().time() + RENEW_RETRY_S
                return
            if self._link is not old or old is None or not self._at_turn_boundary():
                await link.close(flush=False)  # the conversation moved on: next boundary
                return
            self._go_live(link, replayed, quiet=True)
            await old.close()
            self.renewals += 1
            self._emit(Notice(self._restored_notice("Renewed the session")))
            self._resume_after_restore()
        finally:
            if self._recovery is asyncio.current_task():
                self._recovery = None

    def _restored_notice(self, what: str) -> str:
        turns = sum(1 for t in self.conversation if t.spoken_text.strip() or t.tool_calls)
        return f"{what}; the conversation so far ({turns} turns) was restored."

    def _resume_after_restore(self) -> None:
        held, self._held_texts = self._held_texts, []
        for text in held:  # typed while reconnecting
            self._send_user_text(text)
        if held:
            self._response_queued = True
        # What was wanted is asked for now (an answer, a tool's follow-up), a goodbye
        # said before the drop ends the conversation, or the engine rests.
        self._after_response()

    async def _watch(self) -> None:
        """Notice a server that went silent, and renew sessions before their limit."""
        interval = min(1.0, self.policy.silence_timeout_s / 4)
        while not self._closing:
            await asyncio.sleep(interval)
            link = self._link
            if link is None or self._recovery is not None:
                continue
            if self._expecting_server() and link.silent_s > self.policy.silence_timeout_s:
                self._connection_lost(
                    link,
                    TimeoutError(
                        f"The {self.backend.name} server sent nothing for "
                        f"{self.policy.silence_timeout_s:g} s."
                    ),
                )
            elif (
                self.policy.renew_after_s is not None
                and link.age_s >= self.policy.renew_after_s
                and asyncio.get_running_loop().time() >= self._renew_not_before
                and self._at_turn_boundary()
            ):
                self._recovery = asyncio.create_task(self._renew(), name="engine-renew")

    def _expecting_server(self) -> bool:
        return bool(
            self._configured
            and (self._active is not None or self._response_requested or self._pending_updates)
        )

    def _at_turn_boundary(self) -> bool:
        return (
            self._configured
            and not self._pending_updates
            and not self.busy
            and not self._user_speaking
            and not self._talking
            and not self.playback.is_playing()
            and self.phase in (Phase.IDLE, Phase.LISTENING)
        )
