"""Staying connected: a lost, failed or silent connection is replaced with backoff and
jitter, a session near the server's time limit is renewed at a turn boundary, and the
new session gets the conversation replayed. What was under way when the connection
went (a cut-off answer, a requested response, a running tool, typed text) is resumed
after it."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from voice_tui.backends.base import Backend
from voice_tui.core.announcer import Announcer
from voice_tui.core.assistant_audio import AssistantAudio
from voice_tui.core.connection import Connection
from voice_tui.core.events import ConnectionChanged, ConnectionState, Notice, Phase
from voice_tui.core.failures import OpenFailed
from voice_tui.core.lifetime import Lifetime
from voice_tui.core.link import Link
from voice_tui.core.reliability import ReconnectPolicy, backoff_delays
from voice_tui.core.responses import Responses
from voice_tui.core.scheduler import ResponseScheduler
from voice_tui.core.turnbook import TurnBook
from voice_tui.core.user_speech import UserSpeech

log = logging.getLogger(__name__)

RENEW_RETRY_S = 30.0  # a renewal that failed is tried again after this, at a boundary


@dataclass(frozen=True, slots=True)
class SessionHooks:
    """What recovery asks of the engine, which opens sessions and knows what is next."""

    open_session: Callable[[], Awaitable[None]]  # connect, configure, restore, go live
    prepare_link: Callable[[], Awaitable[tuple[Link, bool]]]  # all but going live
    go_live_quietly: Callable[[Link, bool], None]  # a prepared link takes over
    close_connection: Callable[[], Awaitable[None]]
    next_step: Callable[[], None]  # what comes next once no response is active
    busy: Callable[[], bool]


class Recovery:
    def __init__(
        self,
        backend: Backend,
        policy: ReconnectPolicy,
        announcer: Announcer,
        connection: Connection,
        lifetime: Lifetime,
        book: TurnBook,
        audio: AssistantAudio,
        scheduler: ResponseScheduler,
        responses: Responses,
        user: UserSpeech,
        hooks: SessionHooks,
    ) -> None:
        self._backend = backend
        self._policy = policy
        self._announcer = announcer
        self._connection = connection
        self._lifetime = lifetime
        self._book = book
        self._audio = audio
        self._scheduler = scheduler
        self._responses = responses
        self._user = user
        self._hooks = hooks
        self._task: asyncio.Task[None] | None = None  # a reconnect or a renewal
        self._watchdog: asyncio.Task[None] | None = None
        self._renew_not_before = 0.0  # loop time: a failed renewal waits a little
        self._rng = random.Random()
        self._held_texts: list[str] = []  # typed while reconnecting: sent after it
        self._reconnects = 0  # sessions opened to replace a lost one
        self._renewals = 0  # sessions opened before the time limit

    @property
    def reconnects(self) -> int:
        return self._reconnects

    @property
    def renewals(self) -> int:
        return self._renewals

    @property
    def recovering(self) -> bool:
        return self._task is not None

    def tasks(self) -> list[asyncio.Task[None] | None]:
        return [self._task, self._watchdog]

    def start_watching(self) -> None:
        self._watchdog = asyncio.create_task(self._watch(), name="engine-watchdog")

    def hold(self, text: str) -> None:
        """Typed while reconnecting: sent as soon as the conversation is restored."""
        self._held_texts.append(text)

    # ------------------------------------------------------------ losing a connection

    def connection_lost(self, link: Link, exc: Exception) -> None:
        if self._lifetime.closing or not self._connection.is_current(link):
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
            message = f"The connection to the {self._backend.name} server was lost{detail}."
        preparing = self._connection.is_preparing(link)
        was_live = self._connection.lose(link, message)
        if preparing:  # lost while being configured: its opener reports it
            return
        self._lifetime.spawn(link.close(flush=False))
        if was_live:  # else the opener is waiting and reports it
            self.begin(message)

    def begin(self, message: str) -> None:
        """Reconnect (in the background), unless that is under way or pointless."""
        if self._lifetime.closing or self._lifetime.ended or self._task is not None:
            return
        self._salvage_in_flight()
        self._task = asyncio.create_task(self._reconnect(message), name="engine-reconnect")

    def _salvage_in_flight(self) -> None:
        """The connection went away mid-exchange: keep what the user got, and
        remember to ask again for an answer that was cut off."""
        active = self._scheduler.salvage()
        if active is not None:
            turn = active.turn
            if turn is not None and turn.text:
                # Cut off mid-answer: keep what was heard (all that came, if nothing plays).
                self._book.cut_off(turn, self._audio.stop_heard(turn.text))
            active.cut_off()
            self._responses.end(active)
        self._user.connection_lost()

    async def _reconnect(self, reason: str) -> None:
        try:
            self._announcer.emit(Notice(f"{reason} Reconnecting…"))
            for attempt, delay in enumerate(backoff_delays(self._policy, self._rng), 1):
                self._announcer.emit(
                    ConnectionChanged(
                        ConnectionState.RECONNECTING,
                        f"{reason} Attempt {attempt} in {delay:.1f} s.",
                        attempt=attempt,
                    )
                )
                await asyncio.sleep(delay)
                try:
                    await self._hooks.open_session()
                except OpenFailed as exc:
                    if exc.fatal:
                        self._lifetime.fail(exc.message, source="connection", code=exc.setting)
                        return
                    reason = exc.message
                    continue
                self._reconnects += 1
                self._announcer.emit(Notice(self._restored_notice("Reconnected")))
                self._task = None
                self._resume_after_restore()
                return
            self._lifetime.fail(
                f"Gave up reconnecting after {self._policy.max_attempts} attempts: {reason}",
                source="connection",
            )
        finally:
            if self._task is asyncio.current_task():
                self._task = None

    # ------------------------------------------------------------ renewing a session

    async def _renew(self) -> None:
        """Replace the session before the server's time limit, between turns: the new
        connection is configured and restored while the old one still carries the
        microphone, and swapped in only if it is still a turn boundary."""
        old = self._connection.link
        try:
            try:
                link, replayed = await self._hooks.prepare_link()
            except OpenFailed as exc:
                if exc.fatal:
                    self._lifetime.fail(exc.message, source="connection", code=exc.setting)
                    await self._hooks.close_connection()
                    return
                log.info("session renewal failed (%s); trying again later", exc.message)
                self._renew_not_before = asyncio.get_running_loop().time() + RENEW_RETRY_S
                return
            if self._connection.link is not old or old is None or not self.at_turn_boundary():
                await link.close(flush=False)  # the conversation moved on: next boundary
                return
            self._hooks.go_live_quietly(link, replayed)
            await old.close()
            self._renewals += 1
            self._announcer.emit(Notice(self._restored_notice("Renewed the session")))
            self._resume_after_restore()
        finally:
            if self._task is asyncio.current_task():
                self._task = None

    def _restored_notice(self, what: str) -> str:
        turns = sum(1 for t in self._book.turns if t.spoken_text.strip() or t.tool_calls)
        return f"{what}; the conversation so far ({turns} turns) was restored."

    def _resume_after_restore(self) -> None:
        held, self._held_texts = self._held_texts, []
        for text in held:  # typed while reconnecting
            self._user.send_text(text)
        if held:
            self._scheduler.queue()
        # What was wanted is asked for now (an answer, a tool's follow-up), a goodbye
        # said before the drop ends the conversation, or the engine rests.
        self._hooks.next_step()

    # ------------------------------------------------------------ watching

    async def _watch(self) -> None:
        """Notice a server that went silent, and renew sessions before their limit."""
        interval = min(1.0, self._policy.silence_timeout_s / 4)
        while not self._lifetime.closing:
            await asyncio.sleep(interval)
            link = self._connection.link
            if link is None or self._task is not None:
                continue
            if self._expecting_server() and link.silent_s > self._policy.silence_timeout_s:
                self.connection_lost(
                    link,
                    TimeoutError(
                        f"The {self._backend.name} server sent nothing for "
                        f"{self._policy.silence_timeout_s:g} s."
                    ),
                )
            elif (
                self._policy.renew_after_s is not None
                and link.age_s >= self._policy.renew_after_s
                and asyncio.get_running_loop().time() >= self._renew_not_before
                and self.at_turn_boundary()
            ):
                self._task = asyncio.create_task(self._renew(), name="engine-renew")

    def _expecting_server(self) -> bool:
        return self._connection.live and (
            self._scheduler.in_flight or self._connection.awaiting_update
        )

    def at_turn_boundary(self) -> bool:
        return (
            self._connection.live
            and not self._connection.awaiting_update
            and not self._hooks.busy()
            and not self._user.speaking
            and not self._user.talking
            and not self._audio.is_playing()
            and self._announcer.phase in (Phase.IDLE, Phase.LISTENING)
        )
