"""One open Realtime connection: an outbox drained by a sender task, a receiver task
that hands every message on, and the time the server was last heard from.

The engine outlives its links: a reconnect or a session renewal is a new Link. Sending
never awaits (the audio path calls it 50 times a second); the outbox keeps order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from openai.resources.realtime.realtime import AsyncRealtimeConnection

log = logging.getLogger(__name__)

FLUSH_TIMEOUT_S = 2.0  # sending what is queued before the connection is closed


class Link:
    def __init__(
        self,
        conn: AsyncRealtimeConnection,
        on_message: Callable[[bytes], None],
        on_lost: Callable[[Link, Exception], None],
    ) -> None:
        self.conn = conn
        self._on_message = on_message
        self._on_lost = on_lost
        self._loop = asyncio.get_running_loop()
        self.opened_at = self._loop.time()
        self.last_heard = self.opened_at
        self.asked_at = self.opened_at  # when something that wants an answer was sent
        self.closed = False
        self._outbox: asyncio.Queue[str | None] = asyncio.Queue()
        self._sender = asyncio.create_task(self._send_loop(), name="realtime-send")
        self._receiver = asyncio.create_task(self._receive_loop(), name="realtime-receive")

    @property
    def age_s(self) -> float:
        return self._loop.time() - self.opened_at

    @property
    def silent_s(self) -> float:
        """How long the server has said nothing since it was last heard or asked."""
        return self._loop.time() - max(self.last_heard, self.asked_at)

    def send_request(self, data: str) -> None:
        """Send something the server must answer (the silence clock starts now)."""
        self.asked_at = self._loop.time()
        self.send(data)

    def send(self, data: str) -> None:
        if not self.closed:
            self._outbox.put_nowait(data)

    async def _send_loop(self) -> None:
        while True:
            data = await self._outbox.get()
            if data is None:
                return
            try:
                await self.conn.send_raw(data)
            except Exception as exc:  # the receive loop reports the closed connection
                log.debug("send failed: %s", type(exc).__name__)
                return

    async def _receive_loop(self) -> None:
        while True:
            try:
                raw = await self.conn.recv_bytes()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self.closed:
                    self._on_lost(self, exc)
                return
            self.last_heard = self._loop.time()
            self._on_message(raw)

    async def close(self, *, flush: bool = True) -> None:
        """Send what is queued (if asked and possible), close, stop both tasks."""
        if self.closed:
            return
        self.closed = True
        self._outbox.put_nowait(None)
        if flush:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._sender), FLUSH_TIMEOUT_S)
        with contextlib.suppress(Exception):
            await self.conn.close()
        current = asyncio.current_task()
        for task in (self._receiver, self._sender):
            if task is not current:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
