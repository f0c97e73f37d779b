"""Fixtures of the runtime tests: the engine tests' local server (test Components) and
settings that point the real SDK at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.engine import API_KEY, MODEL, engine_settings, tone_components
from voice_tui.config.schema import Settings
from voice_tui.server.app import LocalServer, start_server


@pytest.fixture
async def server() -> AsyncIterator[LocalServer]:
    srv = await start_server(tone_components(), api_key=API_KEY, models=[MODEL])
    try:
        yield srv
    finally:
        await srv.close()


@pytest.fixture
def settings(server: LocalServer, tmp_path: Path) -> Settings:
    return engine_settings(server.base_url, tmp_path)
