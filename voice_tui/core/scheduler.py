"""When to ask the model for a response.

One `response.create` at a time and never while a response is active: whatever wants
an answer meanwhile (a user turn, the outputs of a response's tool calls, a reply asked
for again) is remembered and asked for once, when the active response is done. Tool
calls of one response may run side by side: their outputs are sent as each finishes,
and the one follow-up is asked for after the last (the engine asks `take_wanted` only
when no tool is running). A response failed by rate limiting is asked for again after
the wait the server names.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from voice_tui.config.schema import Persona
from voice_tui.core import protocol as p
from voice_tui.core.announcer import Announcer
from voice_tui.core.connection import Connection
from voice_tui.core.events import Phase
from voice_tui.core.reliability import ReconnectPolicy, retry_after_s
from voice_tui.core.response_state import ResponseState

SPEAK_REMINDER = "Answer by speaking, out loud, as in the rest of this conversation."


class ResponseScheduler:
    def __init__(
        self,
        connection: Connection,
        announcer: Announcer,
        policy: ReconnectPolicy,
        persona: Callable[[], Persona],
    ) -> None:
        self._connection = connection
        self._announcer = announcer
        self._policy = policy
        self._persona = persona
        self._active: ResponseState | None = None
        self._requested = False  # response.create sent, response.created not seen
        self._queued = False  # wanted once the active response is done
        self._followup = False  # tool outputs sent, the model should answer them
        self._rate_wait = False  # a rate-limited response is asked again after a pause
        self._rate_retries = 0
        self._insist_on_audio = False  # the next response.create asks for speech

    @property
    def active(self) -> ResponseState | None:
        return self._active

    @property
    def in_flight(self) -> bool:
        """A response is active, or asked for and not yet created."""
        return self._active is not None or self._requested

    @property
    def pending(self) -> bool:
        """A response is under way, wanted, or waiting out a rate limit."""
        return self.in_flight or self._queued or self._followup or self._rate_wait

    def request(self) -> None:
        """response.create, but never while a response is active: queue it instead."""
        if self.in_flight:
            self._queued = True
            return
        self._queued = False
        self._requested = True
        if self._insist_on_audio:
            self._insist_on_audio = False
            overrides = {
                "output_modalities": ["audio"],
                "instructions": f"{self._persona().instructions}\n\n{SPEAK_REMINDER}",
            }
            self._connection.send(
                "response.create", lambda eid: p.response_create_with(overrides, eid)
            )
        else:
            self._connection.send("response.create", p.response_create)

    def created(self, resp: ResponseState) -> None:
        self._active = resp
        self._requested = False

    def finished(self, resp: ResponseState) -> None:
        if self._active is resp:
            self._active = None

    def refused(self, *, while_active: bool) -> None:
        """The server refused a response.create (asked again later if one was active)."""
        self._requested = False
        if while_active:
            self._queued = True

    def want_followup(self) -> None:
        """A tool output was sent: the model should answer it (once all are in)."""
        self._followup = True

    def queue(self) -> None:
        """Ask for a response once nothing is in the way."""
        self._queued = True

    def ask_for_speech(self) -> None:
        """The reply came in text where speech is wanted: ask again, insisting on audio."""
        self._insist_on_audio = True
        self._queued = True

    def take_wanted(self) -> bool:
        """Whether a response is wanted now (and no longer remembered as wanted)."""
        wanted = self._followup or self._queued
        self._followup = self._queued = False
        return wanted

    def drop_wanted(self) -> None:
        """The user interrupted: nothing asked for earlier is wanted any more."""
        self._queued = self._followup = self._rate_wait = False

    def salvage(self) -> ResponseState | None:
        """The connection went: nothing is active or asked for on it. What was under way
        is asked for again after the restore; returns the response that was active."""
        active = self._active
        wanted = self.in_flight or self._queued
        self._active, self._requested, self._queued = None, False, wanted
        return active

    def forget_in_flight(self) -> None:
        """The connection was closed: its responses are gone with it."""
        self._active, self._requested = None, False

    def completed(self) -> None:
        self._rate_retries = 0

    def rate_limited(self, message: str) -> float | None:
        """A response failed by rate limiting: the wait before asking again, or None
        when it was asked again too often already."""
        if self._rate_retries >= self._policy.rate_limit_retries:
            return None
        self._rate_retries += 1
        self._rate_wait = True  # busy until then: no renewal in between
        return retry_after_s(message) or self._policy.first_delay_s * 2**self._rate_retries

    async def ask_again_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if self._rate_wait:
            self._rate_wait = False
            if self._connection.live:
                self.request()
                self._announcer.set_phase(Phase.THINKING)
            else:
                self._queued = True  # asked for after the restore
