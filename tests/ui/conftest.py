"""Fixtures for the UI tests: an isolated config and data dir, a fixed clock, and a
helper that feeds real engine events through the app's own message path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from textual.pilot import Pilot

from voice_tui.config.schema import Settings
from voice_tui.core.events import AppEvent
from voice_tui.ui.app import VoiceApp
from voice_tui.ui.messages import EngineEvent

FIXED_NOW = datetime(2026, 3, 14, 9, 26, 53)
SIZE = (120, 34)


def fixed_clock() -> datetime:
    return FIXED_NOW


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Never read or write the real user's config or data."""
    monkeypatch.setenv("VOICE_TUI_CONFIG", str(tmp_path / "config" / "config.toml"))
    monkeypatch.setenv("VOICE_TUI_DATA_DIR", str(tmp_path / "data"))
    for name in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    yield tmp_path


def quiet_settings(**ui: object) -> Settings:
    settings = Settings()
    settings.audio.enabled = False
    for key, value in ui.items():
        setattr(settings.ui, key, value)
    return settings


def detached_app(settings: Settings | None = None, **kwargs: object) -> VoiceApp:
    """An app with no runtime: for rendering events fed by the test."""
    return VoiceApp(settings or quiet_settings(), connect=None, clock=fixed_clock, **kwargs)  # type: ignore[arg-type]


FEED_BATCH = 200  # events posted between two waits for the app to catch up


async def feed(pilot: Pilot[int], events: Iterable[AppEvent]) -> None:
    """Post events the way the engine listener does, then let the app render them."""
    app = pilot.app
    for count, event in enumerate(events, 1):
        app.post_message(EngineEvent(event))
        if count % FEED_BATCH == 0:
            # Each pause waits for what is queued, within Textual's own 30 s limit: on a
            # busy machine thousands of events at once can outlast it, a batch cannot.
            await pilot.pause()
    await pilot.pause()
    # Markdown streams render in background tasks: wait until they are idle.
    await app.workers.wait_for_complete()
    await pilot.pause()


@pytest.fixture
def responder() -> object:
    from tests.ui.support import KeywordResponder

    return KeywordResponder()


@pytest.fixture
async def server(responder: object) -> AsyncIterator[object]:
    from tests.ui.support import API_KEY, MODEL, KeywordResponder, components
    from voice_tui.server.app import start_server

    assert isinstance(responder, KeywordResponder)
    srv = await start_server(components=components(responder), api_key=API_KEY, models=[MODEL])
    try:
        yield srv
    finally:
        responder.release_story.set()
        await srv.close()
