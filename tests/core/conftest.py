"""Fixtures of the engine tests: a local server with test Components (see
tests.support.engine), settings pointing the real SDK at it, and an engine factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.engine import (
    API_KEY,
    MODEL,
    EngineFactory,
    engine_factory,
    engine_settings,
    tone_components,
)
from voice_tui.config.schema import Settings
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
    return engine_settings(server.base_url, tmp_path)


@pytest.fixture
async def make_engine(settings: Settings) -> AsyncIterator[EngineFactory]:
    async with engine_factory(settings) as factory:
        yield factory
