"""Reliability fixtures: the project's local server with chaos hooks, the real SDK,
and engines with a fast reconnect policy (short delays, a 1 s silence timeout)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from core.engine_support import (
    API_KEY,
    MODEL,
    PIRATE,
    TEST_PERSONA,
    Recorder,
    make_registry,
    tone_components,
)

from voice_tui.backends.openai import OpenAIBackend
from voice_tui.config.schema import Settings
from voice_tui.core.engine import ConversationEngine
from voice_tui.core.ports import PlaybackSink
from voice_tui.core.reliability import ReconnectPolicy
from voice_tui.server.chaos import ChaosServer, start_chaos_server

from .support import FAST, Factory


@pytest.fixture
async def chaos() -> AsyncIterator[ChaosServer]:
    server = await start_chaos_server(tone_components(), api_key=API_KEY, models=[MODEL])
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
def settings(chaos: ChaosServer, tmp_path: Path) -> Settings:
    return Settings.model_validate(
        {
            "backend": {"kind": "openai", "model": MODEL},
            "openai": {"api_key": API_KEY, "base_url": chaos.base_url},
            "session": {"persona": "Tester", "tool_timeout_s": 1.0, "silence_duration_ms": 300},
            "tools": {"data_dir": str(tmp_path / "tools")},
            "personas": [TEST_PERSONA.model_dump(), PIRATE.model_dump()],
        }
    )


@pytest.fixture
async def make_engine(settings: Settings) -> AsyncIterator[Factory]:
    made: list[tuple[ConversationEngine, OpenAIBackend]] = []

    async def factory(
        policy: ReconnectPolicy = FAST,
        playback: PlaybackSink | None = None,
        start: bool = True,
        settings: Settings = settings,
    ) -> tuple[ConversationEngine, Recorder]:
        backend = OpenAIBackend(settings)
        engine = ConversationEngine(
            settings, backend, make_registry(settings), playback, policy=policy
        )
        recorder = Recorder()
        engine.subscribe(recorder)
        made.append((engine, backend))
        if start:
            await engine.start()
        return engine, recorder

    yield factory
    for engine, backend in made:
        await engine.close()
        await backend.aclose()
