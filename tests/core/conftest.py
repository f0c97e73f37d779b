"""Fixtures of the engine tests: a local server with test Components (see
engine_support), settings pointing the real SDK at it, and an engine factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from engine_support import (
    API_KEY,
    MODEL,
    PIRATE,
    TEST_PERSONA,
    EngineFactory,
    Recorder,
    make_registry,
    tone_components,
)

from voice_tui.backends.openai import OpenAIBackend
from voice_tui.config.schema import Settings
from voice_tui.core.engine import ConversationEngine
from voice_tui.core.ports import PlaybackSink
from voice_tui.server.app import LocalServer, start_server

# --------------------------------------------------------------------------- fixtures


@pytest.fixture
async def server() -> AsyncIterator[LocalServer]:
    srv = await start_server(
        host="127.0.0.1", port=0, components=tone_components(), api_key=API_KEY, models=[MODEL]
    )
    try:
        yield srv
    finally:
        await srv.close()


@pytest.fixture
def settings(server: LocalServer, tmp_path: Path) -> Settings:
    return Settings.model_validate(
        {
            "backend": {"kind": "openai", "model": MODEL},
            "openai": {"api_key": API_KEY, "base_url": server.base_url},
            "session": {"persona": "Tester", "tool_timeout_s": 1.0, "silence_duration_ms": 300},
            "tools": {"data_dir": str(tmp_path / "tools")},
            "personas": [TEST_PERSONA.model_dump(), PIRATE.model_dump()],
        }
    )


@pytest.fixture
async def make_engine(settings: Settings) -> AsyncIterator[EngineFactory]:
    made: list[tuple[ConversationEngine, OpenAIBackend]] = []

    async def factory(
        settings: Settings = settings, playback: PlaybackSink | None = None, start: bool = True
    ) -> tuple[ConversationEngine, Recorder]:
        backend = OpenAIBackend(settings)
        engine = ConversationEngine(settings, backend, make_registry(settings), playback)
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
