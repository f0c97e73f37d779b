"""Collects a ConversationEngine's events and lets a test wait for one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from voice_tui.core.events import AppEvent

E = TypeVar("E")


class Events:
    def __init__(self) -> None:
        self.all: list[AppEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, event: AppEvent) -> None:
        self.all.append(event)
        self._changed.set()

    async def wait_for(
        self, kind: type[E], where: Callable[[E], bool] = lambda e: True, within_s: float = 60
    ) -> E:
        async def scan() -> E:
            while True:
                for event in self.all:
                    if isinstance(event, kind) and where(event):
                        return event
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(scan(), within_s)
