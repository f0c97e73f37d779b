"""Reliability fixtures: the project's local server with chaos hooks, the real SDK,
and engines with a fast reconnect policy (short delays, a 1 s silence timeout)."""

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
from tests.support.reliability import FAST
from voice_tui.config.schema import Settings
from voice_tui.server.chaos import ChaosServer, start_chaos_server


@pytest.fixture
async def chaos() -> AsyncIterator[ChaosServer]:
    server = await start_chaos_server(tone_components(), api_key=API_KEY, models=[MODEL])
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
def settings(chaos: ChaosServer, tmp_path: Path) -> Settings:
    return engine_settings(chaos.base_url, tmp_path)


@pytest.fixture
async def make_engine(settings: Settings) -> AsyncIterator[EngineFactory]:
    async with engine_factory(settings, default_policy=FAST) as factory:
        yield factory
