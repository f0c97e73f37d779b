"""Collects a ConversationEngine's events and lets a test wait for one; runs an engine
on the local backend and speaks to it as a microphone would."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from voice_tui.backends.local import LocalBackend
from voice_tui.config.schema import Settings
from voice_tui.core.engine import ConversationEngine
from voice_tui.core.events import AppEvent
from voice_tui.core.tools import build_registry
from voice_tui.server.components import SAMPLE_RATE

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


@contextlib.asynccontextmanager
async def local_engine(settings: Settings) -> AsyncIterator[tuple[ConversationEngine, Events]]:
    """A started engine on the local backend with its events collected; closed after."""
    backend = LocalBackend(settings)
    engine = ConversationEngine(settings, backend, build_registry(settings), None)
    events = Events()
    engine.subscribe(events)
    try:
        await engine.start()
        yield engine, events
    finally:
        await engine.close()
        await backend.aclose()


def silence(ms: int) -> bytes:
    return b"\0\0" * (SAMPLE_RATE * ms // 1000)


async def speak(engine: ConversationEngine, audio: bytes) -> None:
    """Send audio 20 ms at a time, as a microphone delivers it."""
    step = SAMPLE_RATE * 2 * 20 // 1000
    for start in range(0, len(audio), step):
        engine.send_audio(audio[start : start + step])
        await asyncio.sleep(0)
