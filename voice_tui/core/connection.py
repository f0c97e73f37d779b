"""The engine's side of the wire: which link is live, which one is being configured,
and what was sent on them, so an `error` event can be matched to its cause and a
`session.updated` to the request that wanted it.

Links come and go (a reconnect or a renewal is a new `Link`); this object outlives them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from openai.resources.realtime.realtime import AsyncRealtimeConnection

from voice_tui.core import protocol as p
from voice_tui.core.failures import EngineError
from voice_tui.core.link import Link

# Client events the server answers at once: silence after them means trouble.
ANSWERED_KINDS = frozenset({"response.create", "session.update", "response.cancel"})
KINDS_KEPT = 512  # event ids remembered for matching errors (the oldest half goes)

Handler = Callable[[dict[str, Any]], None]


class Connection:
    def __init__(self) -> None:
        self._link: Link | None = None
        self._preparing: Link | None = None  # being configured, not yet live
        self._live = False  # a configured session carries the conversation
        # Requests awaiting `session.updated`, oldest first: (event_id, future).
        self._pending_updates: deque[tuple[str, asyncio.Future[None]]] = deque()
        self._sent_kinds: dict[str, str] = {}  # client event_id -> what it was
        self._session_id = ""

    @property
    def live(self) -> bool:
        """A configured session is open: what is sent reaches the conversation."""
        return self._live

    @property
    def link(self) -> Link | None:
        return self._link

    @property
    def session_id(self) -> str:
        return self._session_id

    @property
    def awaiting_update(self) -> bool:
        return bool(self._pending_updates)

    def handlers(self) -> dict[str, Handler]:
        return {
            "session.created": self._on_session_created,
            "session.updated": self._on_session_updated,
        }

    # ------------------------------------------------------------ links

    def open(
        self,
        conn: AsyncRealtimeConnection,
        on_message: Callable[[bytes], None],
        on_lost: Callable[[Link, Exception], None],
    ) -> Link:
        """A new link, being configured while the live one (if any) carries on."""
        link = Link(conn, on_message, on_lost)
        self._preparing = link
        return link

    def prepared(self, link: Link, ack: asyncio.Future[None]) -> None:
        """`link` is configured (or failed to be): it is no longer being prepared."""
        if self._preparing is link:
            self._preparing = None
        # An unanswered update must not catch the next session's answer.
        self._pending_updates = deque(u for u in self._pending_updates if u[1] is not ack)

    def go_live(self, link: Link) -> None:
        self._link = link
        self._live = True

    def is_preparing(self, link: Link) -> bool:
        return link is self._preparing

    def is_current(self, link: Link) -> bool:
        return link is self._link or link is self._preparing

    def lose(self, link: Link, message: str) -> bool:
        """`link` went away: nothing waits for an answer from it any more. True when it
        was the live, configured link (a reconnect is due)."""
        self._fail_pending_updates(EngineError(message))
        if link is self._preparing:  # its opener reports it
            return False
        was_live = self._live
        self._link, self._live = None, False
        return was_live

    def stop(self) -> None:
        """Nothing more is sent on this session (it failed for good)."""
        self._live = False

    async def close(self, *, flush: bool = True) -> None:
        link, self._link = self._link, None
        self._live = False
        if link is not None:
            await link.close(flush=flush)
        self._fail_pending_updates(EngineError("the connection was closed"))

    # ------------------------------------------------------------ sending

    def send(self, kind: str, build: Callable[[str], str]) -> str:
        """A client event built with its event id, remembered so an error names it."""
        event_id = p.new_event_id()
        if len(self._sent_kinds) > KINDS_KEPT:
            for old in list(self._sent_kinds)[: KINDS_KEPT // 2]:
                del self._sent_kinds[old]
        self._sent_kinds[event_id] = kind
        link = self._link
        if link is not None:
            if kind in ANSWERED_KINDS:
                link.send_request(build(event_id))
            else:
                link.send(build(event_id))
        return event_id

    def send_audio(self, pcm: bytes) -> bool:
        link = self._link
        if not self._live or not pcm or link is None:
            return False
        link.send(p.audio_append(pcm))
        return True

    def send_update(
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

    def kind_of(self, event_id: str) -> str:
        """What the client event `event_id` was ("" when unknown); asked once."""
        return self._sent_kinds.pop(event_id, "")

    # ------------------------------------------------------------ session updates

    def reject_update(self, event_id: str, exc: Exception) -> None:
        for i, (eid, future) in enumerate(self._pending_updates):
            if eid == event_id or not event_id:
                del self._pending_updates[i]
                if not future.done():
                    future.set_exception(exc)
                    future.exception()
                return

    def _fail_pending_updates(self, exc: Exception) -> None:
        while self._pending_updates:
            _, future = self._pending_updates.popleft()
            if not future.done():
                future.set_exception(exc)
                future.exception()  # mark retrieved: nobody may be awaiting it

    def _on_session_created(self, event: dict[str, Any]) -> None:
        self._session_id = p.str_field(p.obj(event, "session"), "id", self._session_id)

    def _on_session_updated(self, event: dict[str, Any]) -> None:
        self._session_id = p.str_field(p.obj(event, "session"), "id", self._session_id)
        if self._pending_updates:
            _, future = self._pending_updates.popleft()
            if not future.done():
                future.set_result(None)
