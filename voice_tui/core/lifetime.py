"""How the engine's life goes and ends: its background tasks, closing, the end reason,
and a fatal failure (which ends it with the message that says what to fix)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterable
from typing import Any

from voice_tui.core.announcer import Announcer
from voice_tui.core.connection import Connection
from voice_tui.core.events import ConnectionChanged, ConnectionState, ConversationEnded, ErrorRaised


class Lifetime:
    def __init__(self, announcer: Announcer, connection: Connection) -> None:
        self._announcer = announcer
        self._connection = connection
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False
        self._ended = asyncio.Event()
        self._end_reason = ""

    @property
    def closing(self) -> bool:
        return self._closing

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    async def wait_ended(self) -> str:
        await self._ended.wait()
        return self._end_reason

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run `coro` in the background; `close` cancels what is still running."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def end(self, reason: str) -> None:
        if not self._ended.is_set():
            self._end_reason = reason
            self._ended.set()
            self._announcer.emit(ConversationEnded(reason))

    def fail(self, message: str, *, source: str, code: str = "") -> None:
        """Something retrying cannot mend: say so, and end the conversation."""
        self._connection.stop()  # nothing more is sent on this session
        self._announcer.emit(ErrorRaised(message, code=code, fatal=True, source=source))
        self._announcer.emit(ConnectionChanged(ConnectionState.FAILED, message))
        self.end(f"error: {message}")

    def begin_closing(self, others: Iterable[asyncio.Task[Any] | None]) -> list[asyncio.Task[Any]]:
        """Mark the engine closing and cancel every task (its own and `others`); returns
        them, for `join`. Empty when it was closing already."""
        if self._closing:
            return []
        self._closing = True
        current = asyncio.current_task()
        tasks = [t for t in [*self._tasks, *others] if t is not None and t is not current]
        for task in tasks:
            task.cancel()
        return tasks

    async def join(self, tasks: Iterable[asyncio.Task[Any]]) -> None:
        """Wait for `tasks` and for any task spawned since, however they end."""
        current = asyncio.current_task()
        for task in {*tasks, *self._tasks}:
            if task is current:
                continue
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
